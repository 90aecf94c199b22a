/*
 * Unit tests for modules/kw_html.c, HTML to text: known documents to their
 * exact text, each fed whole, split in two at every byte and one byte at a
 * time (kw_stage_test.h). Covers inline and block tags, attributes (quotes
 * holding '>', title and alt kept), comments in all their endings, bogus
 * comments, CDATA, raw text elements and their end tags, character
 * references of every kind with their edge cases, and a sink that stops.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "kw_html.h"
#include "kw_stage_test.h"

static void *make(const void *ctx, struct kw_sink out)
{
	(void)ctx;
	return kw_html_new(out);
}

static int write_(void *st, const char *p, size_t n)
{
	return kw_html_write(st, p, n);
}

static int finish(void *st)
{
	return kw_html_finish(st);
}

static void free_(void *st)
{
	kw_html_free(st);
}

static const struct kw_stage_ops ops = {make, write_, finish, free_};

static void check(const char *in, const char *want)
{
	kw_check_str(&ops, NULL, in, want);
}

static void test_inline_and_block(void **state)
{
	(void)state;
	check("秘<b>密</b>", "秘密");
	check("秘<span class=\"x\">密</span>", "秘密");
	check("<p>a</p><p>b</p>", "a b ");
	check("a<br>b<br/>c", "a b c");
	check("<div><p>x</p></div>", "x ");
	check("<ruby>漢<rp>(</rp><rt>かん</rt><rp>)</rp></ruby>", "漢(かん)");
	check("A<FONT COLOR=red>B</FONT>C<Td>D", "ABC D");
	check("x<unknown-element>y", "x y");
	check("x<averyveryverylongtagname>y", "x y");
	check("x<wbr>y", "xy");
}

static void test_attributes(void **state)
{
	(void)state;
	check("<a href=\"x>y\" title='t>1'>link</a>", "t>1 link");
	check("<img src=a.png alt=\"秘密 &amp; x\">後", "秘密 & x 後");
	check("<img alt=unq&amp;uoted>", "unq&uoted ");
	check("<input value=\"skip>me\" title=\"keep\">", "keep ");
	check("<img title alt=\"\">z", "z");
	check("<img data-title=\"no\" TITLE=yes>", "yes ");
	check("<b\ttitle = \"spaced\" >t</b>", "spaced t");
	check("</a title=\"end tags keep nothing\">x", "x");
	check("<img alt=\"a\" / >b", "a b");
	/* In attribute values, a legacy reference before '=' or a letter
	 * is left alone, as browsers do. */
	check("<img alt=\"&copy=x &copyx &copy;&copy &amp\">", "&copy=x &copyx ©© & ");
}

static void test_comments(void **state)
{
	(void)state;
	check("a<!-- x > <b>y</b> -->b", "ab");
	check("a<!---->b", "ab");
	check("a<!-->b", "ab");
	check("a<!--->b", "ab");
	check("a<!-- -- >still -->b", "ab");
	check("a<!-- x --!>b", "ab");
	check("a<!-- x ---->b", "ab");
	check("a<!-- unterminated", "a");
	check("<!DOCTYPE html><html>x", "x");
	check("<?xml version=\"1.0\"?>x", "x");
	check("a<!x>b", "ab");
	check("a<!>b", "ab");
	check("a</ 3>b</>c", "abc");
	check("a<![CDATA[x<y>]]]>b", "ax<y>]b");
	check("a<![CDATA[]]>b", "ab");
	check("a<![CDAT>b", "ab");
}

static void test_raw_text(void **state)
{
	(void)state;
	check("<script>if (a<b && c>d) x='秘密&amp;';</script>z",
	      "if (a<b && c>d) x='秘密&amp;'; z");
	check("<script>a</scrip>b</SCRIPT >c", "a</scrip>b c");
	check("<script>a</script", "a</script");
	check("<script>a</scriptx>b</script>", "a</scriptx>b ");
	check("<style>p{color:red}</style>t", "p{color:red} t");
	check("<title>A &amp; <b>B</b></title>", "A & <b>B</b> ");
	check("<textarea>x&lt;y</textarea>", "x<y ");
	check("<xmp><b>&amp;</b></xmp>", "<b>&amp;</b> ");
	check("<script/>s</script>", "s ");
	check("</script>x", "x");
}

