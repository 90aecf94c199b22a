"""A full spool disk (hardening issue, fault tolerance).

spool_dir is a 2 MiB tmpfs mounted for this module (the tests run as root
in CI; where mounting is not permitted they skip, saying so), body_memory
is 64k, and the clamav module judges /respmod and /reqmod with
on_scan_error block (/lenient: allow). Bodies larger than the disk, several
bodies that fill it together, and spooled bodies while a file of the test
fills it must get an ICAP error or a fail-closed block page, never a 204 or
a complete echo of content that was not scanned; bodies within body_memory
go to the scanner as a memfd and are judged as usual. icapd stays up,
leaves nothing on the disk, and once space is free again scans as before.
"""

import errno
import os
import subprocess
import threading

import pytest

import icap_client as ic
from conftest import EICAR, icapd_has_module, pseudo_random
from faults import settle
from promtext import metric

pytestmark = pytest.mark.skipif(not icapd_has_module("clamav"),
                                reason="icapd built --without-clamav")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIGS = os.path.join(ROOT, "conf", "signatures")
THREAT = "icapd.Test.EICAR"
FILLER = "filler-of-the-test"
MIB = 1024 * 1024

SERVICES = """
module clamav { signatures %s; }
service /respmod { methods RESPMOD; chain clamav; preview 1024; }
service /reqmod { methods REQMOD; chain clamav; }
service /lenient { methods RESPMOD; chain clamav; on_scan_error allow; }
service /echo { methods REQMOD RESPMOD; chain; }
""" % SIGS


@pytest.fixture(scope="module")
def small_disk(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("tmpfs"))
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", d],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    if p.returncode != 0:
        pytest.skip("cannot mount a tmpfs (needs root): %s" % p.stdout.decode(errors="replace"))
    try:
        yield d
    finally:
        if subprocess.run(["umount", d], timeout=30).returncode != 0:
            subprocess.run(["umount", "-l", d], timeout=30)


@pytest.fixture(scope="module")
def srv(small_disk, module_icapd_factory):
    return module_icapd_factory(services=SERVICES, extra="cache { memory 0; }\n",
                                directives={"body_memory": "64k", "max_body_size": "16m",
                                            "spool_dir": small_disk, "scan_threads": "2",
                                            "watch_interval": "0"})


def used_bytes(path):
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def infected_at_end(n, seed):
    """Pseudo-random bytes with EICAR last: only a scan of the whole body finds it."""
    return pseudo_random(n - len(EICAR), seed=seed) + EICAR


def respmod(srv, body, service="respmod", allow204=True, preview=None):
    h = ["Host: " + srv.hostport] + (["Allow: 204"] if allow204 else [])
    return ic.build("RESPMOD", srv.uri(service), h,
                    req_hdr=ic.http_request_head(url="http://downloads.test/f", host="downloads.test"),
                    res_hdr=ic.http_response_head(length=len(body)), body=body, preview=preview,
                    chunk_size=65536)


def answer(srv, data, preview_body=None, timeout=60):
    """Sends a request; returns (reply or None if cut, raw bytes received).
    With preview_body, the rest of that body follows a 100 Continue."""
    with srv.conn(timeout) as c:
        r = None
        try:
            c.send_reading(data)
            r = c.read_head(timeout)
            if r.status == 100 and preview_body is not None:
                c.send_reading(ic.continuation(preview_body, 1024, 65536))
                r = c.read_head(timeout)
            c.read_blocks(r, timeout)
            c.read_body(r, timeout)
            return r, r.raw
        except (ic.Closed, ConnectionResetError, BrokenPipeError):
            return None, (r.raw if r else b"") + c.buf


def assert_fails_closed(r, raw, what):
    """An ICAP error, a block page, or a reply cut short: never a pass."""
    if r is None:
        assert not raw.startswith(b"ICAP/1.0 204"), what
        return
    assert r.status != 204, "%s: 204 for a body that was not scanned" % what
    if r.status == 200:
        head = r.blocks.get("res-hdr", b"")
        assert head.startswith(b"HTTP/1.1 403 "), "%s: passed: %r" % (what, r)
    else:
        assert r.status >= 400, "%s: %r" % (what, r)


