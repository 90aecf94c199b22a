"""ICAP over TLS: listen_tls, with real TLS peers on loopback.

A throwaway PKI is made with the openssl command for each run: a server CA
and a server certificate for 127.0.0.1, a client CA with a client
certificate, and a stray CA with a client certificate that icapd must not
trust. One icapd serves plain ICAP and two TLS listeners side by side, one
of them requiring a client certificate.

- openssl s_client speaks OPTIONS over TLS, verifying the server's chain
  and its IP address, and gets a 200;
- a TLS 1.1 client is refused in the handshake (alert protocol_version),
  while TLS 1.2 and 1.3 clients are served;
- RESPMOD echoes of 1 KiB and 1 MiB come back byte for byte over TLS, also
  several on one connection, and the plain listener still works beside it;
- echoes sent whole before the reply is read, so that the server stops
  reading with the last bytes inside OpenSSL, where the socket does not
  signal them (the case conn.c's tls_more exists for), still complete;
- verify_client: no certificate, or one from another CA, and the
  connection fails without an ICAP reply; a certificate from client_ca is
  served;
- c-icap-client -tls (a second client implementation) echoes 1 MiB;
- Squid with icaps:// fetches an object through icapd (Debian's
  squid-openssl: its package "squid", built with GnuTLS, cannot);
- SIGHUP with new certificate files: connections accepted after the reload
  get the new certificate, the open one keeps working; a reload with a
  broken key keeps the running certificate and logs file:line;
- a client that opens a TLS connection and stalls in the handshake is
  closed after header_timeout;
- icapd -t reports bad cert, key and client_ca files, and a bad
  listen_tls statement, with file:line.
"""

import os
import random
import re
import shutil
import socket
import ssl
import subprocess
import time

import pytest

import icap_client as ic
from conftest import (LOOPBACK, STANDARD_SERVICES, curl, icapd_config, pseudo_random,
                      require_icapd, squid_missing, squid_workdir, squid_user, SQUID)
from procs import Proc, free_port, poll
from promtext import metric

OPENSSL = "/usr/bin/openssl"


# --------------------------------------------------------------------------
# A throwaway PKI


