/*
 * Unit tests for modules/kw_decode.c, Content-Encoding undone: parsing of
 * the header value; gzip (also several members, padding after them, a zlib
 * stream sent as gzip), deflate zlib-wrapped and raw, br, zstd (several
 * frames) and stacked codings decoded to the exact text, each fed whole,
 * split in two at every byte and one byte at a time (kw_stage_test.h);
 * bombs (10 MiB of zeros in each coding, and gzip inside gzip) stopped by
 * max_ratio and by max_output; truncated, corrupt and empty streams; a
 * zstd window over the cap; a sink that stops; output in bounded blocks.
 * gzip and deflate: every optional gzip header field (header CRC checked),
 * reserved flags and zlib's preset dictionary refused, every byte of the
 * CRC-32, ISIZE and Adler-32 checked, what follows the end of a stream
 * seen (a gzip member after a zlib stream), stored blocks, many large
 * members.
 *
 * gzip, deflate and zstd data are compressed here with zlib and libzstd
 * (zlib is linked for this and the benchmarks only). br data is embedded: libbrotlienc is not
 * linked, so the vectors below were made once with BrotliEncoderCompress (quality 11, window 22)
 * from the text T below: br_text = br(T), br_gzip_text = br(gzip(T)), br_zeros_10m = br(10 MiB of
 * zero bytes).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <zlib.h>
#include <zstd.h>

#include "kw_decode.h"
#include "kw_stage_test.h"

/* The text the vectors hold. */
static const char T[] =
        "<!DOCTYPE html><html lang=\"ja\"><head><meta "
        "charset=\"utf-8\"><title>秘密の会議</title></head>\n"
        "<body><h1>ひみつ の お知らせ</h1><p>この秘密の会議は明日の午後三時から始まります。"
        "参加者は&nbsp;社外秘&amp;極秘の資料を持参してください。</p>\n"
        "<p>カタカナ：ヒミツ、ｶﾀｶﾅ、全角ＡＢＣ、①②③～</p><ul><li>項目一</li><li>項目二</li></ul>\n"
        "<p>The quick brown fox jumps over the lazy dog. 0123456789</p></body></html>\n";

static const unsigned char br_text[315] = {
        0x1b, 0xed, 0x01, 0x20, 0xac, 0x0e, 0xec, 0x60, 0xf8, 0x78, 0x23, 0x51, 0x4d, 0xcf, 0x1b,
        0x49, 0x3b, 0xe8, 0x8d, 0x89, 0x8f, 0x45, 0x24, 0x9e, 0x3e, 0xa1, 0x12, 0x44, 0x70, 0x02,
        0xb4, 0xeb, 0x37, 0x1d, 0x45, 0xc1, 0x39, 0x85, 0xb6, 0x4d, 0x47, 0xc0, 0x47, 0x04, 0xd1,
        0x0d, 0x95, 0x5d, 0x88, 0x27, 0xe7, 0x9b, 0x2a, 0x8f, 0x82, 0x61, 0x31, 0x27, 0xd9, 0xcc,
        0xc8, 0xfa, 0x85, 0x0d, 0xae, 0x4e, 0x85, 0xbd, 0x5d, 0x9e, 0x6a, 0xce, 0x73, 0x1e, 0x0c,
        0x3e, 0x80, 0x26, 0xa1, 0xa4, 0x63, 0xd1, 0xa2, 0x05, 0x34, 0x37, 0x55, 0xa9, 0xe7, 0xa5,
        0x6a, 0xb5, 0x28, 0x35, 0x6f, 0x99, 0x3e, 0xd3, 0x37, 0x95, 0x5b, 0xea, 0x2c, 0x19, 0xb1,
        0x03, 0xcf, 0x80, 0x15, 0x56, 0xb6, 0x87, 0x81, 0x2f, 0xbb, 0x26, 0x0d, 0x90, 0xee, 0x7b,
        0x08, 0xb3, 0xe7, 0x61, 0xb7, 0x3f, 0xf1, 0xdd, 0x0e, 0xc5, 0xc8, 0x86, 0x2d, 0xce, 0xe6,
        0x17, 0x70, 0x82, 0x3f, 0xb4, 0x0b, 0x76, 0x0b, 0xe4, 0x2e, 0x3a, 0x54, 0x82, 0x84, 0xc7,
        0xa0, 0x02, 0x9c, 0xb3, 0x1d, 0x66, 0x04, 0xfb, 0x6c, 0xe3, 0xbe, 0x0b, 0x3a, 0xd8, 0x45,
        0x13, 0xf3, 0x53, 0xf7, 0x43, 0x3a, 0x11, 0x05, 0x05, 0x95, 0x32, 0x28, 0xf0, 0x43, 0x65,
        0xf8, 0x41, 0x84, 0x50, 0xa7, 0x59, 0xb8, 0x84, 0x83, 0xfd, 0xf1, 0xf7, 0xbb, 0xfd, 0xa5,
        0xf5, 0x7b, 0x08, 0x77, 0xcc, 0x3f, 0xdd, 0xb5, 0x44, 0xb0, 0xf3, 0xa5, 0x2d, 0xd4, 0x3e,
        0x2a, 0x62, 0x54, 0x18, 0x40, 0x0f, 0x06, 0x29, 0xc1, 0x93, 0xac, 0x2e, 0x93, 0xbf, 0xef,
        0x04, 0xba, 0xa0, 0xff, 0x06, 0x65, 0xe4, 0xf9, 0xc4, 0xc4, 0xc6, 0x14, 0x6c, 0x56, 0x1e,
        0xf3, 0xbd, 0xcd, 0x8f, 0xc8, 0x35, 0x87, 0x20, 0xdc, 0x78, 0x07, 0x7b, 0x3e, 0x95, 0xa2,
        0x1a, 0x36, 0x08, 0x3e, 0xab, 0x44, 0x55, 0x5c, 0xcf, 0x37, 0x87, 0xfc, 0xa7, 0x46, 0xa9,
        0xfc, 0x25, 0xd7, 0xc9, 0x6e, 0x3f, 0x48, 0xa1, 0x76, 0xe2, 0x97, 0x1a, 0x32, 0xfb, 0xde,
        0xbb, 0x3e, 0x85, 0x12, 0x57, 0x57, 0xf0, 0x1b, 0x69, 0xb2, 0x4e, 0x1c, 0xe8, 0x11, 0xff,
        0x49, 0xa7, 0x15, 0xe7, 0x43, 0x4c, 0xb9, 0xd4, 0xd6, 0x97, 0xbf, 0x41, 0x3a, 0xf5, 0x00,
};

