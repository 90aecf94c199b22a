"""Fixtures for the icapd integration tests.

Everything runs on 127.0.0.1 with ports the kernel picked, in temp dirs made
for this test session, and every process started here is killed at teardown
(its whole process group), also when a test fails.

  icapd_bin        the binary under test: $ICAPD, default build/icapd
  icapd            a session-wide icapd with the three standard services
  icapd_factory    starts extra icapd instances with other directives
                   (short timeouts, logging options ...), stopped after the test
  server           the ICAP server the protocol tests talk to: normally the
                   session icapd; with ICAPD_TEST_AGAINST=c-icap, a c-icap
                   echo server (to check the harness itself against a
                   reference; icapd-only tests then skip, saying so)
  cicap_factory    starts c-icap echo servers (tests/integ/cicap.py)
  origin           a local HTTP origin server (thread) for the Squid tests
  squid            a Squid 5 in the foreground, adapting through `icapd`

When an icapd instance stops, its output is searched for sanitizer reports
(ASan/LSan/UBSan); a report fails the test that owned the instance.
"""

import gzip
import hashlib
import http.client
import http.server
import io
import os
import pwd
import random
import re
import shutil
import signal as _signal
import subprocess
import sys
import tempfile
import threading
import zipfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cicap  # noqa: E402
import icap_client  # noqa: E402
import procs  # noqa: E402
from procs import LOOPBACK, Proc, free_port  # noqa: E402
from promtext import metric, parse_metrics  # noqa: E402,F401

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
SQUID = "/usr/sbin/squid"
CURL = "/usr/bin/curl"
AGAINST = os.environ.get("ICAPD_TEST_AGAINST", "icapd")

SANITIZER_RE = re.compile(
    r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|"
    r"WARNING: ThreadSanitizer|ERROR: UndefinedBehaviorSanitizer")

STANDARD_SERVICES = """\
service /reqmod {
	methods REQMOD;
	chain;
	preview 1024;
}

service /respmod {
	methods RESPMOD;
	chain;
	preview 1024;
}

service /echo {
	methods REQMOD RESPMOD;
	chain;
	preview 1024;
}
"""


def pytest_configure(config):
    """SIGTERM (e.g. from a CI timeout) unwinds like Ctrl-C, so that the
    fixtures' teardowns still stop every process they started."""
    def on_term(signum, frame):
        raise KeyboardInterrupt("SIGTERM")
    _signal.signal(_signal.SIGTERM, on_term)


def pytest_unconfigure(config):
    """Runs even after an interrupt cut teardowns short."""
    procs.kill_all()
    for d in list(_SQUID_DIRS):
        shutil.rmtree(d, ignore_errors=True)


