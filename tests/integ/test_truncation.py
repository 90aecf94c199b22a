"""Truncated bodies (hardening issue, fault tolerance): nothing that could
not be judged whole passes as clean.

Two ways a body ends early:

- The ICAP framing itself is cut: a chunk-size line announces N bytes, fewer
  come, and the client shuts its side down (or sends what looks like the
  last chunk inside the short chunk, or breaks the framing after it). No 204
  may come back, and a 200 that started early (no Allow: 204) must be cut,
  never completed.
- The ICAP body ends properly (last chunk) but the HTTP message inside it is
  shorter than its Content-Length: Squid does this when the origin closes a
  response early, and still asks for a verdict. The partial body is what the
  user would get: an infected part must be blocked even where the scanner
  cannot see it in a broken container (a zip without its central directory,
  which libclamav 1.4 passes as clean), a gzip stream cut short cannot be
  read whole; so a message shorter than it says is a scan error, which
  on_scan_error decides (block by default, pass with allow).

After each: icapd alive, nothing left behind (see faults.settle). Through
Squid 5.7 with an origin that closes a response early: Squid does end the
ICAP body properly, and the download is refused (403), not passed cut.
"""

import gzip
import io
import os
import socket
import threading
import time
import zipfile

import pytest

import icap_client as ic
from conftest import EICAR, curl, icapd_has_module, pseudo_random, running_squid
from faults import settle
from procs import LOOPBACK

pytestmark = pytest.mark.skipif(not (icapd_has_module("clamav") and icapd_has_module("keyword")),
                                reason="icapd built without the clamav or keyword module")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIGS = os.path.join(ROOT, "conf", "signatures")
RULES = os.path.join(ROOT, "conf", "keywords.rules")
THREAT = "icapd.Test.EICAR"

SERVICES = """
module clamav { signatures %s; }
module keyword { rules %s; }
service /respmod { methods RESPMOD; chain keyword clamav; keyword_categories confidential; }
service /reqmod { methods REQMOD; chain keyword clamav; keyword_categories confidential; }
service /lenient { methods RESPMOD; chain keyword clamav; keyword_categories confidential;
                   on_scan_error allow; }
service /echo { methods REQMOD RESPMOD; chain; }
""" % (SIGS, RULES)


@pytest.fixture(scope="module")
def spool(tmp_path_factory):
    return tmp_path_factory.mktemp("spool")


@pytest.fixture(scope="module")
def srv(module_icapd_factory, spool):
    return module_icapd_factory(services=SERVICES, extra="cache { memory 0; }\n",
                                directives={"body_memory": "64k", "spool_dir": str(spool),
                                            "watch_interval": "0"})


def infected(n, seed):
    data = bytearray(pseudo_random(n, seed=seed))
    data[10:10 + len(EICAR)] = EICAR
    return bytes(data)


def head_of(srv, method, length, allow204=True, ctype="application/octet-stream",
            encoding=None, service=None):
    """The ICAP head and HTTP header blocks of a request whose HTTP message
    says Content-Length: length (the body follows)."""
    extra = ["Content-Type: " + ctype] + (["Content-Encoding: " + encoding] if encoding else [])
    headers = ["Host: " + srv.hostport] + (["Allow: 204"] if allow204 else [])
    if method == "REQMOD":
        req = ("POST http://upload.test/f HTTP/1.1\r\nHost: upload.test\r\nContent-Length: %d\r\n"
               "%s\r\n\r\n" % (length, "\r\n".join(extra))).encode()
        data = ic.build("REQMOD", srv.uri(service or "reqmod"), headers, req_hdr=req, body=b"x")
    else:
        req = ic.http_request_head(url="http://downloads.test/f", host="downloads.test")
        res = ("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n\r\n"
               % (length, "\r\n".join(extra))).encode()
        data = ic.build("RESPMOD", srv.uri(service or "respmod"), headers, req_hdr=req,
                        res_hdr=res, body=b"x")
    return data[:-len(ic.chunk(b"x") + ic.last_chunk())]


def read_answer(c, timeout=20):
    """The reply's bytes: one whole reply (the connection may stay open),
    or everything until the server closed (a reply cut short, or none)."""
    r = None
    try:
        r = c.read_head(timeout)
        c.read_blocks(r, timeout)
        c.read_body(r, timeout)
        return r.raw
    except ic.Closed:
        return (r.raw if r else b"") + c.buf
    except ic.Timeout:
        raise AssertionError("icapd neither answered nor closed; have %r" % c.buf[:300])