static const unsigned char br_gzip_text[427] = {
        0x0b, 0xd3, 0x80, 0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x5d, 0x51,
        0xc9, 0x4e, 0xc2, 0x50, 0x14, 0xdd, 0xfb, 0x15, 0x4f, 0x16, 0xee, 0xb4, 0xe2, 0x88, 0xf1,
        0xd9, 0x8d, 0xba, 0xd6, 0x85, 0x1b, 0x97, 0x45, 0xaa, 0xa0, 0x85, 0x56, 0x28, 0x4e, 0x2b,
        0x6e, 0x11, 0x07, 0x44, 0x09, 0x18, 0x07, 0x34, 0x51, 0x54, 0x10, 0x13, 0xe3, 0x10, 0x8d,
        0xc6, 0x98, 0x8a, 0xff, 0xc2, 0xa5, 0x05, 0x57, 0xfd, 0x05, 0x6f, 0x61, 0x63, 0x5c, 0xbc,
        0x93, 0x77, 0xcf, 0x3d, 0xe7, 0xdc, 0x37, 0xf0, 0xce, 0x89, 0xa9, 0xf1, 0x99, 0xd9, 0xe9,
        0x49, 0x16, 0xd4, 0xc3, 0x8a, 0xc8, 0x5d, 0x64, 0x8a, 0x14, 0x59, 0x18, 0xf3, 0x2c, 0x4a,
        0x1e, 0xaa, 0x65, 0x29, 0x20, 0xf2, 0xb0, 0xac, 0x4b, 0x6c, 0x2e, 0x28, 0x45, 0x63, 0xb2,
        0x3e, 0xe6, 0x89, 0xeb, 0xf3, 0xdd, 0x3e, 0xea, 0xe9, 0x21, 0x5d, 0x91, 0xc5, 0x46, 0xe5,
        0xd4, 0x7a, 0xda, 0x42, 0x78, 0xac, 0x9b, 0x67, 0xcd, 0x87, 0x67, 0x2e, 0xb4, 0x69, 0x2e,
        0xb4, 0xac, 0x1d, 0xdc, 0xaf, 0x06, 0xd6, 0x29, 0xc7, 0x2b, 0x22, 0xbc, 0x20, 0x7c, 0x23,
        0x94, 0x18, 0x89, 0x69, 0xa5, 0x1b, 0x97, 0x65, 0x34, 0x76, 0x11, 0xce, 0x49, 0xeb, 0x15,
        0xb9, 0x46, 0x8a, 0x43, 0x6a, 0xfd, 0x0b, 0x44, 0x78, 0xb2, 0x4f, 0x0f, 0xec, 0x93, 0x32,
        0x31, 0xd6, 0xfe, 0x8e, 0x55, 0xcd, 0xd4, 0x3f, 0x76, 0xed, 0x82, 0x81, 0xb0, 0x47, 0x6e,
        0xab, 0xb2, 0x87, 0x50, 0x45, 0x23, 0xed, 0x22, 0x14, 0x30, 0x61, 0x58, 0x59, 0xc3, 0x4a,
        0x17, 0x9b, 0x89, 0x14, 0x19, 0xbb, 0x22, 0xfe, 0x98, 0x36, 0xda, 0x28, 0x55, 0xad, 0xd2,
        0x31, 0xc5, 0x76, 0x49, 0x61, 0x6d, 0xd4, 0x2e, 0xbf, 0xd1, 0x96, 0xc2, 0x9a, 0xaf, 0xdb,
        0xf6, 0x71, 0x01, 0x8d, 0xbc, 0x9d, 0x01, 0x32, 0x21, 0x9c, 0x20, 0xdc, 0x22, 0x64, 0x11,
        0x8a, 0x08, 0x47, 0x08, 0x9b, 0x14, 0xc6, 0x05, 0x8d, 0xae, 0x40, 0x27, 0x33, 0xee, 0xd1,
        0xf8, 0x76, 0x31, 0x99, 0x76, 0xcc, 0x33, 0x4c, 0xe6, 0x31, 0x79, 0x89, 0x49, 0x92, 0x80,
        0xf3, 0xf5, 0xee, 0x54, 0x13, 0x2d, 0x4c, 0x51, 0x69, 0xa5, 0xee, 0x9a, 0x95, 0xbc, 0x63,
        0x5e, 0x39, 0xe6, 0xb5, 0x63, 0xde, 0x10, 0x53, 0xcb, 0x15, 0x6b, 0xb9, 0xab, 0x5a, 0xee,
        0xda, 0xf9, 0xba, 0x70, 0xf3, 0x78, 0x9c, 0xde, 0x59, 0x09, 0x89, 0x3f, 0xc5, 0x54, 0xe3,
        0xfc, 0xb1, 0xfe, 0x91, 0xe0, 0x02, 0x55, 0x7f, 0x98, 0xcf, 0x4c, 0x9b, 0x11, 0x48, 0xe8,
        0x0e, 0x9f, 0x09, 0xca, 0x6c, 0x39, 0x1e, 0x9a, 0x5b, 0x62, 0xfe, 0xa8, 0xba, 0x1a, 0x61,
        0xf3, 0xea, 0x1a, 0x5b, 0x8c, 0x87, 0xb5, 0x18, 0x53, 0x57, 0xe4, 0x28, 0xd3, 0xa9, 0xad,
        0x48, 0x1b, 0xeb, 0x2c, 0xa0, 0x2e, 0xf4, 0xb0, 0x5e, 0x6f, 0x5f, 0xff, 0xc0, 0xe0, 0xd0,
        0xb0, 0x6f, 0xa4, 0x35, 0x4b, 0x68, 0x3f, 0xbf, 0xd0, 0xfa, 0xdd, 0x8e, 0x5f, 0xa5, 0x15,
        0x29, 0x35, 0xee, 0x01, 0x00, 0x00, 0x03,
};

