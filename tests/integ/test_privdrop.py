"""Least privilege: "user NAME;" (icapd/privdrop.c).

icapd started as root with "user nobody" binds its listeners, reads its
keys, then runs as nobody: real, effective, saved and file-system IDs in
/proc/PID/status are nobody's, with nobody's groups only, no capability
and no_new_privs. As nobody it still answers OPTIONS, scans bodies that
spill to the spool (body_memory 16k; a body that cannot be spooled gets a
500, so a 204 shows the spool worked), and reloads
on SIGHUP: a changed file is read again as nobody; a file nobody may not
read fails the reload with a hint naming the user while the old
configuration keeps serving; log files root created keep being written.
A TLS key readable by root alone stays in use across reloads (with a log
line); once nobody may read the files, a reload picks up a new
certificate. A spool_dir nobody cannot write to stops the start with a
clear message; so does "user" when icapd is started as another non-root
user (as that user itself, it just runs). An unknown user is an error of
"icapd -t" with file:line.

Everything but the -t test needs root (CI runs the suite as root) and
skips otherwise. Work folders here are not under pytest's 0700 temp
folder: nobody must be able to read the configuration to reload it.
"""

import os
import pwd
import shutil
import signal
import ssl
import subprocess
import tempfile

import pytest

import icap_client as ic
from conftest import (EICAR, Icapd, STANDARD_SERVICES, finish_problems, icapd_has_module,
                      pseudo_random, require_icapd, with_eicar)
from procs import LOOPBACK, Proc, free_port, poll
from promtext import metric

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIGS = os.path.join(ROOT, "conf", "signatures")
OPENSSL = "/usr/bin/openssl"
SETPRIV = "/usr/bin/setpriv"
USER = "nobody"


def _nobody():
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        return None


NOBODY = _nobody()

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or NOBODY is None,
    reason="needs root and a user %r: icapd must start as root to change user" % USER)

needs_clamav = pytest.mark.skipif(not icapd_has_module("clamav"),
                                  reason="icapd built --without-clamav")

SCAN_SERVICES = """
module clamav { signatures %s; }
service /respmod { methods RESPMOD; chain clamav; on_scan_error block; }
service /echo { methods REQMOD RESPMOD; chain; }
""" % SIGS


# --------------------------------------------------------------------------
# helpers


def world_readable_dir(prefix="icapd-priv-"):
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)
    return d


@pytest.fixture
def made():
    """make(directives=None, services=..., extra="", start=True) -> Icapd in
    a fresh world-readable folder; each is stopped and checked afterwards."""
    binary = require_icapd()
    servers, dirs = [], []

    def make(directives=None, services=STANDARD_SERVICES, extra="", start=True):
        wd = world_readable_dir()
        dirs.append(wd)
        d = {"user": USER}
        d.update(directives or {})
        srv = Icapd(binary, wd, d, services, extra, start=False)
        servers.append(srv)
        if start:
            srv.start()
        return srv

    yield make
    problems = [p for p in (finish_problems(s) for s in servers if s.proc) if p]
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)
    if problems:
        pytest.fail("\n\n".join(problems))


def spool_for(srv, owner=True):
    """A spool folder in srv's workdir, mode 0700, nobody's if owner."""
    d = os.path.join(srv.workdir, "spool")
    os.mkdir(d, 0o700)
    if owner:
        os.chown(d, NOBODY.pw_uid, NOBODY.pw_gid)
    return d


