"""Scanner processes (scan_isolation on, the default; scanner_pool.h).

The body modules run in sandboxed processes forked from the server through a
per-generation zygote. Checked: the process tree (a zygote and scan_threads
scanners, each with no_new_privs and a seccomp filter); verdicts through
them; a scanner killed mid-scan is replaced and its scan retried with the
right verdict; a body that crashes or hangs two scanners fails closed (the
block page, even under on_scan_error allow) and the scanners are back within
two seconds; a killed zygote is replaced; scanners killed every fraction of a
second under load never let EICAR through or block a clean body; a reload
starts the new generation's scanners and ends the old ones; scan_isolation
off scans in threads.

The san build (the one `make check` runs) has a fault switch: a body that
starts with ICAPD-FAULT-CRASH / -HANG / -SLOW makes its scanner abort, hang,
or take 3 s (scanner_worker.c).
"""

import os
import signal
import threading
import time

import pytest

import icap_client as ic
from conftest import EICAR, icapd_has_module, pseudo_random, with_eicar
from procs import poll
from promtext import metric

pytestmark = pytest.mark.skipif(not icapd_has_module("clamav"),
                                reason="icapd built --without-clamav")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIGS = os.path.join(ROOT, "conf", "signatures")
SCANNERS = 2

SERVICES = """
module clamav { signatures %s; }
service /respmod { methods RESPMOD; chain clamav; }
service /lenient { methods RESPMOD; chain clamav; on_scan_error allow; }
""" % SIGS

REQ = ic.http_request_head(url="http://downloads.test/f.bin", host="downloads.test")


def fault_build():
    return "build-san" in (os.environ.get("ICAPD") or "")


needs_faults = pytest.mark.skipif(not fault_build(),
                                  reason="fault switch only in the san build (ICAPD=build-san/icapd)")


def respmod(srv, body, service="respmod"):
    h = ["Host: " + srv.hostport, "Allow: 204"]
    return ic.build("RESPMOD", srv.uri(service), h, req_hdr=REQ,
                    res_hdr=ic.http_response_head(length=len(body)), body=body)


def scan(srv, body, service="respmod", timeout=30):
    return ic.request(srv.host, srv.port, respmod(srv, body, service), timeout=timeout)


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after ")".
        comm = st[st.index("(") + 1:st.rindex(")")]
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        if ppid == pid:
            out.append((int(d), comm))
    return out


def zygotes(srv):
    return [p for p, c in children(srv.pid) if c == "icapd-zygote"]


def scanners(srv):
    return [p for z in zygotes(srv) for p, c in children(z) if c == "icapd-scanner"]


def status_field(pid, name):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].strip()
    return None


def wchan(pid):
    with open("/proc/%d/wchan" % pid) as f:
        return f.read()


def wait_scanners(srv, n=SCANNERS, timeout=2.0):
    """The scanners are back (n of them under one zygote) within timeout."""
    return poll(lambda: len(zygotes(srv)) == 1 and len(scanners(srv)) == n, timeout)


def start(factory, scan_timeout="2s", services=SERVICES):
    srv = factory(services=services, directives={
        "scan_threads": str(SCANNERS), "scan_timeout": scan_timeout, "watch_interval": "0"})
    assert wait_scanners(srv, timeout=10), children(srv.pid)
    return srv


@pytest.fixture
def iso(icapd_factory):
    return start(icapd_factory)


def assert_blocked(r, module=None):
    assert r.status == 200, r
    assert r.blocks["res-hdr"].startswith(b"HTTP/1.1 403 "), r.blocks["res-hdr"][:200]


def test_process_tree_and_sandbox(iso):
    (z,) = zygotes(iso)
    ss = scanners(iso)
    assert len(ss) == SCANNERS
    for p in ss:
        assert status_field(p, "NoNewPrivs") == "1"
        assert status_field(p, "Seccomp") == "2"  # a filter is loaded
        # Nothing but the standard descriptors and its socket to the server.
        fds = sorted(int(x) for x in os.listdir("/proc/%d/fd" % p))
        assert fds == [0, 1, 2, 3], fds
    assert scan(iso, b"clean body " * 100).status == 204
    assert_blocked(scan(iso, with_eicar(4000, "middle")))
    m = iso.metrics()
    assert metric(m, "icapd_scanner_processes_started_total") == SCANNERS