static const unsigned char br_zeros_10m[27] = {
        0xcb, 0xff, 0xff, 0x3f, 0xf8, 0x27, 0x00, 0xe2, 0xb1, 0x40, 0x20, 0xf7, 0xfe, 0x2f,
        0xff, 0xff, 0x3f, 0xf0, 0x4f, 0x00, 0xc4, 0x61, 0x11, 0x80, 0xee, 0xfd, 0x07,
};

/* ---------------------------------------------------------------- encoders */

struct bytes {
	unsigned char *p;
	size_t n;
};

static void bytes_free(struct bytes *b)
{
	free(b->p);
	b->p = NULL;
	b->n = 0;
}

/* zlib: window_bits 31 gzip, 15 zlib, -15 raw deflate. */
static struct bytes zip(const void *in, size_t n, int window_bits)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, window_bits, 9, Z_DEFAULT_STRATEGY), Z_OK);
	struct bytes b;
	b.n = deflateBound(&z, (uLong)n) + 64;
	b.p = malloc(b.n);
	assert_non_null(b.p);
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)n;
	z.next_out = b.p;
	z.avail_out = (uInt)b.n;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	b.n = z.total_out;
	deflateEnd(&z);
	return b;
}

/* gzip with every optional header field: extra, name, comment, header CRC. */
static struct bytes zip_header(const void *in, size_t n, int level)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, level, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY), Z_OK);
	static unsigned char extra[300];
	memset(extra, 'x', sizeof(extra));
	gz_header h;
	memset(&h, 0, sizeof(h));
	h.extra = extra;
	h.extra_len = sizeof(extra);
	h.name = (Bytef *)"secret-meeting.html";
	h.comment = (Bytef *)"a comment";
	h.hcrc = 1;
	assert_int_equal(deflateSetHeader(&z, &h), Z_OK);
	struct bytes b;
	b.n = deflateBound(&z, (uLong)n) + 512;
	b.p = malloc(b.n);
	assert_non_null(b.p);
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)n;
	z.next_out = b.p;
	z.avail_out = (uInt)b.n;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	b.n = z.total_out;
	deflateEnd(&z);
	return b;
}

/* zlib at a level: 0 makes stored blocks. */
static struct bytes zip_level(const void *in, size_t n, int window_bits, int level)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, level, Z_DEFLATED, window_bits, 9, Z_DEFAULT_STRATEGY),
	                 Z_OK);
	struct bytes b;
	b.n = deflateBound(&z, (uLong)n) + 64;
	b.p = malloc(b.n);
	assert_non_null(b.p);
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)n;
	z.next_out = b.p;
	z.avail_out = (uInt)b.n;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	b.n = z.total_out;
	deflateEnd(&z);
	return b;
}

static struct bytes zst(const void *in, size_t n)
{
	struct bytes b;
	b.n = ZSTD_compressBound(n);
	b.p = malloc(b.n);
	assert_non_null(b.p);
	b.n = ZSTD_compress(b.p, b.n, in, n, 19);
	assert_false(ZSTD_isError(b.n));
	return b;
}

static struct bytes cat2(const struct bytes *a, const void *b, size_t bn)
{
	struct bytes r;
	r.n = a->n + bn;
	r.p = malloc(r.n);
	assert_non_null(r.p);
	memcpy(r.p, a->p, a->n);
	memcpy(r.p + a->n, b, bn);
	return r;
}

/* ---------------------------------------------------------------- stage ops */

struct ctx {
	enum kw_coding c[KW_CODINGS_MAX];
	int n;
	struct kw_decode_limits lim;
};

static void *make(const void *arg, struct kw_sink out)
{
	const struct ctx *x = arg;
	return kw_decode_new(x->c, x->n, &x->lim, out);
}

static int write_(void *st, const char *p, size_t n)
{
	return kw_decode_write(st, p, n);
}

static int finish(void *st)
{
	return kw_decode_finish(st);
}

