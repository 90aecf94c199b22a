/*
 * bench_kwmatch: speed of the keyword module's normalization and matching,
 * on one core ("make bench-kwmatch"; BENCH_ARGS="MB [row]" sets the size of
 * each text, 32 by default, and picks the rows whose name holds row, e.g.
 * module, for profiling one).
 *
 * 1,000 phrases are generated, half Japanese (compounds of 2 to 4 kanji,
 * katakana words of 3 to 6), half English words (5 to 10 letters); a
 * quarter are words of the texts, so that matches happen. Two texts are
 * generated: Japanese (kanji 40 %, hiragana 40 %, katakana 20 %, in words
 * of 2 to 4, and punctuation) and English (words, capitals, punctuation).
 * Reported, best of several runs:
 *
 *   normalize   kw_norm alone on each raw text, in 64 KiB writes
 *   match       kw_scan alone on each text once normalized (phrases only)
 *   regex       the same with one regex added to the category
 *   pipeline    normalize then match, as the module chains them
 *   module      the whole keyword module as the server runs it (scan_run_now
 *               on a body): the Japanese text as HTML, gzip-encoded, in UTF-8
 *               and in Shift_JIS: decode, charset, HTML, normalize, match
 *
 * MB/s are of the input to each stage (1 MB = 10^6 bytes); for the module,
 * of the decoded HTML.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <iconv.h>
#include <zlib.h>

#include "body.h"
#include "generation.h"
#include "kw_normalize.h"
#include "kw_rules.h"
#include "scan.h"

#define NPHRASES 1000
#define WRITE    65536
#ifndef RUNS
#define RUNS 5 /* best of */
#endif

static uint64_t rng = 88172645463325252ULL;