def openssl(*args, cwd=None):
    p = subprocess.run([OPENSSL] + list(args), cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    assert p.returncode == 0, "openssl %s failed:\n%s" % (" ".join(args), p.stdout.decode())
    return p.stdout.decode(errors="replace")


class PKI:
    """CAs and certificates (EC P-256) in a directory; paths as attributes."""

    def __init__(self, d):
        self.dir = d
        self.ca, self.ca_key = self.make_ca("server-ca", "icapd test server CA")
        self.client_ca, self.client_ca_key = self.make_ca("client-ca", "icapd test client CA")
        self.stray_ca, self.stray_ca_key = self.make_ca("stray-ca", "icapd test stray CA")
        self.cert, self.key = self.make_leaf("server", "127.0.0.1", self.ca, self.ca_key,
                                             "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                             "extendedKeyUsage=serverAuth\n")
        self.cert2, self.key2 = self.make_leaf("server2", "127.0.0.1", self.ca, self.ca_key,
                                               "subjectAltName=IP:127.0.0.1\n"
                                               "extendedKeyUsage=serverAuth\n")
        self.client, self.client_key = self.make_leaf("client", "squid", self.client_ca,
                                                      self.client_ca_key,
                                                      "extendedKeyUsage=clientAuth\n")
        self.stray, self.stray_key = self.make_leaf("stray", "squid", self.stray_ca,
                                                    self.stray_ca_key,
                                                    "extendedKeyUsage=clientAuth\n")

    def path(self, name):
        return os.path.join(self.dir, name)

    def make_ca(self, name, cn):
        crt, key = self.path(name + ".pem"), self.path(name + ".key")
        openssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=" + cn)
        return crt, key

    def make_leaf(self, name, cn, ca, ca_key, ext):
        crt, key, csr = (self.path(name + s) for s in (".pem", ".key", ".csr"))
        extfile = self.path(name + ".ext")
        with open(extfile, "w") as f:
            f.write("basicConstraints=CA:FALSE\n" + ext)
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", key, "-out", csr, "-subj", "/CN=" + cn)
        openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-days", "2",
                "-set_serial", "0x%x" % random.getrandbits(64), "-out", crt, "-extfile", extfile)
        return crt, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    if not os.path.exists(OPENSSL):
        pytest.fail("%s not found: install the Debian package openssl" % OPENSSL)
    d = str(tmp_path_factory.mktemp("pki"))
    os.chmod(d, 0o755)  # Squid, after dropping to its user, reads the CA here
    return PKI(d)


def client_ctx(pki, cert=None, key=None, version=None):
    """A client context that verifies icapd against the test CA (and its IP
    address); cert/key: a client certificate; version: one TLS version only."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki.ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    return ctx


# --------------------------------------------------------------------------
# The server under test


class TLSIcapd:
    def __init__(self, srv, tls_port, verify_port):
        self.srv, self.tls_port, self.verify_port = srv, tls_port, verify_port
        self.host = LOOPBACK

    def uri(self, service="echo", port=None):
        return "icaps://%s:%d/%s" % (self.host, port or self.tls_port, service)

    def conn(self, ctx, port=None, timeout=10.0):
        return ic.Conn(self.host, port or self.tls_port, timeout, tls=ctx)


@pytest.fixture(scope="module")
def tls_icapd(module_icapd_factory, pki):
    """icapd with plain ICAP, a TLS listener, and a TLS listener that
    requires client certificates from the client CA."""
    tls_port, verify_port = free_port(), free_port()
    srv = module_icapd_factory(
        name="tls",
        directives={"listen_tls": "%s:%d cert %s key %s" % (LOOPBACK, tls_port, pki.cert, pki.key),
                    "header_timeout": "2s"},
        extra="\nlisten_tls %s:%d cert %s key %s client_ca %s;\n" % (
            LOOPBACK, verify_port, pki.cert, pki.key, pki.client_ca))
    srv.proc.wait_port(tls_port)
    srv.proc.wait_port(verify_port)
    return TLSIcapd(srv, tls_port, verify_port)


def hostline(t, port=None):
    return "Host: %s:%d" % (t.host, port or t.tls_port)


def options(t, port=None, extra=()):
    return ic.build("OPTIONS", t.uri("echo", port), [hostline(t, port)] + list(extra))


def echo_request(t, body, port=None):
    """A RESPMOD to /echo without Allow: 204, so the body must come back."""
    return ic.build("RESPMOD", t.uri("echo", port), [hostline(t, port)],
                    req_hdr=ic.http_request_head(),
                    res_hdr=ic.http_response_head(length=len(body)), body=body,
                    chunk_size=65536)


# --------------------------------------------------------------------------
# Talking TLS


def test_s_client_options(tls_icapd, pki):
    """openssl s_client verifies the chain and the IP, and gets OPTIONS 200."""
    t = tls_icapd
    req = options(t, extra=["Connection: close"])
    p = subprocess.run([OPENSSL, "s_client", "-connect", "%s:%d" % (t.host, t.tls_port),
                        "-CAfile", pki.ca, "-verify_return_error", "-verify_ip", "127.0.0.1",
                        "-quiet"],
                       input=req, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    out = p.stdout.decode(errors="replace")
    assert out.startswith("ICAP/1.0 200 "), (out, p.stderr.decode(errors="replace"))
    assert re.search(r"^Methods: .*RESPMOD", out, re.M), out
    assert "verify error" not in p.stderr.decode(errors="replace")


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3],
                         ids=["tls1.2", "tls1.3"])
def test_tls12_and_13_served(tls_icapd, pki, version):
    with tls_icapd.conn(client_ctx(pki, version=version)) as c:
        assert c.sock.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                                    ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
        assert c.transact(options(tls_icapd)).status == 200


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated")
def test_tls11_refused(tls_icapd):
    """A client that offers TLS 1.1 at most gets a protocol_version alert.
    (Its security level is lowered so that it really offers TLS 1.1.)"""
    t = tls_icapd
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("DEFAULT@SECLEVEL=0")
    with pytest.raises(ssl.SSLError) as e:
        t.conn(ctx).close()
    assert e.value.reason in ("TLSV1_ALERT_PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL"), e.value
    poll(lambda: "unsupported protocol" in t.srv.output(), 5,
         what="the refused handshake in the error log")


@pytest.mark.parametrize("size", [1024, 1024 * 1024], ids=["1KiB", "1MiB"])
def test_respmod_echo_over_tls(tls_icapd, pki, size):
    t = tls_icapd
    body = pseudo_random(size)
    with t.conn(client_ctx(pki)) as c:
        c.send_reading(echo_request(t, body))
        r = c.read_reply(timeout=30)
    assert r.status == 200, r
    assert r.body == body


def test_keepalive_and_pipelining_over_tls(tls_icapd, pki):
    """Several echoes on one connection, then three pipelined in one write."""
    t = tls_icapd
    bodies = [pseudo_random(n, seed=n) for n in (1, 5000, 70000, 300000)]
    with t.conn(client_ctx(pki)) as c:
        for b in bodies:
            c.send_reading(echo_request(t, b))
            r = c.read_reply(timeout=30)
            assert r.status == 200 and r.body == b
        c.send_reading(b"".join(echo_request(t, b) for b in bodies[:3]))
        for b in bodies[:3]:
            r = c.read_reply(timeout=30)
            assert r.status == 200 and r.body == b


def test_plain_and_tls_side_by_side(tls_icapd, pki):
    """The plain listener works beside the TLS ones; a TLS client on the
    plain port and a plain client on the TLS port get nothing."""
    t = tls_icapd
    srv = t.srv
    r = ic.request(srv.host, srv.port, ic.build("OPTIONS", srv.uri("echo"), ["Host: x"]))
    assert r.status == 200
    with pytest.raises((ssl.SSLError, OSError)):
        ic.Conn(srv.host, srv.port, 5, tls=client_ctx(pki)).close()
    with ic.Conn(t.host, t.tls_port, 5) as c:
        c.send(options(t))
        assert c.wait_closed(5), "a plain ICAP request on the TLS port was not closed"
        assert not c.buf.startswith(b"ICAP/"), c.buf[:100]


def test_bytes_held_inside_openssl_are_read(icapd_factory, pki):
    """An echo sent whole before its reply is read: the server's replies pile
    up, it stops reading (its input holds max_icap_header + 2
    max_http_header + 64 KiB, 67 KiB here, and its output is past the high
    water mark), then goes on as the client reads, with the rest of the
    request waiting in the socket. Near the end, the last bytes are often
    already inside OpenSSL (read ahead, or decrypted and not yet taken) when
    the input is full, where the socket no longer signals them: the echo
    must still complete, whatever the size."""
    tls_port = free_port()
    srv = icapd_factory(directives={
        "listen_tls": "%s:%d cert %s key %s" % (LOOPBACK, tls_port, pki.cert, pki.key),
        "max_icap_header": "1k", "max_http_header": "1k"})
    srv.proc.wait_port(tls_port)
    t = TLSIcapd(srv, tls_port, None)
    for k in range(40):
        body = pseudo_random(300000 + 2500 * k, seed=k)
        with t.conn(client_ctx(pki)) as c:
            c.sock.sendall(echo_request(t, body))  # fits in the socket buffers
            r = c.read_reply(5)
            assert r.status == 200 and r.body == body, (k, r)


# --------------------------------------------------------------------------
# Client certificates


def icap_reply_or_failure(t, ctx):
    """OPTIONS on the verify_client listener: the reply's status, or None
    when the handshake or the connection failed (in TLS 1.3 the server's
    verdict on the client certificate comes after the client's handshake)."""
    try:
        with t.conn(ctx, port=t.verify_port, timeout=5) as c:
            c.send(options(t, port=t.verify_port))
            return c.read_reply(5).status
    except (ssl.SSLError, ic.Closed, ConnectionResetError, BrokenPipeError):
        return None


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3],
                         ids=["tls1.2", "tls1.3"])