def find_icapd():
    """The path of the icapd binary under test, or None."""
    path = os.environ.get("ICAPD", "build/icapd")
    candidates = [path] if os.path.isabs(path) else [os.path.abspath(path), os.path.join(REPO, path)]
    for c in candidates:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def icapd_has_module(name):
    """True if the icapd under test was built with module name (configure
    --without-<name> leaves it out; its tests then skip, saying so)."""
    path = find_icapd()
    if path is None:
        return True  # let require_icapd report the missing binary
    out = subprocess.run([path, "-h"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=10).stdout.decode(errors="replace")
    return ("module %s {" % name) in out


def require_icapd():
    if AGAINST != "icapd":
        pytest.skip("icapd-specific test; the suite runs against %s (ICAPD_TEST_AGAINST)" % AGAINST)
    path = find_icapd()
    if path is None:
        pytest.fail("icapd binary not found (ICAPD=%r, repo %s): build it with "
                    "./configure && make, or set ICAPD" % (os.environ.get("ICAPD"), REPO))
    return path


# --------------------------------------------------------------------------
# icapd


def icapd_config(workdir, port, admin_port, directives=None, services=STANDARD_SERVICES,
                 extra=""):
    """The text of an icapd.conf for a test instance.

    directives: {name: value} overriding or adding top-level directives
    (value None removes a default one). services: the service blocks.
    extra: any text appended as is."""
    d = {
        "listen": "%s:%d" % (LOOPBACK, port),
        "admin_listen": "%s:%d" % (LOOPBACK, admin_port),
        "max_connections": "256",
        "header_timeout": "10s",
        "keepalive_timeout": "300s",
        "body_timeout": "120s",
        "shutdown_timeout": "30s",
        "max_icap_header": "64k",
        "max_http_header": "64k",
        "access_log": os.path.join(workdir, "access.log"),
        "error_log": os.path.join(workdir, "error.log"),
        "log_client_address": "off",
        "log_username": "off",
        "log_url": "off",
    }
    for k, v in (directives or {}).items():
        d[k] = v
    lines = ["# written by tests/integ/conftest.py"]
    for k, v in d.items():
        if v is not None:
            lines.append("%s %s;" % (k, v))
    return "\n".join(lines) + "\n\n" + services + extra


class Icapd:
    """One running icapd. The config file is <workdir>/icapd.conf."""

    def __init__(self, binary, workdir, directives=None, services=STANDARD_SERVICES, extra="",
                 start=True):
        self.binary = binary
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.host = LOOPBACK
        self.port = free_port()
        self.admin_port = free_port()
        self.conf = os.path.join(self.workdir, "icapd.conf")
        self.access_log = os.path.join(self.workdir, "access.log")
        self.error_log = os.path.join(self.workdir, "error.log")
        self.stderr_log = os.path.join(self.workdir, "icapd.out")
        self.directives = dict(directives or {})
        self.services = services
        self.extra = extra
        self.write_config()
        self.proc = None
        self.exit_status = None
        if start:
            self.start()

    def config_text(self, directives=None, services=None, extra=None):
        d = dict(self.directives)
        d.update(directives or {})
        return icapd_config(self.workdir, self.port, self.admin_port, d,
                            self.services if services is None else services,
                            self.extra if extra is None else extra)

    def write_config(self, text=None, **kw):
        with open(self.conf, "w") as f:
            f.write(text if text is not None else self.config_text(**kw))

    def start(self, timeout=10.0):
        env = dict(os.environ)
        # Sanitizer reports go to our log; leaks are checked at exit.
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        self.proc = Proc([self.binary, "-f", "-c", self.conf], self.stderr_log,
                         cwd=self.workdir, env=env, name="icapd")
        try:
            self.proc.wait_port(self.port, timeout)
            self.proc.wait_answers(self.admin_port, timeout)
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self):
        return self.proc.pid

    @property
    def hostport(self):
        return "%s:%d" % (self.host, self.port)

    kind = "icapd"

    def uri(self, service="echo"):
        return "icap://%s:%d/%s" % (self.host, self.port, service.lstrip("/"))

    def conn(self, timeout=10.0):
        return icap_client.Conn(self.host, self.port, timeout)

    def output(self):
        out = self.proc.output() if self.proc else ""
        try:
            with open(self.error_log, errors="replace") as f:
                out += f.read()
        except OSError:
            pass
        return out

    def sanitizer_report(self):
        text = self.proc.output() if self.proc else ""
        m = SANITIZER_RE.search(text)
        return text[max(0, m.start() - 200):m.start() + 6000] if m else None

    def read_access_log(self, path=None):
        try:
            with open(path or self.access_log, errors="replace") as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def admin_get(self, path, timeout=5.0):
        """GET on the admin listener -> (status, headers dict, body str)."""
        c = http.client.HTTPConnection(self.host, self.admin_port, timeout=timeout)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, \
                r.read().decode("utf-8", "replace")
        finally:
            c.close()

    def metrics(self):
        status, _, body = self.admin_get("/metrics")
        assert status == 200, "GET /metrics -> %d" % status
        return parse_metrics(body)

    def signal(self, sig):
        self.proc.signal(sig)

    def stop(self, sig=_signal.SIGTERM, timeout=35.0):
        if self.proc is not None and self.exit_status is None:
            self.exit_status = self.proc.stop(sig, timeout)
        return self.exit_status


