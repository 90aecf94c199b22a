"""Access control: allow_clients (ICAP listeners, plain and TLS) and
admin_allow_clients (the admin listener).

Linux routes all of 127.0.0.0/8 to the loopback interface, so a client
bound to 127.0.0.2 is a second, distinguishable peer. With a list that
holds only 127.0.0.2/32:

- a connection from 127.0.0.1 is closed at accept without any reply (no
  ICAP status, no TLS handshake, no HTTP status) and counted in
  icapd_connections_refused_total{listener,reason="acl"}; it is never an
  accepted connection nor a line in the access log;
- a connection from 127.0.0.2 is served;
- a reload swaps the lists for the next connections; an open connection
  stays;
- on a listener bound to the IPv4-mapped address [::ffff:127.0.0.1], IPv4
  peers arrive as ::ffff:127.0.0.x and match the IPv4 entries;
- the defaults are loopback only (127.0.0.0/8 and ::1);
- icapd -t reports a bad network with file:line.
"""

import http.client
import os
import socket
import ssl
import subprocess

import pytest

import icap_client as ic
from conftest import LOOPBACK, STANDARD_SERVICES, require_icapd
from procs import free_port, poll
from promtext import metric

OTHER = "127.0.0.2"


def admin_get(srv, path, source=None, timeout=5):
    c = http.client.HTTPConnection(srv.host, srv.admin_port, timeout=timeout,
                                   source_address=(source, 0) if source else None)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        c.close()


def admin_metrics(srv, source=None):
    from promtext import parse_metrics
    status, body = admin_get(srv, "/metrics", source)
    assert status == 200
    return parse_metrics(body)


def options(srv):
    return ic.build("OPTIONS", srv.uri("echo"), ["Host: " + srv.hostport])


def closed_without_reply(port, source, data=b"", host=LOOPBACK):
    """Connects from source, sends data; True if the connection ends with no
    byte received (a reset or a close)."""
    try:
        # The reset can come before connect() has returned.
        s = socket.create_connection((host, port), timeout=5, source_address=(source, 0))
    except ConnectionResetError:
        return True
    try:
        try:
            if data:
                s.sendall(data)
            got = s.recv(4096)
        except (ConnectionResetError, BrokenPipeError):
            return True
        return got == b""
    finally:
        s.close()


def count(srv, listener):
    return metric(admin_metrics(srv, OTHER), "icapd_connections_refused_total",
                  listener=listener, reason="acl")


def reconfigure(srv, **directives):
    """Rewrites srv's configuration with directives and reloads it. (Lists
    are set by a reload rather than at start so that the start-up probes of
    the test harness, from 127.0.0.1, are not refusals to count.)"""
    srv.write_config(directives=directives)
    ok = metric(admin_metrics(srv, OTHER), "icapd_reloads_total", result="ok")
    srv.signal(1)  # SIGHUP
    poll(lambda: metric(admin_metrics(srv, OTHER), "icapd_reloads_total", result="ok") > ok, 10,
         what="the reload")


@pytest.fixture
def acl_icapd(icapd_factory):
    srv = icapd_factory()
    reconfigure(srv, allow_clients=OTHER + "/32")
    return srv


def test_icap_refused_at_accept(acl_icapd):
    srv = acl_icapd
    before = admin_metrics(srv, OTHER)
    assert count(srv, "icap") == 0
    assert closed_without_reply(srv.port, LOOPBACK, options(srv))
    poll(lambda: count(srv, "icap") == 1, 5, what="the refusal to be counted")
    after = admin_metrics(srv, OTHER)
    # Closed before it was a connection for icapd: not accepted, no request.
    assert metric(after, "icapd_connections_accepted_total") == \
        metric(before, "icapd_connections_accepted_total")
    assert metric(after, "icapd_requests_total") == metric(before, "icapd_requests_total")
    assert count(srv, "admin") == 0
    assert "refused a connection from 127.0.0.1: not in allow_clients" in srv.output()

    with ic.Conn(srv.host, srv.port, 5, source=OTHER) as c:
        assert c.transact(options(srv)).status == 200
    assert count(srv, "icap") == 1


def test_icap_refusals_logged_sparingly(acl_icapd):
    """A burst of refused connections is one log line (the next one, ten
    seconds on, says how many went unlogged)."""
    srv = acl_icapd
    for _ in range(20):
        assert closed_without_reply(srv.port, LOOPBACK)
    poll(lambda: count(srv, "icap") == 20, 5, what="20 refusals counted")
    assert srv.output().count("refused a connection from") == 1


