"""The verdict cache (issue: verdicts keyed by content hash).

A second identical body is answered from the cache (the access log says
cache=hit and icapd_cache_hits_total moves); infected bodies are cached as
blocks too; a different service identity (ISTag) or Content-Type is a
different key; identical bodies sent at the same time are scanned once
(coalesced); new signatures make the next request a miss with the new
verdict; cache { memory 0; } turns the cache off.
"""

import os
import shutil
import threading

import pytest

import icap_client as ic
from conftest import icapd_has_module, pseudo_random, with_eicar
from procs import poll
from promtext import metric

pytestmark = pytest.mark.skipif(not icapd_has_module("clamav"),
                                reason="icapd built --without-clamav")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIGS = os.path.join(ROOT, "conf", "signatures")
REQ = ic.http_request_head(url="http://downloads.test/f", host="downloads.test")


def services(sigdir):
    return """
module clamav { signatures %s; }
service /respmod { methods RESPMOD; chain clamav; }
service /other { methods RESPMOD; chain clamav; on_scan_error allow; }
""" % sigdir


def respmod(srv, body, service="respmod", ctype="application/octet-stream"):
    res = ic.http_response_head(length=len(body), extra=("Content-Type: " + ctype,))
    return ic.build("RESPMOD", srv.uri(service), ["Host: " + srv.hostport, "Allow: 204"],
                    req_hdr=REQ, res_hdr=res, body=body)


def counts(srv):
    m = srv.metrics()
    return {k: metric(m, "icapd_cache_%s" % k) for k in
            ("hits_total", "misses_total", "coalesced_total", "entries")}


def test_repeated_bodies_hit(icapd_factory):
    srv = icapd_factory(services=services(SIGS))
    clean, bad = pseudo_random(100000, seed=1), with_eicar(100000, "middle")
    before = counts(srv)
    for _ in range(3):
        assert ic.request(srv.host, srv.port, respmod(srv, clean)).status == 204
        r = ic.request(srv.host, srv.port, respmod(srv, bad))
        assert r.status == 200 and "icapd.Test.EICAR" in (r.header("X-Infection-Found") or "")
    after = counts(srv)
    assert after["misses_total"] - before["misses_total"] == 2
    assert after["hits_total"] - before["hits_total"] == 4
    assert after["entries"] >= 2
    log = srv.read_access_log()
    assert sum("cache=hit" in l for l in log) == 4 and sum("cache=miss" in l for l in log) == 2
    # Another service (another ISTag) or another Content-Type: another key.
    ic.request(srv.host, srv.port, respmod(srv, clean, service="other"))
    ic.request(srv.host, srv.port, respmod(srv, clean, ctype="text/html"))
    assert counts(srv)["misses_total"] - after["misses_total"] == 2


def test_identical_bodies_at_once_are_scanned_once(icapd_factory):
    srv = icapd_factory(services=services(SIGS), directives={"scan_threads": "1"})
    body = pseudo_random(6 * 1024 * 1024, seed=2)
    before = counts(srv)
    results = []

    def one():
        results.append(ic.request(srv.host, srv.port, respmod(srv, body), timeout=60).status)
    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [204] * 4
    after = counts(srv)
    waited = after["coalesced_total"] - before["coalesced_total"]
    # A miss either scans or waits for the scan of the same content.
    scanned = after["misses_total"] - before["misses_total"] - waited
    hits = after["hits_total"] - before["hits_total"]
    assert scanned + waited + hits == 4 and scanned >= 1
    assert scanned < 4, "four identical bodies were scanned four times"


def test_new_signatures_miss(icapd_factory, tmp_path):
    sigdir = tmp_path / "sigs"
    shutil.copytree(SIGS, str(sigdir))
    srv = icapd_factory(services=services(str(sigdir)), directives={"watch_interval": "300ms"})
    body = b"content with marker-9c1e inside, repeated " * 100
    for _ in range(2):
        assert ic.request(srv.host, srv.port, respmod(srv, body)).status == 204
    (sigdir / "m.ndb").write_text("icapd.Test.Cached:0:*:%s\n" % b"marker-9c1e".hex())
    poll(lambda: ic.request(srv.host, srv.port, respmod(srv, body)).status == 200, 15,
         interval=0.2, what="the new signature to beat the cached verdict")


def test_cache_off(icapd_factory):
    srv = icapd_factory(services=services(SIGS), extra="cache { memory 0; }\n")
    body = pseudo_random(5000, seed=3)
    for _ in range(2):
        assert ic.request(srv.host, srv.port, respmod(srv, body)).status == 204
    assert "icapd_cache_hits_total" not in srv.admin_get("/metrics")[2]
    assert not any("cache=" in l for l in srv.read_access_log())
