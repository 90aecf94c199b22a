"""URL filtering by category (issue: URL filtering, with a policy that
administrators edit).

Directly over ICAP: a listed host, its subdomains and every spelling of it
(case, dots, percent-encoding, IPv4 forms, IDN) get the 403 block page
before any body moves, a CONNECT to a listed host gets a 403 without body,
groups by X-Client-IP and by user name decide, and /metrics counts decisions
by category. Through Squid with curl: the block page for the pupils, the
page itself for a teacher's address, an HTTPS CONNECT refused, and an edited
list taking effect after SIGHUP while requests flow, with none failing.
"""

import os
import subprocess
import threading
import time

import pytest

import icap_client as ic
from conftest import curl, icapd_has_module, running_squid
from procs import poll
from promtext import metric

pytestmark = pytest.mark.skipif(not icapd_has_module("urlfilter"),
                                reason="icapd built without the urlfilter module")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

POLICY = """
group teachers { address 127.0.0.2 10.1.0.0/16; user alice; }
policy teachers {
    for teachers;
    block malware;
    default allow;
}
policy everyone {
    allow school;
    block malware phishing games;
    default allow;
}
"""


def make_lists(base, extra_games=()):
    lists = os.path.join(base, "lists")
    spec = {
        "malware": {"domains": "# test list\r\nevil.test\r\n*.bad-cdn.test\r\n.trailing.test.\r\n"
                               "xn--bcher-kva.test\n192.0.2.66\n",
                    "urls": "127.0.0.1/evil/\nfiles.test/payload.exe\n"},
        "phishing": {"domains": "PHISH.test\nwww.login-bank.test\n"},
        "games": {"domains": "\n".join(["games.test"] + list(extra_games)) + "\n"},
        "school": {"domains": "edu.games.test\n"},
    }
    for cat, files in spec.items():
        os.makedirs(os.path.join(lists, cat), exist_ok=True)
        for name, text in files.items():
            with open(os.path.join(lists, cat, name), "w", newline="") as f:
                f.write(text)
    return lists


def services(base):
    policy = os.path.join(base, "urlfilter.policy")
    with open(policy, "w") as f:
        f.write(POLICY)
    return """
module urlfilter { lists %s; policy %s; }
service /reqmod { methods REQMOD; chain urlfilter; preview 1024; }
service /echo { methods REQMOD RESPMOD; chain; }
""" % (make_lists(base), policy)


@pytest.fixture(scope="module")
def uf(module_icapd_factory, tmp_path_factory):
    base = str(tmp_path_factory.mktemp("uf"))
    return module_icapd_factory(services=services(base))


