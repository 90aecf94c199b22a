"""The shared verdict tier: two icapd servers and one Redis.

An object scanned through the first server is answered from Redis by the
second (no scan there); entries are signed, so both servers need the same
secret; Redis going away costs nothing but the sharing: transactions keep
being answered promptly and /metrics says Redis is down.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

import icap_client as ic
from conftest import icapd_has_module, pseudo_random
from procs import Proc, free_port, poll
from promtext import metric

pytestmark = pytest.mark.skipif(not icapd_has_module("clamav"),
                                reason="icapd built --without-clamav")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIGS = os.path.join(ROOT, "conf", "signatures")
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"


@pytest.fixture
def redis(tmp_path):
    if not os.path.exists(REDIS):
        pytest.fail("redis-server not found: apt-get install redis-server")
    port = free_port()
    d = tempfile.mkdtemp(prefix="icapd-redis-")
    p = Proc([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
              "no", "--dir", d], os.path.join(d, "redis.out"), cwd=d, name="redis")
    p.wait_port(port, 10)
    yield p, port
    p.stop(signal.SIGTERM, 5)
    shutil.rmtree(d, ignore_errors=True)


def dbsize(port):
    out = subprocess.run([REDIS_CLI, "-p", str(port), "DBSIZE"], stdout=subprocess.PIPE,
                         timeout=5).stdout
    return int(out.strip() or 0)


def server(icapd_factory, tmp_path, port, name):
    key = tmp_path / "redis.key"
    if not key.exists():
        key.write_bytes(os.urandom(32))
    return icapd_factory(services="""
module clamav { signatures %s; }
service /respmod { methods RESPMOD; chain clamav; }
""" % SIGS, extra="cache { memory 16m; redis 127.0.0.1:%d; redis_secret_file %s; }\n" % (
        port, key))


def respmod(srv, body):
    res = ic.http_response_head(length=len(body))
    return ic.build("RESPMOD", srv.uri("respmod"), ["Host: " + srv.hostport, "Allow: 204"],
                    req_hdr=ic.http_request_head(), res_hdr=res, body=body)


def test_second_server_answers_from_redis(icapd_factory, tmp_path, redis):
    _, port = redis
    a = server(icapd_factory, tmp_path, port, "a")
    b = server(icapd_factory, tmp_path, port, "b")
    poll(lambda: metric(a.metrics(), "icapd_cache_redis_up") == 1 and
         metric(b.metrics(), "icapd_cache_redis_up") == 1, 10, what="both servers on Redis")
    body = pseudo_random(200000, seed=11)
    assert ic.request(a.host, a.port, respmod(a, body)).status == 204
    poll(lambda: dbsize(port) >= 1, 5, what="the verdict to reach Redis")
    assert ic.request(b.host, b.port, respmod(b, body)).status == 204
    assert metric(b.metrics(), "icapd_cache_redis_hits_total") == 1
    assert metric(b.metrics(), "icapd_scans_total", module="all", outcome="clean") == 0
    assert any("cache=shared" in l for l in b.read_access_log())


def test_redis_outage_is_survived(icapd_factory, tmp_path, redis):
    proc, port = redis
    a = server(icapd_factory, tmp_path, port, "a")
    poll(lambda: metric(a.metrics(), "icapd_cache_redis_up") == 1, 10, what="Redis up")
    proc.stop(signal.SIGKILL, 5)
    for i in range(20):
        t0 = time.monotonic()
        r = ic.request(a.host, a.port, respmod(a, pseudo_random(5000, seed=100 + i)))
        assert r.status == 204
        assert time.monotonic() - t0 < 1.0
    assert metric(a.metrics(), "icapd_cache_redis_up") == 0
