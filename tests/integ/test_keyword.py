"""Keyword filtering that understands Japanese text (issue: content keyword
filtering).

A corpus generated here: the confidential phrases in every variant the
normalizer must bring together (ヒミツ, ひみつ, ひミツ, ﾋﾐﾂ, full-width
Latin, upper case), in UTF-8, Shift_JIS (CP932), EUC-JP and ISO-2022-JP,
plain, gzip and br encoded, hidden behind character references and
zero-width spaces, placed across the module's read blocks, in a page, a form
post and a multipart upload; and ordinary English and Japanese pages that
must pass. Through Squid: a form post with a confidential phrase is refused,
a normal one passes.
"""

import gzip
import os
import urllib.parse

import pytest

import icap_client as ic
from conftest import curl, icapd_has_module, running_squid

try:
    import brotli
except ImportError:  # python3-brotli
    brotli = None

pytestmark = pytest.mark.skipif(not icapd_has_module("keyword"),
                                reason="icapd built without the keyword module")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RULES = os.path.join(ROOT, "conf", "keywords.rules")

SERVICES = """
module keyword { rules %s; max_decoded_size 8m; }
service /respmod { methods RESPMOD; chain keyword; keyword_categories confidential; }
service /reqmod { methods REQMOD; chain keyword; keyword_categories confidential; preview 1024; }
service /echo { methods REQMOD RESPMOD; chain; }
""" % RULES

# Text around the phrase: ordinary Japanese and English.
BEFORE = "本日の会議の資料をお送りします。The meeting notes follow. "
AFTER = " よろしくお願いいたします。Best regards."

VARIANTS = [
    "秘密", "ひみつ", "ヒミツ", "ひミツ", "ﾋﾐﾂ", "社外秘", "CONFIDENTIAL", "Confidential",
    "ｃｏｎｆｉｄｅｎｔｉａｌ", "ＣＯＮＦＩＤＥＮＴＩＡＬ",
    "ひ\u200bみ\u200bつ", "秘\u2060密", "con\u00adfidential", "ヒ\ufeffミツ",
]

CHARSETS = ["utf-8", "shift_jis", "euc-jp", "iso-2022-jp"]


def encodable(text, charset):
    try:
        text.encode(charset)
        return True
    except UnicodeEncodeError:
        return False


def page(phrase, charset="utf-8", label=True, meta=False):
    body = "<html><head>%s<title>資料</title></head><body><p>%s%s%s</p></body></html>" % (
        '<meta charset="%s">' % charset if meta else "", BEFORE, phrase, AFTER)
    return body.encode(charset), ("text/html; charset=%s" % charset) if label else "text/html"


def respmod(srv, body, ctype, encoding=None, service="respmod", chunk_size=None):
    extra = ["Content-Type: " + ctype]
    if encoding:
        extra.append("Content-Encoding: " + encoding)
    res = ("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n\r\n"
           % (len(body), "\r\n".join(extra))).encode()
    req = ic.http_request_head(url="http://news.test/a", host="news.test")
    return ic.request(srv.host, srv.port,
                      ic.build("RESPMOD", srv.uri(service), ["Host: " + srv.hostport, "Allow: 204"],
                               req_hdr=req, res_hdr=res, body=body, chunk_size=chunk_size))


def reqmod(srv, body, ctype, url="http://upload.test/form"):
    head = ("POST %s HTTP/1.1\r\nHost: upload.test\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
            % (url, ctype, len(body))).encode()
    return ic.request(srv.host, srv.port,
                      ic.build("REQMOD", srv.uri("reqmod"), ["Host: " + srv.hostport, "Allow: 204"],
                               req_hdr=head, body=body))


def blocked(r):
    return r.status == 200 and r.blocks.get("res-hdr", b"").startswith(b"HTTP/1.1 403")


@pytest.fixture(scope="module")
def kw(module_icapd_factory):
    return module_icapd_factory(services=SERVICES)


def encodings():
    yield None, lambda b: b
    yield "gzip", lambda b: gzip.compress(b)
    if brotli is not None:
        yield "br", lambda b: brotli.compress(b)