def reqmod(srv, url, host=None, method="GET", icap_headers=(), body=None):
    if host is None:
        host = url.split("/")[2] if "://" in url else url
    head = ("%s %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (method, url, host)).encode("latin-1")
    return ic.request(srv.host, srv.port,
                      ic.build("REQMOD", srv.uri("reqmod"), ["Host: " + srv.hostport, "Allow: 204"]
                               + list(icap_headers), req_hdr=head, body=body))


def blocked(r):
    return r.status == 200 and r.blocks.get("res-hdr", b"").startswith(b"HTTP/1.1 403")


@pytest.mark.parametrize("url", [
    "http://evil.test/",
    "http://EVIL.test/x",
    "http://www.evil.test/",
    "http://a.b.evil.test/deep/path?q=1",
    "http://evil.test./",
    "http://..evil.test../",
    "http://%65vil.test/",
    "http://%2565vil.test/",
    "http://user:pw@evil.test:8080/",
    "http://x.bad-cdn.test/lib.js",
    "http://trailing.test/",
    "http://b\u00fccher.test/".encode("utf-8").decode("latin-1"),
    "http://192.0.2.66/",
    "http://3221226050/",
    "http://0xc0.0x0.0x2.0x42/",
    "http://0300.0000.0002.0102/",
    "http://192.0.578/",
    "http://[::ffff:192.0.2.66]/",  # IPv4-mapped IPv6: Squid connects to 192.0.2.66
    "http://[::ffff:c000:242]/",
    "http://[0:0:0:0:0:FFFF:C000:0242]:8080/",
    "http://files.test/payload.exe",
    "http://files.test/./x/../payload.exe",
    "http://phish.test/login",
    "http://login-bank.test/",
    "http://games.test/",
])
def test_listed_urls_are_blocked_in_every_spelling(uf, url):
    r = reqmod(uf, url)
    assert blocked(r), (url, r.status, r.body[:200])
    assert r.header("X-Violations-Found") is not None


@pytest.mark.parametrize("url", [
    "http://notevil.test/",
    "http://evil.test.example/",
    "http://files.test/payload.exe.txt",
    "http://files.test/other",
    "http://edu.games.test/",  # the allow list comes first
    "http://192.0.2.67/",
])
def test_unlisted_urls_pass(uf, url):
    r = reqmod(uf, url)
    assert r.status == 204, (url, r.status, r.body[:200])


def test_block_page_names_the_category_not_more(uf):
    r = reqmod(uf, "http://phish.test/secret-path")
    assert blocked(r)
    page = r.body.decode("utf-8", "replace")
    assert "phishing" in page


def test_connect_gets_a_403_without_body(uf):
    r = reqmod(uf, "evil.test:443", host="evil.test:443", method="CONNECT")
    assert r.status == 200
    assert r.blocks["res-hdr"].startswith(b"HTTP/1.1 403") and r.body is None
    assert r.header("Encapsulated").startswith("res-hdr=0, null-body=")
    r = reqmod(uf, "fine.test:443", host="fine.test:443", method="CONNECT")
    assert r.status == 204
    r = reqmod(uf, "[::ffff:c000:242]:443", host="[::ffff:c000:242]:443", method="CONNECT")
    assert r.status == 200 and r.blocks["res-hdr"].startswith(b"HTTP/1.1 403")


def test_groups_by_address_and_user(uf):
    url = "http://games.test/"
    assert blocked(reqmod(uf, url, icap_headers=["X-Client-IP: 10.2.0.5"]))
    assert reqmod(uf, url, icap_headers=["X-Client-IP: 10.1.2.3"]).status == 204
    assert reqmod(uf, url, icap_headers=["X-Client-Username: alice"]).status == 204
    assert blocked(reqmod(uf, url, icap_headers=["X-Client-Username: mallory"]))
    # X-Authenticated-User: base64 of "WinNT://SCHOOL/alice"
    import base64
    au = base64.b64encode(b"WinNT://SCHOOL/alice").decode()
    assert reqmod(uf, url, icap_headers=["X-Authenticated-User: " + au]).status == 204
    # Malware stays blocked for teachers too.
    assert blocked(reqmod(uf, "http://evil.test/", icap_headers=["X-Client-IP: 10.1.2.3"]))


def test_a_post_to_a_blocked_url_is_refused_and_the_connection_stays_usable(uf):
    body = b"x" * 200000
    with uf.conn() as c:
        head = b"POST http://evil.test/up HTTP/1.1\r\nHost: evil.test\r\n\r\n"
        c.send(ic.build("REQMOD", uf.uri("reqmod"), ["Host: " + uf.hostport], req_hdr=head,
                        body=body))
        r = c.read_reply()
        assert blocked(r)
        head = b"GET http://fine.test/ HTTP/1.1\r\nHost: fine.test\r\n\r\n"
        c.send(ic.build("REQMOD", uf.uri("reqmod"), ["Host: " + uf.hostport, "Allow: 204"],
                        req_hdr=head))
        assert c.read_reply().status == 204


def test_metrics_count_decisions_by_category_only(uf):
    before = metric(uf.metrics(), "icapd_urlfilter_decisions_total", category="phishing",
                    action="block")
    reqmod(uf, "http://phish.test/")
    after = metric(uf.metrics(), "icapd_urlfilter_decisions_total", category="phishing",
                   action="block")
    assert after == before + 1
    text = uf.admin_get("/metrics")[2]
    assert "phish.test" not in text and "10.1." not in text


def test_metrics_escape_category_names(icapd_factory, tmp_path):
    # A category is a folder name: anything may be in it but '/'.
    name = 'q"uote\\back\nline'
    os.makedirs(str(tmp_path / "lists" / name))
    (tmp_path / "lists" / name / "domains").write_text("weird.test\n")
    policy = tmp_path / "p.policy"
    policy.write_text("policy everyone { default allow; }\n")
    srv = icapd_factory(services="""
module urlfilter { lists %s; policy %s; }
service /reqmod { methods REQMOD; chain urlfilter; }
""" % (tmp_path / "lists", policy))
    assert reqmod(srv, "http://weird.test/").status == 204
    samples = srv.metrics()  # fails on a line that is not a sample
    escaped = 'q\\"uote\\\\back\\nline'
    for action in ("allow", "block"):
        assert (("icapd_urlfilter_decisions_total",
                 frozenset({("category", escaped), ("action", action)})) in samples), samples


def check_url(srv, url, *extra):
    p = subprocess.run([srv.binary, "--check-url", url, "-c", srv.conf] + list(extra),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_check_url_names_the_list_line(uf):
    rc, out, _ = check_url(uf, "http://www.EVIL.test/x")
    assert rc == 1
    first = out.splitlines()[0]
    assert first.startswith("block malware ") and "malware/domains:2" in first, out
    rc, out, _ = check_url(uf, "http://files.test/payload.exe")
    assert rc == 1 and "malware/urls:2" in out
    rc, out, _ = check_url(uf, "http://fine.test/")
    assert rc == 0 and out.startswith("allow ("), out
    rc, out, _ = check_url(uf, "http://games.test/", "--client", "10.1.0.9")
    assert rc == 0 and "teachers" in out, out
    rc, out, _ = check_url(uf, "http://games.test/", "--user", "alice")
    assert rc == 0
    rc, out, _ = check_url(uf, "evil.test:443")
    assert rc == 1
    rc, out, _ = check_url(uf, "http://[::ffff:c000:242]/")
    assert rc == 1 and out.startswith("block malware ") and "malware/domains:6" in out, out
    rc, out, _ = check_url(uf, "[::ffff:192.0.2.66]:443")
    assert rc == 1 and "malware/domains:6" in out, out


@pytest.mark.parametrize("url", ["http://", "http://1.2.3.256/", "http://x%2F.y/",
                                 "http://evil.test:99999/", "[::1:443"])
def test_check_url_reports_urls_it_cannot_read_as_errors(uf, url):
    # The server would judge these by the policy's default alone: "allow"
    # here would tell the administrator the wrong thing.
    rc, out, _ = check_url(uf, url)
    assert rc == 2, (url, rc, out)
    assert out.startswith("error: ") and "allow" not in out and "block" not in out, out


def test_check_url_default_block_keeps_the_first_two_words(tmp_path, icapd_bin):
    lists = make_lists(str(tmp_path))
    policy = tmp_path / "p.policy"
    policy.write_text("policy everyone {\n  allow school;\n  block malware;\n"
                      "  default block;\n}\n")
    conf = tmp_path / "icapd.conf"
    conf.write_text("listen 127.0.0.1:1;\nmodule urlfilter { lists %s; policy %s; }\n"
                    "service /reqmod { methods REQMOD; chain urlfilter; }\n" % (lists, policy))

    def run(url):
        p = subprocess.run([icapd_bin, "--check-url", url, "-c", str(conf)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        return p.returncode, p.stdout.decode().splitlines()[0]

    rc, first = run("http://unlisted.test/")
    assert rc == 1
    assert first == "block - (default of policy everyone, %s:4)" % policy, first
    assert first.split()[:2] == ["block", "-"]
    rc, first = run("http://evil.test/")
    assert rc == 1 and first.split()[:2] == ["block", "malware"], first
    assert first.split()[2] == os.path.join(lists, "malware", "domains") + ":2", first
    rc, first = run("http://edu.games.test/")
    assert rc == 0 and first.startswith("allow (%s:1 " % os.path.join(lists, "school", "domains")), first


def test_check_config_reports_bad_lines_and_policy_errors(tmp_path, icapd_bin):
    lists = make_lists(str(tmp_path))
    with open(os.path.join(lists, "games", "domains"), "a") as f:
        f.write("exa mple.test\n")
    policy = tmp_path / "p.policy"
    policy.write_text("policy x {\n  block nosuchcategory;\n}\n")
    conf = tmp_path / "icapd.conf"
    conf.write_text("listen 127.0.0.1:1;\nmodule urlfilter { lists %s; policy %s; }\n"
                    "service /reqmod { methods REQMOD; chain urlfilter; }\n" % (lists, policy))
    p = subprocess.run([icapd_bin, "-t", "-c", str(conf)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    out = p.stdout.decode()
    assert p.returncode != 0
    assert "games/domains:2" in out, out
    assert "p.policy:2" in out and "nosuchcategory" in out, out


# ---------------------------------------------------------------- through Squid


@pytest.fixture(scope="module")
def squid_uf(uf):
    yield from running_squid(uf.host, uf.port, respmod="echo",
                             extra=["icap_send_client_ip on"])


def get(squid, url, tmp_path, extra=(), name="out"):
    out = os.path.join(str(tmp_path), name)
    code, headers, err = curl(squid.port, url, out, extra, timeout=30)
    body = open(out, "rb").read() if os.path.exists(out) else b""
    return code, body, err


def test_squid_blocks_for_pupils_and_passes_for_teachers(squid_uf, origin, tmp_path):
    url = origin.url("/evil/page")  # 127.0.0.1/evil/ is listed as malware
    code, body, _ = get(squid_uf, url, tmp_path)
    assert code == 403 and b"malware" in body
    # games.test is blocked for everyone but the teachers' addresses.
    code, body, _ = get(squid_uf, "http://games.test/", tmp_path)
    assert code == 403 and b"games" in body
    code, body, err = get(squid_uf, "http://games.test/", tmp_path,
                          extra=["--interface", "127.0.0.2"])
    # Allowed: Squid then tries the origin, which does not resolve.
    assert code != 403, (code, body[:300], err)


def test_squid_refuses_https_connect_to_a_listed_host(squid_uf, tmp_path):
    code, body, err = get(squid_uf, "https://evil.test/", tmp_path)
    assert code == 403 or "403" in err, (code, err)


def test_edited_list_takes_effect_after_sighup_without_failures(squid_uf, uf, origin, tmp_path):
    url = origin.url("/size/100")
    host_line = "127.0.0.1/size/"
    urls = None
    for line in open(uf.conf):
        if "module urlfilter" in line:
            urls = os.path.join(line.split("lists ")[1].split(";")[0].strip(), "games", "urls")
    assert urls
    codes, stop = [], threading.Event()

    def loop():
        i = 0
        while not stop.is_set() and i < 400:
            code, _, _ = get(squid_uf, url, tmp_path, name="o%d" % (i % 4))
            codes.append(code)
            i += 1

    t = threading.Thread(target=loop)
    t.start()
    try:
        time.sleep(1.0)
        with open(urls, "w") as f:
            f.write(host_line + "\n")
        uf.signal(__import__("signal").SIGHUP)
        assert poll(lambda: len(codes) > 0 and codes[-1] == 403, timeout=15)
        time.sleep(0.5)
    finally:
        stop.set()
        t.join(60)
        os.unlink(urls)
        uf.signal(__import__("signal").SIGHUP)
    assert set(codes) <= {200, 403}, codes
    first_block = codes.index(403)
    assert all(c == 403 for c in codes[first_block:]), codes
    assert first_block > 0


def test_check_config_warns_when_the_policy_needs_client_headers(tmp_path, icapd_bin):
    lists = make_lists(str(tmp_path))
    policy = tmp_path / "p.policy"
    policy.write_text(POLICY)
    conf = tmp_path / "icapd.conf"
    conf.write_text("listen 127.0.0.1:1;\nmodule urlfilter { lists %s; policy %s; }\n"
                    "service /reqmod { methods REQMOD; chain urlfilter; }\n" % (lists, policy))
    p = subprocess.run([icapd_bin, "-t", "-c", str(conf)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    out = p.stdout.decode()
    assert p.returncode == 0, out
    assert "icap_send_client_ip on" in out and "icap_send_client_username on" in out, out
    policy.write_text("policy everyone { block malware; default allow; }\n")
    p = subprocess.run([icapd_bin, "-t", "-c", str(conf)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    assert p.returncode == 0 and "icap_send_client" not in p.stdout.decode()
