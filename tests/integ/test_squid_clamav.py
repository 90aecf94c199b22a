"""Virus scanning through Squid 5.7 with its default ICAP settings.

curl -> Squid -> origin, with Squid sending every response to /respmod and
every request to /reqmod, both running the clamav module on the bundled
signatures. Squid 5.7 offers Allow: 204 only for bodies it can buffer (up to
64 KiB) and, for larger ones, stops reading from the origin after about 64
KiB until the ICAP reply carries body bytes; icapd then passes the body on
behind a withheld tail (early_hold) and cuts the reply if the verdict is bad.

Checked: clean objects of 64 KiB, 1 MiB and 20 MiB arrive byte-identical and
promptly; EICAR at the start or the end of objects larger than 64 KiB never
arrives complete; small infected objects, every clamav-testfiles sample, and
EICAR served chunked, gzip-encoded or inside a zip get the 403 block page;
an infected multipart upload is refused through REQMOD. Samples larger
than 64 KiB get no Allow: 204 from Squid 5.7, so their reply starts before
the verdict; they must never arrive whole.
"""

import os
import time

import pytest

from conftest import (EICAR, TESTFILES_DIR, curl, icapd_has_module, pseudo_random, running_squid,
                      with_eicar)
import icap_client as ic  # noqa: F401


pytestmark = pytest.mark.skipif(not icapd_has_module("clamav"),
                                reason="icapd built --without-clamav")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVICES = """
module clamav { signatures %s; }
service /respmod { methods RESPMOD; chain clamav; preview 1024; }
service /reqmod { methods REQMOD; chain clamav; preview 1024; }
""" % os.path.join(ROOT, "conf", "signatures")


@pytest.fixture(scope="module")
def av(module_icapd_factory):
    return module_icapd_factory(services=SERVICES)


@pytest.fixture(scope="module")
def squid_av(av):
    yield from running_squid(av.host, av.port)


def get(squid, url, tmp_path, name="out", extra=(), timeout=60):
    out = os.path.join(str(tmp_path), name)
    t0 = time.monotonic()
    code, headers, err = curl(squid.port, url, out, extra, timeout=timeout)
    body = open(out, "rb").read() if os.path.exists(out) else b""
    return code, headers, body, time.monotonic() - t0


@pytest.mark.parametrize("size", [64 * 1024, 1024 * 1024, 20 * 1024 * 1024])
def test_clean_objects_arrive_whole_and_promptly(squid_av, origin, tmp_path, size):
    code, _, body, took = get(squid_av, origin.url("/size/%d" % size), tmp_path)
    assert code == 200
    assert body == pseudo_random(size)
    assert took < 20, "took %.1f s" % took


@pytest.mark.parametrize("where", ["start", "end"])
@pytest.mark.parametrize("size", [200 * 1024, 4 * 1024 * 1024])
def test_large_infected_objects_never_arrive_complete(squid_av, origin, tmp_path, where, size):
    code, _, body, took = get(squid_av, origin.url("/eicar/%s/%d" % (where, size)), tmp_path,
                              timeout=30)
    assert body != with_eicar(size, where), "an infected object arrived whole"
    assert len(body) < size or code == 403
    assert took < 25


@pytest.mark.parametrize("variant", ["", ".chunked", ".gz", ".zip"])
def test_small_infected_objects_get_the_block_page(squid_av, av, origin, tmp_path, variant):
    code, headers, body, _ = get(squid_av, origin.url("/eicar/middle/5000%s" % variant),
                                 tmp_path)
    assert code == 403, (code, headers)
    assert b"icapd.Test.EICAR" in body and EICAR not in body


def test_every_clamav_testfile_is_blocked(squid_av, origin, tmp_path):
    if not os.path.isdir(TESTFILES_DIR):
        pytest.fail("%s missing: apt-get install clamav-testfiles" % TESTFILES_DIR)
    missed = []
    for name in sorted(os.listdir(TESTFILES_DIR)):
        with open(os.path.join(TESTFILES_DIR, name), "rb") as f:
            original = f.read()
        code, _, body, _ = get(squid_av, origin.url("/testfile/" + name), tmp_path, name)
        if len(original) < 64 * 1024:
            # Squid offered Allow: 204, so the reply waited for the verdict.
            if code != 403 or b"Virus found" not in body:
                missed.append((name, code))
        elif body == original:
            # Larger: the reply started early and must have been cut.
            missed.append((name, code))
    assert not missed


def test_infected_upload_is_refused(squid_av, origin, tmp_path):
    f = os.path.join(str(tmp_path), "upload.com")
    with open(f, "wb") as fh:
        fh.write(b"some text before\n" + EICAR + b"\nand after\n")
    code, _, body, _ = get(squid_av, origin.url("/upload"), tmp_path, "reply",
                           extra=("-F", "file=@%s" % f))
    assert code == 403 and b"Virus found" in body
    clean = os.path.join(str(tmp_path), "clean.bin")
    with open(clean, "wb") as fh:
        fh.write(pseudo_random(300000))
    code, _, body, _ = get(squid_av, origin.url("/upload"), tmp_path, "reply2",
                           extra=("-F", "file=@%s" % clean))
    assert code == 200


def test_every_clamav_testfile_uploaded_as_a_form_is_refused(squid_av, origin, tmp_path):
    """Each sample as a multipart/form-data upload through REQMOD: the file
    part is scanned as it was sent, so hash signatures match too. Small
    uploads get the block page; larger ones (no Allow: 204 from Squid) are
    cut, and the origin must never receive the whole file."""
    import hashlib
    if not os.path.isdir(TESTFILES_DIR):
        pytest.fail("%s missing: apt-get install clamav-testfiles" % TESTFILES_DIR)
    missed = []
    for name in sorted(os.listdir(TESTFILES_DIR)):
        path = os.path.join(TESTFILES_DIR, name)
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        code, _, body, _ = get(squid_av, origin.url("/upload"), tmp_path, name,
                               extra=("-F", "file=@%s;type=application/octet-stream" % path))
        if digest in origin.httpd.uploads:
            missed.append((name, "reached the origin"))
        elif os.path.getsize(path) < 60 * 1024 and (code != 403 or b"Virus found" not in body):
            missed.append((name, code))
    assert not missed
