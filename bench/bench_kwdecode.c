/*
 * bench_kwdecode: throughput of the keyword module's decoding stages on
 * generated Japanese HTML (kanji, kana, half-width katakana, full-width
 * Latin, ASCII markup with attributes, entities, comments, scripts): each
 * stage alone (kw_decode on gzip and zstd, kw_charset on UTF-8, CP932,
 * EUC-JP and ISO-2022-JP, kw_html, kw_form) and chained (gzip -> charset
 * -> html, for UTF-8 and Shift_JIS pages), in MB/s (10^6 bytes per
 * second) of the text each stage is given, and for the chains of the
 * decoded page. Plain glibc iconv over the same bytes in 64 KiB buffers is
 * shown beside the conversions as what iconv can do at best, and zlib's
 * inflate in one call beside the gzip decoder.
 *
 *   make bench-kwdecode [BENCH_ARGS="MiB seconds [row]"]
 *
 * (default 8 MiB, 0.5 s a row, all rows; "row" picks those whose name
 * holds it, e.g. html).
 */
#include <stdio.h>

#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>
#include <zstd.h>

#include "kw_charset.h"
#include "kw_decode.h"
#include "kw_form.h"
#include "kw_html.h"

#define FEED 65536 /* bytes per write, as a body arrives */

struct buf {
	char *p;
	size_t n, cap;
};

static void add(struct buf *b, const char *s, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2;
		b->p = realloc(b->p, b->cap);
		if (b->p == NULL)
			abort();
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

static void adds(struct buf *b, const char *s)
{
	add(b, s, strlen(s));
}

static uint32_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*s >> 33);
}

#define PICK(s, a) (a[rnd(s) % (sizeof(a) / sizeof(a[0]))])

/* A page of about size bytes, in UTF-8 (all of it maps to CP932/EUC-JP). */
static struct buf make_page(size_t size)
{
	static const char *const words[] = {
	        "秘密",     "会議",     "明日",     "東京",     "大阪",
	        "情報",     "検索",     "ニュース", "ログイン", "お問い合わせ",
	        "について", "します",   "です",     "ました",   "こちら",
	        "ページ",   "日本語",   "株式会社", "サービス", "利用規約",
	        "写真",     "動画",     "天気",     "経済",     "スポーツ",
	        "エンタメ", "ひみつ",   "の",       "は",       "が",
	        "を",       "に",       "で",       "と",       "、",
	        "。",       "「",       "」",       "ｶﾀｶﾅ",     "ＡＢＣ",
	        "①",        "～",       "2024年",   "iPhone",   "100円",
	        " ",        "お知らせ", "最新",     "人気",
	};
	static const char *const blocks[] = {"div", "p", "li", "td", "h2", "dd"};
	static const char *const inl[] = {"span", "a", "b", "strong", "em", "small"};
	static const char *const ents[] = {"&nbsp;",   "&amp;",  "&quot;", "&#12354;",
	                                   "&#x79D8;", "&copy;", "&lt;",   "&gt;"};
	struct buf b = {0};
	uint64_t s = 42;
	adds(&b, "<!DOCTYPE html>\n<html lang=\"ja\"><head>"
	         "<title>ニュース - 秘密の会議</title></head><body>\n");
	while (b.n < size) {
		unsigned r = rnd(&s) % 100;
		const char *blk = PICK(&s, blocks);
		char tag[256];
		if (r < 3) {
			adds(&b,
			     "<script type=\"text/javascript\">var x = {\"a\": 1, \"b\": [1,2,3]};"
			     " if (x.a < 2 && x.b) { document.title = \"ページ\"; }</script>\n");
			continue;
		}
		if (r < 6) {
			adds(&b, "<!-- 広告 ad-slot -->");
			continue;
		}
		snprintf(tag, sizeof(tag), "<%s class=\"c%u item-%u\" id=\"n%u\">", blk,
		         rnd(&s) % 50, rnd(&s) % 9, rnd(&s) % 10000);
		adds(&b, tag);
		unsigned nw = 3 + rnd(&s) % 20;
		for (unsigned i = 0; i < nw; i++) {
			unsigned k = rnd(&s) % 100;
			if (k < 8) {
				const char *t = PICK(&s, inl);
				snprintf(tag, sizeof(tag),
				         "<%s href=\"/news/%u?id=%u&amp;p=%u\" title=\"%s\">", t,
				         rnd(&s) % 100000, rnd(&s) % 1000, rnd(&s) % 10,
				         PICK(&s, words));
				adds(&b, tag);
				adds(&b, PICK(&s, words));
				snprintf(tag, sizeof(tag), "</%s>", t);
				adds(&b, tag);
			} else if (k < 11) {
				adds(&b, PICK(&s, ents));
			} else if (k < 12) {
				adds(&b, "<img src=\"/img/a.png\" alt=\"写真\" width=\"100\">");
			} else if (k < 13) {
				adds(&b, "<br>");
			} else {
				adds(&b, PICK(&s, words));
			}
		}
		snprintf(tag, sizeof(tag), "</%s>\n", blk);
		adds(&b, tag);
	}
	adds(&b, "</body></html>\n");
	return b;
}

