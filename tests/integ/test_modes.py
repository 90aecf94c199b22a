"""REQMOD and RESPMOD replies: 204, 200 echo, previews and streaming.

With "Allow: 204" the server reads the body and answers 204 (RFC 3507 4.6).
After a preview, 204 is always allowed (RFC 3507 4.5), also when the preview
ends with "0; ieof". Without either, /echo answers 200 with the encapsulated
headers and body unchanged (Encapsulated "res-hdr=0, res-body=N" for RESPMOD,
"req-hdr=0, req-body=N" for REQMOD, a null-body when there was no body); chunk
boundaries may differ, so bodies are compared after decoding. /echo streams:
the reply begins before a slowly sent body is complete, and many echoes can
run side by side. Header names are case-insensitive; chunk extensions,
leading zeros and trailers are valid framing.
"""

import hashlib
import time

import pytest

import icap_client as ic

REQ_HDR = ic.http_request_head("GET", "http://origin.test/file.bin", "origin.test",
                               ["User-Agent: icapd-integ", "Accept: */*"])
POST_HDR = lambda n: ic.http_request_head(  # noqa: E731
    "POST", "http://origin.test/upload", "origin.test",
    ["Content-Type: application/octet-stream", "Content-Length: %d" % n])


def body_of(n, seed=1):
    return bytes((i * 131 + seed * 7 + (i >> 8)) & 0xFF for i in range(n))


def respmod(server, body, allow204=False, preview=None, req_hdr=REQ_HDR, res_hdr=None,
            chunk_size=None, extra=()):
    h = ["Host: " + server.hostport] + (["Allow: 204"] if allow204 else []) + list(extra)
    if res_hdr is None:
        res_hdr = ic.http_response_head(length=len(body) if body is not None else 0)
    return ic.build("RESPMOD", server.uri("echo"), h, req_hdr=req_hdr, res_hdr=res_hdr,
                    body=body, preview=preview, chunk_size=chunk_size)


def reqmod(server, body, allow204=False, preview=None, req_hdr=None, chunk_size=None, extra=()):
    h = ["Host: " + server.hostport] + (["Allow: 204"] if allow204 else []) + list(extra)
    if req_hdr is None:
        req_hdr = POST_HDR(len(body)) if body is not None else REQ_HDR
    return ic.build("REQMOD", server.uri("echo"), h, req_hdr=req_hdr, body=body,
                    preview=preview, chunk_size=chunk_size)


def assert_204(r):
    assert r.status == 204, r
    assert r.header("ISTag"), "204 without ISTag: %r" % r.head
    assert r.header("Date"), "204 without Date: %r" % r.head
    # A 204 carries no encapsulated message (at most "null-body=0").
    enc = r.header("Encapsulated")
    assert enc is None or enc.replace(" ", "") == "null-body=0", enc


def names(r):
    return [n for n, _ in r.encapsulated]


# ---------------------------------------------------------------- 204


@pytest.mark.parametrize("size", [0, 1, 1000, 100 * 1024])
def test_respmod_allow204_no_preview(server, size):
    body = body_of(size)
    with server.conn() as c:
        r = c.transact(respmod(server, body, allow204=True))
        assert_204(r)
        # The connection stays usable after a 204.
        r2 = c.transact(respmod(server, body, allow204=True))
        assert_204(r2)


def test_reqmod_allow204_no_preview(server):
    r = ic.request(server.host, server.port, reqmod(server, body_of(5000), allow204=True))
    assert_204(r)


def test_reqmod_allow204_null_body(server):
    r = ic.request(server.host, server.port, reqmod(server, None, allow204=True))
    assert_204(r)


def test_respmod_allow204_null_body(server):
    r = ic.request(server.host, server.port,
                   respmod(server, None, allow204=True, res_hdr=ic.http_response_head(status=304, reason="Not Modified")))
    assert_204(r)


@pytest.mark.parametrize("allow204", [True, False])
def test_preview_204_without_sending_rest(server, allow204):
    """Preview 1024 of a 10 KiB body: 204 right after the preview, whatever
    Allow says (RFC 3507 4.5); the rest is never sent and the connection is
    then ready for the next request."""
    body = body_of(10 * 1024)
    with server.conn() as c:
        r = c.transact(respmod(server, body, allow204=allow204, preview=1024), timeout=5)
        assert_204(r)
        r = c.transact(ic.build("OPTIONS", server.uri("echo"), ["Host: " + server.hostport]))
        assert r.status == 200, r


