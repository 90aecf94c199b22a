"""Virus scanning with the clamav module, over raw ICAP and icapd --scan.

The bundled signature database (conf/signatures: a content signature for
EICAR and the hashes of Debian's clamav-testfiles) runs in a real libclamav
engine. Checked: an infected response gets a 200 whose HTTP response is the
403 block page, with X-Infection-Found / X-Virus-ID / X-Violations-Found; a
clean one a 204 (Allow: 204), or the message back; previews get a 100
Continue before the verdict; without Allow: 204 the reply starts early and
an infected body is cut short; uploads (REQMOD) are scanned; bodies over
the limits and archives nested too deep fail closed unless on_scan_error
allows them; the scan metrics move; a changed signature directory is picked
up by itself, also while a client loop keeps scanning (no answer may be
wrong or missing), and a corrupt one keeps the old engine serving.
"""

import io
import os
import shutil
import socket
import subprocess
import time
import zipfile

import pytest

import icap_client as ic
from conftest import EICAR, icapd_has_module, pseudo_random, with_eicar
from procs import poll
from promtext import metric


pytestmark = pytest.mark.skipif(not icapd_has_module("clamav"),
                                reason="icapd built --without-clamav")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIGS = os.path.join(ROOT, "conf", "signatures")
TESTFILES = "/usr/share/clamav-testfiles"
THREAT = "icapd.Test.EICAR"


def services(sigdir, extra_module=""):
    return """
module clamav { signatures %s; max_recursion 5; %s }
service /respmod { methods RESPMOD; chain clamav; preview 1024; }
service /reqmod { methods REQMOD; chain clamav; preview 1024; }
service /lenient { methods RESPMOD; chain clamav; on_scan_error allow; }
service /echo { methods REQMOD RESPMOD; chain; }
""" % (sigdir, extra_module)


@pytest.fixture(scope="module")
def av(module_icapd_factory):
    return module_icapd_factory(services=services(SIGS),
                                directives={"max_body_size": "4m", "watch_interval": "0"})


REQ = ic.http_request_head(url="http://downloads.test/file.bin", host="downloads.test")


def respmod(srv, body, service="respmod", allow204=True, preview=None):
    h = ["Host: " + srv.hostport] + (["Allow: 204"] if allow204 else [])
    return ic.build("RESPMOD", srv.uri(service), h, req_hdr=REQ,
                    res_hdr=ic.http_response_head(length=len(body)), body=body, preview=preview)


def assert_block_page(r, threat=THREAT):
    assert r.status == 200, r
    assert threat in (r.header("X-Infection-Found") or ""), r.headers
    assert threat in (r.header("X-Virus-ID") or "")
    assert r.header("X-Violations-Found") is not None
    head = r.blocks["res-hdr"].decode()
    assert head.startswith("HTTP/1.1 403 "), head
    assert "Cache-Control: no-store" in head and "Content-Security-Policy:" in head
    assert threat.encode() in r.body and b"<html" in r.body


def test_eicar_is_blocked_with_the_block_page(av):
    for where in ("start", "middle", "end"):
        r = ic.request(av.host, av.port, respmod(av, with_eicar(5000, where)))
        assert_block_page(r)


def test_clean_body_204_or_echo(av):
    body = pseudo_random(300000)
    assert ic.request(av.host, av.port, respmod(av, body)).status == 204
    r = ic.request(av.host, av.port, respmod(av, body, allow204=False))
    assert r.status == 200 and r.body == body


def test_preview_then_100_continue_then_verdict(av):
    body = with_eicar(50000, "end")
    with av.conn() as c:
        c.send(respmod(av, body, preview=1024))
        r = c.read_head()
        assert r.status == 100 and r.header("ISTag")
        c.send(ic.continuation(body, 1024))
        assert_block_page(c.read_reply())
        # The connection carries on: a clean body whose preview is all of it.
        r = c.transact(respmod(av, b"tiny and clean", preview=1024))
        assert r.status == 204


