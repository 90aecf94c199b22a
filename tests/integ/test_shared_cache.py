"""The shared verdict tier: two icapd servers and one Redis.

An object scanned through the first server is answered from Redis by the
second (no scan there); entries are signed, so both servers need the same
secret; Redis going away costs nothing but the sharing: transactions keep
being answered promptly and /metrics says Redis is down. A huge value where
a verdict should be costs a dropped connection, not memory.

Over TLS: redis-server with only a TLS port, certificates made at test time
with the openssl command (a CA, a server certificate for 127.0.0.1, a client
certificate, and a second CA with a server certificate of its own). The
sharing works as over TCP, with a client certificate where Redis asks for
one and with AUTH; a server certificate that does not chain to
redis_tls_ca keeps icapd off Redis (said in the log) and nothing else
changes: transactions are answered, verdicts cached locally.
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

import icap_client as ic
from conftest import icapd_config, icapd_has_module, pseudo_random
from procs import Proc, free_port, poll
from promtext import metric

pytestmark = pytest.mark.skipif(not icapd_has_module("clamav"),
                                reason="icapd built --without-clamav")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIGS = os.path.join(ROOT, "conf", "signatures")
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


@pytest.fixture
def redis(tmp_path):
    if not os.path.exists(REDIS):
        pytest.fail("redis-server not found: apt-get install redis-server")
    port = free_port()
    d = tempfile.mkdtemp(prefix="icapd-redis-")
    p = Proc([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
              "no", "--dir", d], os.path.join(d, "redis.out"), cwd=d, name="redis")
    p.wait_port(port, 10)
    yield p, port
    p.stop(signal.SIGTERM, 5)
    shutil.rmtree(d, ignore_errors=True)


def redis_cli(port, *args, tls=None, ca=None, stdin=None):
    """redis-cli on port (tls: the Certs, for a TLS Redis; ca: the CA to
    trust, if not tls.ca) -> stdout, str."""
    argv = [REDIS_CLI, "-p", str(port)]
    if tls is not None:
        argv += ["--tls", "--cacert", ca or tls.ca, "--cert", tls.client_cert, "--key",
                 tls.client_key]
    r = subprocess.run(argv + list(args), stdin=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode()


def dbsize(port, tls=None, ca=None, password=None):
    auth = ["-a", password, "--no-auth-warning"] if password else []
    return int(redis_cli(port, *auth, "DBSIZE", tls=tls, ca=ca).strip() or 0)


def server(icapd_factory, tmp_path, port, name, memory="16m", cache_extra=""):
    key = tmp_path / "redis.key"
    if not key.exists():
        key.write_bytes(os.urandom(32))
    return icapd_factory(services="""
