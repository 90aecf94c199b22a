"""The admin listener: GET /healthz and GET /metrics (Prometheus text format).

Counters are checked on an icapd of this module's own, so that they move by
exactly what the test did: icapd_requests_total{method,status},
icapd_connections (a gauge), icapd_request_duration_seconds (a histogram
whose buckets are cumulative), icapd_bytes_received_total and
icapd_bytes_sent_total. The exposition must parse line by line.
"""

import http.client
import re
import socket

import icap_client as ic
from promtext import metric, parse_metrics
from procs import poll


def host(srv):
    return "Host: " + srv.hostport


def respmod(srv, body=b"x" * 100, allow204=True):
    return ic.build("RESPMOD", srv.uri("echo"), [host(srv)] + (["Allow: 204"] if allow204 else []),
                    res_hdr=ic.http_response_head(length=len(body)), body=body)


def test_healthz(module_icapd):
    status, headers, body = module_icapd.admin_get("/healthz")
    assert status == 200, (status, body)


def test_metrics_format(module_icapd):
    status, headers, body = module_icapd.admin_get("/metrics")
    assert status == 200
    assert headers.get("content-type", "").startswith("text/plain"), headers
    samples = parse_metrics(body)  # raises on a malformed line
    typed = set(re.findall(r"^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$", body, re.M))
    names = {n for n, _ in typed}
    for want in ("icapd_requests_total", "icapd_connections", "icapd_request_duration_seconds",
                 "icapd_bytes_received_total", "icapd_bytes_sent_total"):
        assert want in names, "no # TYPE line for %s" % want
    assert ("icapd_request_duration_seconds", "histogram") in typed
    assert ("icapd_connections", "gauge") in typed
    for n, _ in samples:
        base = re.sub(r"_(bucket|sum|count)$", "", n)
        assert n in names or base in names, "sample %s has no # TYPE" % n
    assert body.endswith("\n")


def test_requests_counter_increases_exactly(module_icapd):
    srv = module_icapd
    before = srv.metrics()
    with srv.conn() as c:
        for _ in range(3):
            assert c.transact(respmod(srv)).status == 204
        assert c.transact(respmod(srv, allow204=False)).status == 200
        assert c.transact(ic.build("OPTIONS", srv.uri("nope"), [host(srv)])).status == 404
    after = srv.metrics()

    def delta(**labels):
        return metric(after, "icapd_requests_total", **labels) - metric(before, "icapd_requests_total", **labels)

    assert delta(method="RESPMOD", status="204") == 3
    assert delta(method="RESPMOD", status="200") == 1
    assert delta(status="404") == 1
    assert delta() == 5


def test_reqmod_counted(module_icapd):
    srv = module_icapd
    before = metric(srv.metrics(), "icapd_requests_total", method="REQMOD", status="204")
    r = ic.request(srv.host, srv.port, ic.build(
        "REQMOD", srv.uri("reqmod"), [host(srv), "Allow: 204"], req_hdr=ic.http_request_head()))
    assert r.status == 204
    after = metric(srv.metrics(), "icapd_requests_total", method="REQMOD", status="204")
    assert after - before == 1


def test_connections_gauge(module_icapd):
    srv = module_icapd
    base = metric(srv.metrics(), "icapd_connections")
    conns = [srv.conn() for _ in range(5)]
    try:
        for c in conns:  # make sure each one was accepted and served
            assert c.transact(ic.build("OPTIONS", srv.uri("echo"), [host(srv)])).status == 200
        poll(lambda: metric(srv.metrics(), "icapd_connections") >= base + 5, 5,
             what="icapd_connections to reach %d" % (base + 5))
    finally:
        for c in conns:
            c.close()
    poll(lambda: metric(srv.metrics(), "icapd_connections") <= base, 5,
         what="icapd_connections to drop back to %d" % base)


def test_duration_histogram(module_icapd):
    srv = module_icapd
    before = srv.metrics()
    for _ in range(4):
        assert ic.request(srv.host, srv.port, respmod(srv)).status == 204
    after = srv.metrics()
    buckets = sorted(((float(dict(ls)["le"]), v) for (n, ls), v in after.items()
                      if n == "icapd_request_duration_seconds_bucket"), key=lambda x: x[0])
    assert buckets, "no histogram buckets"
    values = [v for _, v in buckets]
    assert values == sorted(values), "buckets are not cumulative: %r" % buckets
    assert buckets[-1][0] == float("inf")
    count = metric(after, "icapd_request_duration_seconds_count")
    assert buckets[-1][1] == count
    assert count - metric(before, "icapd_request_duration_seconds_count") == 4
    assert metric(after, "icapd_request_duration_seconds_sum") >= \
        metric(before, "icapd_request_duration_seconds_sum")


def test_bytes_counters(module_icapd):
    srv = module_icapd
    before = srv.metrics()
    body = b"b" * 50000
    msg = respmod(srv, body, allow204=False)
    with srv.conn() as c:
        r = c.transact(msg)
        assert r.status == 200 and r.body == body
        got = len(r.raw)
    after = srv.metrics()
    rx = metric(after, "icapd_bytes_received_total") - metric(before, "icapd_bytes_received_total")
    tx = metric(after, "icapd_bytes_sent_total") - metric(before, "icapd_bytes_sent_total")
    assert rx >= len(msg), (rx, len(msg))
    assert tx >= got, (tx, got)
    assert rx < len(msg) + 10000 and tx < got + 10000, "counted far more than was sent: %r" % ((rx, tx),)


def test_admin_unknown_path_404(module_icapd):
    status, _, _ = module_icapd.admin_get("/no-such-page")
    assert status == 404


def test_admin_not_on_icap_port(module_icapd):
    """The ICAP listener does not serve /metrics."""
    srv = module_icapd
    with socket.create_connection((srv.host, srv.port), timeout=5) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(5)
        data = b""
        for _ in range(100):
            try:
                d = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not d:
                break
            data += d
    assert b"icapd_requests_total" not in data
    assert not data.startswith(b"HTTP/1.1 200"), data[:200]


def test_admin_keepalive_and_http10(module_icapd):
    srv = module_icapd
    c = http.client.HTTPConnection(srv.host, srv.admin_port, timeout=5)
    try:
        for _ in range(3):
            c.request("GET", "/healthz")
            r = c.getresponse()
            r.read()
            assert r.status == 200
    finally:
        c.close()
    with socket.create_connection((srv.host, srv.admin_port), timeout=5) as s:
        s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
        data = b""
        for _ in range(100):
            d = s.recv(65536)
            if not d:
                break
            data += d
    assert data.startswith(b"HTTP/1."), data[:100]
    assert b" 200 " in data.split(b"\r\n", 1)[0]