def test_no_allow204_starts_early_and_cuts_an_infected_body(av):
    body = with_eicar(400000, "end")
    with av.conn() as c:
        c.send(respmod(av, body, allow204=False))
        r = c.read_head()
        assert r.status == 200
        c.read_blocks(r)
        got = b""
        ended = False
        for _ in range(10000):
            try:
                data, last = c.read_chunk(10)
            except ic.ICAPError:
                break
            if last:
                ended = True
                break
            got += data
        assert not ended, "an infected body was answered in full"
        assert len(got) < len(body)
        assert c.wait_closed(5)


def test_no_allow204_clean_body_arrives_whole(av):
    body = pseudo_random(3 * 1024 * 1024 + 17)
    r = ic.request(av.host, av.port, respmod(av, body, allow204=False), timeout=30)
    assert r.status == 200 and r.body == body


def test_upload_is_scanned(av):
    body = b"--b\r\nContent-Disposition: form-data; name=f; filename=x.com\r\n\r\n" + EICAR + \
        b"\r\n--b--\r\n"
    req = ic.http_request_head(method="POST", url="http://upload.test/form",
                               host="upload.test",
                               extra=("Content-Type: multipart/form-data; boundary=b",
                                      "Content-Length: %d" % len(body)))
    data = ic.build("REQMOD", av.uri("reqmod"), ["Host: " + av.hostport, "Allow: 204"],
                    req_hdr=req, body=body)
    assert_block_page(ic.request(av.host, av.port, data))


def nested_zip(depth):
    data = b"innermost, clean"
    for i in range(depth):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("layer%d.zip" % i if i else "file.txt", data)
        data = buf.getvalue()
    return data


def test_limits_fail_closed_unless_allowed(av):
    too_big = pseudo_random(5 * 1024 * 1024)  # over max_body_size 4m
    deep = nested_zip(9)                      # deeper than max_recursion 5
    for body in (too_big, deep):
        r = ic.request(av.host, av.port, respmod(av, body), timeout=30)
        assert r.status == 200 and r.blocks["res-hdr"].startswith(b"HTTP/1.1 403"), r
        assert ic.request(av.host, av.port, respmod(av, body, "lenient"),
                          timeout=30).status == 204
    assert ic.request(av.host, av.port, respmod(av, nested_zip(2))).status == 204


def test_scan_metrics_and_log(av):
    before = av.metrics()
    ic.request(av.host, av.port, respmod(av, with_eicar(1000, "start")))
    after = av.metrics()
    key = dict(module="clamav", outcome="blocked")
    assert metric(after, "icapd_scans_total", **key) > metric(before, "icapd_scans_total", **key)
    assert metric(after, "icapd_scan_duration_seconds_count") > \
        metric(before, "icapd_scan_duration_seconds_count")
    assert metric(after, "icapd_clamav_signatures") >= 45
    assert metric(after, "icapd_clamav_signature_age_seconds") >= 0
    poll(lambda: any("verdict=blocked" in l and "module=clamav" in l and THREAT in l
                     for l in av.read_access_log()), 5, what="a blocked line in the access log")


def scan_cli(srv, path, service="/respmod", headers=()):
    argv = [srv.binary, "--scan", path, "-c", srv.conf, "--service", service]
    for h in headers:
        argv += ["--header", h]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout.decode()


def test_scan_cli(av, tmp_path):
    bad = tmp_path / "eicar.txt"
    bad.write_bytes(EICAR)
    good = tmp_path / "good.bin"
    good.write_bytes(pseudo_random(10000))
    rc, out = scan_cli(av, str(bad))
    assert rc == 1 and out.startswith("block clamav " + THREAT), out
    rc, out = scan_cli(av, str(good))
    assert rc == 0 and out.startswith("clean"), out
    rc, out = scan_cli(av, str(tmp_path / "missing"))
    assert rc == 2 and out.startswith("error"), out
    rc, out = scan_cli(av, str(bad), service="/nope")
    assert rc == 2


def test_every_clamav_testfile_is_blocked(av):
    if not os.path.isdir(TESTFILES):
        pytest.fail("%s missing: apt-get install clamav-testfiles" % TESTFILES)
    names = sorted(os.listdir(TESTFILES))
    assert len(names) >= 44
    missed = []
    with av.conn() as c:
        for name in names:
            with open(os.path.join(TESTFILES, name), "rb") as f:
                body = f.read()
            r = c.transact(respmod(av, body))
            if r.status != 200 or not r.header("X-Infection-Found"):
                missed.append(name)
    assert not missed, "not blocked: %s" % missed


