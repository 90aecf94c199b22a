"""Hostile values in block pages and ICAP headers (the squidclamav XSS).

A request URL carrying markup, quotes and encoded CR LF reaches the block
page of an infected download and of a URL-filter block: it must come out
escaped in the HTML and in the HTTP head, and no ICAP or HTTP header may
be split or added. The whole
reply is read back raw and checked byte by byte.
"""

import os

import pytest

import icap_client as ic
from conftest import EICAR, icapd_has_module

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# No spaces: a request line cannot carry them.
HOSTILE_PATH = ('/x"><script>alert(1)</script><img/src=x/onerror=alert(2)>'
                "%0d%0aX-Injected:%20yes%0d%0a%0d%0a<b>?q='\"<svg/onload=alert(3)>")
MARKUP = [b"<script>", b"<img/src", b"<svg/onload"]
SPLIT = [b"\r\nX-Injected", b"\nX-Injected"]


def services():
    s = ""
    if icapd_has_module("clamav"):
        s += "module clamav { signatures %s; }\n" % os.path.join(ROOT, "conf", "signatures")
        s += "service /respmod { methods RESPMOD; chain clamav; }\n"
    s += ("module urlfilter { lists %s; policy %s; }\n"
          % (os.path.join(ROOT, "conf", "lists"), os.path.join(ROOT, "conf", "urlfilter.policy")))
    s += "service /reqmod { methods REQMOD; chain urlfilter; }\n"
    return s


@pytest.fixture(scope="module")
def srv(module_icapd_factory):
    return module_icapd_factory(services=services())


def blocked_host():
    """A host of the bundled malware list."""
    with open(os.path.join(ROOT, "conf", "lists", "malware", "domains")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                return line
    pytest.skip("no domain in conf/lists/malware/domains")


def check_reply(r):
    page, head = r.body, r.blocks.get("res-hdr", b"")
    assert head.startswith(b"HTTP/1.1 403"), head[:100]
    for m in MARKUP + SPLIT:
        assert m not in page, (m, page[:2000])
        assert m not in head, (m, head)
    # ICAP header values (X-Violations-Found names the URL) are not HTML,
    # but must not be split.
    for m in SPLIT:
        assert m not in r.head, (m, r.head)
    # The markup is there, escaped: the page names the URL, harmlessly.
    assert b"&lt;script&gt;" in page, page[:3000]
    assert "x-injected" not in [k.lower() for k, _ in r.headers]
    assert b"\r\nX-Injected" not in r.raw


@pytest.mark.skipif(not icapd_has_module("clamav"), reason="icapd built --without-clamav")
def test_infected_download_page_escapes_the_url(srv):
    req = ic.http_request_head(url="http://evil.test" + HOSTILE_PATH, host="evil.test")
    body = b"x" * 100 + EICAR
    msg = ic.build("RESPMOD", srv.uri("respmod"), ["Host: " + srv.hostport, "Allow: 204"],
                   req_hdr=req, res_hdr=ic.http_response_head(length=len(body)), body=body)
    check_reply(ic.request(srv.host, srv.port, msg))


def test_url_filter_page_escapes_the_url(srv):
    host = blocked_host()
    req = ic.http_request_head(url="http://%s%s" % (host, HOSTILE_PATH), host=host)
    msg = ic.build("REQMOD", srv.uri("reqmod"), ["Host: " + srv.hostport, "Allow: 204"],
                   req_hdr=req)
    check_reply(ic.request(srv.host, srv.port, msg))
