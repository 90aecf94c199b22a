"""OPTIONS (RFC 3507 section 4.10): what each service advertises.

The reply must be 200 with Methods listing exactly the methods the service
accepts, Service, a quoted ISTag of at most 32 bytes, Options-TTL,
Max-Connections, Preview 1024, Transfer-Preview *, Allow 204, Date and
"Encapsulated: null-body=0"; OPTIONS must work on a keep-alive connection,
and the ISTag must be the one the service later puts on its 204s.
"""

import email.utils
import re

import icap_client as ic

DATE_RE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep"
                     r"|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$")
ISTAG_RE = re.compile(r'^"[^"]{1,32}"$')


def options(server, service, extra=()):
    return ic.request(server.host, server.port,
                      ic.build("OPTIONS", server.uri(service), ["Host: " + server.hostport] + list(extra)))


def methods(reply):
    return sorted(m.strip() for v in reply.header_all("Methods") for m in v.split(",") if m.strip())


def check_common(r):
    """The headers every OPTIONS reply must carry."""
    assert r.status == 200, r
    assert r.version == "ICAP/1.0"
    istag = r.header("ISTag")
    assert istag is not None and ISTAG_RE.match(istag), "ISTag %r: must be quoted, 1-32 bytes" % istag
    assert r.header("Service"), "no Service header: %r" % r.head
    ttl = r.header("Options-TTL")
    assert ttl is not None and ttl.isdigit() and int(ttl) > 0, "Options-TTL %r" % ttl
    date = r.header("Date")
    assert date and DATE_RE.match(date), "Date %r is not an RFC 1123 date" % date
    assert email.utils.parsedate_to_datetime(date) is not None
    enc = r.header("Encapsulated")
    assert enc is not None and enc.replace(" ", "") == "null-body=0", "Encapsulated %r" % enc


def test_options_echo(server):
    r = options(server, "echo")
    check_common(r)
    assert methods(r) == ["REQMOD", "RESPMOD"], r.header_all("Methods")
    assert r.header("Preview") == "1024"
    assert r.header("Transfer-Preview") == "*"
    assert "204" in [a.strip() for a in (r.header("Allow") or "").split(",")], r.head
    if server.kind == "icapd":
        mc = r.header("Max-Connections")
        assert mc is not None and mc.isdigit() and int(mc) > 0, "Max-Connections %r" % mc
        assert int(mc) == 256, "Max-Connections should advertise max_connections (256 here)"


def test_options_respmod_lists_only_respmod(icapd):
    r = options(icapd, "respmod")
    check_common(r)
    assert methods(r) == ["RESPMOD"], r.header_all("Methods")


def test_options_reqmod_lists_only_reqmod(icapd):
    r = options(icapd, "reqmod")
    check_common(r)
    assert methods(r) == ["REQMOD"], r.header_all("Methods")


def test_options_with_query_and_no_port(server):
    """The service is the path; a query string and a missing port are fine."""
    uri = "icap://%s/echo?mode=test" % server.host
    r = ic.request(server.host, server.port, ic.build("OPTIONS", uri, ["Host: " + server.host]))
    check_common(r)


def test_options_keepalive_and_istag_stable(server):
    with server.conn() as c:
        tags = []
        for _ in range(5):
            r = c.transact(ic.build("OPTIONS", server.uri("echo"), ["Host: " + server.hostport]))
            check_common(r)
            tags.append(r.header("ISTag"))
        assert len(set(tags)) == 1, tags


def test_options_with_encapsulated_null_body(server):
    """c-icap-client sends "Encapsulated: null-body=0" on OPTIONS; that is fine."""
    r = ic.request(server.host, server.port, ic.build(
        "OPTIONS", server.uri("echo"), ["Host: " + server.hostport], encapsulated="null-body=0"))
    check_common(r)


def test_istag_same_on_204(server):
    """The ISTag of OPTIONS is the one the service's 204 carries (RFC 3507 4.7)."""
    opt = options(server, "echo")
    hdr = ic.http_response_head(length=10)
    r = ic.request(server.host, server.port, ic.build(
        "RESPMOD", server.uri("echo"), ["Host: " + server.hostport, "Allow: 204"],
        res_hdr=hdr, body=b"0123456789", preview=1024))
    assert r.status == 204, r
    assert r.header("ISTag") == opt.header("ISTag")


def test_options_every_service_valid(icapd):
    """Each service answers OPTIONS with all the mandatory headers."""
    for svc in ("echo", "reqmod", "respmod"):
        check_common(options(icapd, svc))
