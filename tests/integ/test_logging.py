"""The access log: one line per transaction, private by default, reopened on SIGUSR1.

A line reads like "service=/echo method=RESPMOD status=204 ...". By default
it must not show the client address (neither the ICAP peer nor X-Client-IP),
the user name (X-Client-Username) or the URL of the encapsulated request;
log_client_address on, log_username on and log_url full (or host) turn them
on. After the log file is renamed, SIGUSR1 makes the next line go to a new
file at the configured path.
"""

import os
import signal

import icap_client as ic
from procs import poll

SECRET_HOST = "secret.example.test"
SECRET_PATH = "/private/path/report.pdf"
SECRET_QUERY = "token=s3cr3tvalue"
URL = "http://%s%s?%s" % (SECRET_HOST, SECRET_PATH, SECRET_QUERY)
CLIENT_IP = "10.9.8.7"
USER = "alice"
PRIVATE = [CLIENT_IP, "127.0.0.1", USER, SECRET_HOST, SECRET_PATH, "s3cr3tvalue"]


def host(srv):
    return "Host: " + srv.hostport


def private_request(srv, method="RESPMOD", service="echo", allow204=True):
    extra = [host(srv), "X-Client-IP: " + CLIENT_IP, "X-Client-Username: " + USER]
    if allow204:
        extra.append("Allow: 204")
    req = ic.http_request_head("GET", URL, SECRET_HOST, ["Cookie: session=abc"])
    if method == "REQMOD":
        return ic.build("REQMOD", srv.uri(service), extra, req_hdr=req)
    body = b"<html>secret page</html>"
    return ic.build("RESPMOD", srv.uri(service), extra, req_hdr=req,
                    res_hdr=ic.http_response_head(length=len(body)), body=body)


def wait_lines(srv, n, path=None, timeout=5):
    """Polls until the access log has at least n lines; returns them."""
    return poll(lambda: (lambda ls: ls if len(ls) >= n else None)(srv.read_access_log(path)),
                timeout, what="%d lines in %s" % (n, path or srv.access_log))


def test_one_line_per_transaction(icapd_factory):
    srv = icapd_factory()
    with srv.conn() as c:
        assert c.transact(private_request(srv)).status == 204
        assert c.transact(private_request(srv, allow204=False)).status == 200
        assert c.transact(private_request(srv, "REQMOD", "reqmod")).status == 204
        assert c.transact(ic.build("OPTIONS", srv.uri("echo"), [host(srv)])).status == 200
        assert c.transact(ic.build("OPTIONS", srv.uri("missing"), [host(srv)])).status == 404
    lines = wait_lines(srv, 5)
    assert len(lines) == 5, lines
    assert "service=/echo" in lines[0] and "method=RESPMOD" in lines[0] and "status=204" in lines[0], lines[0]
    assert "service=/echo" in lines[1] and "method=RESPMOD" in lines[1] and "status=200" in lines[1], lines[1]
    assert "service=/reqmod" in lines[2] and "method=REQMOD" in lines[2] and "status=204" in lines[2], lines[2]
    assert "method=OPTIONS" in lines[3] and "status=200" in lines[3], lines[3]
    assert "status=404" in lines[4], lines[4]


def test_private_by_default(icapd_factory):
    srv = icapd_factory()
    with srv.conn() as c:
        assert c.transact(private_request(srv)).status == 204
        assert c.transact(private_request(srv, allow204=False)).status == 200
        assert c.transact(private_request(srv, "REQMOD", "reqmod")).status == 204
        assert c.transact(private_request(srv, "REQMOD", "respmod")).status == 405
    lines = wait_lines(srv, 4)
    text = "\n".join(lines)
    leaked = [p for p in PRIVATE if p in text]
    assert not leaked, "access log shows %r by default:\n%s" % (leaked, text)