def status_ids(pid):
    """{"Uid": [real, effective, saved, fs], "Gid": [...], "Groups": [...],
    "NoNewPrivs": [...], "CapEff": [...], ...} from /proc/PID/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return out


def reloads(srv, result):
    return metric(srv.metrics(), "icapd_reloads_total", result=result)


def reload_and_wait(srv, result="ok"):
    before = reloads(srv, result)
    srv.signal(signal.SIGHUP)
    try:
        poll(lambda: reloads(srv, result) > before, 15, interval=0.05,
             what='icapd_reloads_total{result="%s"} to increase' % result)
    except TimeoutError:
        pytest.fail("reload did not end %s; log:\n%s" % (result, srv.output()[-3000:]))


def options(srv, service="echo"):
    return ic.request(srv.host, srv.port,
                      ic.build("OPTIONS", srv.uri(service), ["Host: " + srv.hostport]))


def respmod(srv, body, service="respmod"):
    req = ic.http_request_head(url="http://downloads.test/f.bin", host="downloads.test")
    return ic.request(srv.host, srv.port,
                      ic.build("RESPMOD", srv.uri(service), ["Host: " + srv.hostport, "Allow: 204"],
                               req_hdr=req, res_hdr=ic.http_response_head(length=len(body)),
                               body=body, chunk_size=65536))


def run(argv, timeout=60):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace")


# --------------------------------------------------------------------------
# the drop


@needs_root
def test_runs_as_nobody_with_no_way_back(made):
    srv = made()
    st = status_ids(srv.pid)
    uid, gid = str(NOBODY.pw_uid), str(NOBODY.pw_gid)
    assert st["Uid"] == [uid] * 4, st["Uid"]
    assert st["Gid"] == [gid] * 4, st["Gid"]
    want_groups = sorted(str(g) for g in os.getgrouplist(USER, NOBODY.pw_gid))
    assert sorted(st["Groups"]) == want_groups
    assert st["NoNewPrivs"] == ["1"]
    assert int(st["CapEff"][0], 16) == 0 and int(st["CapPrm"][0], 16) == 0
    # Every thread, and every scanner process and their zygote, runs as
    # nobody too.
    for tid in os.listdir("/proc/%d/task" % srv.pid):
        assert status_ids(int(tid))["Uid"] == [uid] * 4
    from test_scanners import children
    procs = poll(lambda: [p for z, _ in children(srv.pid) for p in [z] + [c for c, _ in children(z)]]
                 if len(children(srv.pid)) == 1 and children(children(srv.pid)[0][0]) else None,
                 10, what="the zygote and its scanners")
    for p in procs:
        assert status_ids(p)["Uid"] == [uid] * 4
        assert status_ids(p)["Gid"] == [gid] * 4
    r = options(srv)
    assert r.status == 200 and r.header("ISTag")
    assert "running as user %s (uid %s, gid %s)" % (USER, uid, gid) in srv.output()
    assert "icapd runs as root" not in srv.output()


@needs_root
def test_without_user_root_is_warned_about(made):
    srv = made({"user": None})
    assert status_ids(srv.pid)["Uid"] == ["0"] * 4
    assert options(srv).status == 200
    poll(lambda: 'icapd runs as root: add "user icapd;"' in srv.output(), 5,
         what="the warning about running as root")


@needs_root
@needs_clamav
def test_bodies_spill_to_the_spool_and_are_scanned(made):
    srv = made(start=False, services=SCAN_SERVICES,
               directives={"body_memory": "16k", "max_body_size": "4m"})
    srv.directives["spool_dir"] = spool_for(srv)
    srv.write_config()
    srv.start()
    assert status_ids(srv.pid)["Uid"][1] == str(NOBODY.pw_uid)
    # Clean and well past body_memory: were the spool unusable, the body
    # could not be kept and the answer would be a 500.
    assert respmod(srv, pseudo_random(600000)).status == 204
    r = respmod(srv, with_eicar(600000, "end"))
    assert r.status == 200 and "EICAR" in (r.header("X-Infection-Found") or ""), r
    assert not [n for n in os.listdir(srv.directives["spool_dir"])], "files left in the spool"


@needs_root
def test_reload_as_nobody_reads_the_new_file(made):
    srv = made()
    reload_and_wait(srv)
    srv.write_config(extra="\nservice /added { methods RESPMOD; chain; }\n")
    reload_and_wait(srv)
    assert options(srv, "added").status == 200
    assert status_ids(srv.pid)["Uid"][1] == str(NOBODY.pw_uid)
    # The log files root created stay in use: the lines of the reload are there.
    out = srv.output()
    assert "reloaded %s (generation 3)" % srv.conf in out
    assert "error_log %s: cannot open it again as this user" % srv.error_log in out


@needs_root
def test_unreadable_file_fails_reload_old_generation_serves(made):
    srv = made(start=False)
    page = os.path.join(srv.workdir, "block.html")
    with open(page, "w") as f:
        f.write("<html><body>blocked: {reason}</body></html>\n")
    os.chmod(page, 0o644)
    srv.directives["block_page"] = page
    srv.write_config()
    srv.start()

    os.chmod(page, 0o600)  # root's alone now
    reload_and_wait(srv, "failed")
    assert options(srv).status == 200  # the old generation serves
    out = srv.output()
    assert "Permission denied" in out
    assert ("reload: icapd runs as user %s (uid %d) since start-up: the files above must be "
            "readable by it" % (USER, NOBODY.pw_uid)) in out
    assert "reload failed; the running configuration stays in force" in out

    os.chmod(page, 0o644)
    reload_and_wait(srv, "ok")


@needs_root
def test_spool_nobody_cannot_write_stops_the_start(made):
    srv = made(start=False)
    spool = spool_for(srv, owner=False)
    srv.directives["spool_dir"] = spool
    srv.write_config()
    rc, out = run([srv.binary, "-f", "-c", srv.conf])
    out += srv.output()
    assert rc == 1, out
    assert ("spool_dir %s: user %s (uid %d) cannot create files there: Permission denied"
            % (spool, USER, NOBODY.pw_uid)) in out


# --------------------------------------------------------------------------
# TLS keys after the drop


def make_cert(d, name):
    crt, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
    rc, out = run([OPENSSL, "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt",
                   "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt, "-days", "2",
                   "-subj", "/CN=" + name])
    assert rc == 0, out
    return crt, key


def served_cert(port):
    """The DER certificate a TLS OPTIONS on port is answered with (and 200)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with ic.Conn(LOOPBACK, port, 10.0, tls=ctx) as c:
        der = c.sock.getpeercert(binary_form=True)
        r = c.transact(ic.build("OPTIONS", "icaps://%s:%d/echo" % (LOOPBACK, port),
                                ["Host: x"]))
        assert r.status == 200
    return der