/* What every run's error must be (NULL: none), unless any_error. */
static const char *expect_error;
static int any_error;
static char last_error[128];

static void free_(void *st)
{
	const char *e = kw_decode_error(st);
	snprintf(last_error, sizeof(last_error), "%s", e ? e : "");
	if (any_error)
		;
	else if (expect_error == NULL)
		assert_null(e);
	else {
		assert_non_null(e);
		assert_string_equal(e, expect_error);
		assert_false(kw_decode_limited(st));
	}
	kw_decode_free(st);
}

static const struct kw_stage_ops ops = {make, write_, finish, free_};

/* The codings of a Content-Encoding value. */
static struct ctx codings(const char *value)
{
	struct ctx x;
	memset(&x, 0, sizeof(x));
	x.n = kw_coding_parse(value, strlen(value), x.c);
	assert_true(x.n >= 0);
	x.lim.max_output = 64 << 20;
	x.lim.max_ratio = 100;
	return x;
}

/* in decodes to T, however split. */
static void check_text(const char *coding, const void *in, size_t n)
{
	struct ctx x = codings(coding);
	expect_error = NULL;
	kw_check_splits(&ops, &x, in, n, 0, T, strlen(T));
}

/* in fails with error err, the same way however split. */
static void check_error(const char *coding, const void *in, size_t n, const char *err)
{
	struct ctx x = codings(coding);
	expect_error = err;
	kw_check_splits(&ops, &x, in, n, -1, NULL, 0);
	expect_error = NULL;
}

/* ---------------------------------------------------------------- tests */

static void test_parse(void **state)
{
	(void)state;
	enum kw_coding c[KW_CODINGS_MAX];
	assert_int_equal(kw_coding_parse("gzip", 4, c), 1);
	assert_int_equal(c[0], KW_CODING_GZIP);
	assert_int_equal(kw_coding_parse("x-gzip, br", 10, c), 2);
	assert_int_equal(c[0], KW_CODING_GZIP);
	assert_int_equal(c[1], KW_CODING_BR);
	assert_int_equal(kw_coding_parse(" Deflate ,,\tZSTD ,identity", 26, c), 2);
	assert_int_equal(c[0], KW_CODING_DEFLATE);
	assert_int_equal(c[1], KW_CODING_ZSTD);
	assert_int_equal(kw_coding_parse("identity", 8, c), 0);
	assert_int_equal(kw_coding_parse("", 0, c), 0);
	assert_int_equal(kw_coding_parse("compress", 8, c), -1);
	assert_int_equal(kw_coding_parse("gzip, gzipp", 11, c), -1);
	assert_int_equal(kw_coding_parse("br,br,br,br", 11, c), 4);
	assert_int_equal(kw_coding_parse("br,br,br,br,br", 14, c), -1);
	/* only the length given is read */
	assert_int_equal(kw_coding_parse("gzip, br", 4, c), 1);
}

static void test_gzip(void **state)
{
	(void)state;
	struct bytes g = zip(T, strlen(T), 31);
	check_text("gzip", g.p, g.n);
	check_text("x-gzip", g.p, g.n);
	/* padding after the member is ignored */
	struct bytes pad = cat2(&g, "\0\0\0\0\n", 5);
	check_text("gzip", pad.p, pad.n);
	bytes_free(&pad);
	/* a zlib stream sent as gzip */
	struct bytes z = zip(T, strlen(T), 15);
	check_text("gzip", z.p, z.n);
	bytes_free(&z);
	bytes_free(&g);
}

static void test_gzip_members(void **state)
{
	(void)state;
	size_t half = 200;
	struct bytes a = zip(T, half, 31), b = zip(T + half, strlen(T) - half, 31);
	struct bytes ab = cat2(&a, b.p, b.n);
	check_text("gzip", ab.p, ab.n);
	/* an empty member between them */
	struct bytes e = zip("", 0, 31);
	struct bytes ae = cat2(&a, e.p, e.n), aeb = cat2(&ae, b.p, b.n);
	check_text("gzip", aeb.p, aeb.n);
	/* a lone 0x1f after a member is padding too */
	struct bytes tail = cat2(&ab, "\x1f", 1);
	check_text("gzip", tail.p, tail.n);
	bytes_free(&a);
	bytes_free(&b);
	bytes_free(&ab);
	bytes_free(&e);
	bytes_free(&ae);
	bytes_free(&aeb);
	bytes_free(&tail);
}

static void test_deflate(void **state)
{
	(void)state;
	struct bytes z = zip(T, strlen(T), 15), r = zip(T, strlen(T), -15);
	check_text("deflate", z.p, z.n);
	check_text("deflate", r.p, r.n);
	struct bytes pad = cat2(&z, "xyz", 3);
	check_text("deflate", pad.p, pad.n);
	bytes_free(&pad);
	bytes_free(&z);
	bytes_free(&r);
}

static void test_br(void **state)
{
	(void)state;
	check_text("br", br_text, sizeof(br_text));
	struct bytes b = {(unsigned char *)br_text, sizeof(br_text)};
	struct bytes pad = cat2(&b, "\0\0", 2);
	check_text("br", pad.p, pad.n);
	bytes_free(&pad);
}