def test_small_preview_204(server):
    """Preview: 4 with a 10-byte body: 4 bytes and "0" -> 204 at once."""
    body = b"0123456789"
    msg = respmod(server, body, preview=4)
    assert msg.endswith(b"4\r\n0123\r\n0\r\n\r\n")
    with server.conn() as c:
        r = c.transact(msg, timeout=5)
        assert_204(r)


@pytest.mark.parametrize("allow204", [True, False])
def test_preview_ieof_204(server, allow204):
    """The whole body fits in the preview ("0; ieof"): 204 at once."""
    body = body_of(300)
    msg = respmod(server, body, allow204=allow204, preview=1024)
    assert msg.endswith(b"0; ieof\r\n\r\n")
    with server.conn() as c:
        assert_204(c.transact(msg, timeout=5))
        assert_204(c.transact(msg, timeout=5))


def test_preview_zero(server):
    """Preview: 0 is a preview of headers only."""
    body = body_of(5000)
    msg = respmod(server, body, allow204=True, preview=0)
    assert msg.endswith(b"\r\n\r\n0\r\n\r\n")
    assert_204(ic.request(server.host, server.port, msg, timeout=5))


def test_preview_zero_ieof_empty_body(server):
    msg = respmod(server, b"", allow204=True, preview=0)
    assert msg.endswith(b"\r\n\r\n0; ieof\r\n\r\n")
    assert_204(ic.request(server.host, server.port, msg, timeout=5))


def test_preview_in_small_chunks(server):
    """A preview split into many chunks is still a preview of 1024 bytes."""
    body = body_of(4096)
    msg = respmod(server, body, preview=1024, chunk_size=100)
    assert_204(ic.request(server.host, server.port, msg, timeout=5))


def test_reqmod_preview_204(server):
    body = body_of(8000)
    assert_204(ic.request(server.host, server.port, reqmod(server, body, preview=1024), timeout=5))


# ---------------------------------------------------------------- 200 echo


@pytest.mark.parametrize("size", [1, 1000, 65536, 300 * 1024])
def test_respmod_echo(server, size):
    body = body_of(size, seed=size)
    res_hdr = ic.http_response_head(length=size, extra=["X-Test: respmod-echo"])
    with server.conn() as c:
        r = c.transact(respmod(server, body, res_hdr=res_hdr))
        assert r.status == 200, r
        assert r.header("ISTag") and r.header("Date"), r.head
        assert names(r) == ["res-hdr", "res-body"], r.header("Encapsulated")
        assert r.encapsulated[0][1] == 0
        assert r.encapsulated[1][1] == len(r.blocks["res-hdr"])
        assert r.blocks["res-hdr"] == res_hdr
        assert r.body == body
        # Keep-alive after a 200 echo.
        r = c.transact(respmod(server, body[:10], res_hdr=ic.http_response_head(length=10)))
        assert r.status == 200 and r.body == body[:10], r


def test_respmod_echo_without_req_hdr(server):
    res_hdr = ic.http_response_head(length=5)
    r = ic.request(server.host, server.port, respmod(server, b"hello", req_hdr=None, res_hdr=res_hdr))
    assert r.status == 200, r
    assert names(r) == ["res-hdr", "res-body"]
    assert r.blocks["res-hdr"] == res_hdr and r.body == b"hello"


@pytest.mark.parametrize("size", [1, 4096, 200 * 1024])
def test_reqmod_echo(server, size):
    body = body_of(size, seed=3)
    hdr = POST_HDR(size)
    r = ic.request(server.host, server.port, reqmod(server, body, req_hdr=hdr))
    assert r.status == 200, r
    assert names(r) == ["req-hdr", "req-body"], r.header("Encapsulated")
    assert r.encapsulated[0][1] == 0
    assert r.blocks["req-hdr"] == hdr
    assert r.body == body


def test_reqmod_echo_null_body(server):
    r = ic.request(server.host, server.port, reqmod(server, None, req_hdr=REQ_HDR))
    assert r.status == 200, r
    assert names(r) == ["req-hdr", "null-body"], r.header("Encapsulated")
    assert r.encapsulated == [("req-hdr", 0), ("null-body", len(REQ_HDR))]
    assert r.blocks["req-hdr"] == REQ_HDR
    assert r.body is None


