"""Signals: SIGHUP reloads, SIGTERM stops gracefully (DESIGN.md section 3).

A reload that adds a service serves it on a keep-alive connection opened
before the reload; a broken file leaves the old configuration serving and
logs "icapd.conf:LINE:"; a transaction in flight finishes under the
generation it started with, even when the reload removed its service; a
burst of reloads under traffic is harmless. SIGTERM stops accepting at once,
lets a slow transaction in flight finish and exits 0; idle keep-alive
connections do not hold it up; shutdown_timeout bounds a stuck transaction.
"""

import re
import signal
import subprocess
import threading
import time

import pytest

import icap_client as ic
from conftest import STANDARD_SERVICES
from procs import poll, port_open
from promtext import metric

NEW_SERVICE = """
service /new {
	methods RESPMOD;
	chain;
	preview 512;
}
"""


def host(srv):
    return "Host: " + srv.hostport


def options(srv, service):
    return ic.build("OPTIONS", srv.uri(service), [host(srv)])


def reloads(srv, result):
    return metric(srv.metrics(), "icapd_reloads_total", result=result)


def wait_reload(srv, result, before, timeout=10):
    poll(lambda: reloads(srv, result) > before, timeout, interval=0.05,
         what='icapd_reloads_total{result="%s"} to increase' % result)


def test_reload_adds_service_keeps_connection(icapd_factory):
    srv = icapd_factory()
    with srv.conn() as c:
        assert c.transact(options(srv, "new")).status == 404
        assert c.transact(options(srv, "echo")).status == 200
        before = reloads(srv, "ok")
        srv.write_config(extra=NEW_SERVICE)
        srv.signal(signal.SIGHUP)
        wait_reload(srv, "ok", before)
        # The same socket keeps working, and now knows /new.
        r = c.transact(options(srv, "new"))
        assert r.status == 200, r
        assert r.header("Preview") == "512"
        assert [m.strip() for m in r.header("Methods").split(",")] == ["RESPMOD"]
        body = b"after reload"
        r = c.transact(ic.build("RESPMOD", srv.uri("new"), [host(srv)],
                                res_hdr=ic.http_response_head(length=len(body)), body=body))
        assert r.status == 200 and r.body == body, r
        assert c.transact(options(srv, "echo")).status == 200
    assert srv.proc.alive()


def test_three_reloads_in_a_row(icapd_factory):
    """Every SIGHUP rereads the same file: the third reload works like the first."""
    srv = icapd_factory()
    before_ok, before_failed = reloads(srv, "ok"), reloads(srv, "failed")
    for i in range(3):
        srv.write_config(extra=NEW_SERVICE if i % 2 == 0 else "")
        srv.signal(signal.SIGHUP)
        try:
            wait_reload(srv, "ok", before_ok + i, timeout=5)
        except TimeoutError:
            pytest.fail("reload %d did not succeed (failed reloads: %d); error log:\n%s" % (
                i + 1, reloads(srv, "failed") - before_failed, srv.output()[-1500:]))
        want = 200 if i % 2 == 0 else 404
        assert ic.request(srv.host, srv.port, options(srv, "new")).status == want
    assert reloads(srv, "failed") == before_failed


def test_reload_broken_config_keeps_old(icapd_factory):
    srv = icapd_factory()
    good = srv.config_text()
    bad_lines = good.splitlines() + ["lisen 127.0.0.1:1;"]
    bad_line_no = len(bad_lines)
    before = reloads(srv, "failed")
    with srv.conn() as c:
        assert c.transact(options(srv, "echo")).status == 200
        srv.write_config("\n".join(bad_lines) + "\n")
        srv.signal(signal.SIGHUP)
        wait_reload(srv, "failed", before)
        # Old configuration still serves, on the old connection and new ones.
        assert c.transact(options(srv, "echo")).status == 200
    r = ic.request(srv.host, srv.port, ic.build(
        "RESPMOD", srv.uri("echo"), [host(srv), "Allow: 204"], res_hdr=ic.http_response_head(length=1),
        body=b"x"))
    assert r.status == 204
    pat = re.compile(r"icapd\.conf:%d:" % bad_line_no)
    poll(lambda: pat.search(srv.output()), 5, what="'icapd.conf:%d:' in the error log" % bad_line_no)


def test_reload_with_bad_service_block_keeps_old(icapd_factory):
    """An error inside a block (an unknown method) is caught too, with a
    line number inside that block."""
    srv = icapd_factory()
    before = reloads(srv, "failed")
    block = "\nservice /broken {\n\tmethods FETCH;\n\tchain;\n}\n"
    srv.write_config(extra=block)
    first = srv.config_text().count("\n") + 2          # the "service /broken {" line
    last = srv.config_text(extra=block).count("\n")    # its closing brace
    srv.signal(signal.SIGHUP)
    wait_reload(srv, "failed", before)
    assert ic.request(srv.host, srv.port, options(srv, "echo")).status == 200
    assert ic.request(srv.host, srv.port, options(srv, "broken")).status == 404

    def reported():
        lines = [int(n) for n in re.findall(r"icapd\.conf:(\d+):", srv.output())]
        return [n for n in lines if first <= n <= last]
    poll(reported, 5, what="icapd.conf:%d..%d: in the error log" % (first, last))


