"""The command line: -V, -h, -t (configuration check), -l and -a overrides,
and start-up failures (a broken file, a port in use) that must exit with a
message instead of hanging or running half-configured.

"icapd -t -c FILE" exits 0 for a good file and non-zero for a bad one, with
one "icapd.conf:LINE: ..." message on stderr for every mistake (DESIGN.md 5).
"""

import os
import re
import signal
import socket
import subprocess

import pytest


import icap_client as ic
from conftest import REPO, SANITIZER_RE, icapd_config, icapd_has_module
from procs import Proc, free_port, poll, port_open


def run(binary, *args, timeout=20):
    p = subprocess.run([binary] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, timeout=timeout)
    err = p.stderr.decode(errors="replace")
    assert not SANITIZER_RE.search(err), "sanitizer report:\n" + err[-4000:]
    return p.returncode, p.stdout.decode(errors="replace"), err


def write_conf(tmp_path, text, name="icapd.conf"):
    path = os.path.join(str(tmp_path), name)
    with open(path, "w") as f:
        f.write(text)
    return path


def good_text(tmp_path):
    return icapd_config(str(tmp_path), free_port(), free_port())


def test_version(icapd_bin):
    rc, out, err = run(icapd_bin, "-V")
    assert rc == 0, err
    assert re.search(r"icapd \d+\.\d+", out + err), out + err


def test_help(icapd_bin):
    rc, out, err = run(icapd_bin, "-h")
    assert rc == 0, err
    text = out + err
    for opt in ("-t", "-c", "-f", "-l", "-a", "-V"):
        assert opt in text, "-h does not mention %s" % opt


def test_unknown_option_fails(icapd_bin):
    rc, out, err = run(icapd_bin, "-Z")
    assert rc != 0


def test_check_good_config(icapd_bin, tmp_path):
    rc, out, err = run(icapd_bin, "-t", "-c", write_conf(tmp_path, good_text(tmp_path)))
    assert rc == 0, err


def test_check_bundled_config(icapd_bin):
    rc, out, err = run(icapd_bin, "-t", "-c", os.path.join(REPO, "conf", "icapd.conf"))
    if not icapd_has_module("clamav"):
        # Built --without-clamav: the bundled chains name it; say so clearly.
        assert rc != 0 and "module clamav is not compiled in" in err, err
        return
    assert rc == 0, "conf/icapd.conf does not pass -t:\n" + err


def test_check_does_not_listen(icapd_bin, tmp_path):
    """-t checks and exits; it does not bind the configured port."""
    port = free_port()
    text = icapd_config(str(tmp_path), port, free_port())
    rc, _, err = run(icapd_bin, "-t", "-c", write_conf(tmp_path, text))
    assert rc == 0, err
    assert not port_open(port)


def test_check_reports_every_mistake(icapd_bin, tmp_path):
    lines = good_text(tmp_path).splitlines()
    lines.insert(3, "lisen 127.0.0.1:1;")                 # unknown directive
    lines.insert(8, "header_timeout forever;")            # bad value
    text = "\n".join(lines) + "\n"
    rc, out, err = run(icapd_bin, "-t", "-c", write_conf(tmp_path, text))
    assert rc != 0
    assert re.search(r"icapd\.conf:4: ", err), "no error for line 4:\n" + err
    assert re.search(r"icapd\.conf:9: ", err), "no error for line 9:\n" + err
    assert "lisen" in err


def test_check_errors_in_service_blocks(icapd_bin, tmp_path):
    text = good_text(tmp_path) + (
        "\nservice /a {\n\tmethods FETCH;\n\tchain;\n}\n"    # unknown method
        "service /b {\n\tchain nosuchmodule;\n\tmethods RESPMOD;\n}\n")   # unknown module
    base = good_text(tmp_path).count("\n")
    rc, out, err = run(icapd_bin, "-t", "-c", write_conf(tmp_path, text))
    assert rc != 0
    found = sorted({int(n) for n in re.findall(r"icapd\.conf:(\d+):", err)})
    assert any(base + 2 <= n <= base + 5 for n in found), "service /a error not reported:\n" + err
    assert any(base + 6 <= n <= base + 9 for n in found), "service /b error not reported:\n" + err