@pytest.mark.parametrize("charset", CHARSETS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_in_every_charset_and_encoding_is_blocked(kw, variant, charset):
    if not encodable(variant, charset):
        pytest.skip("%r has no %s form" % (variant, charset))
    for label, meta in ((True, False), (False, True), (False, False)):
        body, ctype = page(variant, charset, label=label, meta=meta)
        for name, enc in encodings():
            r = respmod(kw, enc(body), ctype, encoding=name)
            assert blocked(r), (variant, charset, label, meta, name, r.status)
            assert r.header("X-Violations-Found") is not None


def test_brotli_is_tested():
    assert brotli is not None, "python3-brotli is missing: br bodies are not tested"


@pytest.mark.parametrize("form", ["&#31192;&#23494;", "&#x79D8;&#x5BC6;", "秘<b>密</b>",
                                  "ひ<!-- x -->みつ", "&#12498;&#12511;&#12484;",
                                  "con<span>fid</span>ential"])
def test_phrases_hidden_behind_markup_are_found(kw, form):
    body, ctype = page(form)
    assert blocked(respmod(kw, body, ctype))


def test_ordinary_pages_pass(kw):
    for text in ["明日の天気は晴れです。公園で散歩をしましょう。",
                 "The weather is fine; a walk in the park sounds good.",
                 "秘書の方に密に連絡します。",  # 秘 and 密 apart are not the phrase
                 "ひみ つ"]:  # a space in the middle: a different text
        for charset in CHARSETS:
            if not encodable(text, charset):
                continue
            body, ctype = page(text, charset)
            r = respmod(kw, body, ctype)
            assert r.status == 204, (text, charset, r.status, r.body[:200])


@pytest.mark.parametrize("shift", range(0, 9))
def test_phrase_across_read_blocks_and_chunks(kw, shift):
    # The module reads the body in 64 KiB blocks; ICAP chunks are 4 KiB here.
    phrase = "社外秘".encode("utf-8")  # 9 bytes
    filler = b"a " * 40000
    pad = 65536 - shift - 20
    body = b"<p>" + filler[:pad] + b" " * 17 + phrase + b" " + filler[:1000] + b"</p>"
    r = respmod(kw, body, "text/html; charset=utf-8", chunk_size=4093)
    assert blocked(r), shift


def test_form_posts(kw):
    for charset in ("utf-8", "shift_jis", "euc-jp"):
        data = urllib.parse.urlencode({"subject": "報告", "text": BEFORE + "社外秘" + AFTER},
                                      encoding=charset).encode()
        assert blocked(reqmod(kw, data, "application/x-www-form-urlencoded")), charset
    data = urllib.parse.urlencode({"subject": "報告", "text": BEFORE + AFTER}).encode()
    assert reqmod(kw, data, "application/x-www-form-urlencoded").status == 204


def multipart(parts, boundary="----icapdtestboundary"):
    out = b""
    for name, filename, ctype, data in parts:
        out += b"--" + boundary.encode() + b"\r\n"
        disp = 'form-data; name="%s"' % name
        if filename:
            disp += '; filename="%s"' % filename
        out += ("Content-Disposition: %s\r\n" % disp).encode()
        if ctype:
            out += ("Content-Type: %s\r\n" % ctype).encode()
        out += b"\r\n" + data + b"\r\n"
    out += b"--" + boundary.encode() + b"--\r\n"
    return out, "multipart/form-data; boundary=" + boundary


def test_multipart_uploads(kw):
    doc = ("議事録\n" + BEFORE + "部外秘" + AFTER).encode("shift_jis")
    body, ctype = multipart([("title", None, None, "報告書".encode()),
                             ("file", "minutes.txt", "text/plain; charset=shift_jis", doc)])
    assert blocked(reqmod(kw, body, ctype))
    body, ctype = multipart([("title", None, None, "社外秘".encode()),
                             ("file", "a.bin", "application/octet-stream", os.urandom(3000))])
    assert blocked(reqmod(kw, body, ctype))
    body, ctype = multipart([("title", None, None, "報告書".encode()),
                             ("file", "a.txt", "text/plain", (BEFORE + AFTER).encode())])
    assert reqmod(kw, body, ctype).status == 204


def test_decompression_bomb_is_stopped_not_followed(kw):
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
    r = respmod(kw, bomb, "text/html", encoding="gzip")
    # on_scan_error block: the page cannot be judged whole.
    assert blocked(r)
    assert b"Could not be checked" in r.body or b"not be checked" in r.body


def test_corrupt_gzip_is_a_scan_error(kw):
    body = gzip.compress(("<p>" + BEFORE * 50 + "</p>").encode())
    r = respmod(kw, body[:len(body) // 2] + b"garbage", "text/html", encoding="gzip")
    assert blocked(r)


def test_any_text_content_type_is_scored(kw):
    # Two Content-Type fields: a browser may go by either; icapd scores the text.
    body, _ = page("社外秘")
    res = ("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
           "Content-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n\r\n"
           % len(body)).encode()
    req = ic.http_request_head(url="http://news.test/a", host="news.test")
    r = ic.request(kw.host, kw.port,
                   ic.build("RESPMOD", kw.uri("respmod"), ["Host: " + kw.hostport, "Allow: 204"],
                            req_hdr=req, res_hdr=res, body=body))
    assert blocked(r)
    res = ("HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: %d\r\n\r\n"
           % len(body)).encode()
    r = ic.request(kw.host, kw.port,
                   ic.build("RESPMOD", kw.uri("respmod"), ["Host: " + kw.hostport, "Allow: 204"],
                            req_hdr=req, res_hdr=res, body=body))
    assert r.status == 204


def test_block_page_names_the_category_not_the_words(kw):
    body, ctype = page("社外秘")
    r = respmod(kw, body, ctype)
    assert blocked(r)
    assert "confidential" in r.body.decode("utf-8", "replace")
    assert "社外秘" not in r.body.decode("utf-8", "replace")


def test_matched_rules_are_logged_only_when_asked(icapd_factory):
    for on in (False, True):
        srv = icapd_factory(services=SERVICES, directives={"log_matches": "on" if on else "off"})
        body, ctype = page("社外秘")
        assert blocked(respmod(srv, body, ctype))
        srv.stop()
        log = open(srv.access_log, encoding="utf-8", errors="replace").read()
        assert ("match=" in log) == on, log
        assert "reason=confidential" in log


def test_scan_cli_runs_the_keyword_module(tmp_path, kw):
    import subprocess
    f = tmp_path / "memo.txt"
    f.write_bytes(("メモ: " + "ヒミツ" + "です").encode("euc-jp"))
    p = subprocess.run([kw.binary, "--scan", str(f), "-c", kw.conf, "--service", "/reqmod",
                        "--header", "Content-Type: text/plain"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert p.returncode == 1 and p.stdout.decode().startswith("block keyword confidential"), p.stdout


# ---------------------------------------------------------------- through Squid


@pytest.fixture(scope="module")
def squid_kw(kw):
    yield from running_squid(kw.host, kw.port, respmod="echo")


def test_squid_refuses_a_confidential_form_post(squid_kw, origin, tmp_path):
    out = str(tmp_path / "o")
    code, _, err = curl(squid_kw.port, origin.url("/upload"), out,
                        ["--data-urlencode", "memo=" + BEFORE + "社外秘" + AFTER])
    assert code == 403, err
    assert b"confidential" in open(out, "rb").read()
    code, _, err = curl(squid_kw.port, origin.url("/upload"), out,
                        ["--data-urlencode", "memo=" + BEFORE + AFTER])
    assert code == 200, err


def test_check_config_reports_rule_errors_and_unknown_categories(tmp_path, icapd_bin):
    import subprocess
    rules = tmp_path / "k.rules"
    rules.write_text("category c {\n  threshold 1;\n  phrase \"\" 1;\n  weight x;\n}\n")
    conf = tmp_path / "icapd.conf"
    conf.write_text("listen 127.0.0.1:1;\nmodule keyword { rules %s; }\n"
                    "service /reqmod { methods REQMOD; chain keyword; }\n" % rules)
    p = subprocess.run([icapd_bin, "-t", "-c", str(conf)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    out = p.stdout.decode()
    assert p.returncode != 0 and "k.rules:3" in out and "k.rules:4" in out, out
    rules.write_text("category c { threshold 1; phrase x 1; }\n")
    conf.write_text("listen 127.0.0.1:1;\nmodule keyword { rules %s; }\n"
                    "service /reqmod { methods REQMOD; chain keyword;\n"
                    "  keyword_categories c nosuch; }\n" % rules)
    p = subprocess.run([icapd_bin, "-t", "-c", str(conf)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    out = p.stdout.decode()
    assert p.returncode != 0 and "nosuch" in out and "icapd.conf:3" in out, out