static uint32_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static size_t put_cp(char *o, uint32_t c)
{
	if (c < 0x80) {
		o[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (char)(0xC0 | (c >> 6));
		o[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	o[0] = (char)(0xE0 | (c >> 12));
	o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
	o[2] = (char)(0x80 | (c & 0x3F));
	return 3;
}

/* A code point of Japanese text: kanji from a common block, hiragana,
 * katakana (roughly in the proportions of prose). */
static uint32_t ja_char(void)
{
	uint32_t r = next() % 100;
	if (r < 40)
		return 0x4E00 + next() % 2500;
	if (r < 80)
		return 0x3041 + next() % 83;
	return 0x30A1 + next() % 86;
}

/* One Japanese word of 2..4 characters of text into o; returns its
 * length. */
static size_t ja_word(char *o)
{
	size_t n = 2 + next() % 3, len = 0;
	for (size_t i = 0; i < n; i++)
		len += put_cp(o + len, ja_char());
	return len;
}

/* A Japanese keyword: a compound of 2..4 kanji, or a katakana word of
 * 3..6 (what keyword lists hold: 秘密, 社外秘, パスワード). */
static size_t ja_keyword(char *o)
{
	size_t len = 0;
	if (next() % 10 < 6) {
		for (size_t i = 0, n = 2 + next() % 3; i < n; i++)
			len += put_cp(o + len, 0x4E00 + next() % 2500);
	} else {
		for (size_t i = 0, n = 3 + next() % 4; i < n; i++)
			len += put_cp(o + len, 0x30A1 + next() % 86);
	}
	return len;
}

static size_t en_word(char *o, size_t minlen, size_t spread)
{
	size_t n = minlen + next() % spread;
	for (size_t i = 0; i < n; i++)
		o[i] = (char)('a' + next() % 26);
	return n;
}

struct vocab {
	char w[512][16];
	size_t len[512];
};

static char *gen_japanese(size_t size, const struct vocab *v, size_t *outlen)
{
	char *t = malloc(size + 64);
	size_t n = 0;
	while (n < size) {
		uint32_t r = next() % 100;
		if (r < 5) {
			size_t k = next() % 512;
			memcpy(t + n, v->w[k], v->len[k]);
			n += v->len[k];
		} else if (r < 90)
			n += ja_word(t + n);
		else if (r < 97)
			n += put_cp(t + n, 0x3001); /* 、 */
		else
			n += put_cp(t + n, 0x3002); /* 。 */
	}
	*outlen = n;
	return t;
}

static char *gen_english(size_t size, const struct vocab *v, size_t *outlen)
{
	char *t = malloc(size + 64);
	size_t n = 0;
	while (n < size) {
		uint32_t r = next() % 100;
		size_t start = n;
		if (r < 5) {
			size_t k = next() % 512;
			memcpy(t + n, v->w[k], v->len[k]);
			n += v->len[k];
		} else
			n += en_word(t + n, 1, 9);
		if (r % 10 == 0)
			t[start] = (char)(t[start] - 'a' + 'A');
		if (r % 17 == 0)
			t[n++] = ',';
		else if (r % 23 == 0)
			t[n++] = '.';
		t[n++] = r % 31 == 0 ? '\n' : ' ';
	}
	*outlen = n;
	return t;
}

static int discard(void *arg, const char *p, size_t n)
{
	(void)p;
	*(size_t *)arg += n;
	return 0;
}

/* MB/s of normalizing t[0..len), best of RUNS. */
static double bench_normalize(const char *t, size_t len)
{
	double best = 1e9;
	for (int r = 0; r < RUNS; r++) {
		size_t out = 0;
		struct kw_norm *n = kw_norm_new((struct kw_sink){.write = discard, .arg = &out});
		double t0 = now();
		for (size_t i = 0; i < len; i += WRITE)
			kw_norm_write(n, t + i, len - i < WRITE ? len - i : WRITE);
		kw_norm_finish(n);
		double dt = now() - t0;
		kw_norm_free(n);
		if (dt < best)
			best = dt;
	}
	return (double)len / best / 1e6;
}

/* MB/s of matching t[0..len) (normalized), best of RUNS; *score gets the
 * score. */
static double bench_match(const struct kw_rules *r, const char *t, size_t len, long *score)
{
	double best = 1e9;
	unsigned cat = 0;
	for (int k = 0; k < RUNS; k++) {
		struct kw_result res;
		double t0 = now();
		struct kw_scan *s = kw_scan_new(r, &cat, 1);
		for (size_t i = 0; i < len; i += WRITE)
			kw_scan_write(s, t + i, len - i < WRITE ? len - i : WRITE);
		kw_scan_finish(s, &res);
		kw_scan_free(s);
		double dt = now() - t0;
		if (res.error != NULL)
			fprintf(stderr, "bench_kwmatch: %s\n", res.error);
		*score = res.score;
		if (dt < best)
			best = dt;
	}
	return (double)len / best / 1e6;
}

static double bench_pipeline(const struct kw_rules *r, const char *t, size_t len)
{
	double best = 1e9;
	unsigned cat = 0;
	for (int k = 0; k < RUNS; k++) {
		struct kw_result res;
		double t0 = now();
		struct kw_scan *s = kw_scan_new(r, &cat, 1);
		struct kw_norm *n = kw_norm_new(kw_scan_sink(s));
		for (size_t i = 0; i < len; i += WRITE)
			kw_norm_write(n, t + i, len - i < WRITE ? len - i : WRITE);
		kw_norm_finish(n);
		kw_scan_finish(s, &res);
		kw_norm_free(n);
		kw_scan_free(s);
		double dt = now() - t0;
		if (dt < best)
			best = dt;
	}
	return (double)len / best / 1e6;
}

/* Writes the rules (phrases, and the regex if any) to a temporary file and
 * loads them. */
static struct kw_rules *make_rules(const struct vocab *ja, const struct vocab *en,
                                   const char *regex, char *keep_path)
{
	char tmp[] = "/tmp/bench_kwmatch.XXXXXX";
	char *path = keep_path ? keep_path : tmp;
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f == NULL) {
		perror("bench_kwmatch: temporary file");
		exit(1);
	}
	uint64_t saved = rng;
	rng = 42; /* the same phrases every time */
	fprintf(f, "category bench {\n\tthreshold 1000000;\n");
	for (int i = 0; i < NPHRASES; i++) {
		char w[64];
		size_t l;
		/* A quarter of the phrases are words of the texts. */
		if (i % 4 == 0) {
			const struct vocab *v = i % 8 == 0 ? ja : en;
			size_t k = next() % 512;
			memcpy(w, v->w[k], v->len[k]);
			l = v->len[k];
		} else
			l = i % 2 ? ja_keyword(w) : en_word(w, 5, 6);
		fprintf(f, "\tphrase \"%.*s\" 1;\n", (int)l, w);
	}
	if (regex != NULL)
		fprintf(f, "\tregex \"%s\" 1;\n", regex);
	fprintf(f, "}\n");
	fclose(f);
	rng = saved;
	struct kw_rules *r = kw_rules_load(path, stderr, NULL);
	if (keep_path == NULL)
		unlink(path);
	if (r == NULL)
		exit(1);
	return r;
}

/* The text as an HTML page: a paragraph per line. */
static char *as_html(const char *t, size_t len, size_t *out_len)
{
	static const char head[] =
	        "<!DOCTYPE html><html><head><title>bench</title></head><body><p>";
	static const char tail[] = "</p></body></html>\n";
	char *h = malloc(len * 2 + sizeof(head) + sizeof(tail));
	size_t n = 0;
	if (h == NULL)
		abort();
	memcpy(h, head, sizeof(head) - 1);
	n = sizeof(head) - 1;
	for (size_t i = 0; i < len; i++) {
		if (t[i] == '\n') {
			memcpy(h + n, "</p>\n<p>", 8);
			n += 8;
		} else
			h[n++] = t[i];
	}
	memcpy(h + n, tail, sizeof(tail) - 1);
	*out_len = n + sizeof(tail) - 1;
	return h;
}

static char *to_cp932(const char *t, size_t len, size_t *out_len)
{
	iconv_t cd = iconv_open("CP932//TRANSLIT", "UTF-8");
	size_t cap = len + 16, left = cap;
	char *out = malloc(cap), *o = out, *in = (char *)t;
	size_t inleft = len;
	if (cd == (iconv_t)-1 || out == NULL || iconv(cd, &in, &inleft, &o, &left) == (size_t)-1) {
		perror("bench_kwmatch: iconv to CP932");
		exit(1);
	}
	iconv_close(cd);
	*out_len = cap - left;
	return out;
}

static unsigned char *gzip_of(const char *t, size_t len, size_t *out_len)
{
	z_stream z = {0};
	uLong cap = compressBound(len) + 64;
	unsigned char *out = malloc(cap);
	if (out == NULL || deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	z.next_in = (unsigned char *)t;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		abort();
	*out_len = z.total_out;
	deflateEnd(&z);
	return out;
}

/* MB/s (of decoded HTML, html_len bytes) of the keyword module judging the
 * gzip-encoded body gz as the server does, best of RUNS. */
static double bench_module(const char *rules_path, const unsigned char *gz, size_t gz_len,
                           size_t html_len, const char *charset)
{
	char conf[] = "/tmp/bench_kwmatch.conf.XXXXXX";
	int fd = mkstemp(conf);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f == NULL)
		abort();
	fprintf(f,
	        "listen 127.0.0.1:1;\nmodule keyword { rules %s; max_decoded_size 2g; "
	        "max_ratio 100000; }\nservice /respmod { methods RESPMOD; chain keyword; }\n",
	        rules_path);
	fclose(f);
	struct generation *g = generation_build(conf, NULL, NULL, 1, stderr);
	unlink(conf);
	if (g == NULL)
		exit(1);
	const struct conf_service *svc = conf_service_find(g->conf, "/respmod", 8);
	char heads[512];
	int req = snprintf(heads, sizeof(heads),
	                   "GET http://bench.test/ HTTP/1.1\r\nHost: bench.test\r\n\r\n");
	int all = req + snprintf(heads + req, sizeof(heads) - (size_t)req,
	                         "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=%s\r\n"
	                         "Content-Encoding: gzip\r\n\r\n",
	                         charset);
	struct encap enc = {.req_hdr_len = (size_t)req,
	                    .res_hdr_off = (size_t)req,
	                    .res_hdr_len = (size_t)(all - req),
	                    .body = ENCAP_RES_BODY,
	                    .body_off = (size_t)all};
	struct scan *s = scan_new(g, svc, ICAP_METHOD_RESPMOD, &enc, heads, NULL, NULL);
	struct body_limits lim = {
	        .memory = 1ULL << 31, .max_size = 1ULL << 31, .spool_dir = "/tmp"};
	s->body = body_new(&lim);
	body_append_mem(s->body, gz, gz_len);
	body_finish(s->body);
	double best = 1e9;
	for (int k = 0; k < RUNS; k++) {
		double t0 = now();
		scan_run_now(s);
		double dt = now() - t0;
		if (s->verdict.kind != VERDICT_PASS)
			fprintf(stderr, "bench_kwmatch: module verdict %d: %s\n", s->verdict.kind,
			        s->verdict.reason);
		if (dt < best)
			best = dt;
	}
	scan_free(s);
	generation_unref(g);
	return (double)html_len / best / 1e6;
}

/* The module rows: the Japanese text as HTML, gzip-encoded, in UTF-8 and
 * in Shift_JIS ("module-utf8" or "module-sjis" picks one). */
static void bench_modules(const char *rules_path, const char *jt, size_t jlen, const char *row)
{
	size_t hlen, slen, gz_len;
	char *html = as_html(jt, jlen, &hlen);
	char *sjis = to_cp932(html, hlen, &slen);
	double u = 0, j = 0;
	if (strstr("module-utf8", row)) {
		unsigned char *gz = gzip_of(html, hlen, &gz_len);
		u = bench_module(rules_path, gz, gz_len, hlen, "utf-8");
		free(gz);
	}
	if (strstr("module-sjis", row)) {
		unsigned char *gz = gzip_of(sjis, slen, &gz_len);
		j = bench_module(rules_path, gz, gz_len, slen, "shift_jis");
		free(gz);
	}
	printf("  module      Japanese HTML, gzip: UTF-8 %7.0f MB/s   Shift_JIS %7.0f MB/s   "
	       "(decoded MB/s; %.1f and %.1f MB)\n",
	       u, j, (double)hlen / 1e6, (double)slen / 1e6);
	free(html);
	free(sjis);
}

int main(int argc, char **argv)
{
	size_t mb = argc > 1 ? strtoul(argv[1], NULL, 10) : 32;
	const char *row = argc > 2 ? argv[2] : "";
	if (mb == 0 || mb > 1024) {
		fprintf(stderr, "usage: bench_kwmatch [MB per text, 1..1024] [row]\n");
		return 2;
	}
	double t0 = now();
	/* Vocabularies shared by texts and phrases. */
	static struct vocab ja, en;
	for (int i = 0; i < 512; i++) {
		ja.len[i] = ja_word(ja.w[i]);
		en.len[i] = en_word(en.w[i], 5, 6);
	}
	size_t jlen, elen, njlen, nelen;
	char *jt = gen_japanese(mb << 20, &ja, &jlen);
	char *et = gen_english(mb << 20, &en, &elen);
	char *nj = kw_normalize_string(jt, jlen, &njlen);
	char *ne = kw_normalize_string(et, elen, &nelen);
	double tl = now();
	char rules_path[] = "/tmp/bench_kwmatch.rules.XXXXXX";
	struct kw_rules *r = make_rules(&ja, &en, NULL, rules_path);
	double tc = now() - tl;
	struct kw_rules *rx = make_rules(&ja, &en, "project\\\\s+bluebird", NULL);
	printf("bench_kwmatch: %d phrases (compiled in %.0f ms), texts of %zu MB: Japanese "
	       "%.1f MB (%.1f MB normalized), English %.1f MB\n",
	       NPHRASES, tc * 1e3, mb, (double)jlen / 1e6, (double)njlen / 1e6, (double)elen / 1e6);

	long sj, se, sjr, ser;
	if (strstr("normalize", row))
		printf("  normalize   Japanese %7.0f MB/s   English %7.0f MB/s\n",
		       bench_normalize(jt, jlen), bench_normalize(et, elen));
	if (strstr("match", row)) {
		double mj = bench_match(r, nj, njlen, &sj), me = bench_match(r, ne, nelen, &se);
		printf("  match       Japanese %7.0f MB/s   English %7.0f MB/s   (%ld and %ld "
		       "matches)\n",
		       mj, me, sj, se);
	}
	if (strstr("regex", row)) {
		double rj = bench_match(rx, nj, njlen, &sjr), re = bench_match(rx, ne, nelen, &ser);
		printf("  + 1 regex   Japanese %7.0f MB/s   English %7.0f MB/s\n", rj, re);
	}
	if (strstr("pipeline", row))
		printf("  pipeline    Japanese %7.0f MB/s   English %7.0f MB/s   (normalize + "
		       "match)\n",
		       bench_pipeline(r, jt, jlen), bench_pipeline(r, et, elen));
	if (strstr("module-utf8 module-sjis", row))
		bench_modules(rules_path, jt, jlen, row);
	unlink(rules_path);
	printf("  total time %.1f s\n", now() - t0);
	kw_rules_free(r);
	kw_rules_free(rx);
	free(jt);
	free(et);
	free(nj);
	free(ne);
	return 0;
}
