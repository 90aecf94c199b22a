"""Helpers for the fault-tolerance tests (test_disconnects, test_truncation,
test_spool_full, test_slow_clients, test_bombs): what a server must look
like once a misbehaving client is gone, and how much memory it holds.

settle() is the check every one of those tests ends with: within a few
seconds the server has no ICAP connection open, no body on the scan threads,
no spool file open (bodies past body_memory live in unlinked files: they only
show in /proc/PID/fd, as "... (deleted)") and nothing in the spool directory,
and it printed no sanitizer report. Each wait polls with a deadline.
"""

import os
import time

from promtext import metric


def spool_fds(pid, spool_dir):
    """Targets of the descriptors of pid that are files in spool_dir."""
    root = os.path.realpath(spool_dir).rstrip("/") + "/"
    out = []
    fd_dir = "/proc/%d/fd" % pid
    try:
        names = os.listdir(fd_dir)
    except FileNotFoundError:
        return out
    for name in names:
        try:
            target = os.readlink(os.path.join(fd_dir, name))
        except OSError:
            continue  # closed meanwhile
        if target.startswith(root):
            out.append(target)
    return out


def spool_entries(spool_dir, keep=()):
    """Names in spool_dir, but those in keep (a test's own files)."""
    return sorted(n for n in os.listdir(spool_dir) if n not in keep and n != "lost+found")


def memory_kib(pid):
    """{'VmRSS': kib, 'VmHWM': kib} of pid, from /proc/PID/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = int(value.split()[0])
    return out


def state(srv, spool_dir, keep=()):
    """What settle() looks at, as a dict (for its failure message)."""
    samples = srv.metrics()
    return {
        "connections": int(metric(samples, "icapd_connections")),
        "scans_in_flight": int(metric(samples, "icapd_scans_in_flight")),
        "spool_fds": spool_fds(srv.pid, spool_dir),
        "spool_entries": spool_entries(spool_dir, keep),
    }


def assert_alive(srv):
    """srv is running and printed no sanitizer report."""
    report = srv.sanitizer_report()
    assert report is None, "sanitizer report from icapd:\n" + report
    assert srv.proc.alive(), "icapd died (status %r); output:\n%s" % (
        srv.proc.popen.returncode, srv.output()[-3000:])


def settle(srv, spool_dir, timeout=10.0, keep=(), connections=0):
    """Waits until srv holds nothing for clients that are gone (see the
    module's docstring); connections: ICAP connections the caller still
    holds open. Fails with what was left if that takes over timeout."""
    deadline = time.monotonic() + timeout
    want = {"connections": connections, "scans_in_flight": 0, "spool_fds": [], "spool_entries": []}
    last = None
    for _ in range(int(timeout / 0.02) + 2):
        assert_alive(srv)
        last = state(srv, spool_dir, keep)
        if last == want:
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    raise AssertionError("icapd did not settle within %.0fs: %r" % (timeout, last))