@needs_faults
def test_scanner_killed_mid_scan_is_retried(icapd_factory):
    iso = start(icapd_factory, scan_timeout="20s")
    body = b"ICAPD-FAULT-SLOW" + pseudo_random(5000)
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("r", scan(iso, body)))
    t.start()
    # The scanner that took it sleeps 3 s before it scans.
    try:
        busy = poll(lambda: [p for p in scanners(iso) if "sleep" in wchan(p)], 2.5)
    except TimeoutError:
        busy = []
    assert len(busy) == 1, [(p, wchan(p)) for p in scanners(iso)]
    os.kill(busy[0], signal.SIGKILL)
    assert wait_scanners(iso), "scanners not replaced within 2 s"
    assert busy[0] not in scanners(iso)
    t.join(30)
    assert result["r"].status == 204  # clean, scanned by a fresh scanner
    m = iso.metrics()
    assert metric(m, "icapd_scan_retries_total") == 1
    assert metric(m, "icapd_scan_failed_closed_total") == 0


@needs_faults
@pytest.mark.parametrize("fault", ["CRASH", "HANG"])
def test_body_that_kills_two_scanners_fails_closed(iso, fault):
    body = b"ICAPD-FAULT-" + fault.encode() + b" " + pseudo_random(2000)
    t0 = time.monotonic()
    # on_scan_error allow does not let it through either.
    r = scan(iso, body, service="lenient")
    took = time.monotonic() - t0
    assert_blocked(r)
    assert b"scanner" in r.body
    if fault == "HANG":
        assert 3.5 < took < 10, took  # two scan_timeouts of 2 s
    assert wait_scanners(iso), "scanners not replaced within 2 s"
    m = iso.metrics()
    assert metric(m, "icapd_scan_failed_closed_total") == 1
    reason = "timeout" if fault == "HANG" else "crash"
    assert metric(m, "icapd_scanner_processes_lost_total", reason=reason) == 2
    # Not cached: the same body fails the same way again, a clean one passes.
    assert scan(iso, b"fine " * 50).status == 204
    assert "blocked-unscanned" in "\n".join(iso.read_access_log())


def test_killed_zygote_is_replaced(iso):
    (z,) = zygotes(iso)
    os.kill(z, signal.SIGKILL)
    assert poll(lambda: zygotes(iso) not in ([], [z]), 5), children(iso.pid)
    assert poll(lambda: len(scanners(iso)) == SCANNERS, 5)
    assert scan(iso, b"after the zygote " * 20).status == 204
    assert_blocked(scan(iso, with_eicar(3000, "end")))


def test_kills_under_load_never_give_a_wrong_verdict(iso):
    """Clients scan unique clean and infected bodies while a scanner is
    killed every 0.3 s: every answer is right (a scan may fail closed only
    if two scanners were lost on it, which the counter tells)."""
    stop = time.monotonic() + 6
    wrong, answers, errors = [], [0], []

    def client(seed):
        i = 0
        while time.monotonic() < stop:
            i += 1
            infected = i % 4 == 0
            body = with_eicar(20000, "middle") if infected else pseudo_random(20000)
            # unique content: no cache hits
            body = b"%d-%d " % (seed, i) + body
            try:
                r = scan(iso, body)
            except ic.ICAPError as e:
                errors.append(repr(e))
                continue
            answers[0] += 1
            blocked = r.status == 200 and r.blocks.get("res-hdr", b"").startswith(b"HTTP/1.1 403")
            if infected and not blocked:
                wrong.append(("infected passed", r.status))
            if not infected and r.status != 204:
                wrong.append(("clean blocked", r.status, r.header("X-Violations-Found")))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    kills = 0
    while time.monotonic() < stop:
        time.sleep(0.3)
        ss = scanners(iso)
        if ss:
            try:
                os.kill(ss[kills % len(ss)], signal.SIGKILL)
                kills += 1
            except ProcessLookupError:
                pass
    for t in threads:
        t.join(60)
    m = iso.metrics()
    failed_closed = metric(m, "icapd_scan_failed_closed_total")
    infected_passed = [w for w in wrong if w[0] == "infected passed"]
    assert not infected_passed, infected_passed
    assert len(wrong) <= failed_closed, (wrong, failed_closed)
    assert not errors, errors[:5]
    assert answers[0] > 20 and kills >= 5, (answers, kills)
    assert wait_scanners(iso)