def test_body_larger_than_the_disk(srv, small_disk):
    body = infected_at_end(3 * MIB, seed=1)
    errors = metric(srv.metrics(), "icapd_requests_total", status="500")
    for allow204, preview in ((True, None), (False, None), (True, 1024)):
        for service in ("respmod", "lenient"):
            if preview and service == "lenient":
                continue
            what = "3 MiB, %s, allow204 %s, preview %s" % (service, allow204, preview)
            r, raw = answer(srv, respmod(srv, body, service, allow204, preview),
                            preview_body=body if preview else None)
            assert_fails_closed(r, raw, what)
            settle(srv, small_disk)
            assert used_bytes(small_disk) < 256 * 1024, what
    # With Allow: 204 (no early reply), the spool failure is an ICAP error.
    assert metric(srv.metrics(), "icapd_requests_total", status="500") >= errors + 3


def test_bodies_that_fill_the_disk_together(srv, small_disk):
    results = {}

    def one(i):
        try:
            results[i] = answer(srv, respmod(srv, infected_at_end(900 * 1024, seed=10 + i)))
        except Exception as e:  # noqa: BLE001 (reported below)
            results[i] = (None, repr(e).encode())
    for _ in range(3):
        threads = [threading.Thread(target=one, args=(i,)) for i in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert len(results) == 5
        for i, (r, raw) in results.items():
            assert_fails_closed(r, raw, "body %d of 5 at once" % i)
            if r is not None and r.status == 200:
                # Blocked: as the virus (scanned whole) or as not checked.
                assert THREAT in (r.header("X-Infection-Found") or "") or \
                    b"not be checked" in r.body, r
        settle(srv, small_disk, timeout=20)
        results.clear()


def fill(path):
    """Writes a file in path until the disk is full; returns its size."""
    n = 0
    with open(os.path.join(path, FILLER), "wb") as f:
        piece = b"\0" * 65536
        for _ in range(10000):
            try:
                f.write(piece)
                f.flush()
            except OSError as e:
                assert e.errno == errno.ENOSPC, e
                break
            n += len(piece)
    return n


def test_full_disk_then_space_again(srv, small_disk):
    assert fill(small_disk) > 0
    try:
        # Small bodies stay in memory and reach the scanner as a memfd: they
        # are still scanned, and judged, with the spool full.
        small_clean = pseudo_random(20000, seed=20)
        r, raw = answer(srv, respmod(srv, small_clean))
        assert r is not None and r.status == 204, r
        assert " verdict=clean " in srv.read_access_log()[-1], srv.read_access_log()[-1]
        r, raw = answer(srv, respmod(srv, infected_at_end(20000, seed=21)))
        assert r is not None and r.status == 200, r
        assert THREAT in (r.header("X-Infection-Found") or ""), r
        r, raw = answer(srv, respmod(srv, infected_at_end(500 * 1024, seed=22), allow204=False))
        assert_fails_closed(r, raw, "spooled infected body without Allow: 204, disk full")
        settle(srv, small_disk, keep=(FILLER,))
    finally:
        os.unlink(os.path.join(small_disk, FILLER))
    # Space again: scanning works as before.
    r, _ = answer(srv, respmod(srv, pseudo_random(1536 * 1024, seed=23)))
    assert r.status == 204, r
    r, _ = answer(srv, respmod(srv, infected_at_end(1536 * 1024, seed=24)))
    assert r.status == 200 and THREAT in (r.header("X-Infection-Found") or ""), r
    r, _ = answer(srv, respmod(srv, infected_at_end(20000, seed=25)))
    assert r.status == 200 and THREAT in (r.header("X-Infection-Found") or ""), r
    settle(srv, small_disk)