def test_tls_refused_before_handshake(icapd_factory, tmp_path):
    """On a TLS listener the refused peer does not even get a ServerHello."""
    d = str(tmp_path)
    key, crt = os.path.join(d, "k.pem"), os.path.join(d, "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt, "-days",
                    "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    tls_port = free_port()
    listen_tls = "%s:%d cert %s key %s" % (LOOPBACK, tls_port, crt, key)
    srv = icapd_factory(directives={"listen_tls": listen_tls})
    srv.proc.wait_port(tls_port)
    reconfigure(srv, listen_tls=listen_tls, allow_clients=OTHER + "/32")
    hello = bytes.fromhex("16030100") + b"\x00" * 8  # the start of a ClientHello
    assert closed_without_reply(tls_port, LOOPBACK, hello)
    ctx = ssl.create_default_context(cafile=crt)
    with ic.Conn(LOOPBACK, tls_port, 5, tls=ctx, source=OTHER) as c:
        assert c.transact(ic.build("OPTIONS", "icaps://127.0.0.1/echo", ["Host: x"])).status == 200
    poll(lambda: count(srv, "icap") == 1, 5, what="the TLS refusal to be counted")
    assert "TLS handshake" not in srv.output()


def test_admin_refused_at_accept(icapd_factory):
    srv = icapd_factory()
    reconfigure(srv, admin_allow_clients=OTHER + "/32")
    assert closed_without_reply(srv.admin_port, LOOPBACK,
                                b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    status, body = admin_get(srv, "/healthz", source=OTHER)
    assert status == 200 and body == "ok\n"
    poll(lambda: count(srv, "admin") == 1, 5, what="the admin refusal to be counted")
    assert count(srv, "icap") == 0
    # ICAP from 127.0.0.1 is still allowed: the lists are separate.
    assert ic.request(srv.host, srv.port, options(srv)).status == 200
    assert "refused a connection from 127.0.0.1: not in admin_allow_clients" in srv.output()


def test_reload_swaps_lists(acl_icapd):
    srv = acl_icapd
    kept = ic.Conn(srv.host, srv.port, 5, source=OTHER)
    try:
        assert kept.transact(options(srv)).status == 200
        reconfigure(srv, allow_clients="127.0.0.1")
        with ic.Conn(srv.host, srv.port, 5) as c:
            assert c.transact(options(srv)).status == 200
        assert closed_without_reply(srv.port, OTHER, options(srv))
        poll(lambda: count(srv, "icap") == 1, 5, what="the refusal from %s" % OTHER)
        # Checked at accept only: the connection from before goes on.
        assert kept.transact(options(srv)).status == 200
    finally:
        kept.close()


def test_ipv4_mapped_peers(icapd_factory):
    """A listener on the IPv4-mapped [::ffff:127.0.0.1] sees its IPv4 peers as
    ::ffff:127.0.0.x; they match the IPv4 entries of the list."""
    try:
        probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        probe.bind(("::ffff:127.0.0.1", 0))
        probe.close()
    except OSError as e:
        pytest.skip("no IPv6 sockets with IPv4-mapped addresses here: %s" % e)
    port = free_port()
    listen = "[::ffff:127.0.0.1]:%d" % port
    srv = icapd_factory(directives={"listen": listen}, start=False)
    srv.port = port
    srv.start()
    reconfigure(srv, listen=listen, allow_clients=OTHER + "/32")
    assert closed_without_reply(port, LOOPBACK, options(srv))
    with ic.Conn(LOOPBACK, port, 5, source=OTHER) as c:
        assert c.transact(options(srv)).status == 200
    poll(lambda: count(srv, "icap") == 1, 5, what="the mapped refusal to be counted")
    assert "refused a connection from ::ffff:127.0.0.1: not in allow_clients" in srv.output()


def test_defaults_are_loopback(icapd_factory):
    srv = icapd_factory()
    assert "allow_clients" not in open(srv.conf).read()
    with ic.Conn(srv.host, srv.port, 5, source=OTHER) as c:
        assert c.transact(options(srv)).status == 200
    assert admin_get(srv, "/healthz", source=OTHER)[0] == 200
    out = subprocess.run([require_icapd(), "-h"], stdout=subprocess.PIPE, timeout=10).stdout.decode()
    assert "[127.0.0.0/8 ::1]" in out, out


def check(tmp_path, stmt):
    conf = tmp_path / "icapd.conf"
    conf.write_text("listen 127.0.0.1:%d;\n\n%s\n%s" % (free_port(), stmt, STANDARD_SERVICES))
    p = subprocess.run([require_icapd(), "-t", "-c", str(conf)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    return p.returncode, p.stdout.decode()


@pytest.mark.parametrize("stmt,want", [
    ("allow_clients 127.0.0.1 10.1.2.3/8;", '"10.1.2.3/8" has bits set past its /8 prefix'),
    ("allow_clients 10.0.0.0/33;", '"10.0.0.0/33" is not a network'),
    ("allow_clients example.com;", '"example.com" is not a network'),
    ("admin_allow_clients fe80::1/10;", '"fe80::1/10" has bits set past its /10 prefix'),
    ("allow_clients;", '"allow_clients" takes one or more networks'),
])
def test_check_reports_bad_networks(tmp_path, stmt, want):
    rc, out = check(tmp_path, stmt)
    assert rc == 1, out
    assert "icapd.conf:3: " + want in out, out


def test_check_accepts_networks(tmp_path):
    rc, out = check(tmp_path, "allow_clients 10.0.0.0/8 192.168.1.7 ::1 fd00::/8;\n"
                              "allow_clients 0.0.0.0/0;\nadmin_allow_clients ::/0;")
    assert rc == 0, out