static void test_text_lt(void **state)
{
	(void)state;
	check("a < b", "a < b");
	check("a<3", "a<3");
	check("a<", "a<");
	check("a</", "a</");
	check("a<<b>c", "a<c");
}

static void test_references(void **state)
{
	(void)state;
	check("&#31192;&#x79D8;&amp;&nbsp;&copy 2024", "秘秘&\xc2\xa0© 2024");
	check("&#X79d8;&#31192&#x79D8x", "秘秘秘x");
	check("&lt;&gt;&quot;&apos;&AMP;&QUOT", "<>\"'&\"");
	check("&hellip;&mdash;&ndash;&lsquo;&rsquo;&ldquo;&rdquo;&trade;&euro;&bull;&middot;",
	      "…—–‘’“”™€•·");
	check("&yuml;&Yuml;&szlig;&Omega;&rarr;&hearts;", "ÿŸßΩ→♥");
	check("&notit; &notin; &copyright", "¬it; ∉ ©right");
	check("&foo; &foo &; & x &#; &#x; &#xg", "&foo; &foo &; & x &#; &#x; &#xg");
	check("&#0;&#x110000;&#xD800;&#99999999999;",
	      "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	check("&#128;&#150;&#x9f;&#129;", "€–Ÿ\xc2\x81");
	check("&#x1F600;", "😀");
	check("&amp", "&");
	check("&", "&");
	check("&#", "&#");
	check("&#12", "\x0c");
	check("a&b", "a&b");
	check("&AMPx", "&x");
	/* A name longer than any reference: left as it is. */
	check("&abcdefghijklmnopqrstuvwxyzabcdefghijkl;",
	      "&abcdefghijklmnopqrstuvwxyzabcdefghijkl;");
	check("&copyabcdefghijklmnopqrstuvwxyzabcdefgh", "©abcdefghijklmnopqrstuvwxyzabcdefgh");
}

static void test_document(void **state)
{
	(void)state;
	check("<!DOCTYPE html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\">"
	      "<title>秘密の会議 &amp; 予定</title>"
	      "<style>body { font: 12px \"MS Gothic\" }</style></head>\n"
	      "<body><h1 class=\"t\">ひみつ<small>の</small>話</h1><!-- <p>hidden</p> -->"
	      "<p>本日は<a href=\"/x?a=1&amp;b=2\" title=\"詳細\">こちら</a>&#12290;</p>"
	      "<img src=\"x.png\" alt=\"秘密\"><script>var s = \"</p>\";</script></body></html>",
	      "\n 秘密の会議 & 予定 body { font: 12px \"MS Gothic\" } \n"
	      " ひみつの話 本日は 詳細 こちら。 秘密 var s = \"</p>\"; ");
}

/* Every inline tag reads as nothing, every other as a space. */
static void test_tag_table(void **state)
{
	(void)state;
	static const char *const inl[] = {
	        "a",      "abbr", "acronym", "b",    "bdi",  "bdo",   "big",  "blink",
	        "cite",   "code", "data",    "del",  "dfn",  "em",    "font", "i",
	        "ins",    "kbd",  "label",   "mark", "nobr", "q",     "rb",   "rp",
	        "rt",     "rtc",  "ruby",    "s",    "samp", "small", "span", "strike",
	        "strong", "sub",  "sup",     "time", "tt",   "u",     "var",  "wbr",
	};
	static const char *const block[] = {"p",  "div", "br",  "td",    "li", "img", "h1",
	                                    "aa", "bb",  "spa", "spans", "zz", "ab",  "tex"};
	char in[64], want[64];
	for (size_t i = 0; i < sizeof(inl) / sizeof(inl[0]); i++) {
		snprintf(in, sizeof(in), "x<%s>y</%s>z", inl[i], inl[i]);
		check(in, "xyz");
		for (char *c = in; *c; c++)
			*c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
		check(in, "XYZ");
	}
	for (size_t i = 0; i < sizeof(block) / sizeof(block[0]); i++) {
		snprintf(in, sizeof(in), "x<%s>y</%s>z", block[i], block[i]);
		check(in, "x y z");
	}
	static const char *const raw[] = {"script", "style", "xmp", "title", "textarea"};
	for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
		snprintf(in, sizeof(in), "x<%s><b>y</b></%s>z", raw[i], raw[i]);
		snprintf(want, sizeof(want), "x <b>y</b> z");
		check(in, want);
	}
}