def test_check_unterminated_block(icapd_bin, tmp_path):
    text = good_text(tmp_path) + "\nservice /open {\n\tmethods RESPMOD;\n"
    rc, out, err = run(icapd_bin, "-t", "-c", write_conf(tmp_path, text))
    assert rc != 0
    assert re.search(r"icapd\.conf:\d+: ", err), err


def test_check_duplicate_service(icapd_bin, tmp_path):
    text = good_text(tmp_path) + "\nservice /echo {\n\tmethods RESPMOD;\n\tchain;\n}\n"
    rc, out, err = run(icapd_bin, "-t", "-c", write_conf(tmp_path, text))
    assert rc != 0, "a second service /echo was accepted"
    assert re.search(r"icapd\.conf:\d+: ", err), err


def test_check_missing_file(icapd_bin, tmp_path):
    rc, out, err = run(icapd_bin, "-t", "-c", os.path.join(str(tmp_path), "nope.conf"))
    assert rc != 0
    assert "nope.conf" in err


def test_start_with_broken_config_exits(icapd_bin, tmp_path):
    port = free_port()
    text = icapd_config(str(tmp_path), port, free_port()) + "\nbogus_directive 1;\n"
    conf = write_conf(tmp_path, text)
    p = subprocess.run([icapd_bin, "-f", "-c", conf], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, timeout=20)
    assert p.returncode != 0
    assert re.search(r"icapd\.conf:\d+: ", p.stderr.decode(errors="replace")), p.stderr
    assert not port_open(port)


def test_port_in_use_exits(icapd_bin, tmp_path):
    busy = socket.socket()
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        port = busy.getsockname()[1]
        conf = write_conf(tmp_path, icapd_config(str(tmp_path), port, free_port()))
        try:
            p = subprocess.run([icapd_bin, "-f", "-c", conf], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail("icapd kept running although its port %d was taken" % port)
        assert p.returncode != 0
    finally:
        busy.close()


def test_listen_and_admin_overrides(icapd_bin, tmp_path):
    """-l and -a take precedence over listen and admin_listen in the file."""
    file_port, file_admin = free_port(), free_port()
    port, admin = free_port(), free_port()
    conf = write_conf(tmp_path, icapd_config(str(tmp_path), file_port, file_admin))
    proc = Proc([icapd_bin, "-f", "-c", conf, "-l", "127.0.0.1:%d" % port, "-a", "127.0.0.1:%d" % admin],
                os.path.join(str(tmp_path), "icapd.out"), cwd=str(tmp_path), name="icapd")
    try:
        proc.wait_port(port)
        proc.wait_port(admin)
        assert not port_open(file_port), "also listening on the file's port"
        assert not port_open(file_admin), "also listening on the file's admin port"
    finally:
        status = proc.stop()
    assert not SANITIZER_RE.search(proc.output()), proc.output()[-4000:]
    assert status == 0, proc.output()[-2000:]


def test_override_survives_reload(icapd_bin, tmp_path):
    """After SIGHUP, -l still wins over the file's listen."""
    file_port, port = free_port(), free_port()
    conf = write_conf(tmp_path, icapd_config(str(tmp_path), file_port, free_port()))
    proc = Proc([icapd_bin, "-f", "-c", conf, "-l", "127.0.0.1:%d" % port],
                os.path.join(str(tmp_path), "icapd.out"), cwd=str(tmp_path), name="icapd")
    try:
        proc.wait_port(port)
        with ic.Conn("127.0.0.1", port) as c:
            proc.signal(signal.SIGHUP)
            poll(lambda: "reloaded" in open(os.path.join(str(tmp_path), "error.log")).read(), 5,
                 what="the reload to be logged")
            r = c.transact(ic.build("OPTIONS", "icap://127.0.0.1:%d/echo" % port, ["Host: x"]))
            assert r.status == 200
        assert port_open(port)
        assert not port_open(file_port)
    finally:
        status = proc.stop()
    assert not SANITIZER_RE.search(proc.output()), proc.output()[-4000:]
    assert status == 0, proc.output()[-2000:]
