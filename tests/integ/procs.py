"""Process and port helpers shared by the integration fixtures.

free_port() asks the kernel for a free loopback port; wait_port() polls until
a port accepts connections, with a deadline; Proc starts a child in its own
process group, logs its output to a file and kills the whole group when
stopped. Nothing here sleeps for a fixed time to wait for an event: every wait
polls a condition with a deadline and a bounded number of rounds.
"""

import atexit
import os
import signal as _signal
import socket
import subprocess
import time

LOOPBACK = "127.0.0.1"


def _die_with_parent():
    """preexec_fn: ask Linux to SIGKILL the child when the test process dies
    (even by SIGKILL, when no fixture teardown can run). Best effort."""
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, _signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def port_open(port, host=LOOPBACK, timeout=0.2):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_answers(port, host=LOOPBACK, timeout=0.2):
    """Does a server's event loop run on port? The kernel accepts a
    connection as soon as the socket listens, before the loop runs (icapd
    binds, then drops privileges and starts its scanners); a reply, or a
    close (a client the allow list refuses), comes only from the loop."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sk:
            sk.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
            sk.recv(1)
            return True
    except ConnectionResetError:
        return True
    except OSError:
        return False


def poll(cond, timeout, interval=0.02, what="condition"):
    """Calls cond() until it returns a true value or timeout seconds pass.
    Returns the value, or raises TimeoutError naming what."""
    deadline = time.monotonic() + timeout
    rounds = int(timeout / interval) + 2
    for _ in range(rounds):
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    v = cond()
    if v:
        return v
    raise TimeoutError("timed out after %.1fs waiting for %s" % (timeout, what))


_LIVE = set()


def kill_all():
    """SIGKILLs every process group started here that is still alive: the
    last resort when an interrupt skipped a fixture's teardown."""
    for proc in list(_LIVE):
        try:
            os.killpg(proc.pid, _signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        _LIVE.discard(proc)


class Proc:
    """A child process in its own process group, with output in a log file."""

    def __init__(self, argv, log_path, cwd=None, env=None, name=None):
        self.argv = [str(a) for a in argv]
        self.log_path = str(log_path)
        self.name = name or os.path.basename(self.argv[0])
        self._log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            cwd=cwd, env=env, start_new_session=True, preexec_fn=_die_with_parent)
        self.pid = self.popen.pid
        _LIVE.add(self)

    def alive(self):
        return self.popen.poll() is None

    def output(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def signal(self, sig):
        if self.alive():
            self.popen.send_signal(sig)

    def wait(self, timeout):
        """The exit status, or raises subprocess.TimeoutExpired."""
        return self.popen.wait(timeout=timeout)

    def wait_port(self, port, timeout=10.0, host=LOOPBACK):
        """Polls until port accepts connections; fails early if we died."""
        self._wait(port_open, "listen on", port, timeout, host)

    def wait_answers(self, port, timeout=10.0, host=LOOPBACK):
        """Polls until the event loop behind port answers (see port_answers)."""
        self._wait(port_answers, "answer on", port, timeout, host)

    def _wait(self, probe, doing, port, timeout, host):
        def ready():
            if not self.alive():
                raise RuntimeError("%s exited with %s before it could %s %d:\n%s" % (
                    self.name, self.popen.returncode, doing, port, self.output()[-4000:]))
            return probe(port, host)
        poll(ready, timeout, what="%s to %s %s:%d" % (self.name, doing, host, port))

    def stop(self, sig=_signal.SIGTERM, timeout=5.0):
        """Signals the whole process group, then SIGKILLs it after timeout.
        Returns the exit status of the direct child. An interrupt while
        waiting still kills the group before it propagates."""
        try:
            if self.alive():
                try:
                    os.killpg(self.pid, sig)
                except ProcessLookupError:
                    pass
                try:
                    self.popen.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            # Whatever is left of the group (children, grandchildren) goes too.
            try:
                os.killpg(self.pid, _signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self._log.close()
            _LIVE.discard(self)
        return self.popen.returncode


atexit.register(kill_all)