@needs_root
@pytest.mark.skipif(not os.path.exists(OPENSSL), reason="no %s" % OPENSSL)
def test_tls_key_of_root_alone_stays_in_use_across_reloads(made):
    srv = made(start=False)
    crt, key = os.path.join(srv.workdir, "tls.pem"), os.path.join(srv.workdir, "tls.key")
    first_crt, first_key = make_cert(srv.workdir, "first")
    shutil.copy(first_crt, crt)
    shutil.copy(first_key, key)
    os.chmod(crt, 0o644)
    os.chmod(key, 0o600)  # root's
    tls_port = free_port()
    srv.directives["listen_tls"] = "%s:%d cert %s key %s" % (LOOPBACK, tls_port, crt, key)
    srv.write_config()
    srv.start()
    srv.proc.wait_port(tls_port)
    first = served_cert(tls_port)
    assert "cannot read %s (Permission denied): the certificate and key read at start-up stay " \
           "in use across reloads" % key in srv.output()

    # A renewed pair that nobody cannot read: the reload works, the old pair serves.
    second_crt, second_key = make_cert(srv.workdir, "second")
    shutil.copy(second_crt, crt)
    shutil.copy(second_key, key)
    reload_and_wait(srv, "ok")
    assert served_cert(tls_port) == first
    assert ("listen_tls %s:%d: %s: Permission denied as uid %d; keeping the certificate and key "
            "loaded before" % (LOOPBACK, tls_port, key, NOBODY.pw_uid)) in srv.output()

    # Readable by icapd's user: the next reload reads the new pair.
    os.chown(key, NOBODY.pw_uid, 0)
    reload_and_wait(srv, "ok")
    assert served_cert(tls_port) != first


# --------------------------------------------------------------------------
# who may use "user"


@needs_root
@pytest.mark.skipif(not os.path.exists(SETPRIV), reason="no %s (util-linux)" % SETPRIV)
def test_started_as_another_user_is_an_error_as_that_user_fine(made):
    other = "daemon"
    try:
        pw = pwd.getpwnam(other)
    except KeyError:
        pytest.skip("no user %r" % other)
    # Logs to stderr: the work folder is root's, and neither user may write there.
    srv = made(start=False, directives={"error_log": "stderr", "access_log": "stderr"})
    rc, out = run([SETPRIV, "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid, "--clear-groups",
                   srv.binary, "-f", "-c", srv.conf])
    assert rc == 1, out
    line = next(i for i, l in enumerate(open(srv.conf), 1) if l.startswith("user "))
    assert ("%s:%d: user %s: icapd was started as user %s (uid %d), not as root, and cannot "
            "change to uid %d" % (srv.conf, line, USER, other, pw.pw_uid, NOBODY.pw_uid)) in out

    proc = Proc([SETPRIV, "--reuid=%d" % NOBODY.pw_uid, "--regid=%d" % NOBODY.pw_gid,
                 "--clear-groups", srv.binary, "-f", "-c", srv.conf],
                os.path.join(srv.workdir, "as-nobody.out"), cwd=srv.workdir, name="icapd")
    try:
        proc.wait_port(srv.port)
        assert status_ids(proc.pid)["Uid"] == [str(NOBODY.pw_uid)] * 4
        assert options(srv).status == 200
    finally:
        assert proc.stop(signal.SIGTERM, 35.0) == 0, proc.output()[-3000:]


def test_unknown_user_is_a_configuration_error(tmp_path):
    binary = require_icapd()
    conf = tmp_path / "icapd.conf"
    conf.write_text("listen %s:%d;\n\n# who icapd runs as\nuser icapd-no-such-user;\n"
                    "service /echo { methods RESPMOD; chain; }\n" % (LOOPBACK, free_port()))
    want = 'icapd.conf:4: user "icapd-no-such-user": no such user'
    rc, out = run([binary, "-t", "-c", str(conf)])
    assert rc == 1 and want in out, out
    rc, out = run([binary, "-f", "-c", str(conf)])
    assert rc == 1 and want in out, out
