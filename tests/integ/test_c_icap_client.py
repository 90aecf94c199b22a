"""c-icap-client (Debian package c-icap) against the server: a second, real
ICAP client implementation.

OPTIONS must succeed; REQMOD (-req URL) and RESPMOD (-resp URL) with and
without a preview (-nopreview, -w SIZE) and with and without Allow 204
(-no204) must exit 0, and whenever a 200 comes back the output file must be
byte-identical to the input. With -nopreview -no204 the server cannot answer
204, so those runs must echo.
"""

import hashlib
import os
import re
import shutil
import subprocess

import pytest

import cicap

CLIENT = cicap.C_ICAP_CLIENT

MODES = [
    [],
    ["-nopreview"],
    ["-no204"],
    ["-nopreview", "-no204"],
    ["-w", "0"],
    ["-w", "10"],
    ["-w", "4096"],
    ["-w", "4096", "-no204"],
]


@pytest.fixture(scope="module")
def client():
    if not os.path.exists(CLIENT) or shutil.which(CLIENT) is None:
        pytest.fail("%s not found: install the Debian package c-icap (apt-get install c-icap)" % CLIENT)
    return CLIENT


def run_client(server, args, timeout=60):
    argv = [CLIENT, "-i", server.host, "-p", str(server.port)] + list(args)
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace")


def status_of(output):
    m = re.search(r"ICAP/1\.0 (\d{3})", output)
    return int(m.group(1)) if m else None


def make_input(tmp_path, size):
    data = hashlib.sha256(b"c-icap-client %d" % size).digest() * (size // 32 + 1)
    path = os.path.join(str(tmp_path), "in-%d.bin" % size)
    with open(path, "wb") as f:
        f.write(data[:size])
    return path, data[:size]


def test_options(client, server):
    rc, out = run_client(server, ["-s", "echo", "-v"])
    assert rc == 0, out
    assert status_of(out) == 200, out
    assert re.search(r"Methods:.*REQMOD", out) and re.search(r"Methods:.*RESPMOD", out), out
    assert "Preview: 1024" in out


def test_options_respmod_service(client, icapd):
    rc, out = run_client(icapd, ["-s", "respmod", "-v"])
    assert rc == 0, out
    assert status_of(out) == 200
    methods = re.search(r"Methods:\s*(.*)", out).group(1)
    assert "RESPMOD" in methods and "REQMOD" not in methods, methods


@pytest.mark.parametrize("mode", MODES, ids=lambda m: "_".join(m).replace("-", "") or "default")
@pytest.mark.parametrize("kind", ["req", "resp"])
@pytest.mark.parametrize("size", [1000, 100 * 1024])
def test_modification(client, server, tmp_path, mode, kind, size):
    src, data = make_input(tmp_path, size)
    out_path = os.path.join(str(tmp_path), "out-%s-%d.bin" % (kind, size))
    args = ["-s", "echo", "-f", src, "-o", out_path, "-v"]
    args += ["-req" if kind == "req" else "-resp", "http://example.test/path/file.bin"] + mode
    rc, out = run_client(server, args)
    assert rc == 0, "exit %d:\n%s" % (rc, out)
    status = status_of(out)
    assert status in (200, 204), out
    if "-nopreview" in mode and "-no204" in mode:
        assert status == 200, "204 although the client allowed neither preview nor 204:\n" + out
    if status == 200:
        with open(out_path, "rb") as f:
            got = f.read()
        assert got == data, "output differs from input (%d vs %d bytes)" % (len(got), len(data))
    elif os.path.exists(out_path):
        with open(out_path, "rb") as f:
            assert f.read() in (b"", data)


@pytest.mark.parametrize("kind,service", [("req", "reqmod"), ("resp", "respmod")])
def test_dedicated_services(client, icapd, tmp_path, kind, service):
    src, data = make_input(tmp_path, 50000)
    out_path = os.path.join(str(tmp_path), "out.bin")
    rc, out = run_client(icapd, ["-s", service, "-f", src, "-o", out_path, "-v", "-nopreview", "-no204",
                                 "-req" if kind == "req" else "-resp", "http://example.test/x"])
    assert rc == 0, out
    assert status_of(out) == 200, out
    with open(out_path, "rb") as f:
        assert f.read() == data


def test_large_file_echo(client, server, tmp_path):
    src, data = make_input(tmp_path, 3 * 1024 * 1024)
    out_path = os.path.join(str(tmp_path), "big.out")
    rc, out = run_client(server, ["-s", "echo", "-f", src, "-o", out_path, "-v", "-nopreview", "-no204",
                                  "-resp", "http://example.test/big"])
    assert rc == 0, out
    with open(out_path, "rb") as f:
        assert f.read() == data


def test_extra_headers(client, server, tmp_path):
    """Extra ICAP (-x) and HTTP (-hx, -rhx) headers are carried through the echo."""
    src, data = make_input(tmp_path, 2000)
    out_path = os.path.join(str(tmp_path), "x.out")
    rc, out = run_client(server, ["-s", "echo", "-f", src, "-o", out_path, "-v", "-nopreview", "-no204",
                                  "-x", "X-Client-IP: 10.1.2.3", "-rhx", "X-Resp-Test: yes",
                                  "-resp", "http://example.test/x"])
    assert rc == 0, out
    assert status_of(out) == 200
    assert "X-Resp-Test: yes" in out, out
    with open(out_path, "rb") as f:
        assert f.read() == data


def test_reference_c_icap_server(client, cicap_factory, tmp_path):
    """The same client against c-icap's own echo service (tests/integ/cicap.py,
    also used by the benchmark): if this passes and a test above fails, the
    fault is in the server under test, not in the client or the harness."""
    ref = cicap_factory()
    rc, out = run_client(ref, ["-s", "echo", "-v"])
    assert rc == 0 and status_of(out) == 200, out
    src, data = make_input(tmp_path, 100 * 1024)
    out_path = os.path.join(str(tmp_path), "ref.out")
    rc, out = run_client(ref, ["-s", "echo", "-f", src, "-o", out_path, "-v", "-nopreview", "-no204",
                               "-resp", "http://example.test/ref"])
    assert rc == 0 and status_of(out) == 200, out
    with open(out_path, "rb") as f:
        assert f.read() == data