module clamav { signatures %s; }
service /respmod { methods RESPMOD; chain clamav; }
""" % SIGS, extra="cache { memory %s; redis 127.0.0.1:%d; redis_secret_file %s; %s}\n" % (
        memory, port, key, cache_extra))


def respmod(srv, body):
    res = ic.http_response_head(length=len(body))
    return ic.build("RESPMOD", srv.uri("respmod"), ["Host: " + srv.hostport, "Allow: 204"],
                    req_hdr=ic.http_request_head(), res_hdr=res, body=body)


def test_second_server_answers_from_redis(icapd_factory, tmp_path, redis):
    _, port = redis
    a = server(icapd_factory, tmp_path, port, "a")
    b = server(icapd_factory, tmp_path, port, "b")
    poll(lambda: metric(a.metrics(), "icapd_cache_redis_up") == 1 and
         metric(b.metrics(), "icapd_cache_redis_up") == 1, 10, what="both servers on Redis")
    body = pseudo_random(200000, seed=11)
    assert ic.request(a.host, a.port, respmod(a, body)).status == 204
    poll(lambda: dbsize(port) >= 1, 5, what="the verdict to reach Redis")
    assert ic.request(b.host, b.port, respmod(b, body)).status == 204
    assert metric(b.metrics(), "icapd_cache_redis_hits_total") == 1
    assert metric(b.metrics(), "icapd_scans_total", module="all", outcome="clean") == 0
    assert any("cache=shared" in l for l in b.read_access_log())


def test_redis_outage_is_survived(icapd_factory, tmp_path, redis):
    proc, port = redis
    a = server(icapd_factory, tmp_path, port, "a")
    poll(lambda: metric(a.metrics(), "icapd_cache_redis_up") == 1, 10, what="Redis up")
    proc.stop(signal.SIGKILL, 5)
    for i in range(20):
        t0 = time.monotonic()
        r = ic.request(a.host, a.port, respmod(a, pseudo_random(5000, seed=100 + i)))
        assert r.status == 204
        assert time.monotonic() - t0 < 1.0
    assert metric(a.metrics(), "icapd_cache_redis_up") == 0


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def test_huge_value_is_refused(icapd_factory, tmp_path, redis):
    """10 MB under the key a lookup asks for: the reply is refused at its
    length line and the connection dropped (counted as an error, made again
    after a second); the lookup is a miss, the object scanned; icapd's
    memory does not grow by the value's size."""
    _, port = redis
    a = server(icapd_factory, tmp_path, port, "a")
    # No local tier on b: every transaction asks Redis; and the miss must
    # come from the refused reply, not from redis_timeout on a slow machine.
    b = server(icapd_factory, tmp_path, port, "b", memory="0", cache_extra="redis_timeout 2s;")
    poll(lambda: metric(a.metrics(), "icapd_cache_redis_up") == 1 and
         metric(b.metrics(), "icapd_cache_redis_up") == 1, 10, what="both servers on Redis")
    body = pseudo_random(50000, seed=21)
    assert ic.request(a.host, a.port, respmod(a, body)).status == 204
    poll(lambda: dbsize(port) >= 1, 5, what="the verdict to reach Redis")
    keys = redis_cli(port, "KEYS", "icapd:v1:*").split()
    assert len(keys) == 1
    huge = tmp_path / "huge"
    huge.write_bytes(b"x" * (10 * 1024 * 1024))
    with open(huge, "rb") as f:
        assert redis_cli(port, "-x", "SET", keys[0], stdin=f).strip() == "OK"
    assert redis_cli(port, "STRLEN", keys[0]).strip() == str(10 * 1024 * 1024)

    grew = 0  # KiB, over the transactions after the first (which warms up the scan)
    for i in range(4):
        m = b.metrics()
        errors, scans = metric(m, "icapd_cache_redis_errors_total"), \
            metric(m, "icapd_scans_total", module="all", outcome="clean")
        t0, rss0 = time.monotonic(), rss_kib(b.pid)
        assert ic.request(b.host, b.port, respmod(b, body)).status == 204
        assert time.monotonic() - t0 < 1.0
        grew += rss_kib(b.pid) - rss0 if i > 0 else 0
        m = b.metrics()
        assert metric(m, "icapd_cache_redis_errors_total") == errors + 1
        assert metric(m, "icapd_scans_total", module="all", outcome="clean") == scans + 1
        assert metric(m, "icapd_cache_redis_hits_total") == 0
        assert metric(m, "icapd_cache_redis_timeouts_total") == 0
        # Dropped, then made again (b's put went nowhere: it was down).
        poll(lambda: metric(b.metrics(), "icapd_cache_redis_up") == 1, 5,
             what="b back on Redis")
        assert redis_cli(port, "STRLEN", keys[0]).strip() == str(10 * 1024 * 1024)
    # Anything that read the value would hold 10 MB a time (and ASan keeps
    # freed memory in quarantine): 30 MB or more over the last 3 rounds.
    print("icapd's RSS grew by %d KiB over 3 lookups of a 10 MB value" % grew)
    assert grew < 4 * 1024
    assert "with a string over 4096 bytes" in b.output()


# ---------------------------------------------------------------- TLS


