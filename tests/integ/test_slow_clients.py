"""Slow clients (hardening issue, fault tolerance): a thousand connections
that trickle a request a byte a second cannot hold icapd, nor slow down the
clients that behave.

header_timeout is a deadline from a request's first byte, not an idle
timer: with header_timeout 3s, connections that send one byte of their ICAP
head (half of them) or of their encapsulated HTTP headers (the other half)
every second are answered 408 and closed about three seconds after their
first byte. Meanwhile one client doing OPTIONS and REQMOD requests in a
loop keeps its latency: its p99 stays under 50 ms or five times the p99
measured without the trickle, whichever is larger. The test raises its own
descriptor limit (and max_connections) for the thousand connections, and
every wait has a deadline.
"""

import errno
import resource
import selectors
import socket
import time

import pytest

import icap_client as ic
from faults import assert_alive
from procs import poll
from promtext import metric

SLOW = 1000
HEADER_TIMEOUT = 3.0
BYTE_EVERY = 1.0
MIN_SAMPLES = 200


@pytest.fixture(scope="module")
def fd_room():
    """Room for SLOW connections on each side (icapd inherits the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 2 * SLOW + 512
    if hard != resource.RLIM_INFINITY and hard < want:
        pytest.skip("RLIMIT_NOFILE hard limit %d < %d" % (hard, want))
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture(scope="module")
def srv(fd_room, module_icapd_factory):
    return module_icapd_factory(directives={"header_timeout": "%ds" % HEADER_TIMEOUT,
                                            "max_connections": str(SLOW + 200)})


def p99(samples):
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * 0.99))]


class Measure:
    """Sequential OPTIONS and REQMOD (Allow: 204) on one keep-alive
    connection; each request's latency in seconds."""

    def __init__(self, srv):
        self.c = srv.conn(10)
        host = ["Host: " + srv.hostport]
        self.reqs = [
            ic.build("OPTIONS", srv.uri("echo"), host),
            ic.build("REQMOD", srv.uri("reqmod"), host + ["Allow: 204"],
                     req_hdr=ic.http_request_head(method="POST", url="http://upload.test/",
                                                  host="upload.test", extra=["Content-Length: 3000"]),
                     body=b"q" * 3000),
        ]
        self.samples = []

    def one(self):
        data = self.reqs[len(self.samples) % 2]
        t0 = time.monotonic()
        r = self.c.transact(data, 10)
        self.samples.append(time.monotonic() - t0)
        assert r.status in (200, 204), r

    def close(self):
        self.c.close()


class Trickle:
    """SLOW non-blocking connections, each sending its next byte every
    BYTE_EVERY seconds; records when each is closed and what it got."""

    def __init__(self, srv):
        icap_head = ("OPTIONS %s ICAP/1.0\r\nHost: %s\r\nX-Slow: %s" % (
            srv.uri("echo"), srv.hostport, "s" * 200)).encode()
        req = ic.http_request_head(method="GET", url="http://slow.test/", host="slow.test",
                                   extra=["X-Slow: " + "s" * 200])
        full = ic.build("REQMOD", srv.uri("reqmod"), ["Host: " + srv.hostport], req_hdr=req)
        http_start = full.index(b"\r\n\r\n") + 4
        self.sel = selectors.DefaultSelector()
        self.conns = []
        for i in range(SLOW):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.connect((srv.host, srv.port))
            s.setblocking(False)
            # Half in the ICAP head, half in the HTTP headers (head sent whole).
            first = 1 if i % 2 == 0 else http_start + 1
            data = icap_head if i % 2 == 0 else full
            s.send(data[:first])
            c = {"sock": s, "data": data, "sent": first, "start": time.monotonic(),
                 "next": time.monotonic() + BYTE_EVERY, "got": b"", "closed": None}
            self.conns.append(c)
            self.sel.register(s, selectors.EVENT_READ, c)

    def open_count(self):
        return sum(1 for c in self.conns if c["closed"] is None)

    def step(self, budget):
        """Sends due bytes and reads what came, for about budget seconds."""
        now = time.monotonic()
        for c in self.conns:
            if c["closed"] is None and now >= c["next"] and c["sent"] < len(c["data"]):
                try:
                    c["sent"] += c["sock"].send(c["data"][c["sent"]:c["sent"] + 1])
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError as e:
                    assert e.errno in (errno.EPIPE, errno.ECONNRESET), e
                    self._closed(c)
                c["next"] = now + BYTE_EVERY
        for key, _ in self.sel.select(budget):
            c = key.data
            try:
                data = c["sock"].recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except ConnectionResetError:
                data = b""
            if data:
                c["got"] += data
            else:
                self._closed(c)

    def _closed(self, c):
        c["closed"] = time.monotonic()
        self.sel.unregister(c["sock"])
        c["sock"].close()

    def close(self):
        for c in self.conns:
            if c["closed"] is None:
                self._closed(c)
        self.sel.close()


def test_trickling_connections_are_cut_and_others_keep_their_latency(srv):
    m = Measure(srv)  # opened first: a low descriptor
    try:
        for _ in range(MIN_SAMPLES):
            m.one()
        base = p99(m.samples)
        m.samples = []
        before = srv.metrics()

        t = Trickle(srv)
        try:
            assert metric(srv.metrics(), "icapd_connections") >= SLOW, "not all trickles connected"
            deadline = time.monotonic() + HEADER_TIMEOUT + 10
            # Requests in between trickle rounds, until every trickle is cut.
            for _ in range(1000000):
                t.step(0.001)
                m.one()
                if (t.open_count() == 0 and len(m.samples) >= MIN_SAMPLES) or \
                        time.monotonic() > deadline:
                    break
            left = t.open_count()
            loaded = p99(m.samples)
            late = [c["closed"] - c["start"] for c in t.conns
                    if c["closed"] is not None and c["closed"] - c["start"] > HEADER_TIMEOUT + 3]
            no_408 = [c["got"][:40] for c in t.conns if not c["got"].startswith(b"ICAP/1.0 408 ")]
            early = [c["closed"] - c["start"] for c in t.conns
                     if c["closed"] is not None and c["closed"] - c["start"] < HEADER_TIMEOUT - 0.5]
        finally:
            t.close()
        assert left == 0, "%d of %d trickling connections still open after %.0fs" % (
            left, SLOW, HEADER_TIMEOUT + 10)
        assert not late, "%d closed late (max %.1fs)" % (len(late), max(late))
        assert not early, "%d closed before header_timeout: %r" % (len(early), early[:5])
        assert not no_408, "%d got no 408: %r" % (len(no_408), no_408[:5])
        bound = max(0.050, 5 * base)
        print("p99 without trickle %.2f ms, with %d trickles %.2f ms (%d requests)" % (
            base * 1000, SLOW, loaded * 1000, len(m.samples)))
        assert loaded < bound, "p99 %.1f ms under the trickle, %.1f ms without (bound %.1f ms)" % (
            loaded * 1000, base * 1000, bound * 1000)
        after = srv.metrics()
        assert metric(after, "icapd_requests_total", status="408") - \
            metric(before, "icapd_requests_total", status="408") == SLOW
    finally:
        m.close()
    poll(lambda: metric(srv.metrics(), "icapd_connections") == 0, 10,
         what="icapd_connections back to 0")
    assert_alive(srv)