/* ---------------------------------------------------------------- encoders */

static struct buf gzip_of(const struct buf *in)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	struct buf o = {0};
	o.cap = deflateBound(&z, (uLong)in->n);
	o.p = malloc(o.cap);
	if (o.p == NULL)
		abort();
	z.next_in = (unsigned char *)in->p;
	z.avail_in = (uInt)in->n;
	z.next_out = (unsigned char *)o.p;
	z.avail_out = (uInt)o.cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		abort();
	o.n = z.total_out;
	deflateEnd(&z);
	return o;
}

static struct buf zstd_of(const struct buf *in)
{
	struct buf o = {0};
	o.cap = ZSTD_compressBound(in->n);
	o.p = malloc(o.cap);
	if (o.p == NULL)
		abort();
	o.n = ZSTD_compress(o.p, o.cap, in->p, in->n, 3);
	if (ZSTD_isError(o.n))
		abort();
	return o;
}

/* The page in another charset, through iconv. */
static struct buf iconv_to(const struct buf *in, const char *to)
{
	iconv_t cd = iconv_open(to, "UTF-8");
	if (cd == (iconv_t)-1)
		abort();
	struct buf o = {0};
	o.cap = in->n * 2 + 16;
	o.p = malloc(o.cap);
	if (o.p == NULL)
		abort();
	char *ip = in->p, *op = o.p;
	size_t il = in->n, ol = o.cap;
	if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1 || iconv(cd, NULL, NULL, &op, &ol) != 0)
		abort();
	o.n = o.cap - ol;
	iconv_close(cd);
	return o;
}

/* CP932 to ISO-2022-JP as Windows mailers write it (CP50221): JIS X 0208
 * with the NEC row 13, half-width katakana after ESC ( I. */
static struct buf jis_of(const struct buf *in)
{
	struct buf o = {0};
	int set = 0; /* 0 ASCII, 1 JIS X 0208, 2 katakana */
	for (size_t i = 0; i < in->n; i++) {
		unsigned char s1 = (unsigned char)in->p[i];
		int want = s1 < 0x80 ? 0 : (s1 >= 0xa1 && s1 <= 0xdf) ? 2 : 1;
		if (want != set) {
			adds(&o, want == 0 ? "\x1b(B" : want == 1 ? "\x1b$B" : "\x1b(I");
			set = want;
		}
		if (want == 0) {
			add(&o, in->p + i, 1);
		} else if (want == 2) {
			char k = (char)(s1 - 0x80);
			add(&o, &k, 1);
		} else {
			unsigned char s2 = (unsigned char)in->p[++i];
			char j[2];
			j[0] = (char)(((s1 - (s1 >= 0xe0 ? 0xb0 : 0x70)) << 1) - (s2 < 0x9f));
			j[1] = (char)(s2 < 0x9f ? s2 - (s2 >= 0x80 ? 0x20 : 0x1f) : s2 - 0x7e);
			add(&o, j, 2);
		}
	}
	if (set != 0)
		adds(&o, "\x1b(B");
	return o;
}

/* ---------------------------------------------------------------- timing */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID,
	              &ts); /* CPU time: other load on the machine does not count */
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int count(void *arg, const char *p, size_t n)
{
	size_t *c = arg;
	(void)p;
	*c += n;
	return 0;
}

