"""Clients that go away at every phase of a transaction (hardening issue,
fault tolerance).

One icapd runs the clamav module on /reqmod and /respmod with a small
body_memory, so that a body is held in memory or spooled to spool_dir (an
unlinked file), and with the verdict cache off, so that every complete body
is really scanned. For REQMOD and RESPMOD, memory and spooled bodies, clean
and infected (EICAR, built at run time), a client closes (FIN) or resets
(RST) its connection:

  in the ICAP head, after it, in the encapsulated HTTP headers, after them,
  in a chunk-size line, in chunk data, between chunks, before the last
  chunk, in the last chunk, right after the last chunk (the scan then runs
  for nobody), after reading the head of the reply, in the middle of a body
  whose reply had started early (no Allow: 204); in a preview, right after
  the preview (before the 100 Continue), after the 100 Continue, in the rest
  of the body, after the rest; with three requests pipelined (none read, one
  read, the second cut short).

After each, within a few seconds: icapd is alive and printed no sanitizer
report, no ICAP connection and no scan is left (/metrics), no spool file is
open (/proc/PID/fd) or left in spool_dir; after each phase, a normal request
gets the right verdict. More cases: through the verdict cache, the
transaction that waits for another's scan of the same content, or the one
that leads it, disappears; forty clients vanish at once; a client that
reads nothing of a large early reply resets; clients held back in their
sockets while the scan threads are saturated (their connections not read)
vanish unseen.
"""

import os
import socket
import threading
import time

import pytest

import icap_client as ic
from conftest import EICAR, icapd_has_module, pseudo_random
from faults import assert_alive, settle
from procs import poll
from promtext import metric

pytestmark = pytest.mark.skipif(not icapd_has_module("clamav"),
                                reason="icapd built --without-clamav")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIGS = os.path.join(ROOT, "conf", "signatures")
THREAT = "icapd.Test.EICAR"

CHUNK = 8192
PREVIEW = 1024
SIZES = {"memory": 20000, "spooled": 300000}  # body_memory is 64k

SERVICES = """
module clamav { signatures %s; }
service /reqmod { methods REQMOD; chain clamav; preview %d; }
service /respmod { methods RESPMOD; chain clamav; preview %d; }
service /echo { methods REQMOD RESPMOD; chain; }
""" % (SIGS, PREVIEW, PREVIEW)


def directives(spool):
    return {"body_memory": "64k", "spool_dir": str(spool), "max_body_size": "8m",
            "scan_threads": "2", "watch_interval": "0"}


@pytest.fixture(scope="module")
def spool(tmp_path_factory):
    return tmp_path_factory.mktemp("spool")


@pytest.fixture(scope="module")
def av(module_icapd_factory, spool):
    return module_icapd_factory(services=SERVICES, directives=directives(spool),
                                extra="cache { memory 0; }\n", name="nocache")


def make_body(size, infected, seed):
    data = bytearray(pseudo_random(size, seed=seed))
    if infected:
        # At the start, so that a partial body holds the whole signature.
        data[100:100 + len(EICAR)] = EICAR
    return bytes(data)


class Req:
    """One request with the offsets where its parts end."""

    def __init__(self, srv, method, body, allow204=True, preview=None,
                 ctype="application/octet-stream"):
        self.method = method
        service = method.lower()
        headers = ["Host: %s" % srv.hostport] + (["Allow: 204"] if allow204 else [])
        if method == "REQMOD":
            req = ic.http_request_head(method="POST", url="http://upload.test/f", host="upload.test",
                                       extra=["Content-Length: %d" % len(body)])
            res = None
        else:
            req = ic.http_request_head(url="http://downloads.test/f.bin", host="downloads.test")
            res = ic.http_response_head(length=len(body)).replace(
                b"application/octet-stream", ctype.encode())
        self.data = ic.build(method, srv.uri(service), headers, req_hdr=req, res_hdr=res,
                             body=body, preview=preview, chunk_size=CHUNK)
        self.icap_end = self.data.index(b"\r\n\r\n") + 4
        self.http_end = self.icap_end + len(req) + (len(res) if res else 0)
        self.rest = ic.continuation(body, preview, CHUNK) if preview is not None else b""


def cut_points(r):
    """name -> how many bytes of r.data to send before going away."""
    first = b"%x\r\n" % CHUNK
    return {
        "icap-head-mid": r.icap_end // 2,
        "icap-head-done": r.icap_end,
        "http-head-mid": (r.icap_end + r.http_end) // 2,
        "http-head-done": r.http_end,
        "chunk-size-mid": r.http_end + 2,
        "chunk-data-mid": r.http_end + len(first) + 100,
        "between-chunks": r.http_end + len(first) + CHUNK + 2,
        "before-last-chunk": len(r.data) - 5,
        "last-chunk-mid": len(r.data) - 2,
        "after-last-chunk": len(r.data),
    }


PLAIN_PHASES = [
    "icap-head-mid", "icap-head-done", "http-head-mid", "http-head-done", "chunk-size-mid",
    "chunk-data-mid", "between-chunks", "before-last-chunk", "last-chunk-mid", "after-last-chunk"]