def test_reload_replaces_the_scanners(iso):
    (z,) = zygotes(iso)
    old = set(scanners(iso))
    before = metric(iso.metrics(), "icapd_reloads_total", result="ok") or 0
    iso.signal(signal.SIGHUP)
    assert poll(lambda: metric(iso.metrics(), "icapd_reloads_total", result="ok") == before + 1, 10)
    # The old generation has no scan left: its zygote and scanners end.
    assert poll(lambda: zygotes(iso) != [z] and len(zygotes(iso)) == 1, 5), children(iso.pid)
    assert poll(lambda: len(scanners(iso)) == SCANNERS, 5)
    assert not old & set(scanners(iso))
    assert_blocked(scan(iso, with_eicar(3000, "start")))


def test_isolation_off_scans_in_threads(icapd_factory):
    srv = icapd_factory(services=SERVICES, directives={"scan_isolation": "off",
                                                       "scan_threads": "2"})
    assert children(srv.pid) == []
    assert scan(srv, b"clean " * 100).status == 204
    assert_blocked(scan(srv, with_eicar(4000, "middle")))


def test_squid_keeps_the_service_up_while_scanners_are_killed(icapd_factory, origin, tmp_path):
    """Squid marks an ICAP service down after icap_service_failure_limit
    failures (here: the first). Scanners killed under Squid's traffic cost
    a retry inside icapd, never a failure Squid sees."""
    from conftest import curl, running_squid, squid_missing
    if squid_missing():
        pytest.skip(squid_missing())
    srv = start(icapd_factory, scan_timeout="20s", services=SERVICES.replace(
        "chain clamav; }", "chain clamav; preview 1024; }") +
        "service /reqmod { methods REQMOD; chain clamav; preview 1024; }\n")
    gen = running_squid(srv.host, srv.port, extra=[
        "icap_service_failure_limit 1 in 60 seconds", "icap_service_revival_delay 60"])
    squid = next(gen)
    try:
        stop = time.monotonic() + 8
        results, kills = [], [0]

        def killer():
            while time.monotonic() < stop:
                time.sleep(0.4)
                ss = scanners(srv)
                if ss:
                    try:
                        os.kill(ss[kills[0] % len(ss)], signal.SIGKILL)
                        kills[0] += 1
                    except ProcessLookupError:
                        pass

        k = threading.Thread(target=killer)
        k.start()
        i = 0
        while time.monotonic() < stop:
            i += 1
            infected = i % 3 == 0
            size = 20000 + i  # a new object each time: no cached verdict
            path = "/eicar/middle/%d" % size if infected else "/size/%d" % size
            out = str(tmp_path / "o")
            code, _, err = curl(squid.port, origin.url(path), out, timeout=30)
            body = open(out, "rb").read() if os.path.exists(out) else b""
            results.append((infected, code, body == pseudo_random(size)))
        k.join()
        m = srv.metrics()
        failed_closed = metric(m, "icapd_scan_failed_closed_total")
        assert kills[0] >= 5 and len(results) > 20, (kills, len(results))
        assert not [r for r in results if r[0] and r[1] != 403], results
        wrong_clean = [r for r in results if not r[0] and not (r[1] == 200 and r[2])]
        assert len(wrong_clean) <= failed_closed, (wrong_clean, failed_closed)
        log = squid.output()
        assert "suspending ICAP service" not in log and "is down" not in log, log[-2000:]
    finally:
        for _ in gen:
            pass


