"""Persistent connections and pipelining (RFC 3507 section 4.3 and RFC 9112 9.3).

Requests sent back to back in one send() are answered in order on the same
connection; many requests in turn share one connection; a request split into
tiny pieces across segment boundaries is parsed the same; "Connection: close"
makes the server close after its reply; an error that ends the connection
leaves later pipelined requests unanswered rather than misparsed.
"""

import pytest

import icap_client as ic


def host(server):
    return "Host: " + server.hostport


def echo_req(server, tag, allow204=False):
    """A RESPMOD whose echo reply identifies it by its body."""
    body = ("request %s " % tag).encode() * 7
    return ic.build("RESPMOD", server.uri("echo"), [host(server)] + (["Allow: 204"] if allow204 else []),
                    res_hdr=ic.http_response_head(length=len(body), extra=["X-Tag: %s" % tag]),
                    body=body), body


def test_three_in_one_send(server):
    opt = ic.build("OPTIONS", server.uri("echo"), [host(server)])
    r204, _ = echo_req(server, "a", allow204=True)
    r200, body = echo_req(server, "b")
    with server.conn() as c:
        c.send(opt + r204 + r200)
        a = c.read_reply()
        b = c.read_reply()
        d = c.read_reply()
    assert a.status == 200 and a.header("Methods"), a
    assert b.status == 204, b
    assert d.status == 200 and d.body == body, d


def test_fifty_pipelined_in_order(server):
    reqs = [echo_req(server, "n%03d" % i) for i in range(50)]
    with server.conn(timeout=20) as c:
        c.send(b"".join(m for m, _ in reqs))
        for i, (_, body) in enumerate(reqs):
            r = c.read_reply(10)
            assert r.status == 200, (i, r)
            assert r.body == body, "reply %d out of order: %r" % (i, r.body[:40])
            assert b"X-Tag: n%03d" % i in r.blocks["res-hdr"]


def test_pipelined_mixed_methods(server):
    req_hdr = ic.http_request_head("GET", "http://origin.test/x")
    reqmod = ic.build("REQMOD", server.uri("echo"), [host(server)], req_hdr=req_hdr)
    reqmod204 = ic.build("REQMOD", server.uri("echo"), [host(server), "Allow: 204"], req_hdr=req_hdr)
    ieof = ic.build("RESPMOD", server.uri("echo"), [host(server)], res_hdr=ic.http_response_head(length=3),
                    body=b"abc", preview=1024)
    resp, body = echo_req(server, "z")
    with server.conn() as c:
        c.send(reqmod + ieof + reqmod204 + resp)
        r1 = c.read_reply()
        r2 = c.read_reply()
        r3 = c.read_reply()
        r4 = c.read_reply()
    assert r1.status == 200 and r1.blocks.get("req-hdr") == req_hdr, r1
    assert r2.status == 204, r2
    assert r3.status == 204, r3
    assert r4.status == 200 and r4.body == body, r4


def test_pipelined_bytewise(server):
    """Two requests sent one byte per segment are still two requests."""
    m1, b1 = echo_req(server, "s1")
    m2, b2 = echo_req(server, "s2", allow204=True)
    data = m1 + m2
    with server.conn() as c:
        for i in range(len(data)):
            c.send(data[i:i + 1])
        r1 = c.read_reply()
        r2 = c.read_reply()
    assert r1.status == 200 and r1.body == b1, r1
    assert r2.status == 204, r2


@pytest.mark.parametrize("split", [1, 7, 30, 100, 101, 150])
def test_split_points(server, split):
    """One request split at various offsets across two sends."""
    m, body = echo_req(server, "split%d" % split)
    with server.conn() as c:
        c.send(m[:split])
        c.send(m[split:])
        r = c.read_reply()
    assert r.status == 200 and r.body == body, r


def test_keepalive_many_sequential(server):
    with server.conn() as c:
        for i in range(30):
            if i % 3 == 0:
                r = c.transact(ic.build("OPTIONS", server.uri("echo"), [host(server)]))
                assert r.status == 200
            else:
                m, body = echo_req(server, "k%d" % i, allow204=(i % 3 == 1))
                r = c.transact(m)
                if i % 3 == 1:
                    assert r.status == 204, r
                else:
                    assert r.status == 200 and r.body == body, r


@pytest.mark.parametrize("kind", ["options", "204", "echo"])
def test_connection_close(server, kind):
    extra = ["Connection: close"]
    if kind == "options":
        m = ic.build("OPTIONS", server.uri("echo"), [host(server)] + extra)
    else:
        m = ic.build("RESPMOD", server.uri("echo"), [host(server)] + extra + (["Allow: 204"] if kind == "204" else []),
                     res_hdr=ic.http_response_head(length=5), body=b"hello")
    with server.conn() as c:
        r = c.transact(m)
        assert r.status in (200, 204), r
        if kind == "echo":
            assert r.body == b"hello"
        assert c.wait_closed(5), "server kept the connection open after Connection: close"
        assert c.buf == b""


def test_connection_close_then_pipelined_ignored(server):
    """A request after one that said "Connection: close" gets no reply."""
    first = ic.build("OPTIONS", server.uri("echo"), [host(server), "Connection: close"])
    second = ic.build("OPTIONS", server.uri("echo"), [host(server)])
    with server.conn() as c:
        c.send(first + second)
        r = c.read_reply()
        assert r.status == 200
        assert c.wait_closed(5)
        assert c.buf == b"", "answered a request sent after Connection: close: %r" % c.buf[:100]


def test_error_stops_pipeline(server):
    """After a 400 that ends the connection, a pipelined request is not answered."""
    bad = b"RESPMOD\r\n\r\n"
    good = ic.build("OPTIONS", server.uri("echo"), [host(server)])
    with server.conn() as c:
        c.send(bad + good)
        r = c.read_reply()
        assert r.status == 400, r
        assert c.wait_closed(5)
        assert c.buf == b"", c.buf[:200]


def test_many_connections_at_once(server):
    """Twenty connections open side by side, each served in an interleaved order."""
    conns = [server.conn() for _ in range(20)]
    try:
        msgs = [echo_req(server, "c%d" % i) for i in range(20)]
        for c, (m, _) in zip(conns, msgs):
            c.send(m[:50])
        for c, (m, _) in reversed(list(zip(conns, msgs))):
            c.send(m[50:])
        for c, (_, body) in zip(conns, msgs):
            r = c.read_reply()
            assert r.status == 200 and r.body == body, r
    finally:
        for c in conns:
            c.close()