def test_respmod_echo_null_body(server):
    res_hdr = ic.http_response_head(status=304, reason="Not Modified", extra=["ETag: \"x\""])
    r = ic.request(server.host, server.port, respmod(server, None, res_hdr=res_hdr))
    assert r.status == 200, r
    assert r.encapsulated == [("res-hdr", 0), ("null-body", len(res_hdr))], r.header("Encapsulated")
    assert r.blocks["res-hdr"] == res_hdr


def test_echo_binary_body_with_framing_lookalikes(server):
    """Body bytes that look like chunk framing or an ICAP head are data."""
    body = (b"0\r\n\r\n" + bytes(range(256)) + b"\r\nICAP/1.0 200 OK\r\n\r\n" + b"\x00" * 100) * 20
    r = ic.request(server.host, server.port, respmod(server, body, chunk_size=37))
    assert r.status == 200, r
    assert r.body == body


def test_echo_one_byte_chunks(server):
    body = body_of(2000, seed=9)
    r = ic.request(server.host, server.port, respmod(server, body, chunk_size=1))
    assert r.status == 200 and r.body == body, r


def test_echo_chunk_extensions_and_uppercase_hex(server):
    """Chunk extensions are allowed (RFC 9112 7.1.1) and hex is case-insensitive."""
    body = b"A" * 0xAB + b"B" * 16
    res_hdr = ic.http_response_head(length=len(body))
    head = respmod(server, b"", res_hdr=res_hdr).rsplit(b"0\r\n\r\n", 1)[0]
    msg = head + b"AB; name=value\r\n" + b"A" * 0xAB + b"\r\n10;x\r\n" + b"B" * 16 + b"\r\n0\r\n\r\n"
    r = ic.request(server.host, server.port, msg)
    assert r.status == 200, r
    assert r.body == body


def test_echo_large_http_header(server):
    """A 40 KiB encapsulated HTTP header block (below max_http_header 64k)."""
    extra = ["X-Big-%d: %s" % (i, "v" * 2000) for i in range(20)]
    res_hdr = ic.http_response_head(length=3, extra=extra)
    assert 40000 < len(res_hdr) < 60000
    r = ic.request(server.host, server.port, respmod(server, b"abc", res_hdr=res_hdr))
    assert r.status == 200, r
    assert r.blocks["res-hdr"] == res_hdr and r.body == b"abc"


def test_echo_many_http_header_fields(server):
    """200 short header fields (8 KiB in all, e.g. many Set-Cookie lines) are a
    valid HTTP response well below max_http_header 64k."""
    extra = ["Set-Cookie: c%d=%d" % (i, i) for i in range(200)]
    res_hdr = ic.http_response_head(length=3, extra=extra)
    assert len(res_hdr) < 8192
    r = ic.request(server.host, server.port, respmod(server, b"abc", res_hdr=res_hdr))
    assert r.status == 200, r
    assert r.blocks["res-hdr"] == res_hdr and r.body == b"abc"


