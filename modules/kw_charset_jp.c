/*
 * kw_charset_jp: CP932 and EUC-JP-MS to UTF-8 by tables (see the header).
 *
 * iconv per block cost more than half of the time a Shift_JIS page takes
 * through the keyword module; glibc's converters step through a generic
 * loop per character. Both charsets here are stateless and decide each
 * sequence from its own bytes, at most three, so the whole of iconv's
 * behaviour is a trie: a table of 256 entries for the first byte, and one
 * for every prefix iconv waits on (EINVAL: a lead byte; EUC-JP's 8F xx).
 * Each entry is what iconv says when it is given exactly that sequence,
 * asked at build time: a character (its UTF-8, one code point, stored as
 * is), invalid (EILSEQ, with nothing consumed: U+FFFD and one byte skipped,
 * as kw_charset.c does with iconv's EILSEQ), or a prefix (the next table).
 * Anything else iconv might answer (output of several characters, part of
 * the input consumed, a sequence longer than three bytes) makes the build
 * give up, and the caller goes on with iconv: the tables never guess.
 * tests/unit/test_kw_charset_jp.c checks them against iconv over every 1-
 * and 2-byte sequence, EUC-JP's 3-byte ones and random text.
 *
 * A table is built once per process (pthread_once) with about 20,000
 * (CP932) or 90,000 (EUC-JP-MS: 8F xx is a prefix for every xx) iconv
 * calls, a few milliseconds, and then shared read-only.
 */
#include "kw_charset_jp.h"

#include <errno.h>
#include <iconv.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* An entry: tag 0 invalid; 1..3 a character of that many UTF-8 bytes in
 * b; TAG_NODE: a prefix, the index of its table in b[0] and b[1]. The
 * four bytes are stored at once, so that the output is one store. */
#define TAG_NODE  0x80
#define MAX_NODES 1024

struct jp_ent {
	unsigned char b[3];
	unsigned char tag;
};

struct kw_jp_table {
	struct jp_ent root[256];
	int ascii_same; /* 00..7F read as themselves: copied in runs */
	struct jp_ent (*nodes)[256];
	size_t nnodes;
};

enum { P_CHAR, P_INVALID, P_PREFIX, P_ODD };

/* What iconv makes of s[0..len) alone. */
static int probe(iconv_t cd, const unsigned char *s, size_t len, struct jp_ent *e)
{
	char out[16], *in = (char *)s, *o = out;
	size_t il = len, ol = sizeof(out);
	iconv(cd, NULL, NULL, NULL, NULL);
	size_t r = iconv(cd, &in, &il, &o, &ol);
	int err = errno;
	if (r == (size_t)-1)
		return il != len       ? P_ODD
		       : err == EILSEQ ? P_INVALID
		       : err == EINVAL ? P_PREFIX
		                       : P_ODD;
	size_t n = sizeof(out) - ol;
	unsigned char b0 = (unsigned char)out[0];
	size_t want = b0 < 0x80 ? 1 : b0 >= 0xc2 && b0 < 0xe0 ? 2 : b0 >= 0xe0 && b0 < 0xf0 ? 3 : 0;
	if (il != 0 || n == 0 || n != want)
		return P_ODD; /* several characters, or one outside the BMP */
	memset(e, 0, sizeof(*e));
	memcpy(e->b, out, n);
	e->tag = (unsigned char)n;
	return P_CHAR;
}

/* Fills row with the entries for seq[0..len) followed by each byte. */
static int build_row(iconv_t cd, struct kw_jp_table *t, unsigned char *seq, size_t len,
                     struct jp_ent *row)
{
	for (unsigned v = 0; v < 256; v++) {
		seq[len] = (unsigned char)v;
		struct jp_ent *e = &row[v];
		switch (probe(cd, seq, len + 1, e)) {
		case P_CHAR:
			break;
		case P_INVALID:
			memset(e, 0, sizeof(*e));
			break;
		case P_PREFIX: {
			if (len + 1 >= KW_JP_SEQ_MAX || t->nnodes == MAX_NODES)
				return -1;
			size_t k = t->nnodes++;
			*e = (struct jp_ent){.b = {(unsigned char)k, (unsigned char)(k >> 8)},
			                     .tag = TAG_NODE};
			if (build_row(cd, t, seq, len + 1, t->nodes[k]) < 0)
				return -1;
			break;
		}
		default:
			return -1;
		}
	}
	return 0;
}

static struct kw_jp_table *build(const char *name)
{
	iconv_t cd = iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1)
		return NULL;
	struct kw_jp_table *t = calloc(1, sizeof(*t));
	if (t == NULL || (t->nodes = calloc(MAX_NODES, sizeof(*t->nodes))) == NULL)
		abort();
	unsigned char seq[KW_JP_SEQ_MAX];
	int rc = build_row(cd, t, seq, 0, t->root);
	iconv_close(cd);
	if (rc < 0) {
		free(t->nodes);
		free(t);
		return NULL;
	}
	t->ascii_same = 1;
	for (unsigned v = 0; v < 0x80; v++)
		if (t->root[v].tag != 1 || t->root[v].b[0] != v)
			t->ascii_same = 0;
	void *fit = realloc(t->nodes, (t->nnodes ? t->nnodes : 1) * sizeof(*t->nodes));
	if (fit != NULL)
		t->nodes = fit;
	return t;
}

static pthread_once_t cp932_once = PTHREAD_ONCE_INIT, eucjp_once = PTHREAD_ONCE_INIT;
static const struct kw_jp_table *cp932_table, *eucjp_table;

static void cp932_init(void)
{
	cp932_table = build("CP932");
}

static void eucjp_init(void)
{
	eucjp_table = build("EUC-JP-MS");
}

const struct kw_jp_table *kw_jp_table(const char *name)
{
	if (strcmp(name, "CP932") == 0) {
		pthread_once(&cp932_once, cp932_init);
		return cp932_table;
	}
	if (strcmp(name, "EUC-JP-MS") == 0) {
		pthread_once(&eucjp_once, eucjp_init);
		return eucjp_table;
	}
	return NULL;
}

size_t kw_jp_convert(const struct kw_jp_table *t, const unsigned char *p, size_t n, char *out,
                     size_t *out_len)
{
	static const struct jp_ent fffd = {.b = {0xef, 0xbf, 0xbd}, .tag = 3};
	const uint64_t high = 0x8080808080808080ull;
	size_t i = 0, o = 0;
	while (i < n) {
		if (t->ascii_same && p[i] < 0x80) {
			while (i + 8 <= n) {
				uint64_t w;
				memcpy(&w, p + i, 8);
				if (w & high)
					break;
				memcpy(out + o, &w, 8);
				i += 8;
				o += 8;
			}
			while (i < n && p[i] < 0x80)
				out[o++] = (char)p[i++];
			continue;
		}
		const struct jp_ent *e = &t->root[p[i]];
		size_t k = 1;
		while (e->tag == TAG_NODE) {
			if (i + k == n)
				goto cut; /* iconv would wait for more */
			e = &t->nodes[e->b[0] | (size_t)e->b[1] << 8][p[i + k]];
			k++;
		}
		if (e->tag == 0) {
			e = &fffd;
			k = 1;
		}
		/* The tag byte lands past the character, to be overwritten
		 * (out has room for 3 bytes per input byte and one more). */
		memcpy(out + o, e, 4);
		o += e->tag;
		i += k;
	}
cut:
	*out_len = o;
	return i;
}