def test_client_certificate_required(tls_icapd, pki, version):
    t = tls_icapd
    assert icap_reply_or_failure(t, client_ctx(pki, version=version)) is None
    stray = client_ctx(pki, pki.stray, pki.stray_key, version=version)
    assert icap_reply_or_failure(t, stray) is None
    good = client_ctx(pki, pki.client, pki.client_key, version=version)
    assert icap_reply_or_failure(t, good) == 200
    out = t.srv.output()
    assert "peer did not return a certificate" in out, out[-2000:]
    assert "client certificate not accepted" in out or "certificate verify failed" in out


def test_client_certificate_not_asked_elsewhere(tls_icapd, pki):
    """The listener without client_ca serves a client with no certificate."""
    with tls_icapd.conn(client_ctx(pki)) as c:
        assert c.transact(options(tls_icapd)).status == 200


# --------------------------------------------------------------------------
# Other TLS clients


def test_c_icap_client_over_tls(tls_icapd, pki, tmp_path):
    """c-icap-client -tls (built with OpenSSL) echoes 1 MiB, verifying the
    server against the test CA (SSL_CERT_FILE)."""
    client = "/usr/bin/c-icap-client"
    if not os.path.exists(client):
        pytest.fail("%s not found: install the Debian package c-icap" % client)
    data = pseudo_random(1024 * 1024, seed=7)
    src, dst = str(tmp_path / "in.bin"), str(tmp_path / "out.bin")
    with open(src, "wb") as f:
        f.write(data)
    env = dict(os.environ, SSL_CERT_FILE=pki.ca)
    p = subprocess.run([client, "-i", LOOPBACK, "-p", str(tls_icapd.tls_port), "-s", "echo",
                        "-tls", "-nopreview", "-no204", "-f", src, "-o", dst, "-v"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=60)
    out = p.stdout.decode(errors="replace")
    assert p.returncode == 0, out
    assert "verification failed" not in out, out
    with open(dst, "rb") as f:
        assert f.read() == data


def squid_without_icaps():
    """Why this Squid cannot speak ICAP over TLS, or None if it can."""
    msg = squid_missing()
    if msg:
        return msg
    v = subprocess.run([SQUID, "-v"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=20).stdout.decode(errors="replace")
    if "--with-openssl" not in v:
        return ("this Squid is built without OpenSSL (%s): its icap_service ignores tls-* "
                "options (\"requires --with-openssl\") and icaps:// services are never "
                "connected (HTTP 503)" % ("--with-gnutls" if "--with-gnutls" in v else
                                          "no TLS library"))
    return None


def test_squid_icaps(tls_icapd, pki, origin, tmp_path):
    """curl -> Squid -> icaps://icapd/respmod -> origin: the object arrives
    whole and icapd counted the RESPMOD."""
    why = squid_without_icaps()
    if why:
        pytest.fail(why + "; configure --install-deps installs squid-openssl")
    t = tls_icapd
    wd = squid_workdir()
    port = free_port()
    user = squid_user()
    # Squid reads the CA as its own user: pytest's folders are root's only.
    ca = os.path.join(wd, "ca.pem")
    shutil.copyfile(pki.ca, ca)
    os.chmod(ca, 0o644)
    lines = [
        "http_port %s:%d" % (LOOPBACK, port),
        "pid_filename %s/squid.pid" % wd,
        "access_log stdio:%s/access.log" % wd,
        "cache_log %s/cache.log" % wd,
        "cache_store_log none",
        "coredump_dir %s" % wd,
        "netdb_filename none",
        "pinger_enable off",
        "icp_port 0",
        "htcp_port 0",
        "workers 1",
        "cache deny all",
        "shutdown_lifetime 1 seconds",
        "visible_hostname icapd-test",
        "dns_nameservers 127.0.0.1",
        "http_access allow localhost",
        "http_access deny all",
        "icap_enable on",
        "icap_service_failure_limit -1",
        "icap_service svc_resp respmod_precache icaps://%s:%d/respmod bypass=0 tls-cafile=%s"
        % (LOOPBACK, t.tls_port, ca),
        "adaptation_access svc_resp allow all",
    ]
    if user:
        lines.append("cache_effective_user %s" % user)
    with open(os.path.join(wd, "squid.conf"), "w") as f:
        f.write("\n".join(lines) + "\n")
    if user and os.geteuid() == 0:
        import pwd
        pw = pwd.getpwnam(user)
        os.chown(wd, pw.pw_uid, pw.pw_gid)
    proc = Proc([SQUID, "-N", "-n", "icapdtls%d" % port, "-f", os.path.join(wd, "squid.conf")],
                os.path.join(wd, "squid.out"), cwd=wd, name="squid")
    try:
        proc.wait_port(port, 20)
        before = metric(t.srv.metrics(), "icapd_requests_total", method="RESPMOD")
        out = str(tmp_path / "obj")
        code, headers, err = curl(port, origin.url("/size/%d" % (300 * 1024)), out)
        assert code == 200, (code, err, open(os.path.join(wd, "cache.log")).read()[-3000:])
        with open(out, "rb") as f:
            assert f.read() == pseudo_random(300 * 1024)
        poll(lambda: metric(t.srv.metrics(), "icapd_requests_total", method="RESPMOD") > before,
             5, what="icapd to count Squid's RESPMOD over TLS")
    finally:
        proc.stop()


# --------------------------------------------------------------------------
# Reloads and timeouts


def peer_cert(port, pki):
    ctx = client_ctx(pki)
    with ic.Conn(LOOPBACK, port, 5, tls=ctx) as c:
        return c.sock.getpeercert(binary_form=True)


def der(path):
    return ssl.PEM_cert_to_DER_cert(open(path).read())


def test_reload_new_certificate(icapd_factory, pki):
    """New certificate files take effect for connections accepted after
    SIGHUP; a connection from before keeps working; a broken key is a failed
    reload that keeps the running certificate, with file:line in the log."""
    d = os.path.dirname(pki.cert)
    cert, key = os.path.join(d, "live.pem"), os.path.join(d, "live.key")
    for src, dst in ((pki.cert, cert), (pki.key, key)):
        with open(src, "rb") as f, open(dst, "wb") as g:
            g.write(f.read())
    tls_port = free_port()
    srv = icapd_factory(directives={
        "listen_tls": "%s:%d cert %s key %s" % (LOOPBACK, tls_port, cert, key)})
    srv.proc.wait_port(tls_port)
    assert peer_cert(tls_port, pki) == der(pki.cert)
    old = ic.Conn(LOOPBACK, tls_port, 5, tls=client_ctx(pki))
    try:
        for src, dst in ((pki.cert2, cert), (pki.key2, key)):
            with open(src, "rb") as f, open(dst, "wb") as g:
                g.write(f.read())
        ok = metric(srv.metrics(), "icapd_reloads_total", result="ok")
        srv.signal(1)  # SIGHUP
        poll(lambda: metric(srv.metrics(), "icapd_reloads_total", result="ok") > ok, 10,
             what="the reload")
        assert peer_cert(tls_port, pki) == der(pki.cert2)
        assert old.transact(ic.build("OPTIONS", "icaps://127.0.0.1/echo", ["Host: x"])).status == 200
        assert old.sock.getpeercert(binary_form=True) == der(pki.cert)

        with open(key, "w") as f:
            f.write("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
        failed = metric(srv.metrics(), "icapd_reloads_total", result="failed")
        srv.signal(1)
        poll(lambda: metric(srv.metrics(), "icapd_reloads_total", result="failed") > failed, 10,
             what="the failed reload")
        assert peer_cert(tls_port, pki) == der(pki.cert2)
        line = [n for n, l in enumerate(open(srv.conf).read().splitlines(), 1)
                if l.startswith("listen_tls")][0]
        assert re.search(r"icapd\.conf:%d: listen_tls 127\.0\.0\.1:%d: key " % (line, tls_port),
                         srv.output()), srv.output()[-2000:]
    finally:
        old.close()


def test_stalled_handshake_closed_by_header_timeout(tls_icapd):
    """Connecting to a TLS port and sending nothing, or half a ClientHello,
    holds a connection no longer than header_timeout (2 s here)."""
    t = tls_icapd
    for data in (b"", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"):
        with ic.Conn(t.host, t.tls_port, 10) as c:
            start = time.monotonic()
            if data:
                c.send(data)
            assert c.wait_closed(8), "still open after 8 s"
            took = time.monotonic() - start
        assert 1.0 < took < 6.0, took


# --------------------------------------------------------------------------
# icapd -t


def check(tmp_path, listen_tls_line, extra_files=()):
    """icapd -t on a file whose listen_tls statement is on line 3."""
    conf = tmp_path / "icapd.conf"
    conf.write_text("# test\nlisten 127.0.0.1:%d;\n%s\n%s" % (free_port(), listen_tls_line,
                                                               STANDARD_SERVICES))
    p = subprocess.run([require_icapd(), "-t", "-c", str(conf)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    return p.returncode, p.stdout.decode(errors="replace")


def test_check_reports_bad_files(tmp_path, pki):
    port = free_port()
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("hello\n")
    cases = [
        ("cert %s key %s" % (tmp_path / "missing.pem", pki.key),
         r"cert \S*missing\.pem: No such file or directory"),
        ("cert %s key %s" % (pki.cert, tmp_path / "missing.key"),
         r"key \S*missing\.key: No such file or directory"),
        ("cert %s key %s" % (garbage, pki.key), r"cert \S*garbage\.pem: \S"),
        ("cert %s key %s" % (pki.cert, pki.key2), r"key \S*server2\.key does not match cert"),
        ("cert %s key %s client_ca %s" % (pki.cert, pki.key, garbage),
         r"client_ca \S*garbage\.pem: \S"),
    ]
    for args, want in cases:
        rc, out = check(tmp_path, "listen_tls 127.0.0.1:%d %s;" % (port, args))
        assert rc == 1, out
        assert re.search(r"icapd\.conf:3: listen_tls 127\.0\.0\.1:%d: %s" % (port, want), out), out


def test_check_reports_encrypted_key(tmp_path, pki):
    enc = str(tmp_path / "enc.key")
    openssl("pkey", "-in", pki.key, "-out", enc, "-aes256", "-passout", "pass:secret")
    rc, out = check(tmp_path, "listen_tls 127.0.0.1:%d cert %s key %s;" % (free_port(), pki.cert, enc))
    assert rc == 1 and "icapd.conf:3:" in out and "passphrase" in out, out


@pytest.mark.parametrize("stmt,want", [
    ("listen_tls 127.0.0.1:%(p)d cert a.pem;", "needs cert FILE and key FILE"),
    ("listen_tls 127.0.0.1:%(p)d cert a.pem key b.pem verify_client on;", "verify_client on needs client_ca"),
    ("listen_tls 127.0.0.1:%(p)d cert a.pem key b.pem verify_client maybe;", "is not on or off"),
    ("listen_tls 127.0.0.1:%(p)d cert a.pem key b.pem ciphers x;", 'unknown option "ciphers"'),
    ("listen_tls 127.0.0.1:%(p)d cert a.pem key b.pem cert c.pem;", '"cert" is given twice'),
    ("listen_tls 127.0.0.1:%(p)d cert a.pem key;", '"key" needs a value'),
    ("listen_tls nowhere cert a.pem key b.pem;", "needs an address:port first"),
])
def test_check_reports_bad_statements(tmp_path, stmt, want):
    rc, out = check(tmp_path, stmt % {"p": free_port()})
    assert rc == 1, out
    assert re.search(r"icapd\.conf:3: .*" + re.escape(want), out), out


def test_check_same_address_twice(tmp_path, pki):
    conf = tmp_path / "icapd.conf"
    p = free_port()
    conf.write_text("listen 127.0.0.1:%d;\nlisten_tls 127.0.0.1:%d cert %s key %s;\n%s"
                    % (p, p, pki.cert, pki.key, STANDARD_SERVICES))
    r = subprocess.run([require_icapd(), "-t", "-c", str(conf)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    out = r.stdout.decode()
    assert r.returncode == 1 and "icapd.conf:2: listen_tls 127.0.0.1:%d is also a listen address" % p in out, out


def test_tls_only_has_no_plain_listener(tmp_path, pki):
    """A file with listen_tls and no listen: only the TLS listener is opened
    (the default plain 127.0.0.1:1344 applies only to a file with neither)."""
    tls_port, admin = free_port(), free_port()
    text = icapd_config(str(tmp_path), 0, admin, {
        "listen": None,
        "listen_tls": "%s:%d cert %s key %s" % (LOOPBACK, tls_port, pki.cert, pki.key)})
    conf = tmp_path / "icapd.conf"
    conf.write_text(text)
    proc = Proc([require_icapd(), "-f", "-c", str(conf)], str(tmp_path / "out"), name="icapd")
    try:
        proc.wait_port(admin)
        proc.wait_port(tls_port)
        with ic.Conn(LOOPBACK, tls_port, 5, tls=client_ctx(pki)) as c:
            assert c.transact(ic.build("OPTIONS", "icaps://127.0.0.1/echo", ["Host: x"])).status == 200
        with open(str(tmp_path / "error.log")) as f:
            listening = re.findall(r"listening on (\S+)", f.read())
        assert listening == ["%s:%d" % (LOOPBACK, tls_port)], listening
    finally:
        assert proc.stop() == 0
        assert "ERROR: AddressSanitizer" not in proc.output() and "runtime error" not in proc.output()