def test_large_header_blocks_reach_the_scanner(iso):
    """Header blocks past what one datagram carries go in a sealed memfd."""
    big = [("X-Padding-%d" % i, "p" * 1000) for i in range(40)]  # about 40 KiB
    extra = ["%s: %s" % kv for kv in big]
    for body, blocked in ((with_eicar(3000, "middle"), True), (pseudo_random(3000), False)):
        res = ic.http_response_head(length=len(body), extra=extra)
        assert len(res) > 32 * 1024
        msg = ic.build("RESPMOD", iso.uri("respmod"), ["Host: " + iso.hostport, "Allow: 204"],
                       req_hdr=REQ, res_hdr=res, body=body)
        r = ic.request(iso.host, iso.port, msg)
        if blocked:
            assert_blocked(r)
        else:
            assert r.status == 204, r


@needs_faults
def test_zygote_forked_under_an_old_generation_is_refreshed(icapd_factory, tmp_path):
    """A reload while a scan of the old generation runs: the new zygote is
    forked holding the old engine's pages, so once the old generation is
    freed a fresh zygote replaces it (and the old engine really goes)."""
    sigs = tmp_path / "sigs"
    sigs.mkdir()
    for name in os.listdir(SIGS):
        if name.endswith((".ndb", ".hdb")):
            with open(os.path.join(SIGS, name), "rb") as f:
                (sigs / name).write_bytes(f.read())
    srv = start(icapd_factory, scan_timeout="20s", services=SERVICES.replace(SIGS, str(sigs)))
    result = {}
    t = threading.Thread(target=lambda: result.setdefault(
        "r", scan(srv, b"ICAPD-FAULT-SLOW" + pseudo_random(3000))))
    t.start()
    time.sleep(0.5)
    (sigs / "extra.ndb").write_text("icapd.Test.Extra:0:*:69636170642d6578747261\n")
    srv.signal(signal.SIGHUP)
    assert poll(lambda: metric(srv.metrics(), "icapd_reloads_total", result="ok") == 1, 10)
    t.join(30)
    assert result["r"].status == 204
    assert poll(lambda: "forking a fresh one" in srv.output(), 5), srv.output()[-2000:]
    assert wait_scanners(srv, timeout=5), children(srv.pid)
    assert_blocked(scan(srv, b"icapd-extra " * 10))


@needs_faults
def test_scanners_that_die_at_start_slow_down_and_fail_closed(icapd_factory, monkeypatch):
    """Scanners that die at once (here: a sandbox that cannot be set up):
    the scan fails closed, the log says why, and the restarts slow down
    instead of forking without end."""
    monkeypatch.setenv("ICAPD_TEST_NO_SANDBOX", "1")
    srv = icapd_factory(services=SERVICES, directives={
        "scan_threads": str(SCANNERS), "scan_timeout": "2s", "watch_interval": "0"})
    assert_blocked(scan(srv, pseudo_random(2000)))
    assert poll(lambda: "its sandbox could not be set up" in srv.output(), 5)
    started = metric(srv.metrics(), "icapd_scanner_processes_started_total")
    time.sleep(2)
    assert metric(srv.metrics(), "icapd_scanner_processes_started_total") - started < 20


@needs_faults
def test_scans_no_scanner_takes_end_after_scan_timeout(icapd_factory, monkeypatch):
    """No scanner can be forked at all: a scan waits scan_timeout, then ends
    as a scan error (blocked), instead of waiting for ever."""
    monkeypatch.setenv("ICAPD_TEST_NO_FORK", "1")
    srv = icapd_factory(services=SERVICES, directives={
        "scan_threads": str(SCANNERS), "scan_timeout": "2s", "watch_interval": "0"})
    t0 = time.monotonic()
    r = scan(srv, pseudo_random(2000))
    took = time.monotonic() - t0
    assert_blocked(r)
    assert b"no scanner process" in r.body
    assert 1.9 < took < 8, took
    assert "no scanner process has taken a scan" in srv.output()