def assert_not_passed(data, what):
    """data (a whole exchange's reply bytes) does not let the body through:
    no 204, no complete 200 echo; an error, a block page or a cut reply."""
    if not data:
        return
    status = data.split(b"\r\n", 1)[0]
    assert not status.startswith(b"ICAP/1.0 204"), "%s: 204 for a truncated body" % what
    assert not status.startswith(b"ICAP/1.0 100"), "%s: 100 Continue without a preview" % what
    if status.startswith(b"ICAP/1.0 200"):
        head = data.split(b"\r\n\r\n", 1)[0]
        if b"X-Violations-Found" in head or b"X-Infection-Found" in head:
            return  # a block page
        assert not data.endswith(b"\r\n0\r\n\r\n"), \
            "%s: the echo of a truncated body was completed" % what


SHORT_CHUNK_CASES = ["short-then-eof", "short-then-fake-last-chunk", "short-then-bad-framing"]


@pytest.mark.parametrize("case", SHORT_CHUNK_CASES)
@pytest.mark.parametrize("method", ["REQMOD", "RESPMOD"])
def test_chunk_shorter_than_announced(srv, spool, method, case):
    for size in (4000, 200000):              # in memory; spooled (body_memory 64k)
        for allow204 in (True, False):       # without: a large reply starts early
            body = infected(size, seed=size + allow204)
            announced = 0x10000
            sent = body[:size - 1000]
            data = head_of(srv, method, size + announced, allow204) + ic.chunk(sent, 8192)
            data += b"%x\r\n" % announced + b"A" * 1000
            if case == "short-then-fake-last-chunk":
                data += b"\r\n0\r\n\r\n"
            elif case == "short-then-bad-framing":
                data += b"\r\n0\r\n\r\n" + b"B" * (announced - 1007) + b"XX"
            what = "%s %s size %d allow204 %s" % (method, case, size, allow204)
            c = srv.conn(20)
            try:
                c.send_reading(data)
                if case != "short-then-bad-framing":
                    c.sock.shutdown(socket.SHUT_WR)
                reply = read_answer(c)
            finally:
                c.close()
            assert_not_passed(reply, what)
            # Without Allow: 204 the reply has started (more than early_hold
            # came): a cut is all that can be done; else a 400.
            if case == "short-then-bad-framing" and allow204:
                assert reply.startswith(b"ICAP/1.0 400 "), "%s: %r" % (what, reply[:200])
            settle(srv, spool)


def zip_with_eicar():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("readme.txt", pseudo_random(5000, seed=5))
        z.writestr("tool.com", EICAR + b"\r\n" * 8)
        z.writestr("data.bin", pseudo_random(60000, seed=6))
    return buf.getvalue()


def request_with(srv, method, body, length, allow204=True, service=None, **kw):
    data = head_of(srv, method, length, allow204, service=service, **kw)
    return data + ic.chunk(body, 8192) + ic.last_chunk()


def blocked(r):
    head = r.blocks.get("res-hdr", b"")
    return r.status == 200 and head.startswith(b"HTTP/1.1 403 ")


TRUNCATED = {
    # name: (body as sent, Content-Length, HTTP headers)
    "raw-eicar": lambda: (infected(150000, 1)[:90000], 150000, {}),
    "zip-without-central-directory": lambda: (
        zip_with_eicar()[:zip_with_eicar().index(b"PK\x01\x02")], len(zip_with_eicar()), {}),
    "gzip-cut-after-phrase": lambda: (
        gzip.compress(("<p>" + "ordinary text " * 3000 + "社外秘" + " more" * 30000 + "</p>")
                      .encode(), mtime=0)[:-200],
        len(gzip.compress(("<p>" + "ordinary text " * 3000 + "社外秘" + " more" * 30000 + "</p>")
                          .encode(), mtime=0)),
        {"ctype": "text/html; charset=utf-8", "encoding": "gzip"}),
    "clean-half": lambda: (pseudo_random(200000, seed=3)[:100000], 200000, {}),
}


