"""Error replies and limits (RFC 3507 sections 4.3 and 4.4; 4.7 for ISTag).

Malformed request lines, unknown methods and versions, bad or missing
Encapsulated headers, a missing Host, oversized heads and broken chunk
framing earn 400/501/505 (or a closed connection where the brief allows it)
and end the connection; an unknown service is 404 and a method the service
does not offer is 405, after which the connection may stay open but must not
read the discarded body as a new request. Every reply carries ISTag and Date.
Short-timeout instances check header_timeout (408, also against a client
that dribbles bytes), body_timeout, and keepalive_timeout. Robustness:
clients that vanish mid-body or mid-reply, a client that never reads its
echo (backpressure, bounded memory), max_connections, garbage on the admin
port.
"""

import errno
import select
import socket
import time

import pytest

import icap_client as ic
from procs import poll
from promtext import metric

BODY = b"0123456789" * 10
REQ = ic.http_request_head()
RES = ic.http_response_head(length=len(BODY))


def host(server):
    return "Host: " + server.hostport


def good_respmod(server, service="echo", extra=(), allow204=True):
    h = [host(server)] + (["Allow: 204"] if allow204 else []) + list(extra)
    return ic.build("RESPMOD", server.uri(service), h, req_hdr=REQ, res_hdr=RES, body=BODY)


def send_get_reply(server, data, timeout=5):
    """Sends data on a new connection; returns (reply or None, conn).
    None means the server closed (or reset) without an ICAP reply."""
    c = server.conn(timeout)
    try:
        c.send(data)
    except OSError:
        pass
    try:
        return c.read_reply(timeout), c
    except (ic.Closed, ConnectionResetError, BrokenPipeError):
        return None, c


def expect_error(server, data, status, must_close=True, allow_close_only=False, timeout=5):
    r, c = send_get_reply(server, data, timeout)
    try:
        if r is None:
            assert allow_close_only, "connection closed without the %d reply" % status
            return None
        assert r.status == status, "expected %d, got %r" % (status, r)
        assert r.header("ISTag"), "%d reply without ISTag (RFC 3507 4.7): %r" % (status, r.head)
        assert r.header("Date"), "%d reply without Date: %r" % (status, r.head)
        if must_close:
            assert c.wait_closed(5), "connection still open 5s after the %d reply" % status
        return r
    finally:
        c.close()


# ---------------------------------------------------------------- request line


@pytest.mark.parametrize("line", [
    b"RESPMOD\r\n\r\n",
    b"RESPMOD icap://127.0.0.1/echo\r\nHost: x\r\n\r\n",
    b"RESPMOD http://127.0.0.1/echo ICAP/1.0\r\nHost: x\r\nEncapsulated: null-body=0\r\n\r\n",
    b"\x00\x01\x02garbage\x7f\r\n\r\n",
    b"OPTIONS icap://127.0.0.1/echo ICAP/1.0\r\nHost x\r\n\r\n",
    b"OPTIONS icap://127.0.0.1/echo ICAP/one.zero\r\nHost: x\r\n\r\n",
], ids=["method-only", "no-version", "http-uri", "binary", "header-without-colon", "bad-version-syntax"])
def test_malformed_request_400_and_close(server, line):
    expect_error(server, line, 400)


def test_unknown_method_501_and_close(server):
    data = ("FOO %s ICAP/1.0\r\n%s\r\nEncapsulated: null-body=0\r\n\r\n" % (server.uri("echo"), host(server))).encode()
    expect_error(server, data, 501)


def test_icap_2_0_is_505_and_close(server):
    data = ("OPTIONS %s ICAP/2.0\r\n%s\r\n\r\n" % (server.uri("echo"), host(server))).encode()
    expect_error(server, data, 505)