static void test_zstd(void **state)
{
	(void)state;
	struct bytes z = zst(T, strlen(T));
	check_text("zstd", z.p, z.n);
	/* two frames */
	size_t half = 300;
	struct bytes a = zst(T, half), b = zst(T + half, strlen(T) - half);
	struct bytes ab = cat2(&a, b.p, b.n);
	check_text("zstd", ab.p, ab.n);
	bytes_free(&z);
	bytes_free(&a);
	bytes_free(&b);
	bytes_free(&ab);
}

static void test_stacked(void **state)
{
	(void)state;
	/* gzip applied first, then br: undone br first */
	check_text("gzip, br", br_gzip_text, sizeof(br_gzip_text));
	struct bytes d = zip(T, strlen(T), 15);
	struct bytes dg = zip(d.p, d.n, 31);
	check_text("deflate, gzip", dg.p, dg.n);
	struct bytes bz = zst(br_text, sizeof(br_text));
	check_text("br, zstd", bz.p, bz.n);
	/* four: br, raw deflate, zstd, gzip */
	struct bytes r = zip(br_text, sizeof(br_text), -15);
	struct bytes rz = zst(r.p, r.n);
	struct bytes rzg = zip(rz.p, rz.n, 31);
	check_text("br, deflate, zstd, gzip", rzg.p, rzg.n);
	/* the wrong order is corrupt */
	check_error("br, gzip", br_gzip_text, sizeof(br_gzip_text), "corrupt gzip stream");
	bytes_free(&d);
	bytes_free(&dg);
	bytes_free(&bz);
	bytes_free(&r);
	bytes_free(&rz);
	bytes_free(&rzg);
}

static void test_identity(void **state)
{
	(void)state;
	check_text("identity", T, strlen(T));
	check_text("", T, strlen(T));
}

static void test_empty(void **state)
{
	(void)state;
	const char *all[] = {"gzip", "deflate", "br", "zstd", "gzip, br"};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		struct ctx x = codings(all[i]);
		kw_check_splits(&ops, &x, "", 0, 0, "", 0);
	}
}

static void test_truncated(void **state)
{
	(void)state;
	struct bytes g = zip(T, strlen(T), 31), z = zip(T, strlen(T), 15),
	             r = zip(T, strlen(T), -15), s = zst(T, strlen(T));
	check_error("gzip", g.p, g.n / 2, "truncated gzip stream");
	check_error("gzip", g.p, g.n - 1, "truncated gzip stream"); /* in the trailer */
	check_error("gzip", g.p, 1, "truncated gzip stream");
	check_error("deflate", z.p, z.n - 2, "truncated deflate stream");
	check_error("deflate", r.p, r.n / 2, "truncated deflate stream");
	check_error("deflate", z.p, 1, "truncated deflate stream");
	check_error("br", br_text, sizeof(br_text) - 1, "truncated brotli stream");
	check_error("zstd", s.p, s.n - 1, "truncated zstd stream");
	check_error("zstd", s.p, 3, "truncated zstd stream");
	/* the inner stream cut, the outer complete */
	struct bytes gz = zip(g.p, g.n - 3, 31);
	check_error("gzip, gzip", gz.p, gz.n, "truncated gzip stream");
	bytes_free(&g);
	bytes_free(&z);
	bytes_free(&r);
	bytes_free(&s);
	bytes_free(&gz);
}

static void test_corrupt(void **state)
{
	(void)state;
	struct bytes g = zip(T, strlen(T), 31), s = zst(T, strlen(T));
	g.p[g.n - 6] ^= 0x55; /* the CRC */
	check_error("gzip", g.p, g.n, "corrupt gzip stream");
	g.p[g.n - 6] ^= 0x55;
	g.p[2] = 7; /* the method */
	check_error("gzip", g.p, g.n, "corrupt gzip stream");
	check_error("gzip", T, strlen(T), "corrupt gzip stream");
	check_error("deflate", "\xff\xff\xff\xff", 4, "corrupt deflate stream");
	check_error("br", T, strlen(T), "corrupt brotli stream");
	check_error("zstd", T, strlen(T), "corrupt zstd stream");
	/* zstd takes frames only: anything after them is corrupt */
	struct bytes sx = cat2(&s, "x", 1);
	check_error("zstd", sx.p, sx.n, "corrupt zstd stream");
	bytes_free(&g);
	bytes_free(&s);
	bytes_free(&sx);
}

/* The gzip header's optional fields, all of them, also split across writes
 * (ISA-L, used before zlib, failed on a split header CRC); what zlib
 * refuses is refused. */
static void test_gzip_header(void **state)
{
	(void)state;
	struct bytes h = zip_header(T, strlen(T), 9);
	assert_int_equal(h.p[3], 0x1e); /* FEXTRA FNAME FCOMMENT FHCRC */
	check_text("gzip", h.p, h.n);
	/* as the second member, and with stored blocks */
	struct bytes s = zip_header(T, strlen(T), 0), g = zip(T, 0, 31);
	struct bytes gs = cat2(&g, s.p, s.n);
	check_text("gzip", gs.p, gs.n);
	/* the header CRC is the 2 bytes before the deflate data */
	size_t hdr = 10 + 2 + 300 + sizeof("secret-meeting.html") + sizeof("a comment");
	h.p[hdr] ^= 1;
	check_error("gzip", h.p, h.n, "corrupt gzip stream");
	h.p[hdr] ^= 1;
	h.p[hdr + 1] ^= 0x80;
	check_error("gzip", h.p, h.n, "corrupt gzip stream");
	h.p[hdr + 1] ^= 0x80;
	check_text("gzip", h.p, h.n);
	/* a name byte changed: the header CRC no longer matches */
	h.p[12 + 300 + 3] ^= 0x20;
	check_error("gzip", h.p, h.n, "corrupt gzip stream");
	bytes_free(&h);
	/* reserved flags, as zlib */
	for (int bit = 5; bit < 8; bit++) {
		struct bytes r = zip(T, strlen(T), 31);
		r.p[3] |= (unsigned char)(1 << bit);
		check_error("gzip", r.p, r.n, "corrupt gzip stream");
		bytes_free(&r);
	}
	/* cut in every part of the header */
	struct bytes c = zip_header(T, strlen(T), 9);
	size_t cuts[] = {3, 10, 11, 12, 100, 320, 330, hdr, hdr + 1, hdr + 2};
	for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++)
		check_error("gzip", c.p, cuts[k], "truncated gzip stream");
	bytes_free(&c);
	bytes_free(&s);
	bytes_free(&g);
	bytes_free(&gs);
}