@pytest.mark.parametrize("method", ["REQMOD", "RESPMOD"])
@pytest.mark.parametrize("name", sorted(TRUNCATED))
def test_http_message_shorter_than_its_content_length(srv, spool, name, method):
    body, length, kw = TRUNCATED[name]()
    assert len(body) < length
    r = ic.request(srv.host, srv.port, request_with(srv, method, body, length, **kw), timeout=30)
    assert blocked(r), "%s %s: %r" % (method, name, r)
    if name == "raw-eicar":
        assert THREAT in (r.header("X-Infection-Found") or "")
    # Without Allow: 204 a large reply starts early: it must end cut short.
    with srv.conn(30) as c:
        c.send_reading(request_with(srv, method, body, length, allow204=False, **kw))
        assert_not_passed(read_answer(c), "%s %s without Allow: 204" % (method, name))
    # The same bytes, complete as their Content-Length says: judged on content.
    r = ic.request(srv.host, srv.port, request_with(srv, method, body, len(body), **kw),
                   timeout=30)
    if name == "clean-half":
        assert r.status == 204, r
    elif name != "zip-without-central-directory":  # libclamav does not see inside it
        assert blocked(r), r
    settle(srv, spool)


def test_truncated_clean_message_follows_on_scan_error(srv, spool):
    body = pseudo_random(100000, seed=4)
    r = ic.request(srv.host, srv.port,
                   request_with(srv, "RESPMOD", body[:60000], len(body), service="lenient"))
    assert r.status == 204, r
    r = ic.request(srv.host, srv.port, request_with(srv, "RESPMOD", body[:60000], len(body)))
    assert blocked(r) and b"not be checked" in r.body, r
    # The infected part still blocks where errors are allowed.
    bad = infected(100000, 9)
    r = ic.request(srv.host, srv.port,
                   request_with(srv, "RESPMOD", bad[:60000], len(bad), service="lenient"))
    assert blocked(r) and THREAT in (r.header("X-Infection-Found") or ""), r
    settle(srv, spool)


def test_whole_messages_are_not_affected(srv, spool):
    """Content-Length equal to the body, or none at all (chunked from the
    origin), or a Transfer-Encoding beside it: judged on content alone."""
    body = pseudo_random(100000, seed=8)
    r = ic.request(srv.host, srv.port, request_with(srv, "RESPMOD", body, len(body)))
    assert r.status == 204, r
    req = ic.http_request_head(url="http://downloads.test/f", host="downloads.test")
    for extra in ([], ["Transfer-Encoding: chunked", "Content-Length: %d" % (2 * len(body))]):
        res = ic.http_response_head(extra=extra)
        r = ic.request(srv.host, srv.port,
                       ic.build("RESPMOD", srv.uri("respmod"), ["Host: x", "Allow: 204"],
                                req_hdr=req, res_hdr=res, body=body))
        assert r.status == 204, (extra, r)
    settle(srv, spool)


class CuttingOrigin:
    """An HTTP origin whose responses say Content-Length: len(full) and
    send only the first `sent` bytes, then close."""

    def __init__(self, full, sent):
        self.full, self.sent = full, sent
        self.ls = socket.socket()
        self.ls.bind((LOOPBACK, 0))
        self.ls.listen(16)
        self.ls.settimeout(0.2)
        self.port = self.ls.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping:
            try:
                c, _ = self.ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with c:
                c.settimeout(5)
                try:
                    req = b""
                    for _ in range(100):
                        if b"\r\n\r\n" in req:
                            break
                        d = c.recv(4096)
                        if not d:
                            break
                        req += d
                    c.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n"
                              b"Content-Type: application/zip\r\nContent-Length: %d\r\n\r\n"
                              % len(self.full))
                    time.sleep(0.1)  # Squid starts its RESPMOD with the head
                    c.sendall(self.full[:self.sent])
                    time.sleep(0.2)
                except OSError:
                    pass

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.ls.close()


def test_squid_download_cut_by_the_origin_is_refused(srv, spool, tmp_path):
    z = zip_with_eicar()
    origin = CuttingOrigin(z, z.index(b"PK\x01\x02"))
    try:
        for sq in running_squid(srv.host, srv.port, reqmod="echo", respmod="respmod"):
            out = str(tmp_path / "download")
            code, _, err = curl(sq.port, "http://%s:%d/tools.zip" % (LOOPBACK, origin.port), out,
                                timeout=30)
            assert code == 403, (code, err)
            assert b"not be checked" in open(out, "rb").read()
    finally:
        origin.stop()
    line = [x for x in srv.read_access_log() if "service=/respmod" in x][-1]
    assert "verdict=blocked-unscanned" in line and "Content-Length" in line, line
    settle(srv, spool)
