"""End to end: curl -> Squid 5 -> origin, with Squid adapting every request
(REQMOD, /reqmod) and response (RESPMOD, /respmod) through the ICAP server,
bypass=0 (an ICAP failure is an HTTP error, never a silent pass-through).

Bodies must arrive byte-identical: 0 B, 1 KiB, 1 MiB and 8 MiB objects, a
chunked response, a gzip-encoded response (compared raw, not decompressed),
HEAD, a 304 revalidation and a 1 MiB POST whose SHA-256 the origin reports.
Each test also checks that the ICAP server's REQMOD and RESPMOD counters
moved, so a test would fail if Squid were not using ICAP at all. A second
Squid with previews off sends large bodies without Allow 204 to /echo, so
they travel through the server's streaming 200 echo.
"""

import hashlib
import os

import pytest

from conftest import ETAG, ETAG_BODY, GZIP_BODY, curl, pseudo_random
from procs import poll
from promtext import metric


def fetch(proxy, url, tmp_path, name, extra=()):
    out = os.path.join(str(tmp_path), name)
    code, headers, err = curl(proxy.port, url, out, extra)
    try:
        with open(out, "rb") as f:
            body = f.read()
    except FileNotFoundError:
        body = b""
    return code, headers, err, body


class Through:
    """Context manager: asserts that the server's REQMOD and RESPMOD counts
    grew by at least the given numbers while the block ran."""

    def __init__(self, server, squid, reqmod=1, respmod=1):
        self.server, self.squid, self.reqmod, self.respmod = server, squid, reqmod, respmod

    def __enter__(self):
        self.before = self.server.counts()
        return self

    def __exit__(self, exc_type, *_):
        if exc_type:
            return False

        def moved():
            now = self.server.counts()
            return (now["REQMOD"] - self.before["REQMOD"] >= self.reqmod and
                    now["RESPMOD"] - self.before["RESPMOD"] >= self.respmod) and now
        try:
            poll(moved, 5, interval=0.05, what="ICAP counters to move")
        except TimeoutError:
            now = self.server.counts()
            pytest.fail("Squid did not go through the ICAP server: REQMOD %d -> %d, RESPMOD %d -> %d\n"
                        "squid cache.log tail:\n%s" % (
                            self.before["REQMOD"], now["REQMOD"], self.before["RESPMOD"],
                            now["RESPMOD"], self.squid.output()[-3000:]))
        return False


def via_squid(headers):
    return "icapd-test" in headers  # Squid's visible_hostname, in Via / X-Cache


@pytest.mark.parametrize("size", [0, 1024, 1024 * 1024, 8 * 1024 * 1024],
                         ids=["0B", "1KiB", "1MiB", "8MiB"])
def test_get_sizes(server, squid, origin, tmp_path, size):
    with Through(server, squid):
        code, headers, err, body = fetch(squid, origin.url("/size/%d" % size), tmp_path, "body")
    assert code == 200, (code, err, headers)
    assert via_squid(headers), headers
    assert len(body) == size
    assert body == pseudo_random(size)


def test_chunked_response(server, squid, origin, tmp_path):
    with Through(server, squid):
        code, headers, err, body = fetch(squid, origin.url("/chunked/300000"), tmp_path, "chunked")
    assert code == 200, (code, err)
    assert body == pseudo_random(300000)


def test_gzip_response_raw(server, squid, origin, tmp_path):
    """The encoded bytes pass unchanged (curl does not decode: no --compressed)."""
    with Through(server, squid):
        code, headers, err, body = fetch(squid, origin.url("/gzip"), tmp_path, "gz",
                                         ["-H", "Accept-Encoding: gzip"])
    assert code == 200, (code, err)
    assert "content-encoding: gzip" in headers.lower(), headers
    assert body == GZIP_BODY


def test_head(server, squid, origin, tmp_path):
    with Through(server, squid):
        code, headers, err, body = fetch(squid, origin.url("/size/5000"), tmp_path, "head", ["-I"])
    assert code == 200, (code, err)
    assert "content-length: 5000" in headers.lower(), headers
    assert body == b"" or body.startswith(b"HTTP/")  # -I writes headers only