/* The trailers are checked: gzip's CRC-32 and ISIZE, zlib's Adler-32, sent
 * as deflate or as gzip; a zlib header asking for a dictionary is refused. */
static void test_checks(void **state)
{
	(void)state;
	struct bytes g = zip(T, strlen(T), 31), z = zip(T, strlen(T), 15);
	for (size_t k = 1; k <= 8; k++) { /* CRC-32 then ISIZE */
		g.p[g.n - k] ^= 0x01;
		check_error("gzip", g.p, g.n, "corrupt gzip stream");
		g.p[g.n - k] ^= 0x01;
	}
	/* a bad CRC in the second member, after a good one */
	struct bytes gg = cat2(&g, g.p, g.n);
	gg.p[gg.n - 5] ^= 0x40;
	check_error("gzip", gg.p, gg.n, "corrupt gzip stream");
	for (size_t k = 1; k <= 4; k++) {
		z.p[z.n - k] ^= 0x10;
		check_error("deflate", z.p, z.n, "corrupt deflate stream");
		check_error("gzip", z.p, z.n, "corrupt gzip stream");
		z.p[z.n - k] ^= 0x10;
	}
	/* FDICT: 0x78 0xbb is a valid zlib header with the flag set */
	struct bytes fd = zip(T, strlen(T), 15);
	fd.p[1] = 0xbb;
	check_error("deflate", fd.p, fd.n, "corrupt deflate stream");
	check_error("gzip", fd.p, fd.n, "corrupt gzip stream");
	/* neither gzip nor zlib, sent as gzip */
	check_error("gzip", "\x1f\x8c\x08\x00", 4, "corrupt gzip stream");
	bytes_free(&g);
	bytes_free(&gg);
	bytes_free(&z);
	bytes_free(&fd);
}

/* What follows a stream is still seen, whatever an inflater reads ahead: a
 * gzip member after a zlib stream sent as gzip, padding after raw deflate. */
static void test_after_end(void **state)
{
	(void)state;
	size_t half = 250;
	struct bytes a = zip(T, half, 15), b = zip(T + half, strlen(T) - half, 31);
	struct bytes ab = cat2(&a, b.p, b.n);
	check_text("gzip", ab.p, ab.n);
	/* with stored blocks, and padding after the last member */
	struct bytes s = zip_level(T, half, 15, 0),
	             t = zip_level(T + half, strlen(T) - half, 31, 0);
	struct bytes st = cat2(&s, t.p, t.n), stp = cat2(&st, "\0\0\0\0\0\0\0\0\0\0", 10);
	check_text("gzip", stp.p, stp.n);
	struct bytes r = zip(T, strlen(T), -15);
	struct bytes rp = cat2(&r, "\x1f\x8b\x08\x00padding", 11);
	check_text("deflate", rp.p, rp.n);
	struct bytes rs = zip_level(T, strlen(T), -15, 0);
	check_text("deflate", rs.p, rs.n);
	/* the smallest raw stream: an empty final block in two bytes */
	struct ctx x = codings("deflate");
	kw_check_splits(&ops, &x, "\x03\x00xyz", 5, 0, "", 0);
	bytes_free(&a);
	bytes_free(&b);
	bytes_free(&ab);
	bytes_free(&s);
	bytes_free(&t);
	bytes_free(&st);
	bytes_free(&stp);
	bytes_free(&r);
	bytes_free(&rp);
	bytes_free(&rs);
}

/* Feeds in[0..n) in 4 KiB writes; returns the first failure or finish's. */
static int run(const char *coding, const struct kw_decode_limits *lim, const void *in, size_t n,
               struct kwbuf *out, struct kw_decode **dp)
{
	struct ctx x = codings(coding);
	memset(out, 0, sizeof(*out));
	struct kw_decode *d = kw_decode_new(x.c, x.n, lim, kwbuf_sink(out));
	*dp = d;
	for (size_t at = 0; at < n; at += 4096) {
		size_t k = n - at < 4096 ? n - at : 4096;
		if (kw_decode_write(d, (const char *)in + at, k) < 0)
			return -1;
	}
	return kw_decode_finish(d);
}