def test_echo_8mib_concurrent(server):
    """8 MiB without Allow 204: sent and read at once (the echo streams)."""
    body = (hashlib.sha256(b"seed").digest() * (8 * 1024 * 1024 // 32))
    res_hdr = ic.http_response_head(length=len(body))
    msg = respmod(server, body, res_hdr=res_hdr, chunk_size=32768)
    with server.conn(timeout=60) as c:
        s = ic.Sender(c, msg)
        r = c.read_reply(timeout=60)
        assert s.join(30) is None
    assert r.status == 200, r
    assert len(r.body) == len(body)
    assert r.body == body


def test_echo_streams_before_body_complete(server):
    """The first echoed bytes arrive while the request body is unfinished."""
    first = body_of(64 * 1024, seed=5)
    rest = body_of(64 * 1024, seed=6)
    res_hdr = ic.http_response_head(length=len(first) + len(rest))
    head = ic.build("RESPMOD", server.uri("echo"), ["Host: " + server.hostport],
                    req_hdr=REQ_HDR, res_hdr=res_hdr, body=b"x")
    head = head[:head.index(res_hdr) + len(res_hdr)]  # ICAP head + HTTP headers only
    with server.conn(timeout=10) as c:
        c.send(head + ic.chunk(first))
        r = c.read_head(timeout=5)
        assert r.status == 200, r
        c.read_blocks(r, timeout=5)
        assert r.blocks["res-hdr"] == res_hdr
        got = b""
        deadline = time.monotonic() + 5
        for _ in range(10000):
            data, last = c.read_chunk(timeout=max(0.01, deadline - time.monotonic()))
            assert not last, "reply body ended before the request body did"
            got += data
            if len(got) >= 1024:
                break
        assert first.startswith(got), "echoed bytes differ from the first chunk"
        # Now finish the request body.
        c.send(ic.chunk(rest, 10000) + ic.last_chunk())
        for _ in range(100000):
            data, last = c.read_chunk(timeout=5)
            if last:
                break
            got += data
        assert got == first + rest


def test_sequence_of_modes_on_one_connection(server):
    """204, echo, preview-204, null-body echo, OPTIONS, in turn, on one connection."""
    body = body_of(3000)
    with server.conn() as c:
        assert_204(c.transact(respmod(server, body, allow204=True)))
        r = c.transact(respmod(server, body))
        assert r.status == 200 and r.body == body
        assert_204(c.transact(respmod(server, body, preview=1024)))
        r = c.transact(reqmod(server, None))
        assert r.status == 200 and r.body is None
        r = c.transact(ic.build("OPTIONS", server.uri("echo"), ["Host: " + server.hostport]))
        assert r.status == 200
        r = c.transact(reqmod(server, body))
        assert r.status == 200 and r.body == body


def test_header_names_case_insensitive(server):
    """ICAP header names are case-insensitive (RFC 3507 4.3, RFC 9110 5.1)."""
    body = b"case"
    res_hdr = ic.http_response_head(length=len(body))
    msg = ("RESPMOD %s ICAP/1.0\r\nhOST: %s\r\nallow: 204\r\nENCAPSULATED: res-hdr=0, res-body=%d\r\n\r\n"
           % (server.uri("echo"), server.hostport, len(res_hdr))).encode() + res_hdr + ic.chunk(body) + ic.last_chunk()
    assert_204(ic.request(server.host, server.port, msg))


def test_allow_list_with_204(server):
    """"Allow: 206, 204" (a list) still allows 204."""
    body = b"x" * 3000
    with server.conn() as c:
        assert_204(c.transact(respmod(server, body, extra=["Allow: 206, 204"])))
        assert_204(c.transact(respmod(server, body, extra=["Allow: trailers", "Allow: 204"])))


def test_trailer_after_last_chunk(server):
    """Trailer fields after the last chunk are accepted and ignored."""
    body = b"t" * 100
    msg = respmod(server, body, allow204=True)
    assert msg.endswith(b"0\r\n\r\n")
    msg = msg[:-2] + b"X-Trailer: yes\r\n\r\n"
    with server.conn() as c:
        assert_204(c.transact(msg))
        assert_204(c.transact(respmod(server, body, allow204=True)))


def test_encapsulated_without_spaces_and_leading_zero_chunks(server):
    """"res-hdr=0,res-body=N" (no blanks) and chunk sizes with leading zeros."""
    body = b"z" * 5
    res_hdr = ic.http_response_head(length=5)
    msg = ("RESPMOD %s ICAP/1.0\r\nHost: %s\r\nEncapsulated: res-hdr=0,res-body=%d\r\n\r\n"
           % (server.uri("echo"), server.hostport, len(res_hdr))).encode() + res_hdr + \
        b"0005\r\n" + body + b"\r\n0\r\n\r\n"
    r = ic.request(server.host, server.port, msg)
    assert r.status == 200 and r.body == body, r


def test_parallel_echo(server):
    """Sixteen clients echoing 256 KiB each at the same time all get their own bytes."""
    import threading
    results = {}

    def one(i):
        body = hashlib.sha256(b"%d" % i).digest() * (256 * 1024 // 32)
        msg = respmod(server, body, res_hdr=ic.http_response_head(length=len(body)), chunk_size=16384)
        try:
            with server.conn(30) as c:
                s = ic.Sender(c, msg)
                r = c.read_reply(30)
                results[i] = (s.join(30) is None and r.status == 200 and r.body == body) or r
        except Exception as e:
            results[i] = e
    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    bad = {i: v for i, v in results.items() if v is not True}
    assert len(results) == 16 and not bad, bad