def test_etag_304(server, squid, origin, tmp_path):
    with Through(server, squid):
        code, headers, err, body = fetch(squid, origin.url("/etag"), tmp_path, "etag200")
    assert code == 200 and body == ETAG_BODY, (code, err)
    with Through(server, squid):
        code, headers, err, body = fetch(squid, origin.url("/etag"), tmp_path, "etag304",
                                         ["-H", "If-None-Match: " + ETAG])
    assert code == 304, (code, err, headers)
    assert body == b""


def test_post_upload_1mib(server, squid, origin, tmp_path):
    data = pseudo_random(1024 * 1024, seed=42)
    src = os.path.join(str(tmp_path), "upload.bin")
    with open(src, "wb") as f:
        f.write(data)
    want = hashlib.sha256(data).hexdigest()
    with Through(server, squid):
        code, headers, err, body = fetch(squid, origin.url("/upload"), tmp_path, "upload.out",
                                         ["--data-binary", "@" + src,
                                          "-H", "Content-Type: application/octet-stream"])
    assert code == 200, (code, err, headers)
    assert body.decode().split() == [want, str(len(data))]
    assert want in origin.httpd.uploads


def test_not_found_passes(server, squid, origin, tmp_path):
    """An origin 404 is a response like any other."""
    with Through(server, squid):
        code, headers, err, body = fetch(squid, origin.url("/missing"), tmp_path, "nf")
    assert code == 404 and body == b"not found\n"


def test_several_in_a_row_reuse(server, squid, origin, tmp_path):
    """Ten objects in turn: Squid's persistent ICAP connections keep working."""
    with Through(server, squid, reqmod=10, respmod=10):
        for i in range(10):
            n = 1000 * (i + 1) + i
            code, _, err, body = fetch(squid, origin.url("/size/%d" % n), tmp_path, "r%d" % i)
            assert code == 200 and body == pseudo_random(n), (i, code, err)


# ------------------------------------------------- through the 200 echo


@pytest.mark.parametrize("size", [1024, 1024 * 1024, 8 * 1024 * 1024], ids=["1KiB", "1MiB", "8MiB"])
def test_echo_path_without_preview(server, squid_nopreview, origin, tmp_path, size):
    with Through(server, squid_nopreview):
        code, headers, err, body = fetch(squid_nopreview, origin.url("/size/%d" % size), tmp_path, "e")
    assert code == 200, (code, err, squid_nopreview.output()[-2000:])
    assert body == pseudo_random(size)


def test_echo_path_post_and_chunked(server, squid_nopreview, origin, tmp_path):
    data = pseudo_random(1024 * 1024, seed=43)
    src = os.path.join(str(tmp_path), "up.bin")
    with open(src, "wb") as f:
        f.write(data)
    with Through(server, squid_nopreview):
        code, _, err, body = fetch(squid_nopreview, origin.url("/upload"), tmp_path, "up.out",
                                   ["--data-binary", "@" + src])
    assert code == 200, (code, err)
    assert body.decode().split() == [hashlib.sha256(data).hexdigest(), str(len(data))]
    with Through(server, squid_nopreview):
        code, _, err, body = fetch(squid_nopreview, origin.url("/chunked/500000"), tmp_path, "ch")
    assert code == 200 and body == pseudo_random(500000), (code, err)


def test_echo_path_really_echoed(server, squid_nopreview, origin, tmp_path):
    """With previews off and a 1 MiB object, the server answered 200 (the
    echo), not 204: the bytes crossed the ICAP connection both ways."""
    if server.kind != "icapd":
        pytest.skip("checks icapd's per-status counters")
    before = metric(server.obj.metrics(), "icapd_requests_total", method="RESPMOD", status="200")
    code, _, err, body = fetch(squid_nopreview, origin.url("/size/%d" % (1024 * 1024)), tmp_path, "e2")
    assert code == 200 and body == pseudo_random(1024 * 1024)
    poll(lambda: metric(server.obj.metrics(), "icapd_requests_total", method="RESPMOD", status="200") > before,
         5, what="a RESPMOD 200 (echo) in icapd's counters")