static void expect_stop(const char *coding, const void *in, size_t n,
                        const struct kw_decode_limits *lim, const char *err, size_t min_out,
                        size_t max_out)
{
	struct kwbuf out;
	struct kw_decode *d;
	assert_int_equal(run(coding, lim, in, n, &out, &d), -1);
	assert_non_null(kw_decode_error(d));
	assert_string_equal(kw_decode_error(d), err);
	assert_true(kw_decode_limited(d));
	if (out.len < min_out || out.len > max_out)
		fail_msg("%s: %zu bytes out, want %zu..%zu", coding, out.len, min_out, max_out);
	for (size_t i = 0; i < out.len; i++)
		if (out.p[i] != 0)
			fail_msg("%s: byte %zu is not 0", coding, i);
	/* stopped for good */
	assert_int_equal(kw_decode_write(d, "x", 1), -1);
	assert_int_equal(kw_decode_finish(d), -1);
	assert_string_equal(kw_decode_error(d), err);
	kw_decode_free(d);
	kwbuf_free(&out);
}

static void test_bombs(void **state)
{
	(void)state;
	size_t n = 10 << 20;
	char *zeros = calloc(n, 1);
	assert_non_null(zeros);
	struct bytes g = zip(zeros, n, 31), r = zip(zeros, n, -15), s = zst(zeros, n);
	struct bytes gg = zip(g.p, g.n, 31);
	free(zeros);
	const struct kw_decode_limits ratio = {0, 100}, size = {1 << 20, 0}, both = {2 << 20, 100};
	const char *bomb = "decompression bomb (ratio over 100)";
	/* by ratio: stopped soon after 1 MiB */
	size_t lo = 1 << 20, hi = (1 << 20) + (64 << 10);
	expect_stop("gzip", g.p, g.n, &ratio, bomb, 0, hi);
	expect_stop("deflate", r.p, r.n, &ratio, bomb, 0, hi);
	expect_stop("zstd", s.p, s.n, &ratio, bomb, 0, hi);
	expect_stop("br", br_zeros_10m, sizeof(br_zeros_10m), &ratio, bomb, 0, hi);
	expect_stop("gzip, gzip", gg.p, gg.n, &ratio, bomb, 0, hi);
	/* by size: exactly max_output passed on */
	const char *big = "decoded size over 1 MiB";
	expect_stop("gzip", g.p, g.n, &size, big, lo, lo);
	expect_stop("zstd", s.p, s.n, &size, big, lo, lo);
	expect_stop("br", br_zeros_10m, sizeof(br_zeros_10m), &size, big, lo, lo);
	expect_stop("gzip, gzip", gg.p, gg.n, &size, big, lo, lo);
	const struct kw_decode_limits odd = {1000000, 0};
	expect_stop("gzip", g.p, g.n, &odd, "decoded size over 1000000 bytes", 1000000, 1000000);
	/* both: the ratio comes first here */
	expect_stop("gzip", g.p, g.n, &both, bomb, 0, hi);
	/* without limits it all comes out */
	const struct kw_decode_limits none = {0, 0};
	struct kwbuf out;
	struct kw_decode *d;
	assert_int_equal(run("gzip, gzip", &none, gg.p, gg.n, &out, &d), 0);
	assert_int_equal(out.len, n);
	assert_null(kw_decode_error(d));
	kw_decode_free(d);
	kwbuf_free(&out);
	bytes_free(&g);
	bytes_free(&r);
	bytes_free(&s);
	bytes_free(&gg);
}

/* Many members of 64 KiB and more, each ending inside a write: all of the
 * text comes out, in blocks of 64 KiB at most. */
static void test_many_members(void **state)
{
	(void)state;
	size_t tl = strlen(T), part = 150000, parts = 7, n = part * parts;
	char *in = malloc(n);
	assert_non_null(in);
	for (size_t i = 0; i < n; i++)
		in[i] = (i % 101 == 0) ? (char)('a' + (i / 101) % 26) : T[i % tl];
	struct bytes all = zip_level(in, part, 31, 6);
	for (size_t k = 1; k < parts; k++) {
		struct bytes m = zip_level(in + k * part, part, 31, (int)(k % 10));
		struct bytes c = cat2(&all, m.p, m.n);
		bytes_free(&all);
		bytes_free(&m);
		all = c;
	}
	struct kw_decode_limits lim = {64 << 20, 100};
	struct kwbuf out;
	struct kw_decode *d;
	assert_int_equal(run("gzip", &lim, all.p, all.n, &out, &d), 0);
	assert_int_equal(out.len, n);
	assert_memory_equal(out.p, in, n);
	assert_true(out.writes >= n / (64 << 10));
	kw_decode_free(d);
	kwbuf_free(&out);
	bytes_free(&all);
	free(in);
}

/* Ordinary text compresses far less than the ratio allows, and comes out
 * in blocks of 64 KiB at most. */
static void test_large_text(void **state)
{
	(void)state;
	size_t reps = 20000, tl = strlen(T), n = reps * tl;
	char *in = malloc(n);
	assert_non_null(in);
	for (size_t i = 0; i < reps; i++)
		memcpy(in + i * tl, T, tl);
	/* vary it so that it does not compress too well */
	for (size_t i = 0; i < n; i += 97)
		in[i] = (char)('a' + (i / 97) % 26);
	struct bytes g = zip(in, n, 31);
	struct kw_decode_limits lim = {64 << 20, 100};
	struct kwbuf out;
	struct kw_decode *d;
	assert_int_equal(run("gzip", &lim, g.p, g.n, &out, &d), 0);
	assert_int_equal(out.len, n);
	assert_memory_equal(out.p, in, n);
	assert_true(out.writes >= n / (64 << 10));
	kw_decode_free(d);
	kwbuf_free(&out);
	bytes_free(&g);
	free(in);
}