class Certs:
    """Throwaway certificates in d, made with the openssl command."""

    def __init__(self, d):
        self.dir = str(d)
        self.ca, self.evil_ca = self.path("ca.crt"), self.path("evilca.crt")
        self.server_cert, self.server_key = self.path("server.crt"), self.path("server.key")
        self.evil_cert, self.evil_key = self.path("evil.crt"), self.path("evil.key")
        self.client_cert, self.client_key = self.path("client.crt"), self.path("client.key")
        with open(self.path("server.ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\n")
        with open(self.path("client.ext"), "w") as f:
            f.write("extendedKeyUsage=clientAuth\n")
        for ca in ("ca", "evilca"):
            self.openssl("req", "-x509", *self.NEWKEY, "-days", "2", "-subj", "/CN=" + ca,
                         "-keyout", ca + ".key", "-out", ca + ".crt")
        for name, ca, ext in (("server", "ca", "server.ext"), ("client", "ca", "client.ext"),
                              ("evil", "evilca", "server.ext")):
            self.openssl("req", "-new", *self.NEWKEY, "-subj", "/CN=" + name, "-keyout",
                         name + ".key", "-out", name + ".csr")
            self.openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey",
                         ca + ".key", "-CAcreateserial", "-days", "2", "-extfile", ext,
                         "-out", name + ".crt")

    NEWKEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")

    def path(self, name):
        return os.path.join(self.dir, name)

    def openssl(self, *args):
        r = subprocess.run([OPENSSL] + list(args), cwd=self.dir, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        assert r.returncode == 0, "openssl %s:\n%s" % (" ".join(args), r.stdout.decode())


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    if not os.path.exists(OPENSSL):
        pytest.fail("openssl not found: apt-get install openssl")
    return Certs(tmp_path_factory.mktemp("redis-tls"))


@pytest.fixture
def tls_redis(certs):
    """Starts TLS-only redis-servers: tls_redis(cert=, key=, auth_clients=,
    password=) -> port. Stopped after the test."""
    started = []

    def start(cert=certs.server_cert, key=certs.server_key, auth_clients=False,
              password=None):
        if not os.path.exists(REDIS):
            pytest.fail("redis-server not found: apt-get install redis-server")
        port = free_port()
        d = tempfile.mkdtemp(prefix="icapd-redis-tls-")
        argv = [REDIS, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
                "--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file",
                certs.ca, "--tls-auth-clients", "yes" if auth_clients else "no", "--save", "",
                "--appendonly", "no", "--dir", d]
        if password:
            argv += ["--requirepass", password]
        p = Proc(argv, os.path.join(d, "redis.out"), cwd=d, name="redis")
        started.append((p, d))
        p.wait_port(port, 10)
        return port

    yield start
    for p, d in started:
        p.stop(signal.SIGTERM, 5)
        shutil.rmtree(d, ignore_errors=True)


def tls_block(certs, ca=None, client_cert=False, password=None):
    """The cache block's TLS (and AUTH) lines."""
    s = "redis_tls on; redis_tls_ca %s; " % (ca or certs.ca)
    if client_cert:
        s += "redis_tls_cert %s; redis_tls_key %s; " % (certs.client_cert, certs.client_key)
    if password:
        s += 'redis_password "%s"; ' % password
    return s


def share_through(a, b, port, seed, tls, password=None):
    """An object scanned through a is a shared hit on b, unscanned there."""
    poll(lambda: metric(a.metrics(), "icapd_cache_redis_up") == 1 and
         metric(b.metrics(), "icapd_cache_redis_up") == 1, 10, what="both servers on Redis")
    body = pseudo_random(100000, seed=seed)
    assert ic.request(a.host, a.port, respmod(a, body)).status == 204
    poll(lambda: dbsize(port, tls=tls, password=password) >= 1, 5,
         what="the verdict to reach Redis")
    assert ic.request(b.host, b.port, respmod(b, body)).status == 204
    assert metric(b.metrics(), "icapd_cache_redis_hits_total") == 1
    assert metric(b.metrics(), "icapd_scans_total", module="all", outcome="clean") == 0
    assert any("cache=shared" in l for l in b.read_access_log())
    assert "(TLS)" in a.output()


def test_tls_second_server_answers_from_redis(icapd_factory, tmp_path, certs, tls_redis):
    port = tls_redis()
    a = server(icapd_factory, tmp_path, port, "a", cache_extra=tls_block(certs))
    b = server(icapd_factory, tmp_path, port, "b", cache_extra=tls_block(certs))
    share_through(a, b, port, 31, certs)


def test_tls_untrusted_server_certificate(icapd_factory, tmp_path, certs, tls_redis):
    port = tls_redis(cert=certs.evil_cert, key=certs.evil_key)
    a = server(icapd_factory, tmp_path, port, "a", cache_extra=tls_block(certs))
    poll(lambda: metric(a.metrics(), "icapd_cache_redis_errors_total") >= 1, 5,
         what="the TLS handshake to fail")
    assert metric(a.metrics(), "icapd_cache_redis_up") == 0
    assert "server certificate not accepted" in a.output()
    body = pseudo_random(30000, seed=32)
    for _ in range(2):
        t0 = time.monotonic()
        assert ic.request(a.host, a.port, respmod(a, body)).status == 204
        assert time.monotonic() - t0 < 1.0
    m = a.metrics()
    # Scanned once, then a local hit; Redis never used.
    assert metric(m, "icapd_scans_total", module="all", outcome="clean") == 1
    assert metric(m, "icapd_cache_hits_total") == 1
    assert metric(m, "icapd_cache_redis_hits_total") == 0
    assert metric(m, "icapd_cache_redis_up") == 0
    assert dbsize(port, tls=certs, ca=certs.evil_ca) == 0


def test_tls_client_certificate(icapd_factory, tmp_path, certs, tls_redis):
    port = tls_redis(auth_clients=True)
    a = server(icapd_factory, tmp_path, port, "a",
               cache_extra=tls_block(certs, client_cert=True))
    b = server(icapd_factory, tmp_path, port, "b",
               cache_extra=tls_block(certs, client_cert=True))
    share_through(a, b, port, 33, certs)
    # Without one, Redis lets no one in.
    c = server(icapd_factory, tmp_path, port, "c", cache_extra=tls_block(certs))
    poll(lambda: metric(c.metrics(), "icapd_cache_redis_errors_total") >= 1, 5,
         what="Redis to refuse a client without a certificate")
    assert metric(c.metrics(), "icapd_cache_redis_up") == 0


def test_tls_auth_password(icapd_factory, tmp_path, certs, tls_redis):
    password = "s3cret pass"
    port = tls_redis(password=password)
    a = server(icapd_factory, tmp_path, port, "a",
               cache_extra=tls_block(certs, password=password))
    b = server(icapd_factory, tmp_path, port, "b",
               cache_extra=tls_block(certs, password=password))
    share_through(a, b, port, 34, certs, password=password)
    c = server(icapd_factory, tmp_path, port, "c",
               cache_extra=tls_block(certs, password="wrong"))
    poll(lambda: metric(c.metrics(), "icapd_cache_redis_errors_total") >= 1, 5,
         what="Redis to refuse a wrong password")
    assert metric(c.metrics(), "icapd_cache_redis_up") == 0
    assert "WRONGPASS" in c.output()


def check_config(icapd_bin, tmp_path, cache):
    """icapd -t on a file whose cache block is cache -> (status, stderr)."""
    key = tmp_path / "redis.key"
    key.write_bytes(os.urandom(32))
    conf = tmp_path / "icapd.conf"
    conf.write_text(icapd_config(str(tmp_path), free_port(), free_port()) +
                    "cache { redis 127.0.0.1:6379; redis_secret_file %s; %s }\n" % (key, cache))
    p = subprocess.run([icapd_bin, "-t", "-c", str(conf)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=20)
    return p.returncode, p.stderr.decode(errors="replace")


def test_tls_settings_are_checked(icapd_bin, tmp_path, certs):
    assert check_config(icapd_bin, tmp_path, "redis_tls on; redis_tls_ca %s;" % certs.ca)[0] == 0
    assert check_config(icapd_bin, tmp_path, "redis_tls off;")[0] == 0
    # TLS is never implied by a TLS file.
    rc, err = check_config(icapd_bin, tmp_path, "redis_tls_ca %s;" % certs.ca)
    assert rc != 0 and "redis_tls_ca ...; } needs redis_tls on" in err, err
    rc, err = check_config(icapd_bin, tmp_path, "redis_tls_server_name redis.test;")
    assert rc != 0 and "needs redis_tls on" in err, err
    rc, err = check_config(icapd_bin, tmp_path,
                           "redis_tls on; redis_tls_cert %s;" % certs.client_cert)
    assert rc != 0 and "needs both redis_tls_cert and redis_tls_key" in err, err
    rc, err = check_config(icapd_bin, tmp_path, "redis_tls maybe;")
    assert rc != 0 and re.search(r"icapd\.conf:\d+: ", err), err
    p = subprocess.run([icapd_bin, "-h"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=20)
    text = p.stdout.decode()
    for name in ("redis_tls", "redis_tls_ca", "redis_tls_cert", "redis_tls_key",
                 "redis_tls_server_name"):
        assert re.search(r"\b%s\b" % name, text), "-h does not list " + name


def test_tls_unusable_file_stops_start(icapd_bin, tmp_path, certs):
    """A TLS file that cannot be used is an error at start-up, not a
    silently unshared cache."""
    key = tmp_path / "redis.key"
    key.write_bytes(os.urandom(32))
    port = free_port()
    conf = tmp_path / "icapd.conf"
    conf.write_text(icapd_config(str(tmp_path), port, free_port()) +
                    "cache { redis 127.0.0.1:%d; redis_secret_file %s; redis_tls on; "
                    "redis_tls_ca %s; }\n" % (free_port(), key, tmp_path / "missing.crt"))
    p = subprocess.run([icapd_bin, "-f", "-c", str(conf)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=20)
    assert p.returncode != 0
    log = p.stdout.decode(errors="replace") + (tmp_path / "error.log").read_text()
    assert "redis_tls_ca %s" % (tmp_path / "missing.crt") in log, log