def test_inflight_survives_reload_removing_service(icapd_factory):
    """A transaction holds its generation: removing /echo mid-body does not
    disturb it; new requests to /echo then get 404."""
    srv = icapd_factory()
    first, rest = b"a" * 30000, b"b" * 30000
    res = ic.http_response_head(length=len(first) + len(rest))
    msg = ic.build("RESPMOD", srv.uri("echo"), [host(srv)], res_hdr=res, body=first + rest,
                   chunk_size=10000)
    cut = msg.index(res) + len(res) + 3 * (len(b"2710\r\n") + 10000 + 2)
    without_echo = STANDARD_SERVICES.split("service /echo")[0]
    with srv.conn() as c:
        c.send(msg[:cut])
        r = c.read_head(5)  # the echo has started
        assert r.status == 200
        before = reloads(srv, "ok")
        srv.write_config(services=without_echo)
        srv.signal(signal.SIGHUP)
        wait_reload(srv, "ok", before)
        c.send(msg[cut:])
        c.read_blocks(r)
        c.read_body(r)
        assert r.body == first + rest
    assert ic.request(srv.host, srv.port, options(srv, "echo")).status == 404
    assert ic.request(srv.host, srv.port, options(srv, "respmod")).status == 200


def test_reload_burst_under_traffic(icapd_factory):
    """Twenty reloads while three clients keep sending: every reply is right."""
    srv = icapd_factory()
    stop = threading.Event()
    errors = []
    counts = [0, 0, 0]

    def client(i):
        body = (b"client %d " % i) * 300
        msg = ic.build("RESPMOD", srv.uri("echo"), [host(srv)],
                       res_hdr=ic.http_response_head(length=len(body)), body=body)
        try:
            with srv.conn() as c:
                for _ in range(100000):
                    if stop.is_set():
                        break
                    r = c.transact(msg)
                    if r.status != 200 or r.body != body:
                        errors.append(r)
                        break
                    counts[i] += 1
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(3)]
    for t in threads:
        t.start()
    try:
        before = reloads(srv, "ok")
        for i in range(20):
            srv.write_config(extra=NEW_SERVICE if i % 2 == 0 else "")
            srv.signal(signal.SIGHUP)
            wait_reload(srv, "ok", before + i)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert not errors, errors[:3]
    assert all(n > 0 for n in counts), counts
    assert srv.proc.alive()


def test_sigterm_lets_inflight_finish(icapd_factory):
    srv = icapd_factory({"shutdown_timeout": "30s"})
    first, rest = b"f" * 20000, b"r" * 20000
    res = ic.http_response_head(length=len(first) + len(rest))
    head = ic.build("RESPMOD", srv.uri("echo"), [host(srv)], res_hdr=res, body=b"x")
    head = head[:head.index(res) + len(res)]
    with srv.conn() as c:
        c.send(head + ic.chunk(first))
        r = c.read_head(5)
        assert r.status == 200, r
        srv.signal(signal.SIGTERM)
        # It stops accepting at once ...
        poll(lambda: not port_open(srv.port), 5, what="the listener to close after SIGTERM")
        assert srv.proc.alive(), "icapd exited with a transaction in flight"
        # ... and the transaction in flight completes.
        c.send(ic.chunk(rest, 5000) + ic.last_chunk())
        c.read_blocks(r)
        c.read_body(r)
        assert r.body == first + rest
    try:
        status = srv.proc.wait(10)
    except subprocess.TimeoutExpired:
        pytest.fail("icapd still running 10s after its last transaction ended")
    assert status == 0, "exit status %r\n%s" % (status, srv.output()[-2000:])


def test_sigterm_with_idle_keepalive_exits_promptly(icapd_factory):
    srv = icapd_factory({"shutdown_timeout": "30s"})
    conns = [srv.conn() for _ in range(3)]
    try:
        for c in conns:
            assert c.transact(options(srv, "echo")).status == 200
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        try:
            status = srv.proc.wait(10)
        except subprocess.TimeoutExpired:
            pytest.fail("idle keep-alive connections kept icapd alive 10s after SIGTERM")
        assert status == 0
        assert time.monotonic() - t0 < 5
        for c in conns:
            assert c.wait_closed(2)
    finally:
        for c in conns:
            c.close()


def test_shutdown_timeout_bounds_stuck_transaction(icapd_factory):
    srv = icapd_factory({"shutdown_timeout": "1s", "body_timeout": "120s"})
    res = ic.http_response_head(length=10000)
    head = ic.build("RESPMOD", srv.uri("echo"), [host(srv), "Allow: 204"], res_hdr=res, body=b"x")
    head = head[:head.index(res) + len(res)]
    with srv.conn() as c:
        c.send(head + ic.chunk(b"s" * 100))  # and then nothing more
        poll(lambda: metric(srv.metrics(), "icapd_connections") >= 1, 5, what="connection accepted")
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        try:
            srv.proc.wait(10)
        except subprocess.TimeoutExpired:
            pytest.fail("stuck transaction kept icapd alive 10s after SIGTERM (shutdown_timeout 1s)")
        elapsed = time.monotonic() - t0
        assert elapsed >= 0.8, "exited after %.2fs, before shutdown_timeout 1s" % elapsed
        assert c.wait_closed(2)


def test_new_connections_refused_after_sigterm(icapd_factory):
    srv = icapd_factory()
    with srv.conn() as c:
        # Hold a transaction open so the process stays up after SIGTERM.
        res = ic.http_response_head(length=100)
        head = ic.build("RESPMOD", srv.uri("echo"), [host(srv)], res_hdr=res, body=b"x")
        c.send(head[:head.index(res) + len(res)] + ic.chunk(b"z" * 10))
        srv.signal(signal.SIGTERM)
        poll(lambda: not port_open(srv.port), 5, what="the listener to close")
        assert srv.proc.alive(), "icapd exited with a transaction in flight"
        with pytest.raises(OSError):
            ic.Conn(srv.host, srv.port, 2).close()
        r = c.read_head(5)
        c.send(ic.chunk(b"z" * 90) + ic.last_chunk())
        c.read_blocks(r)
        c.read_body(r)
        assert r.body == b"z" * 100
    assert srv.proc.wait(10) == 0