static void test_zstd_window(void **state)
{
	(void)state;
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	assert_non_null(cc);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog, 25);
	unsigned char buf[4096];
	ZSTD_outBuffer o = {buf, sizeof(buf), 0};
	ZSTD_inBuffer i = {T, strlen(T), 0};
	assert_false(ZSTD_isError(ZSTD_compressStream2(cc, &o, &i, ZSTD_e_continue)));
	ZSTD_inBuffer none = {NULL, 0, 0};
	assert_int_equal(ZSTD_compressStream2(cc, &o, &none, ZSTD_e_end), 0);
	ZSTD_freeCCtx(cc);
	struct kw_decode_limits lim = {0, 0};
	struct kwbuf out;
	struct kw_decode *d;
	assert_int_equal(run("zstd", &lim, buf, o.pos, &out, &d), -1);
	assert_string_equal(kw_decode_error(d), "zstd window over 8 MiB");
	kw_decode_free(d);
	kwbuf_free(&out);
}

/* Damaged streams: the same outcome and error in three random pieces as
 * whole, and the same output as far as both go, whatever the damage
 * (AddressSanitizer watches). */
static void test_random_damage(void **state)
{
	(void)state;
	struct bytes g = zip(T, strlen(T), 31), r = zip(T, strlen(T), -15), s = zst(T, strlen(T));
	struct bytes br = {(unsigned char *)br_text, sizeof(br_text)};
	const struct {
		const char *coding;
		struct bytes *b;
	} cases[] = {{"gzip", &g}, {"deflate", &r}, {"zstd", &s}, {"br", &br}};
	uint64_t seed = 99;
	unsigned char buf[1024];
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct ctx x = codings(cases[k].coding);
		for (int round = 0; round < 300; round++) {
			size_t n = cases[k].b->n;
			assert_true(n <= sizeof(buf));
			memcpy(buf, cases[k].b->p, n);
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			for (int flips = 1 + (int)((seed >> 60) & 3); flips > 0; flips--) {
				seed = seed * 6364136223846793005ull + 1442695040888963407ull;
				buf[(seed >> 33) % n] ^= (unsigned char)(1 + ((seed >> 20) & 0xfe));
			}
			if (round % 3 == 0)
				n = (seed >> 40) % (n + 1);
			struct kwbuf whole, parts;
			char err[128];
			any_error = 1;
			int rc = kw_run_pieces(&ops, &x, (const char *)buf, n, NULL, 0, &whole);
			snprintf(err, sizeof(err), "%s", last_error);
			size_t cuts[2] = {n / 2, n / 2 + (seed >> 44) % (n - n / 2 + 1)};
			int rc2 = kw_run_pieces(&ops, &x, (const char *)buf, n, cuts, 2, &parts);
			any_error = 0;
			assert_int_equal(rc, rc2);
			assert_string_equal(err, last_error);
			if (rc == 0) {
				kw_expect_same(&parts, whole.p, whole.len, "damaged");
			} else {
				/* A stream found corrupt may lose what the library
				 * decoded in the call that found it (zstd does): the
				 * outputs agree as far as both go. */
				size_t m = whole.len < parts.len ? whole.len : parts.len;
				assert_true(m == 0 || memcmp(whole.p, parts.p, m) == 0);
			}
			kwbuf_free(&whole);
			kwbuf_free(&parts);
		}
	}
	bytes_free(&g);
	bytes_free(&r);
	bytes_free(&s);
}

static void test_sink_stops(void **state)
{
	(void)state;
	struct bytes g = zip(T, strlen(T), 31);
	struct ctx x = codings("gzip");
	struct kwbuf out = {0};
	out.stop_after = 10;
	struct kw_decode *d = kw_decode_new(x.c, x.n, &x.lim, kwbuf_sink(&out));
	assert_int_equal(kw_decode_write(d, (const char *)g.p, g.n), -1);
	assert_null(kw_decode_error(d));
	assert_false(kw_decode_limited(d));
	assert_int_equal(kw_decode_write(d, "x", 1), -1);
	assert_int_equal(kw_decode_finish(d), -1);
	kw_decode_free(d);
	kwbuf_free(&out);
	bytes_free(&g);
	/* through the sink interface, and with nothing to undo */
	x = codings("identity");
	d = kw_decode_new(x.c, x.n, &x.lim, kwbuf_sink(&out));
	out.stop_after = 1;
	struct kw_sink s = kw_decode_sink(d);
	assert_int_equal(kw_sink_write(&s, "ab", 2), -1);
	assert_null(kw_decode_error(d));
	kw_decode_free(d);
	kwbuf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse),
	        cmocka_unit_test(test_gzip),
	        cmocka_unit_test(test_gzip_members),
	        cmocka_unit_test(test_deflate),
	        cmocka_unit_test(test_br),
	        cmocka_unit_test(test_zstd),
	        cmocka_unit_test(test_stacked),
	        cmocka_unit_test(test_identity),
	        cmocka_unit_test(test_empty),
	        cmocka_unit_test(test_truncated),
	        cmocka_unit_test(test_corrupt),
	        cmocka_unit_test(test_gzip_header),
	        cmocka_unit_test(test_checks),
	        cmocka_unit_test(test_after_end),
	        cmocka_unit_test(test_many_members),
	        cmocka_unit_test(test_bombs),
	        cmocka_unit_test(test_large_text),
	        cmocka_unit_test(test_zstd_window),
	        cmocka_unit_test(test_random_damage),
	        cmocka_unit_test(test_sink_stops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