def finish_problems(srv):
    """Stops srv; returns what went wrong (a sanitizer report, a crash, an
    exit status other than 0 after SIGTERM) as text, or None."""
    status = srv.stop()
    report = srv.sanitizer_report()
    if report:
        return "sanitizer report from icapd (%s):\n%s" % (srv.workdir, report)
    if status != 0:
        return "icapd (%s) exited with status %r (0 expected after SIGTERM); output:\n%s" % (
            srv.workdir, status, srv.output()[-3000:])
    return None


def _finish_icapd(srv):
    problem = finish_problems(srv)
    if problem:
        pytest.fail(problem)


@pytest.fixture(scope="session")
def icapd_bin():
    return require_icapd()


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("icapd-integ")


@pytest.fixture(scope="session")
def icapd(icapd_bin, session_dir):
    """The session-wide icapd (standard services, default timeouts)."""
    srv = Icapd(icapd_bin, os.path.join(str(session_dir), "icapd-main"))
    yield srv
    _finish_icapd(srv)


class IcapdPool:
    """Makes icapd instances in one directory; finish() stops them all and
    fails if any of them printed a sanitizer report."""

    def __init__(self, binary, basedir):
        self.binary, self.basedir, self.made = binary, str(basedir), []

    def make(self, directives=None, services=STANDARD_SERVICES, extra="", start=True, name=None):
        wd = os.path.join(self.basedir, name or "icapd%d" % len(self.made))
        srv = Icapd(self.binary, wd, directives, services, extra, start=False)
        self.made.append(srv)
        if start:
            srv.start()
        return srv

    __call__ = make

    def finish(self):
        problems = [p for p in (finish_problems(srv) for srv in self.made) if p]
        if problems:
            pytest.fail("\n\n".join(problems))


@pytest.fixture
def icapd_factory(tmp_path):
    """factory(directives=None, services=..., extra="", start=True) -> Icapd.
    Every instance is stopped (and checked for sanitizer reports) after the test."""
    pool = IcapdPool(require_icapd(), tmp_path)
    yield pool
    pool.finish()


@pytest.fixture(scope="module")
def module_icapd_factory(request, tmp_path_factory):
    """Like icapd_factory, but the instances live for one test module."""
    binary = require_icapd()
    pool = IcapdPool(binary, tmp_path_factory.mktemp("icapd-" + request.module.__name__.split(".")[-1]))
    yield pool
    pool.finish()


@pytest.fixture(scope="module")
def module_icapd(module_icapd_factory):
    """An icapd for one test module alone (for exact counter checks)."""
    return module_icapd_factory(name="module")


# --------------------------------------------------------------------------
# c-icap


@pytest.fixture
def cicap_factory(tmp_path):
    msg = cicap.missing()
    if msg:
        pytest.fail(msg)
    made = []

    def make(**kw):
        srv = cicap.CIcap(os.path.join(str(tmp_path), "c-icap%d" % len(made)), **kw)
        made.append(srv)
        return srv

    yield make
    for srv in made:
        srv.stop()


class ServerRef:
    """What the protocol tests need to know about the server under test."""

    def __init__(self, kind, host, port, obj):
        self.kind, self.host, self.port, self.obj = kind, host, port, obj

    def uri(self, service="echo"):
        return "icap://%s:%d/%s" % (self.host, self.port, service.lstrip("/"))

    def conn(self, timeout=10.0):
        return icap_client.Conn(self.host, self.port, timeout)

    @property
    def hostport(self):
        return "%s:%d" % (self.host, self.port)

    def counts(self):
        """Transactions answered so far, by ICAP method: from /metrics for
        icapd, from the access log for c-icap."""
        out = {"OPTIONS": 0, "REQMOD": 0, "RESPMOD": 0}
        if self.kind == "icapd":
            samples = self.obj.metrics()
            for m in out:
                out[m] = int(metric(samples, "icapd_requests_total", method=m))
            return out
        try:
            with open(os.path.join(self.obj.workdir, "c-icap-access.log"), errors="replace") as f:
                for line in f:
                    for m in out:
                        if " %s " % m in line:
                            out[m] += 1
        except FileNotFoundError:
            pass
        return out