def test_private_by_default_on_errors(icapd_factory):
    """Error transactions (400 after the head, 404) do not leak either."""
    srv = icapd_factory()
    bad = private_request(srv).replace(b"Encapsulated: req-hdr=0", b"Encapsulated: req-hdr=7")
    with srv.conn() as c:
        c.send(bad)
        r = c.read_reply()
        assert r.status == 400, r
    r = ic.request(srv.host, srv.port, private_request(srv, service="nothing-here"))
    assert r.status == 404
    lines = wait_lines(srv, 2)
    text = "\n".join(lines)
    leaked = [p for p in PRIVATE if p in text]
    assert not leaked, "access log shows %r:\n%s" % (leaked, text)


def test_everything_logged_when_enabled(icapd_factory):
    srv = icapd_factory({"log_client_address": "on", "log_username": "on", "log_url": "full"})
    assert ic.request(srv.host, srv.port, private_request(srv)).status == 204
    line = wait_lines(srv, 1)[0]
    assert CLIENT_IP in line or "127.0.0.1" in line, "no client address: %s" % line
    assert USER in line, "no user name: %s" % line
    assert SECRET_HOST in line and SECRET_PATH in line and SECRET_QUERY in line, "no full URL: %s" % line


def test_client_address_prefers_x_client_ip(icapd_factory):
    """With log_client_address on, the end user (X-Client-IP) is what is logged."""
    srv = icapd_factory({"log_client_address": "on"})
    assert ic.request(srv.host, srv.port, private_request(srv)).status == 204
    line = wait_lines(srv, 1)[0]
    assert CLIENT_IP in line, line
    assert USER not in line and SECRET_HOST not in line, line


def test_log_url_host(icapd_factory):
    srv = icapd_factory({"log_url": "host"})
    assert ic.request(srv.host, srv.port, private_request(srv, "REQMOD", "reqmod")).status == 204
    line = wait_lines(srv, 1)[0]
    assert SECRET_HOST in line, line
    assert SECRET_PATH not in line and "s3cr3tvalue" not in line, line
    assert USER not in line and CLIENT_IP not in line, line


def test_log_username_only(icapd_factory):
    srv = icapd_factory({"log_username": "on"})
    assert ic.request(srv.host, srv.port, private_request(srv)).status == 204
    line = wait_lines(srv, 1)[0]
    assert USER in line, line
    assert CLIENT_IP not in line and SECRET_HOST not in line, line


def test_access_log_off(icapd_factory):
    srv = icapd_factory({"access_log": "off"})
    assert ic.request(srv.host, srv.port, private_request(srv)).status == 204
    # The admin counter proves the request was done; no file may appear.
    assert not os.path.exists(srv.access_log) or os.path.getsize(srv.access_log) == 0


def test_sigusr1_reopens_access_log(icapd_factory):
    srv = icapd_factory()
    assert ic.request(srv.host, srv.port, private_request(srv)).status == 204
    wait_lines(srv, 1)
    rotated = srv.access_log + ".1"
    os.rename(srv.access_log, rotated)
    # Until the signal, lines still go to the renamed file.
    assert ic.request(srv.host, srv.port, private_request(srv, allow204=False)).status == 200
    wait_lines(srv, 2, rotated)
    srv.signal(signal.SIGUSR1)
    # Reopening is asynchronous: poll until a request's line lands in the new file.
    def new_file_has_line():
        r = ic.request(srv.host, srv.port, ic.build("OPTIONS", srv.uri("echo"), [host(srv)]))
        assert r.status == 200
        return os.path.exists(srv.access_log) and srv.read_access_log()
    lines = poll(new_file_has_line, 5, interval=0.1, what="a line in the reopened access log")
    assert "method=OPTIONS" in lines[0], lines
    old = srv.read_access_log(rotated)
    assert len(old) >= 2 and all("method=RESPMOD" in l for l in old[:2]), old
    assert srv.proc.alive()


def test_sigusr1_reopens_error_log(icapd_factory):
    """The error log is reopened by SIGUSR1 too; the server keeps serving."""
    srv = icapd_factory()
    poll(lambda: os.path.exists(srv.error_log), 5, what="error log file")
    os.rename(srv.error_log, srv.error_log + ".1")
    srv.signal(signal.SIGUSR1)
    poll(lambda: os.path.exists(srv.error_log) or None, 5, interval=0.05,
         what="the error log to be recreated at its path")
    assert ic.request(srv.host, srv.port, private_request(srv)).status == 204