/* The stages of a pipeline, and one run of it. */
enum { P_DECODE = 1, P_CHARSET = 2, P_HTML = 4, P_FORM = 8 };

struct run {
	struct kw_decode *d;
	struct kw_charset *c;
	struct kw_html *h;
	struct kw_form *f;
	size_t out;
};

static const double *seconds_per_row;

/*
 * Feeds in through the stages in FEED-byte writes, as often as fits in the
 * time given; returns MB/s of ref_bytes per run, and the output size.
 */
static double measure(int stages, const enum kw_coding *codings, int ncodings, const char *charset,
                      const struct buf *in, size_t ref_bytes, size_t *out)
{
	double t0 = now(), t;
	long runs = 0;
	do {
		struct run r = {0};
		struct kw_sink next = {count, &r.out};
		if (stages & P_HTML) {
			r.h = kw_html_new(next);
			next = kw_html_sink(r.h);
		}
		if (stages & P_CHARSET) {
			r.c = kw_charset_new(charset, strlen(charset), 1, next);
			next = kw_charset_sink(r.c);
		}
		if (stages & P_FORM) {
			r.f = kw_form_new(next);
			next = kw_form_sink(r.f);
		}
		if (stages & P_DECODE) {
			struct kw_decode_limits lim = {256 << 20, 1000};
			r.d = kw_decode_new(codings, ncodings, &lim, next);
			next = kw_decode_sink(r.d);
		}
		for (size_t at = 0; at < in->n; at += FEED) {
			size_t k = in->n - at < FEED ? in->n - at : FEED;
			if (kw_sink_write(&next, in->p + at, k) < 0)
				abort();
		}
		if ((r.d && kw_decode_finish(r.d) < 0) || (r.f && kw_form_finish(r.f) < 0) ||
		    (r.c && kw_charset_finish(r.c) < 0) || (r.h && kw_html_finish(r.h) < 0))
			abort();
		kw_decode_free(r.d);
		kw_form_free(r.f);
		kw_charset_free(r.c);
		kw_html_free(r.h);
		*out = r.out;
		runs++;
		t = now() - t0;
	} while (t < *seconds_per_row);
	return (double)ref_bytes * (double)runs / t / 1e6;
}

/* Plain iconv over in, 64 KiB at a time, for comparison. */
static double measure_iconv(const char *from, const struct buf *in, size_t *out)
{
	static char obuf[4 * FEED];
	iconv_t cd = iconv_open("UTF-8", from);
	if (cd == (iconv_t)-1)
		abort();
	double t0 = now(), t;
	long runs = 0;
	do {
		*out = 0;
		for (size_t at = 0; at < in->n; at += FEED) {
			char *ip = in->p + at, *op = obuf;
			size_t il = in->n - at < FEED ? in->n - at : FEED, ol = sizeof(obuf);
			/* cuts may fall inside a character: the bench only times */
			iconv(cd, &ip, &il, &op, &ol);
			*out += (size_t)(op - obuf);
		}
		iconv(cd, NULL, NULL, NULL, NULL);
		runs++;
		t = now() - t0;
	} while (t < *seconds_per_row);
	iconv_close(cd);
	return (double)in->n * (double)runs / t / 1e6;
}

/* Rows whose name holds this (BENCH_ARGS' third word), or all. */
static const char *only;

static int wanted(const char *name)
{
	return only == NULL || strstr(name, only) != NULL;
}

static void row(const char *what, double mbs, size_t in, size_t out)
{
	printf("%-44s %8.0f MB/s   %9zu -> %9zu bytes\n", what, mbs, in, out);
}