MARKER = b"icapd-signature-reload-marker-7f3a"


class ScanLoad:
    """A bounded client loop (one keep-alive connection, clean and infected
    bodies in turn) that counts every answer that is not the right one."""

    def __init__(self, srv, seconds=30.0):
        import threading
        self.srv, self.deadline = srv, time.monotonic() + seconds
        self.done = self.failures = 0
        self.errors = []
        self.stop_flag = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        clean, bad = pseudo_random(20000), with_eicar(20000, "middle")
        c = self.srv.conn()
        try:
            while not self.stop_flag and time.monotonic() < self.deadline:
                infected = self.done % 2 == 1
                try:
                    r = c.transact(respmod(self.srv, bad if infected else clean), timeout=10)
                    ok = (r.status == 200 and r.header("X-Infection-Found")) if infected \
                        else r.status == 204
                except (ic.ICAPError, OSError) as e:
                    ok, r = False, e
                    c.close()
                    c = self.srv.conn()
                if not ok:
                    self.failures += 1
                    self.errors.append(repr(r)[:200])
                self.done += 1
        finally:
            c.close()

    def stop(self):
        self.stop_flag = True
        self.thread.join(20)


def test_signature_reload(icapd_factory, tmp_path):
    sigdir = tmp_path / "sigs"
    shutil.copytree(SIGS, str(sigdir))
    srv = icapd_factory(services=services(str(sigdir)), directives={"watch_interval": "500ms"})
    body = b"a file with " + MARKER + b" inside"
    tag = ic.request(srv.host, srv.port, respmod(srv, body)).header("ISTag")
    assert ic.request(srv.host, srv.port, respmod(srv, body)).status == 204
    load = ScanLoad(srv)
    # The whole directory replaced (as a package update does) while scans run.
    for i in range(3):
        staging = tmp_path / ("staging%d" % i)
        shutil.copytree(SIGS, str(staging))
        (staging / "extra.ndb").write_text("icapd.Test.Extra%d:0:*:%s\n" % (i, (b"x%d-never" % i).hex()))
        old = tmp_path / ("old%d" % i)
        os.rename(str(sigdir), str(old))
        os.rename(str(staging), str(sigdir))
        shutil.rmtree(str(old))
        poll(lambda: "generation %d" % (i + 2) in srv.output(), 15, what="reload %d" % (i + 1))
    tag2 = ic.request(srv.host, srv.port, respmod(srv, body)).header("ISTag")
    assert tag2 != tag, "new signatures, same ISTag"
    tag = tag2

    # A corrupt database: the running engine keeps serving, the error is logged.
    (sigdir / "broken.ndb").write_text("this is not a signature\n")
    poll(lambda: "reload failed" in srv.output(), 10, what="the failed reload to be logged")
    r = ic.request(srv.host, srv.port, respmod(srv, with_eicar(2000, "middle")))
    assert_block_page(r)
    assert r.header("ISTag") == tag
    (sigdir / "broken.ndb").unlink()

    # A new signature: picked up without a signal; the ISTag changes.
    (sigdir / "marker.ndb").write_text("icapd.Test.Marker:0:*:%s\n" % MARKER.hex())
    poll(lambda: ic.request(srv.host, srv.port, respmod(srv, body)).status == 200, 15,
         interval=0.2, what="the new signature to take effect")
    r = ic.request(srv.host, srv.port, respmod(srv, body))
    assert_block_page(r, "icapd.Test.Marker")
    assert r.header("ISTag") != tag
    load.stop()
    assert load.done > 20 and load.failures == 0, (load.done, load.errors[:5])
    samples = srv.metrics()
    assert metric(samples, "icapd_reloads_total", result="ok") >= 4
    assert metric(samples, "icapd_reloads_total", result="failed") >= 1