def test_http_request_on_icap_port(server):
    """A stray HTTP client gets an ICAP error, not a hang, and is disconnected."""
    r, c = send_get_reply(server, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        if r is not None:
            assert r.status in (400, 501, 505), r
        assert c.wait_closed(5)
    finally:
        c.close()


# ---------------------------------------------------------------- service / method


def test_unknown_service_404(server):
    data = ic.build("OPTIONS", server.uri("no-such-service"), [host(server)])
    expect_error(server, data, 404, must_close=False)


def test_unknown_service_404_respmod_body_discarded(server):
    """404 on a RESPMOD with a body: if the connection stays open, the body
    must have been discarded and the next request answered normally."""
    body = b"OPTIONS icap://x/echo ICAP/1.0\r\n\r\n" * 50  # would be a request if misread
    res = ic.http_response_head(length=len(body))
    data = ic.build("RESPMOD", server.uri("nothere"), [host(server)], req_hdr=REQ, res_hdr=res,
                    body=body)
    with server.conn() as c:
        r = c.transact(data, 5)
        assert r.status == 404, r
        assert r.header("ISTag") and r.header("Date"), r.head
        try:
            c.send(ic.build("OPTIONS", server.uri("echo"), [host(server)]))
            r2 = c.read_reply(5)
        except (ic.Closed, OSError):
            return  # closing after a 404 is allowed
        assert r2.status == 200 and r2.header("Methods"), r2


def test_method_not_allowed_405(icapd):
    data = ic.build("REQMOD", icapd.uri("respmod"), [host(icapd), "Allow: 204"], req_hdr=REQ)
    r = expect_error(icapd, data, 405, must_close=False)
    assert r is not None


def test_405_then_same_connection_works(icapd):
    data = ic.build("REQMOD", icapd.uri("respmod"), [host(icapd)],
                    req_hdr=ic.http_request_head("POST", extra=["Content-Length: 100"]), body=BODY)
    with icapd.conn() as c:
        r = c.transact(data, 5)
        assert r.status == 405, r
        try:
            c.send(good_respmod(icapd, "respmod"))
            r2 = c.read_reply(5)
        except (ic.Closed, OSError):
            return
        assert r2.status == 204, r2


# ---------------------------------------------------------------- Encapsulated


R, B = len(REQ), len(REQ) + len(RES)
BAD_ENCAP = [
    # (method, Encapsulated value, header blocks sent, id)
    ("RESPMOD", "res-hdr=%d, res-body=0" % len(RES), RES, "decreasing"),
    ("RESPMOD", "res-hdr=0, res-hdr=%d, res-body=%d" % (R, B), REQ + RES, "duplicate"),
    ("REQMOD", "req-hdr=0, res-body=%d" % R, REQ, "reqmod-with-res-body"),
    ("REQMOD", "req-hdr=0, res-hdr=%d, req-body=%d" % (R, B), REQ + RES, "reqmod-with-res-hdr"),
    ("RESPMOD", "foo=0", b"", "unknown-entity"),
    ("RESPMOD", "res-hdr=abc, res-body=10", RES, "not-a-number"),
    ("RESPMOD", "res-hdr=0", RES, "no-body-entity"),
    ("RESPMOD", "res-hdr=0, res-body=-5", RES, "negative"),
    ("RESPMOD", "res-hdr=1, res-body=%d" % (len(RES) + 1), b"x" + RES, "first-not-zero"),
    ("RESPMOD", "res-hdr=0, res-body=99999999999999999999999", RES, "overflow"),
    ("RESPMOD", "res-body=0, res-hdr=10", RES, "body-not-last"),
    ("RESPMOD", "res-hdr=0, null-body=%d, res-body=%d" % (len(RES), len(RES)), RES, "two-bodies"),
    ("RESPMOD", "res-hdr=0, res-body=10", RES, "offset-inside-header-block"),
    ("RESPMOD", "", RES, "empty"),
]


@pytest.mark.parametrize("method,enc,blocks,name", BAD_ENCAP, ids=[x[3] for x in BAD_ENCAP])
def test_bad_encapsulated_400_and_close(server, method, enc, blocks, name):
    head = "%s %s ICAP/1.0\r\n%s\r\nAllow: 204\r\nEncapsulated: %s\r\n\r\n" % (
        method, server.uri("echo"), host(server), enc)
    data = head.encode() + blocks + ic.chunk(BODY) + ic.last_chunk()
    expect_error(server, data, 400, allow_close_only=(name == "offset-inside-header-block"))


@pytest.mark.parametrize("method", ["REQMOD", "RESPMOD"])
def test_missing_encapsulated_400(server, method):
    data = ("%s %s ICAP/1.0\r\n%s\r\nAllow: 204\r\n\r\n" % (method, server.uri("echo"), host(server))).encode()
    expect_error(server, data, 400)


def test_missing_host_400(server):
    data = ic.build("RESPMOD", server.uri("echo"), ["Allow: 204"], req_hdr=REQ, res_hdr=RES, body=BODY)
    expect_error(server, data, 400)


def test_bad_http_header_block_400(server):
    """The encapsulated block must be an HTTP header block ending in CRLFCRLF."""
    bad = b"this is not an HTTP header block at all!"
    data = ic.build("RESPMOD", server.uri("echo"), [host(server), "Allow: 204"], res_hdr=bad,
                    body=BODY)
    r, c = send_get_reply(server, data)
    try:
        assert r is None or r.status == 400, r
        assert c.wait_closed(5)
    finally:
        c.close()


# ---------------------------------------------------------------- sizes


def test_oversized_icap_head(server):
    """More than 64 KiB of ICAP headers: 400 or close, quickly; the server
    neither waits for the end of the head nor buffers without bound."""
    head = ("RESPMOD %s ICAP/1.0\r\n%s\r\n" % (server.uri("echo"), host(server))).encode()
    pad = b"".join(b"X-Pad-%05d: %s\r\n" % (i, b"p" * 100) for i in range(600))  # ~70 KiB
    sent = 0
    limit = 16 * 1024 * 1024
    with server.conn(timeout=5) as c:
        c.sock.settimeout(5)
        t0 = time.monotonic()
        try:
            c.sock.sendall(head)
            while sent < limit:
                c.sock.sendall(pad)
                sent += len(pad)
        except socket.timeout:
            pytest.fail("server stopped reading after %d bytes of headers but neither "
                        "answered nor closed within 5s" % sent)
        except OSError as e:
            assert e.errno in (errno.EPIPE, errno.ECONNRESET), e
        assert sent < limit, "server accepted %d bytes of ICAP headers without complaint" % sent
        try:
            r = c.read_reply(5)
            assert r.status == 400, r
        except (ic.Closed, ConnectionResetError):
            pass
        assert time.monotonic() - t0 < 10


def test_oversized_single_header_line(server):
    line = b"X-Long: " + b"a" * (70 * 1024) + b"\r\n"
    data = ("OPTIONS %s ICAP/1.0\r\n%s\r\n" % (server.uri("echo"), host(server))).encode() + line + b"\r\n"
    r, c = send_get_reply(server, data)
    try:
        assert r is None or r.status == 400, r
        assert c.wait_closed(5)
    finally:
        c.close()


def test_oversized_head_memory_bounded(icapd):
    """Eight connections each sending 8 MiB of a never-ending head: the
    server's resident memory grows by far less than the 64 MiB it was sent."""
    def rss_kib():
        with open("/proc/%d/status" % icapd.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0
    before = rss_kib()
    junk = b"".join(b"X-P%d: %s\r\n" % (i, b"q" * 500) for i in range(128))  # 64 KiB
    conns = []
    try:
        for _ in range(8):
            c = icapd.conn(5)
            conns.append(c)
            c.sock.settimeout(1.0)
            try:
                c.sock.sendall(("RESPMOD %s ICAP/1.0\r\n" % icapd.uri("echo")).encode())
                for _ in range(128):
                    c.sock.sendall(junk)
            except OSError:  # reset, broken pipe, or the server stopped reading
                pass
        grown = rss_kib() - before
        assert grown < 24 * 1024, "RSS grew by %d KiB after 64 MiB of oversized heads" % grown
    finally:
        for c in conns:
            c.close()


def test_many_headers_ok(server):
    """40 extra ICAP headers are an ordinary request."""
    extra = ["X-Extra-%d: value %d" % (i, i) for i in range(40)]
    r = ic.request(server.host, server.port, good_respmod(server, extra=extra))
    assert r.status == 204, r


# ---------------------------------------------------------------- chunk framing


BAD_CHUNKS = [
    (b"zz\r\nhello\r\n0\r\n\r\n", "non-hex-size"),
    (b"5\r\nhelloEXTRA\r\n0\r\n\r\n", "data-longer-than-size"),
    (b"fffffffffffffffffffffff\r\nx\r\n0\r\n\r\n", "size-overflow"),
    (b"-5\r\nhello\r\n0\r\n\r\n", "negative-size"),
    (b"\r\n\r\n", "empty-size-line"),
]


@pytest.mark.parametrize("chunks,name", BAD_CHUNKS, ids=[x[1] for x in BAD_CHUNKS])
def test_bad_chunk_framing(server, chunks, name):
    """Allow: 204 so that no reply has begun; the answer is 400 or a close."""
    res = ic.http_response_head(length=5)
    head = ic.build("RESPMOD", server.uri("echo"), [host(server), "Allow: 204"], req_hdr=REQ,
                    res_hdr=res, body=b"x")
    head = head[:head.index(res) + len(res)]
    r, c = send_get_reply(server, head + chunks)
    try:
        assert r is None or r.status == 400, r
        assert c.wait_closed(5), "connection left open after bad chunk framing"
    finally:
        c.close()


def test_bad_chunk_mid_echo_truncates(server):
    """Bad framing after the echo began: the reply must not end with a
    proper last chunk (the client has to see the truncation)."""
    good = ic.chunk(b"g" * 5000)
    res = ic.http_response_head(length=20000)
    head = ic.build("RESPMOD", server.uri("echo"), [host(server)], res_hdr=res, body=b"x")
    head = head[:head.index(res) + len(res)]
    with server.conn(5) as c:
        c.send(head + good)
        try:
            r = c.read_head(3)  # the echo streams, so its head should come now
        except ic.Timeout:
            r = None
        try:
            c.send(b"zz\r\nbroken\r\n0\r\n\r\n")
        except OSError:
            pass
        assert c.wait_closed(5), "connection left open after bad framing"
        rest = c.buf
    if r is None:
        assert rest == b"" or rest.startswith(b"ICAP/1.0 400"), rest[:200]
        return
    assert r.status == 200, r
    rest = rest[len(res):]
    try:
        payload, _ = ic.dechunk(rest)
    except (ValueError, ic.ICAPError):
        return  # truncated: good
    pytest.fail("reply looks complete (%d bytes echoed) although the request body was broken"
                % len(payload))


# ---------------------------------------------------------------- timeouts


@pytest.fixture(scope="module")
def quick(module_icapd_factory):
    """An icapd with 2 s header, body and keep-alive timeouts."""
    return module_icapd_factory({"header_timeout": "2s", "keepalive_timeout": "2s",
                                 "body_timeout": "2s"}, name="quick")


def test_header_timeout_408(quick):
    data = ic.build("OPTIONS", quick.uri("echo"), [host(quick)])
    with quick.conn(10) as c:
        t0 = time.monotonic()
        c.send(data[:len(data) // 2])
        r = c.read_reply(8)
        elapsed = time.monotonic() - t0
        assert r.status == 408, r
        assert 1.5 <= elapsed <= 6.0, "408 after %.2fs (header_timeout 2s)" % elapsed
        assert r.header("ISTag") and r.header("Date"), r.head
        assert c.wait_closed(3)


def test_header_timeout_counts_from_first_byte(quick):
    """A client dribbling one byte every 0.25 s does not reset the timer."""
    data = ic.build("OPTIONS", quick.uri("echo"), [host(quick)] + ["X-Slow-%d: aaaaaaaaaaaa" % i for i in range(20)])
    with quick.conn(10) as c:
        t0 = time.monotonic()
        got = False
        for i in range(min(len(data) - 1, 40)):  # at most 40 x 0.25 s = 10 s
            try:
                c.send(data[i:i + 1])
            except OSError:
                got = True
                break
            rl, _, _ = select.select([c.sock], [], [], 0.25)
            if rl:
                got = True
                break
        elapsed = time.monotonic() - t0
        assert got, "no reply or close after %.1fs of dribbling (header_timeout 2s)" % elapsed
        assert elapsed <= 6.0, elapsed
        try:
            r = c.read_reply(3)
            assert r.status == 408, r
        except (ic.Closed, ConnectionResetError):
            pass
        assert c.wait_closed(3)


def test_keepalive_timeout_closes_idle(quick):
    with quick.conn(10) as c:
        r = c.transact(ic.build("OPTIONS", quick.uri("echo"), [host(quick)]))
        assert r.status == 200
        t0 = time.monotonic()
        assert c.wait_closed(8), "idle keep-alive connection still open after 8s (keepalive_timeout 2s)"
        elapsed = time.monotonic() - t0
        assert elapsed >= 1.5, "closed after %.2fs, before keepalive_timeout 2s" % elapsed
        assert c.buf == b"", "unexpected bytes on an idle connection: %r" % c.buf[:200]


def test_keepalive_survives_short_pauses(quick):
    with quick.conn(10) as c:
        for _ in range(3):
            r = c.transact(ic.build("OPTIONS", quick.uri("echo"), [host(quick)]))
            assert r.status == 200
            time.sleep(0.8)  # deliberately idle, below keepalive_timeout


def test_silent_new_connection_closed(quick):
    with quick.conn(10) as c:
        assert c.wait_closed(8), "connection that never sent a byte still open after 8s"


def test_body_timeout(quick):
    """Silence in the middle of a body: closed (408 optional) after ~2s."""
    res = ic.http_response_head(length=10000)
    head = ic.build("RESPMOD", quick.uri("echo"), [host(quick), "Allow: 204"], res_hdr=res, body=b"x")
    head = head[:head.index(res) + len(res)]
    with quick.conn(10) as c:
        c.send(head + ic.chunk(b"a" * 1000))
        t0 = time.monotonic()
        assert c.wait_closed(8), "stalled body: connection still open after 8s (body_timeout 2s)"
        elapsed = time.monotonic() - t0
        assert elapsed >= 1.5, "closed after %.2fs, before body_timeout 2s" % elapsed
        assert c.buf == b"" or c.buf.startswith(b"ICAP/1.0 408"), c.buf[:200]


def test_slow_but_steady_body_is_fine(quick):
    """A body whose pieces arrive 0.5 s apart (below body_timeout) completes,
    although the whole transaction takes longer than the timeouts."""
    body = b"s" * 5000
    res = ic.http_response_head(length=len(body))
    msg = ic.build("RESPMOD", quick.uri("echo"), [host(quick), "Allow: 204"], res_hdr=res,
                   body=body, chunk_size=1000)
    head_end = msg.index(res) + len(res)
    with quick.conn(10) as c:
        c.send(msg[:head_end])
        rest = msg[head_end:]
        for i in range(0, len(rest), 1010):
            c.send(rest[i:i + 1010])
            time.sleep(0.5)
        r = c.read_reply(5)
        assert r.status == 204, r


# ---------------------------------------------------------------- robustness


def test_client_aborts_mid_body_and_mid_reply(icapd):
    """Clients that vanish in the middle of a body, or while a large echo is
    being written to them, cost nothing: the server keeps serving and its
    connection gauge returns to where it was."""
    base = metric(icapd.metrics(), "icapd_connections")
    res = ic.http_response_head(length=4 * 1024 * 1024)
    head = ic.build("RESPMOD", icapd.uri("echo"), [host(icapd)], res_hdr=res, body=b"x")
    head = head[:head.index(res) + len(res)]
    for _ in range(5):
        c = icapd.conn()
        c.send(head + ic.chunk(b"m" * 50000))
        c.close()
    # Now a client that sends 4 MiB for echo but never reads the reply.
    c = icapd.conn()
    s = ic.Sender(c, head + ic.chunk(b"n" * (4 * 1024 * 1024), 65536) + ic.last_chunk())
    poll(lambda: s.sent > 512 * 1024 or s.error, 10, what="the sender to make progress")
    s.stop()
    c.abort()  # reset while the server writes
    s.join(10)
    assert ic.request(icapd.host, icapd.port, good_respmod(icapd)).status == 204
    poll(lambda: metric(icapd.metrics(), "icapd_connections") <= base, 10,
         what="icapd_connections back to %d" % base)


def test_unread_echo_applies_backpressure(icapd):
    """A client that sends a large body for echo but reads nothing: the
    server stops reading too (TCP flow control) instead of buffering it all."""
    def rss_kib():
        with open("/proc/%d/status" % icapd.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0
    size = 64 * 1024 * 1024
    res = ic.http_response_head(length=size)
    head = ic.build("RESPMOD", icapd.uri("echo"), [host(icapd)], res_hdr=res, body=b"x")
    head = head[:head.index(res) + len(res)]
    before = rss_kib()
    c = icapd.conn()
    s = None
    try:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        piece = ic.chunk(b"p" * 65536)
        data = head + piece * (size // 65536) + ic.last_chunk()
        s = ic.Sender(c, data)
        last = [-1, time.monotonic()]

        def stalled():
            if s.error or s.sent >= len(data):
                return True
            if s.sent != last[0]:
                last[0], last[1] = s.sent, time.monotonic()
                return False
            return time.monotonic() - last[1] > 1.0
        poll(stalled, 20, interval=0.1, what="the sender to stall")
        assert s.error is None, s.error
        assert s.sent < len(data), "the server took all %d bytes while nobody read the echo" % s.sent
        grown = rss_kib() - before
        assert grown < 32 * 1024, "RSS grew by %d KiB while the client read nothing" % grown
    finally:
        c.close()
        if s is not None:
            s.join(10)


def test_max_connections(icapd_factory):
    """With max_connections 3, a fourth concurrent connection is not served
    (refused, closed or answered 503) until one of the three goes away."""
    srv = icapd_factory({"max_connections": "3"})
    opt = ic.build("OPTIONS", srv.uri("echo"), [host(srv)])
    held = [srv.conn() for _ in range(3)]
    try:
        for c in held:
            assert c.transact(opt).status == 200
        r = c.transact(opt)  # sanity: the three are open and usable
        assert r.status == 200 and r.header("Max-Connections") == "3", r
        extra = srv.conn(3)
        try:
            extra.send(opt)
            try:
                r = extra.read_reply(2)
                assert r.status == 503, "a 4th connection was served: %r" % r
            except (ic.Closed, ic.Timeout, ConnectionResetError):
                pass
        except OSError:
            pass
        finally:
            extra.close()
        held.pop().close()

        def served():
            try:
                return ic.request(srv.host, srv.port, opt, timeout=2).status == 200
            except (ic.ICAPError, OSError):
                return False
        poll(served, 10, interval=0.1, what="a new connection to be served after one closed")
    finally:
        for c in held:
            c.close()


def test_oversized_http_header_block(server):
    """An encapsulated HTTP header block above max_http_header (64k): 400/close."""
    big = ic.http_response_head(length=3, extra=["X-Huge-%d: %s" % (i, "h" * 4000) for i in range(18)])
    assert len(big) > 70000
    data = ic.build("RESPMOD", server.uri("echo"), [host(server), "Allow: 204"], res_hdr=big, body=b"abc")
    r, c = send_get_reply(server, data)
    try:
        assert r is None or r.status == 400, r
        assert c.wait_closed(5)
    finally:
        c.close()


@pytest.mark.parametrize("value", ["abc", "-1", "", "99999999999999999999999"])
def test_bad_preview_value_400(server, value):
    res = ic.http_response_head(length=len(BODY))
    data = ic.build("RESPMOD", server.uri("echo"), [host(server), "Preview: " + value],
                    res_hdr=res, body=BODY)
    expect_error(server, data, 400)


def test_admin_garbage_request(module_admin_icapd):
    """Garbage on the admin port gets an HTTP error (or a close), and the
    admin listener keeps working."""
    srv = module_admin_icapd
    for junk in (b"\x00\x01\x02\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                 b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\n\r\n"):
        with socket.create_connection((srv.host, srv.admin_port), timeout=5) as s:
            try:
                s.sendall(junk)
                s.settimeout(5)
                data = s.recv(4096)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            assert data == b"" or data.startswith(b"HTTP/1.") and b" 200 " not in data.split(b"\r\n")[0], data[:200]
    status, _, _ = srv.admin_get("/healthz")
    assert status == 200


@pytest.fixture(scope="module")
def module_admin_icapd(module_icapd_factory):
    return module_icapd_factory(name="admin")


def test_reset_with_echo_input_pending(icapd):
    """A client that sends a large body for echo, reads nothing and resets
    the connection while the server still has its input to process: the
    failed write must end the connection, not spin the event loop (found by
    the benchmark: a client stopping at the end of its run wedged icapd)."""
    def cpu_ticks():
        with open("/proc/%d/stat" % icapd.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    res = ic.http_response_head(length=8 * 1024 * 1024)
    head = ic.build("RESPMOD", icapd.uri("echo"), [host(icapd)], res_hdr=res, body=b"x")
    head = head[:head.index(res) + len(res)]
    data = head + ic.chunk(b"r" * (8 * 1024 * 1024), 65536) + ic.last_chunk()
    for _ in range(3):
        c = icapd.conn()
        c.sock.setblocking(False)
        sent = 0
        deadline = time.monotonic() + 2
        while sent < len(data) and time.monotonic() < deadline:
            try:
                sent += c.sock.send(data[sent:sent + 262144])
            except BlockingIOError:
                select.select([], [c.sock], [], 0.05)
        c.abort()
    time.sleep(0.5)
    before = cpu_ticks()
    time.sleep(1.0)
    spent = cpu_ticks() - before
    assert spent < 50, "icapd used %d ticks of CPU in 1 s while idle" % spent
    assert ic.request(icapd.host, icapd.port, good_respmod(icapd), timeout=5).status == 204