/* A row of measure(). */
static void mrow(const char *name, int stages, const enum kw_coding *codings, int ncodings,
                 const char *charset, const struct buf *in, size_t ref_bytes)
{
	if (!wanted(name))
		return;
	size_t out = 0;
	double v = measure(stages, codings, ncodings, charset, in, ref_bytes, &out);
	row(name, v, in->n, out);
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 8;
	double secs = argc > 2 ? atof(argv[2]) : 0.5;
	only = argc > 3 ? argv[3] : NULL;
	if (mib == 0)
		mib = 1;
	seconds_per_row = &secs;

	struct buf page = make_page(mib << 20);
	struct buf sjis = iconv_to(&page, "CP932"), euc = iconv_to(&page, "EUC-JP-MS");
	struct buf jis = jis_of(&sjis);
	struct buf gz = gzip_of(&page), gz_sjis = gzip_of(&sjis), zs = zstd_of(&page);
	/* A form body: the page's text, urlencoded. */
	struct buf form = {0};
	for (size_t i = 0; i < page.n && form.n < page.n; i++) {
		unsigned char ch = (unsigned char)page.p[i];
		char e[4];
		if (ch == ' ')
			add(&form, "+", 1);
		else if (ch >= 0x80 || ch == '&' || ch == '=' || ch == '%' || ch == '+') {
			snprintf(e, sizeof(e), "%%%02X", ch);
			add(&form, e, 3);
		} else
			add(&form, (const char *)&ch, 1);
	}
	printf("page: %zu bytes UTF-8, %zu CP932, %zu gzip (UTF-8), %zu gzip (CP932), %zu zstd\n"
	       "MB/s of each stage's input; chains: of the decoded page (UTF-8 bytes)\n\n",
	       page.n, sjis.n, gz.n, gz_sjis.n, zs.n);

	const enum kw_coding gzip_c[] = {KW_CODING_GZIP}, zstd_c[] = {KW_CODING_ZSTD};
	mrow("decode gzip (MB/s of output)", P_DECODE, gzip_c, 1, "", &gz, page.n);
	if (wanted("decode gzip")) {
		/* zlib alone, in one call: what the stages cost around it */
		double t0 = now(), t;
		long runs = 0;
		char *dst = malloc(page.n);
		do {
			uLongf dl = page.n;
			z_stream z;
			memset(&z, 0, sizeof(z));
			inflateInit2(&z, 31);
			z.next_in = (unsigned char *)gz.p;
			z.avail_in = (uInt)gz.n;
			z.next_out = (unsigned char *)dst;
			z.avail_out = (uInt)dl;
			inflate(&z, Z_FINISH);
			inflateEnd(&z);
			runs++;
			t = now() - t0;
		} while (t < secs);
		free(dst);
		row("  zlib inflate, one call (MB/s of output)", (double)page.n * runs / t / 1e6,
		    gz.n, page.n);
	}
	mrow("decode zstd (MB/s of output)", P_DECODE, zstd_c, 1, "", &zs, page.n);
	mrow("charset UTF-8 (validation)", P_CHARSET, NULL, 0, "utf-8", &page, page.n);
	mrow("charset CP932", P_CHARSET, NULL, 0, "shift_jis", &sjis, sjis.n);
	if (wanted("charset CP932")) {
		size_t out = 0;
		double v = measure_iconv("CP932", &sjis, &out);
		row("  glibc iconv CP932 alone", v, sjis.n, out);
	}
	mrow("charset EUC-JP (EUC-JP-MS)", P_CHARSET, NULL, 0, "euc-jp", &euc, euc.n);
	if (wanted("charset EUC-JP")) {
		size_t out = 0;
		double v = measure_iconv("EUC-JP-MS", &euc, &out);
		row("  glibc iconv EUC-JP-MS alone", v, euc.n, out);
	}
	mrow("charset ISO-2022-JP", P_CHARSET, NULL, 0, "iso-2022-jp", &jis, jis.n);
	mrow("charset detected (CP932)", P_CHARSET, NULL, 0, "", &sjis, sjis.n);
	mrow("html", P_HTML, NULL, 0, "", &page, page.n);
	mrow("form", P_FORM, NULL, 0, "", &form, form.n);
	printf("\n");
	mrow("gzip -> charset UTF-8 -> html", P_DECODE | P_CHARSET | P_HTML, gzip_c, 1, "utf-8",
	     &gz, page.n);
	mrow("gzip -> charset CP932 -> html", P_DECODE | P_CHARSET | P_HTML, gzip_c, 1, "shift_jis",
	     &gz_sjis, page.n);
	mrow("gzip -> charset detected (CP932) -> html", P_DECODE | P_CHARSET | P_HTML, gzip_c, 1,
	     "", &gz_sjis, page.n);

	free(page.p);
	free(sjis.p);
	free(euc.p);
	free(jis.p);
	free(gz.p);
	free(gz_sjis.p);
	free(zs.p);
	free(form.p);
	return 0;
}