PREVIEW_PHASES = ["preview-mid", "preview-unanswered", "after-100", "after-100-mid-rest",
                  "after-100-rest-sent"]
REPLY_PHASES = ["reply-head-read", "early-reply-mid-body"]
PIPELINE_PHASES = ["pipelined-unread", "pipelined-first-read", "pipelined-second-cut"]
PHASES = PLAIN_PHASES + PREVIEW_PHASES + REPLY_PHASES + PIPELINE_PHASES


def go_away(c, how):
    if how == "reset":
        c.abort()
    else:
        c.close()


def run_phase(srv, phase, method, body, how):
    """Plays one client that disappears at phase."""
    c = srv.conn()
    try:
        if phase in PLAIN_PHASES:
            r = Req(srv, method, body)
            c.send(r.data[:cut_points(r)[phase]])
        elif phase in PREVIEW_PHASES:
            r = Req(srv, method, body, preview=PREVIEW)
            if phase == "preview-mid":
                c.send(r.data[:r.http_end + 6 + PREVIEW // 2])
            else:
                c.send(r.data)
                if phase != "preview-unanswered":
                    head = c.read_head()
                    assert head.status == 100, head
                    if phase == "after-100-mid-rest":
                        c.send(r.rest[:len(r.rest) // 2])
                    elif phase == "after-100-rest-sent":
                        c.send(r.rest)
        elif phase == "reply-head-read":
            # No Allow: 204: a clean body comes back from the store.
            r = Req(srv, method, body, allow204=False)
            c.send_reading(r.data)
            assert c.read_head(30).status == 200
        elif phase == "early-reply-mid-body":
            # No Allow: 204 and more than early_hold sent: the reply began.
            r = Req(srv, method, body, allow204=False)
            c.send_reading(r.data[:r.http_end + (len(r.data) - r.http_end) * 3 // 4])
        else:
            reqs = [Req(srv, method, body) for _ in range(3)]
            if phase == "pipelined-second-cut":
                c.send(reqs[0].data + reqs[1].data[:cut_points(reqs[1])["chunk-data-mid"]])
            else:
                c.send(b"".join(x.data for x in reqs))
                if phase == "pipelined-first-read":
                    c.read_reply(30)
    finally:
        go_away(c, how)


def verdict_ok(srv, method, body, infected):
    """A normal request on a fresh connection gets the right answer."""
    r = ic.request(srv.host, srv.port, Req(srv, method, body).data, timeout=30)
    if infected:
        assert r.status == 200 and THREAT in (r.header("X-Infection-Found") or ""), r
    else:
        assert r.status == 204, r


@pytest.mark.parametrize("method", ["REQMOD", "RESPMOD"])
@pytest.mark.parametrize("phase", PHASES)
def test_client_goes_away(av, spool, phase, method):
    seed = 1000 * PHASES.index(phase) + (0 if method == "REQMOD" else 500)
    for size_name, size in SIZES.items():
        for infected in (False, True):
            body = make_body(size, infected, seed)
            seed += 1
            for how in ("close", "reset"):
                try:
                    run_phase(av, phase, method, body, how)
                except (ic.ICAPError, OSError) as e:
                    pytest.fail("%s/%s/%s: the client failed before going away: %r" % (
                        size_name, "infected" if infected else "clean", how, e))
                try:
                    settle(av, spool)
                except AssertionError as e:
                    raise AssertionError("after %s (%s, %s, %s, %s): %s" % (
                        phase, method, size_name, "infected" if infected else "clean", how, e))
    verdict_ok(av, method, make_body(SIZES["spooled"], False, seed + 1), False)
    verdict_ok(av, method, make_body(SIZES["memory"], True, seed + 2), True)
    settle(av, spool)


# ---------------------------------------------------------------- with the verdict cache


@pytest.fixture(scope="module")
def av_cached(module_icapd_factory, spool, tmp_path_factory):
    d = tmp_path_factory.mktemp("spool-cached")
    return module_icapd_factory(services=SERVICES, directives=directives(d), name="cached"), d


@pytest.mark.parametrize("who", ["leader", "waiter"])
def test_same_content_one_client_goes_away(av_cached, who):
    """Two clients send the same (large, slow to scan) infected body: one
    of them scans it, the other waits for that scan or takes its cached
    verdict. Whichever disappears, the other one is blocked, and nothing is
    left behind."""
    srv, spool_dir = av_cached
    for round_ in range(3):
        body = make_body(6 * 1024 * 1024, True, seed=7000 + round_ + (10 if who == "waiter" else 0))
        r = Req(srv, "RESPMOD", body)
        first, second = srv.conn(30), srv.conn(30)
        try:
            first.send(r.data)
            second.send(r.data)
            gone, stays = (first, second) if who == "leader" else (second, first)
            go_away(gone, "reset" if round_ % 2 else "close")
            reply = stays.read_reply(60)
            assert reply.status == 200 and THREAT in (reply.header("X-Infection-Found") or ""), \
                reply
        finally:
            first.close()
            second.close()
        settle(srv, spool_dir)
    # The verdict survived the client that caused it: a hit now.
    reply = ic.request(srv.host, srv.port, r.data, timeout=30)
    assert reply.status == 200 and reply.header("X-Infection-Found")
    assert_alive(srv)


def test_many_clients_vanish_at_once(av, spool):
    """Forty clients in threads, each leaving at a different phase, at the
    same time; then the server is idle and clean again."""
    errors = []

    def one(i):
        phase = PHASES[i % len(PHASES)]
        method = ("REQMOD", "RESPMOD")[i % 2]
        body = make_body(SIZES["spooled" if i % 3 else "memory"], i % 4 == 0, seed=9000 + i)
        try:
            run_phase(av, phase, method, body, ("close", "reset")[i % 2])
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append((phase, repr(e)))
    threads = [threading.Thread(target=one, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    settle(av, spool, timeout=20)
    verdict_ok(av, "RESPMOD", make_body(SIZES["memory"], True, seed=9999), True)


def test_reset_while_an_early_reply_waits_unread(av, spool):
    """No Allow: 204, a large body, a client that reads nothing: the early
    reply fills the socket and icapd stops reading (its output is over the
    high-water mark); then the client resets."""
    for infected in (False, True):
        body = make_body(8 * 1024 * 1024, infected, seed=8100 + infected)
        c = av.conn(30)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
        s = ic.Sender(c, Req(av, "RESPMOD", body, allow204=False).data)
        last = [-1, time.monotonic()]

        def stalled():
            if s.error:
                return True
            if s.sent != last[0]:
                last[0], last[1] = s.sent, time.monotonic()
                return False
            return time.monotonic() - last[1] > 0.5
        poll(stalled, 20, interval=0.05, what="the sender to stall")
        s.stop()
        c.abort()
        s.join(10)
        settle(av, spool)
    verdict_ok(av, "RESPMOD", make_body(SIZES["spooled"], True, seed=8102), True)


# A regex that takes about a second of the time budget on SLOW_TEXT: scans
# that keep the one scan thread busy long enough to see backpressure.
SLOW_RULES = 'category slow { threshold 1000000; regex "(\\\\w+\\\\s+)*x" 1; }\n'
SLOW_TEXT = (b"word " * 400 + b",x ") * 150


@pytest.fixture(scope="module")
def one_thread(module_icapd_factory, tmp_path_factory):
    if not icapd_has_module("keyword"):
        pytest.skip("icapd built without the keyword module")
    d = tmp_path_factory.mktemp("spool-one-thread")
    rules = tmp_path_factory.mktemp("rules") / "slow.rules"
    rules.write_text(SLOW_RULES)
    services = """
module keyword { rules %s; }
service /respmod { methods RESPMOD; chain keyword; keyword_categories slow; }
""" % rules
    return module_icapd_factory(services=services, directives=dict(directives(d), scan_threads="1"),
                                name="one-thread",
                                extra="cache { memory 0; }\n"), d


def test_clients_vanish_while_held_back_by_busy_scan_threads(one_thread):
    """With the scan thread busy and a body queued, bodies that arrive wait
    in their sockets (backpressure, their connections not read); those
    clients vanish unseen, and the ones that stayed get their verdicts."""
    srv, spool_dir = one_thread
    results = {}

    def stay(i):
        try:
            r = ic.request(srv.host, srv.port, Req(srv, "RESPMOD", SLOW_TEXT, ctype="text/plain").data, timeout=60)
            results[i] = (r.status, r.body[-600:] if r.body else b"")
        except Exception as e:  # noqa: BLE001 (reported below)
            results[i] = (repr(e), b"")
    stayers = [threading.Thread(target=stay, args=(i,)) for i in range(3)]
    for t in stayers:
        t.start()
    poll(lambda: metric(srv.metrics(), "icapd_scans_in_flight") >= 2, 30, interval=0.01,
         what="the scan thread to be busy and a scan to wait")
    before = metric(srv.metrics(), "icapd_scan_backpressure_total")
    leavers = []
    try:
        for i in range(6):
            c = srv.conn(30)
            leavers.append(c)
            r = Req(srv, "RESPMOD", make_body(SIZES["spooled"], i % 2 == 0, seed=8300 + i),
                    ctype="text/plain")
            # The head and a first piece are read; what follows waits.
            c.send(r.data[:r.http_end + 10000])
            time.sleep(0.05)
            c.send(r.data[r.http_end + 10000:r.http_end + 40000 * (i + 1)])
        poll(lambda: metric(srv.metrics(), "icapd_scan_backpressure_total") > before, 10,
             interval=0.01, what="a connection held back")
    finally:
        for i, c in enumerate(leavers):
            go_away(c, ("close", "reset")[i % 2])
    for t in stayers:
        t.join(60)
    for i in range(3):
        status, page = results.get(i, (None, b""))
        assert status == 200 and b"regex time limit" in page, (i, status, page[-300:])
    settle(srv, spool_dir, timeout=30)