@pytest.fixture(scope="session")
def server(request, session_dir):
    """The ICAP server under test for the plain protocol tests."""
    if AGAINST == "c-icap":
        msg = cicap.missing()
        if msg:
            pytest.fail(msg)
        srv = cicap.CIcap(os.path.join(str(session_dir), "c-icap-ref"))
        yield ServerRef("c-icap", srv.host, srv.port, srv)
        srv.stop()
        return
    srv = request.getfixturevalue("icapd")
    yield ServerRef("icapd", srv.host, srv.port, srv)


# --------------------------------------------------------------------------
# origin server


def pseudo_random(n, seed=None):
    """n deterministic pseudo-random bytes (the same for the same n)."""
    return random.Random(n if seed is None else seed).randbytes(n)


TESTFILES_DIR = "/usr/share/clamav-testfiles"

# The EICAR test string, built at run time so that it never stands in the tree.
EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")


def with_eicar(n, where):
    """n bytes of pseudo-random data with EICAR at the start, middle or end."""
    data = bytearray(pseudo_random(n))
    at = {"start": 0, "middle": (n - len(EICAR)) // 2, "end": n - len(EICAR)}[where]
    data[at:at + len(EICAR)] = EICAR
    return bytes(data)


GZIP_PLAIN = b"".join(b"line %06d of a compressible text body\n" % i for i in range(20000))
GZIP_BODY = gzip.compress(GZIP_PLAIN, mtime=0)
ETAG = '"icapd-test-etag-1"'
ETAG_BODY = b"the body behind the etag\n" * 40


class OriginHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "icapd-test-origin/1"
    _cache = {}
    _lock = threading.Lock()

    def log_message(self, fmt, *args):
        self.server.log.append("%s %s" % (self.command, self.path))

    def _data(self, n):
        with self._lock:
            if n not in self._cache:
                self._cache[n] = pseudo_random(n)
            return self._cache[n]

    def _send(self, code, body, ctype="application/octet-stream", extra=(), head=False):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def _get(self, head):
        path = self.path.split("?", 1)[0]
        if path.startswith("http://"):  # absolute form, just in case
            path = "/" + path.split("/", 3)[3]
        m = re.fullmatch(r"/size/(\d+)", path)
        if m:
            return self._send(200, self._data(int(m.group(1))), head=head)
        m = re.fullmatch(r"/chunked/(\d+)", path)
        if m:
            data = self._data(int(m.group(1)))
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if head:
                return
            rnd = random.Random(7)
            pos = 0
            for _ in range(len(data) + 1):
                if pos >= len(data):
                    break
                n = rnd.randint(1, 20000)
                piece = data[pos:pos + n]
                pos += len(piece)
                self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        m = re.fullmatch(r"/eicar/(start|middle|end)/(\d+)(?:\.(gz|zip|chunked))?", path)
        if m:
            data = with_eicar(int(m.group(2)), m.group(1))
            if m.group(3) == "gz":
                return self._send(200, gzip.compress(data, mtime=0), "text/plain",
                                  [("Content-Encoding", "gzip")], head=head)
            if m.group(3) == "zip":
                buf = io.BytesIO()
                with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
                    z.writestr("inside.bin", data)
                return self._send(200, buf.getvalue(), "application/zip", head=head)
            if m.group(3) == "chunked":
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i in range(0, len(data), 7000):
                    piece = data[i:i + 7000]
                    self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
                return
            return self._send(200, data, head=head)
        m = re.fullmatch(r"/testfile/([\w.-]+)", path)
        if m and os.path.isfile(os.path.join(TESTFILES_DIR, m.group(1))):
            with open(os.path.join(TESTFILES_DIR, m.group(1)), "rb") as f:
                return self._send(200, f.read(), head=head)
        if path == "/gzip":
            return self._send(200, GZIP_BODY, "text/plain",
                              [("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")],
                              head=head)
        if path == "/etag":
            if self.headers.get("If-None-Match") == ETAG:
                self.send_response(304)
                self.send_header("ETag", ETAG)
                self.end_headers()
                return
            return self._send(200, ETAG_BODY, "text/plain", [("ETag", ETAG)], head=head)
        return self._send(404, b"not found\n", "text/plain", head=head)

    def do_GET(self):
        self._get(False)

    def do_HEAD(self):
        self._get(True)

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            parts = []
            for _ in range(10 ** 6):
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    for _ in range(100):
                        if self.rfile.readline(65537) in (b"\r\n", b"\n", b""):
                            break
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline(3)
            return b"".join(parts)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_POST(self):
        body = self._read_body()
        if self.path.split("?", 1)[0] == "/upload":
            digest = hashlib.sha256(body).hexdigest()
            self.server.uploads.append(digest)
            # Form uploads: also the digest of each part, so that a test can
            # tell whether a whole file reached the origin.
            m = re.search(r"boundary=\"?([^\";]+)", self.headers.get("Content-Type") or "")
            if m:
                delim = b"\r\n--" + m.group(1).encode()
                for part in (b"\r\n" + body).split(delim)[1:]:
                    head, sep, content = part.partition(b"\r\n\r\n")
                    if sep:
                        self.server.uploads.append(hashlib.sha256(content).hexdigest())
            return self._send(200, ("%s %d\n" % (digest, len(body))).encode(), "text/plain")
        return self._send(404, b"not found\n", "text/plain")


class Origin:
    def __init__(self):
        self.httpd = http.server.ThreadingHTTPServer((LOOPBACK, 0), OriginHandler)
        self.httpd.daemon_threads = True
        self.httpd.log = []
        self.httpd.uploads = []
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def url(self, path):
        return "http://%s:%d%s" % (LOOPBACK, self.port, path)

    @property
    def log(self):
        return self.httpd.log

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture(scope="session")
def origin():
    o = Origin()
    yield o
    o.stop()


# --------------------------------------------------------------------------
# Squid


_SQUID_DIRS = set()


def squid_missing():
    if not os.path.exists(SQUID):
        return "%s not found: install the Debian package squid (apt-get install squid)" % SQUID
    if not os.path.exists(CURL):
        return "%s not found: install the Debian package curl (apt-get install curl)" % CURL
    return None


def squid_user():
    for name in ("proxy", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    return None


class Squid:
    """Squid in the foreground (-N) with its files in a private temp dir."""

    def __init__(self, icap_host, icap_port, workdir, extra=(), reqmod="reqmod", respmod="respmod",
                 preview=True):
        self.workdir = workdir
        self.port = free_port()
        self.conf = os.path.join(workdir, "squid.conf")
        self.access_log = os.path.join(workdir, "access.log")
        self.cache_log = os.path.join(workdir, "cache.log")
        user = squid_user()
        lines = [
            "http_port %s:%d" % (LOOPBACK, self.port),
            "pid_filename %s/squid.pid" % workdir,
            "access_log stdio:%s" % self.access_log,
            "cache_log %s" % self.cache_log,
            "cache_store_log none",
            "coredump_dir %s" % workdir,
            "netdb_filename none",
            "pinger_enable off",
            "icp_port 0",
            "htcp_port 0",
            "workers 1",
            "cache deny all",
            "cache_mem 8 MB",
            "logfile_rotate 0",
            "shutdown_lifetime 1 seconds",
            "visible_hostname icapd-test",
            "dns_nameservers 127.0.0.1",
            "acl testclient src 127.0.0.0/8",
            "http_access allow localhost",
            "http_access allow testclient",
            "http_access deny all",
            "icap_enable on",
            "icap_preview_enable %s" % ("on" if preview else "off"),
            "icap_persistent_connections on",
            "icap_service_failure_limit -1",
            "icap_service svc_req reqmod_precache icap://%s:%d/%s bypass=0" % (icap_host, icap_port, reqmod),
            "icap_service svc_resp respmod_precache icap://%s:%d/%s bypass=0" % (icap_host, icap_port, respmod),
            "adaptation_access svc_req allow all",
            "adaptation_access svc_resp allow all",
        ]
        lines += list(extra)
        if user:
            lines.append("cache_effective_user %s" % user)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        if user and os.geteuid() == 0:
            pw = pwd.getpwnam(user)
            for p in (workdir,):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        # -N foreground, -n a service name of our own (shm/pid names).
        name = "icapdtest%d" % self.port
        self.proc = Proc([SQUID, "-N", "-n", name, "-f", self.conf], os.path.join(workdir, "squid.out"),
                         cwd=workdir, name="squid")
        try:
            self.proc.wait_port(self.port, 20.0)
        except BaseException as e:
            out = self.output()
            self.stop()
            if not isinstance(e, Exception):
                raise
            raise RuntimeError("squid did not start:\n" + out[-4000:])

    def output(self):
        text = self.proc.output()
        try:
            with open(self.cache_log, errors="replace") as f:
                text += f.read()
        except OSError:
            pass
        return text

    def stop(self):
        return self.proc.stop(_signal.SIGTERM, 5.0)


def curl_env():
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    return env


def curl(proxy_port, url, out_path, extra=(), timeout=60):
    """curl through the proxy; returns (http_code, headers text, stderr)."""
    hdr_path = out_path + ".headers"
    argv = [CURL, "-sS", "--noproxy", "", "-x", "http://%s:%d" % (LOOPBACK, proxy_port),
            "-o", out_path, "-D", hdr_path, "-w", "%{http_code}", "--max-time", str(timeout)]
    argv += list(extra) + [url]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=curl_env(), timeout=timeout + 10)
    try:
        with open(hdr_path, errors="replace") as f:
            headers = f.read()
    except OSError:
        headers = ""
    code = int(p.stdout.decode().strip() or 0)
    return code, headers, p.stderr.decode(errors="replace")


def squid_workdir():
    """A fresh directory for one Squid. Not under pytest's 0700 basetemp:
    Squid drops to its own user and must still reach its log files."""
    msg = squid_missing()
    if msg:
        pytest.fail(msg)
    d = tempfile.mkdtemp(prefix="icapd-squid-")
    os.chmod(d, 0o755)
    _SQUID_DIRS.add(d)
    return d


def running_squid(icap_host, icap_port, **kw):
    """A generator for fixtures: a Squid in a fresh directory, stopped and
    removed afterwards. kw goes to Squid()."""
    d = squid_workdir()
    try:
        sq = Squid(icap_host, icap_port, d, **kw)
    except BaseException:
        shutil.rmtree(d, ignore_errors=True)
        raise
    yield sq
    sq.stop()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def squid(server):
    """Squid adapting every request (/reqmod) and response (/respmod) through
    the server under test, with ICAP previews (as Squid is normally run)."""
    yield from running_squid(server.host, server.port)


@pytest.fixture(scope="session")
def squid_nopreview(server):
    """Squid with previews off, through /echo: for large bodies Squid then
    offers no Allow 204 either, so the server must echo them (200)."""
    yield from running_squid(server.host, server.port, reqmod="echo", respmod="echo",
                             preview=False)