/* Random markup: the output is the same in three random pieces as whole,
 * and valid UTF-8 in, valid UTF-8 out. */
static void test_random(void **state)
{
	(void)state;
	static const char *const bits[] = {
	        "<",     ">",        "</",     "<!--",  "-->", "-",        "<!",       "[CDATA[",
	        "]]>",   "&",        "&#",     "&#x",   ";",   "amp",      "copy",     "notin",
	        "1",     "9",        "F",      "\"",    "'",   "=",        " ",        "/",
	        "title", "alt",      "script", "style", "b",   "p",        "a",        "秘",
	        "密",    "\xc2\xa0", "?",      "x",     "\n",  "<script>", "</script", "<title>",
	};
	uint64_t seed = 777;
	for (int round = 0; round < 3000; round++) {
		char in[400];
		size_t n = 0;
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		size_t parts = (seed >> 33) % 40;
		for (size_t k = 0; k < parts; k++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			const char *b = bits[(seed >> 33) % (sizeof(bits) / sizeof(bits[0]))];
			size_t bl = strlen(b);
			if (n + bl > sizeof(in))
				break;
			memcpy(in + n, b, bl);
			n += bl;
		}
		struct kwbuf whole, pieces;
		assert_int_equal(kw_run_pieces(&ops, NULL, in, n, NULL, 0, &whole), 0);
		size_t cuts[2] = {(seed >> 20) % (n + 1), 0};
		cuts[1] = cuts[0] + (seed >> 40) % (n - cuts[0] + 1);
		assert_int_equal(kw_run_pieces(&ops, NULL, in, n, cuts, 2, &pieces), 0);
		kw_expect_same(&pieces, whole.p, whole.len, "random");
		for (size_t i = 0; i < whole.len; i++) {
			unsigned char c = (unsigned char)whole.p[i];
			size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
			assert_true(c < 0x80 || c >= 0xc2);
			assert_true(i + len <= whole.len);
			for (size_t k = 1; k < len; k++)
				assert_int_equal((unsigned char)whole.p[i + k] & 0xc0, 0x80);
			i += len - 1;
		}
		kwbuf_free(&whole);
		kwbuf_free(&pieces);
	}
}

static int refuse(void *arg, const char *p, size_t n)
{
	(void)p;
	(void)n;
	(*(int *)arg)++;
	return -1;
}

static void test_sink_stops(void **state)
{
	(void)state;
	int calls = 0;
	struct kw_html *h = kw_html_new((struct kw_sink){refuse, &calls});
	assert_int_equal(kw_html_write(h, "abc", 3), -1);
	assert_int_equal(kw_html_write(h, "abc", 3), -1);
	assert_int_equal(kw_html_finish(h), -1);
	assert_int_equal(calls, 1);
	kw_html_free(h);
}

/* A large text run goes through in a few large writes. */
static void test_large(void **state)
{
	(void)state;
	size_t n = 1 << 20;
	char *in = malloc(n);
	assert_non_null(in);
	for (size_t i = 0; i < n; i++)
		in[i] = (char)('a' + i % 26);
	memcpy(in + 1000, "<b>", 3);
	struct kwbuf out = {0};
	struct kw_html *h = kw_html_new(kwbuf_sink(&out));
	assert_int_equal(kw_html_write(h, in, n), 0);
	assert_int_equal(kw_html_finish(h), 0);
	kw_html_free(h);
	assert_int_equal(out.len, n - 3);
	assert_true(out.writes <= 3);
	assert_memory_equal(out.p, in, 1000);
	assert_memory_equal(out.p + 1000, in + 1003, n - 1003);
	kwbuf_free(&out);
	free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_inline_and_block),
	        cmocka_unit_test(test_attributes),
	        cmocka_unit_test(test_comments),
	        cmocka_unit_test(test_raw_text),
	        cmocka_unit_test(test_text_lt),
	        cmocka_unit_test(test_references),
	        cmocka_unit_test(test_document),
	        cmocka_unit_test(test_tag_table),
	        cmocka_unit_test(test_random),
	        cmocka_unit_test(test_sink_stops),
	        cmocka_unit_test(test_large),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