def test_saturated_scan_threads_stop_reading_bodies(icapd_factory):
    """With one scan thread busy and another body queued, a third body is
    left in the socket (backpressure to the proxy) instead of being read
    into the spool; every body is answered once the threads have room."""
    srv = icapd_factory(services=services(SIGS), directives={"scan_threads": "1"},
                        extra="cache { memory 0; }\n")
    bodies = [pseudo_random(24 * 1024 * 1024, seed=50 + i) for i in range(4)]
    results = {}

    def one(i):
        results[i] = ic.request(srv.host, srv.port, respmod(srv, bodies[i]), timeout=120).status
    import threading
    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(150)
    assert results == {0: 204, 1: 204, 2: 204, 3: 204}
    assert metric(srv.metrics(), "icapd_scan_backpressure_total") >= 1


def test_saturated_scans_serve_waiting_connections_in_turn(icapd_factory):
    """More connections than scans, each sending body after body: while the
    scan thread is saturated they wait, and each gets its turn first come
    first served. (Woken all at once, the loop ran them in descriptor order
    and the first few took every free scan: most connections never got a
    reply.)"""
    srv = icapd_factory(services=services(SIGS), directives={"scan_threads": "1"},
                        extra="cache { memory 0; }\n")
    conns, seconds = 12, 6.0
    bases = [bytearray(pseudo_random(1024 * 1024, seed=70 + i)) for i in range(conns)]
    replies, errors = [0] * conns, []
    deadline = time.monotonic() + seconds

    def one(i):
        try:
            with srv.conn(timeout=30) as c:
                for n in range(10000):
                    if time.monotonic() >= deadline:
                        return
                    bases[i][:8] = n.to_bytes(8, "big")  # new content: scanned again
                    c.send(respmod(srv, bytes(bases[i])))
                    r = c.read_head()
                    assert r.status == 204, r
                    replies[i] += 1
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(repr(e))
    import threading
    threads = [threading.Thread(target=one, args=(i,)) for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]
    assert metric(srv.metrics(), "icapd_scan_backpressure_total") >= 1
    # Taken in turn, every connection gets about as many replies.
    assert min(replies) >= 2 and 3 * min(replies) >= max(replies), replies


@pytest.mark.parametrize("infected", [True, False])
def test_half_closed_client_still_gets_its_verdict(av, infected):
    """A client that sends a whole request and then shuts its side (nc does
    at the end of its input) gets the verdict, then the close: the scan it
    waits for is not dropped with the connection."""
    body = with_eicar(300000, "end") if infected else pseudo_random(300000, seed=11)
    with av.conn() as c:
        c.send(respmod(av, body))
        c.sock.shutdown(socket.SHUT_WR)
        r = c.read_reply(30)
        if infected:
            assert_block_page(r)
        else:
            assert r.status == 204, r


def test_allowed_oversize_body_without_204_is_cut_not_corrupted(av):
    """Larger than max_body_size, allowed by on_scan_error, no Allow: 204:
    the reply started early and the rest was not kept, so it must end short
    (closed), never be followed by a second status line."""
    body = pseudo_random(5 * 1024 * 1024)  # over max_body_size 4m
    with av.conn() as c:
        c.send(respmod(av, body, service="lenient", allow204=False))
        r = c.read_head(30)
        assert r.status == 200
        c.read_blocks(r)
        rest = bytes(c.buf)
        c.sock.settimeout(10)
        for _ in range(100000):
            data = c.sock.recv(1 << 20)
            if not data:
                break
            rest += data
        assert b"ICAP/1.0 " not in rest, "a second reply followed the 200"
        assert not rest.endswith(b"0\r\n\r\n"), "the cut reply ended as if complete"
        assert 0 < len(rest) < len(body)


def test_eicar_inside_an_html_page_is_blocked(av):
    """libclamav matches HTML only normalized (lower case): the bundled
    database carries the EICAR signature in that form too."""
    page = b"<html><head><title>t</title></head><body><p>Hello</p>" + EICAR + \
        b"<p>bye</p></body></html>\n"
    msg = ic.build("RESPMOD", av.uri("respmod"), ["Host: " + av.hostport, "Allow: 204"],
                   req_hdr=REQ, res_hdr=ic.http_response_head(
                       length=len(page), extra=["Content-Type: text/html; charset=utf-8"]),
                   body=page)
    r = ic.request(av.host, av.port, msg)
    assert_block_page(r, threat="icapd.Test.EICAR.HTML")
