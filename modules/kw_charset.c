/*
 * kw_charset: bytes in the charset of a page or form to UTF-8, streaming.
 *
 * Deciding (kw_charset_sniff.c does the reading): the first bytes are held
 * in a window until a byte order mark, the HTTP label, a <meta> in the
 * first KW_CHARSET_SNIFF bytes or detection decides. A byte order mark or
 * a label decides as soon as the first bytes rule out a BOM; otherwise the
 * window fills first. When detection sees nothing but ASCII there, the
 * window is passed on as it is (ASCII reads the same in every candidate)
 * and later bytes pass until the first byte that is not ASCII (or an ESC),
 * where a new window starts for detection: a Shift_JIS page whose first
 * kilobyte is markup and script is still read as Shift_JIS.
 *
 * Converting, by kind:
 *   - UTF-8 is validated here, not through iconv, and valid runs are
 *     passed on without a copy when long; invalid bytes become U+FFFD, one
 *     per maximal subpart as browsers do.
 *   - Windows-1252 is a table (glibc lacks 0x81, 0x8D, 0x8F, 0x90, 0x9D,
 *     which browsers read as C1 controls).
 *   - ISO-2022-JP is read here, escapes and shift state carried from one
 *     write to the next, into Shift_JIS codes that go through CP932:
 *     glibc's ISO-2022-JP lacks the NEC row 13 (①, ㍉) and half-width
 *     katakana, and its ISO-2022-JP-3 reads ESC $ B as plain JIS X 0208,
 *     while mail from Windows (CP50221) uses both. ESC ( J reads as ASCII
 *     as on Windows; ESC ( I and SO/SI are half-width katakana; other sets
 *     (JIS X 0212, ISO-2022-JP-2's) become U+FFFD.
 *   - CP932 and EUC-JP-MS (and so ISO-2022-JP) go through tables built
 *     from glibc iconv (kw_charset_jp.c), with the same output as iconv
 *     below, several times faster.
 *   - everything else is glibc iconv, with a carry of the incomplete
 *     sequence at the end of a write (iconv's EINVAL) into the next one;
 *     an invalid sequence (EILSEQ) becomes U+FFFD and one byte (two in
 *     UTF-16) is skipped. A sequence still incomplete at the end is U+FFFD.
 *
 * Output is gathered in a 16 KiB block and passed on at the end of each
 * write, so the next stage sees a few large writes.
 */
#include "kw_charset.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kw_charset_jp.h"
#include "kw_charset_sniff.h"

#define OBUF_SIZE  (16 * 1024)
#define DIRECT_MIN 2048 /* runs this long go to the sink without a copy */
#define CARRY_MAX  16   /* longer than any incomplete sequence iconv waits on */

static const char fffd[3] = {'\xef', '\xbf', '\xbd'};

enum { M_SNIFF, M_ASCII, M_DETECT, M_CONVERT };

/* ISO-2022-JP sets (what the escapes select). */
enum { JIS_ASCII, JIS_KANA, JIS_X0208, JIS_OTHER };

/* Not a CP932 byte: iconv reports it, and it becomes U+FFFD. */
#define JIS_BAD 0xff

struct kw_charset {
	struct kw_sink out;
	int mode;
	int sniff_html;
	int have_http;
	struct kw_cs_choice http;
	int decided;
	struct kw_cs_choice cs;
	iconv_t cd;
	const struct kw_jp_table *jp; /* CP932 or EUC-JP-MS by table, instead of cd */
	int stopped;
	size_t win_len;
	unsigned char win[KW_CHARSET_SNIFF];
	size_t carry_len;
	unsigned char carry[CARRY_MAX];
	int jis_set, jis_so, jis_lead;
	size_t jis_esc_len;
	unsigned char jis_esc[4];
	size_t olen;
	char obuf[OBUF_SIZE];
};

/* Windows-1252 0x80..0x9F, as browsers decode them. */
static const unsigned short cp1252_high[32] = {
        0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
        0x2039, 0x0152, 0x008d, 0x017d, 0x008f, 0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
        0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
};

unsigned kw_charset_cp1252(unsigned char b)
{
	return b >= 0x80 && b < 0xa0 ? cp1252_high[b - 0x80] : b;
}

/* ---------------------------------------------------------------- output */

static int flush(struct kw_charset *c)
{
	if (c->olen == 0)
		return 0;
	size_t n = c->olen;
	c->olen = 0;
	if (kw_sink_write(&c->out, c->obuf, n) < 0) {
		c->stopped = 1;
		return -1;
	}
	return 0;
}

static int put(struct kw_charset *c, const void *p, size_t n)
{
	if (n >= DIRECT_MIN) {
		if (flush(c) < 0)
			return -1;
		if (kw_sink_write(&c->out, p, n) < 0) {
			c->stopped = 1;
			return -1;
		}
		return 0;
	}
	if (n > OBUF_SIZE - c->olen && flush(c) < 0)
		return -1;
	memcpy(c->obuf + c->olen, p, n);
	c->olen += n;
	return 0;
}

/* ---------------------------------------------------------------- UTF-8 */

/*
 * Validation is a DFA whose states are bit offsets into a 64-bit word per
 * byte value, which holds the next state for every state (Per Vognsen's
 * "shift-based DFA"): one load and one shift a byte, no branch, and runs
 * of ASCII skipped 16 bytes at a time. The error state is 0, so that what
 * the table leaves out is an error, and it absorbs. A block with an error
 * goes again through the byte-by-byte loop, which finds each error and
 * replaces it; that happens only where the text is broken.
 */
enum {
	U_ERR = 0,
	U_ACC = 6, /* between characters */
	U_C1 = 12, /* one continuation byte to come */
	U_C2 = 18, /* two */
	U_C3 = 24, /* three */
	U_E0 = 30, /* after E0: A0..BF, then one */
	U_ED = 36, /* after ED: 80..9F (no surrogates), then one */
	U_F0 = 42, /* after F0: 90..BF, then two */
	U_F4 = 48, /* after F4: 80..8F (nothing past U+10FFFF), then two */
};

#define UT(from, to) ((uint64_t)(to) << (from))
#define U_CONT       (UT(U_C1, U_ACC) | UT(U_C2, U_C1) | UT(U_C3, U_C2))

static const uint64_t utf8_dfa[256] = {
        [0x00 ... 0x7f] = UT(U_ACC, U_ACC),
        [0x80 ... 0x8f] = U_CONT | UT(U_ED, U_C1) | UT(U_F4, U_C2),
        [0x90 ... 0x9f] = U_CONT | UT(U_ED, U_C1) | UT(U_F0, U_C2),
        [0xa0 ... 0xbf] = U_CONT | UT(U_E0, U_C1) | UT(U_F0, U_C2),
        [0xc2 ... 0xdf] = UT(U_ACC, U_C1),
        [0xe0] = UT(U_ACC, U_E0),
        [0xe1 ... 0xec] = UT(U_ACC, U_C2),
        [0xed] = UT(U_ACC, U_ED),
        [0xee ... 0xef] = UT(U_ACC, U_C2),
        [0xf0] = UT(U_ACC, U_F0),
        [0xf1 ... 0xf3] = UT(U_ACC, U_C3),
        [0xf4] = UT(U_ACC, U_F4),
};

/* The DFA's state after p[0..n), stopping early at an error. */
static unsigned utf8_scan(const unsigned char *p, size_t n)
{
	const uint64_t high = 0x8080808080808080ull;
	uint64_t st = U_ACC;
	size_t i = 0;
	while (i < n) {
		if ((st & 63) == U_ACC) {
			while (i + 16 <= n) {
				uint64_t a, b;
				memcpy(&a, p + i, 8);
				memcpy(&b, p + i + 8, 8);
				if ((a | b) & high)
					break;
				i += 16;
			}
		}
		size_t end = n - i > 64 ? i + 64 : n;
		for (; i < end; i++)
			st = utf8_dfa[p[i]] >> (st & 63);
		if ((st & 63) == U_ERR)
			return U_ERR;
	}
	return (unsigned)(st & 63);
}

/* Byte by byte, replacing what is invalid. */
static int utf8_repair(struct kw_charset *c, const unsigned char *p, size_t n)
{
	size_t i = 0, start = 0;
	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		int k = kw_cs_utf8_seq(p + i, n - i);
		if (k > 0) {
			i += (size_t)k;
			continue;
		}
		if (put(c, p + start, i - start) < 0)
			return -1;
		if (k == 0) {
			c->carry_len = n - i;
			memcpy(c->carry, p + i, n - i);
			return 0;
		}
		if (put(c, fffd, 3) < 0)
			return -1;
		i += (size_t)-k;
		start = i;
	}
	return put(c, p + start, n - start);
}

static int utf8_run(struct kw_charset *c, const unsigned char *p, size_t n)
{
	/* First the sequence cut at the end of the last write. */
	while (c->carry_len > 0 && n > 0) {
		c->carry[c->carry_len++] = *p++;
		n--;
		int k = kw_cs_utf8_seq(c->carry, c->carry_len);
		if (k > 0) {
			c->carry_len = 0;
			if (put(c, c->carry, (size_t)k) < 0)
				return -1;
		} else if (k < 0) {
			/* The byte just added broke it: read it again. */
			c->carry_len = 0;
			p--;
			n++;
			if (put(c, fffd, 3) < 0)
				return -1;
		}
	}
	unsigned st = utf8_scan(p, n);
	if (st == U_ACC)
		return put(c, p, n);
	if (st == U_ERR)
		return utf8_repair(c, p, n);
	/* Valid, but the last character is cut short: carry it. */
	size_t lead = n - 1;
	while ((p[lead] & 0xc0) == 0x80)
		lead--;
	c->carry_len = n - lead;
	memcpy(c->carry, p + lead, n - lead);
	return put(c, p, lead);
}

/* ---------------------------------------------------------------- Windows-1252 */

static int w1252_run(struct kw_charset *c, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (OBUF_SIZE - c->olen < 3 && flush(c) < 0)
			return -1;
		unsigned cp = kw_charset_cp1252(p[i]);
		char *o = c->obuf + c->olen;
		if (cp < 0x80) {
			o[0] = (char)cp;
			c->olen += 1;
		} else if (cp < 0x800) {
			o[0] = (char)(0xc0 | cp >> 6);
			o[1] = (char)(0x80 | (cp & 0x3f));
			c->olen += 2;
		} else {
			o[0] = (char)(0xe0 | cp >> 12);
			o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
			o[2] = (char)(0x80 | (cp & 0x3f));
			c->olen += 3;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- iconv */

/*
 * Converts *pp[0..*pn) into obuf until done or stopped by a sequence cut
 * at the end, which is left in *pp and *pn.
 */
static int conv_run(struct kw_charset *c, const unsigned char **pp, size_t *pn)
{
	char *in = (char *)*pp;
	size_t inleft = *pn;
	while (inleft > 0) {
		if (OBUF_SIZE - c->olen < 64 && flush(c) < 0)
			return -1;
		char *o = c->obuf + c->olen;
		size_t ol = OBUF_SIZE - c->olen;
		/* Input that fits the room left (3 bytes out per byte in at
		 * most, in the charsets that matter): glibc handles running
		 * out of room slowly. */
		size_t chunk = inleft < ol / 3 ? inleft : ol / 3;
		size_t rest = inleft - chunk;
		const char *before = in;
		size_t r = iconv(c->cd, &in, &chunk, &o, &ol);
		int err = errno;
		inleft = chunk + rest;
		c->olen = OBUF_SIZE - ol;
		if (r != (size_t)-1)
			continue;
		if (err == E2BIG) {
			if (flush(c) < 0)
				return -1;
		} else if (err == EINVAL) {
			if (rest == 0)
				break; /* the end of the input */
			/* Our chunk cut a sequence: the next one starts there;
			 * if it cannot grow, the caller decides. */
			if (in == before) {
				if (c->olen == 0)
					break;
				if (flush(c) < 0)
					return -1;
			}
		} else {
			size_t skip = c->cs.unit < inleft ? c->cs.unit : inleft;
			in += skip;
			inleft -= skip;
			if (put(c, fffd, 3) < 0)
				return -1;
		}
	}
	*pp = (const unsigned char *)in;
	*pn = inleft;
	return 0;
}

/* conv_run, and then a tail that iconv still waits on but that is too long
 * to be a real charset's sequence has its first byte invalid. */
static int conv_all(struct kw_charset *c, const unsigned char **pp, size_t *pn)
{
	for (;;) {
		if (conv_run(c, pp, pn) < 0)
			return -1;
		if (*pn < CARRY_MAX)
			return 0;
		if (put(c, fffd, 3) < 0)
			return -1;
		(*pp)++;
		(*pn)--;
	}
}

/* The tables' version of iconv_write: the same carry of a sequence cut
 * at the end of a write. */
static int jp_write(struct kw_charset *c, const unsigned char *p, size_t n)
{
	while (c->carry_len > 0 && n > 0) {
		char o[3 * KW_JP_SEQ_MAX + 1];
		size_t ol;
		c->carry[c->carry_len++] = *p++;
		n--;
		size_t u = kw_jp_convert(c->jp, c->carry, c->carry_len, o, &ol);
		if (put(c, o, ol) < 0)
			return -1;
		memmove(c->carry, c->carry + u, c->carry_len - u);
		c->carry_len -= u;
	}
	while (n > 0) {
		if (OBUF_SIZE - c->olen < 64 && flush(c) < 0)
			return -1;
		size_t chunk = (OBUF_SIZE - c->olen - 1) / 3, ol;
		if (chunk > n)
			chunk = n;
		size_t u = kw_jp_convert(c->jp, p, chunk, c->obuf + c->olen, &ol);
		c->olen += ol;
		if (u < chunk && chunk == n) {
			/* Cut short at the end (a chunk's own cut, u > 0, is
			 * read again with what follows). */
			memcpy(c->carry, p + u, n - u);
			c->carry_len = n - u;
			return 0;
		}
		p += u;
		n -= u;
	}
	return 0;
}

static int iconv_write(struct kw_charset *c, const unsigned char *p, size_t n)
{
	if (c->jp != NULL)
		return jp_write(c, p, n);
	while (c->carry_len > 0 && n > 0) {
		/* The carried bytes and enough new ones to finish them. */
		unsigned char tmp[2 * CARRY_MAX];
		size_t take = n < CARRY_MAX ? n : CARRY_MAX;
		memcpy(tmp, c->carry, c->carry_len);
		memcpy(tmp + c->carry_len, p, take);
		const unsigned char *q = tmp;
		size_t qn = c->carry_len + take;
		if (conv_run(c, &q, &qn) < 0)
			return -1;
		size_t used = c->carry_len + take - qn;
		if (used < c->carry_len) {
			/* Still cut short: q[0..qn) holds all of take. */
			if (take == n && qn < CARRY_MAX) {
				memcpy(c->carry, q, qn);
				c->carry_len = qn;
				return 0;
			}
			/* Too long to be a sequence: its first byte is invalid. */
			if (put(c, fffd, 3) < 0)
				return -1;
			used++;
		}
		if (used >= c->carry_len) {
			p += used - c->carry_len;
			n -= used - c->carry_len;
			c->carry_len = 0;
		} else {
			memmove(c->carry, c->carry + used, c->carry_len - used);
			c->carry_len -= used;
		}
	}
	if (n > 0) {
		if (conv_all(c, &p, &n) < 0)
			return -1;
		memcpy(c->carry, p, n);
		c->carry_len = n;
	}
	return 0;
}

static int iconv_finish(struct kw_charset *c)
{
	if (c->jp != NULL) {
		/* As iconv: a sequence still cut short is one U+FFFD. */
		if (c->carry_len == 0)
			return 0;
		c->carry_len = 0;
		return put(c, fffd, 3);
	}
	if (c->carry_len > 0) {
		const unsigned char *q = c->carry;
		size_t qn = c->carry_len;
		c->carry_len = 0;
		if (conv_run(c, &q, &qn) < 0)
			return -1;
		if (qn > 0 && put(c, fffd, 3) < 0)
			return -1;
	}
	if (OBUF_SIZE - c->olen < 16 && flush(c) < 0)
		return -1;
	char *o = c->obuf + c->olen;
	size_t ol = OBUF_SIZE - c->olen;
	iconv(c->cd, NULL, NULL, &o, &ol);
	c->olen = OBUF_SIZE - ol;
	return 0;
}

/* ---------------------------------------------------------------- ISO-2022-JP */

/* The set an escape selects; -1: incomplete; -2: not one we know. */
static int jis_escape(const unsigned char *e, size_t len)
{
	if (len < 3)
		return e[1] == '(' || e[1] == '$' ? -1 : -2;
	if (e[1] == '(') {
		if (e[2] == 'B' || e[2] == 'J' || e[2] == 'H')
			return JIS_ASCII;
		return e[2] == 'I' ? JIS_KANA : -2;
	}
	if (len == 3) {
		if (e[2] == '@' || e[2] == 'B')
			return JIS_X0208;
		if (e[2] == 'A')
			return JIS_OTHER;
		return e[2] == '(' ? -1 : -2;
	}
	if (e[3] == '@' || e[3] == 'B')
		return JIS_X0208;
	return e[3] == 'D' || e[3] == 'O' || e[3] == 'P' || e[3] == 'Q' ? JIS_OTHER : -2;
}

/* JIS row/cell to Shift_JIS; rows 89-92 land on CP932's NEC-selected IBM
 * extensions, as CP50221 has them. */
static void jis_to_sjis(unsigned j1, unsigned j2, unsigned char *o)
{
	o[0] = (unsigned char)(((j1 + 1) >> 1) + (j1 <= 0x5e ? 0x70 : 0xb0));
	o[1] = (unsigned char)(j2 + ((j1 & 1) ? (j2 < 0x60 ? 0x1f : 0x20) : 0x7e));
}

/* Reads one byte of ISO-2022-JP, writing Shift_JIS bytes to o (16 at most). */
static size_t jis_byte(struct kw_charset *c, unsigned char b, unsigned char *o)
{
	size_t k = 0;
	if (c->jis_esc_len > 0) {
		c->jis_esc[c->jis_esc_len++] = b;
		int set = jis_escape(c->jis_esc, c->jis_esc_len);
		if (set == -1)
			return 0;
		size_t len = c->jis_esc_len;
		c->jis_esc_len = 0;
		if (set >= 0) {
			c->jis_set = set;
			return 0;
		}
		/* Not an escape: the ESC is invalid, and what followed it is
		 * read again (an ESC there starts a new escape). */
		unsigned char seq[4];
		memcpy(seq, c->jis_esc, len);
		o[k++] = JIS_BAD;
		for (size_t j = 1; j < len; j++)
			k += jis_byte(c, seq[j], o + k);
		return k;
	}
	if (c->jis_lead && (b < 0x21 || b > 0x7e)) {
		o[k++] = JIS_BAD; /* half a character */
		c->jis_lead = 0;
	}
	if (b == 0x1b) {
		c->jis_esc[0] = b;
		c->jis_esc_len = 1;
		return k;
	}
	if (b == 0x0e || b == 0x0f) {
		c->jis_so = b == 0x0e;
		return k;
	}
	if (b >= 0x80) {
		o[k++] = JIS_BAD;
		return k;
	}
	int set = c->jis_so ? JIS_KANA : c->jis_set;
	if (b < 0x21 || b == 0x7f || set == JIS_ASCII) {
		o[k++] = b;
	} else if (set == JIS_KANA) {
		o[k++] = b <= 0x5f ? (unsigned char)(b + 0x80) : JIS_BAD;
	} else if (!c->jis_lead) {
		c->jis_lead = b;
	} else if (set == JIS_X0208) {
		jis_to_sjis((unsigned)c->jis_lead, b, o + k);
		k += 2;
		c->jis_lead = 0;
	} else {
		o[k++] = JIS_BAD;
		c->jis_lead = 0;
	}
	return k;
}

static int jis_write(struct kw_charset *c, const unsigned char *p, size_t n)
{
	unsigned char tmp[1024];
	size_t t = 0, i = 0;
	while (i < n) {
		if (t > sizeof(tmp) - 16) {
			if (iconv_write(c, tmp, t) < 0)
				return -1;
			t = 0;
		}
		/* Runs in one set, a loop each; the rest byte by byte. */
		size_t room = sizeof(tmp) - 16 - t, start = i;
		if (c->jis_esc_len == 0 && !c->jis_so && !c->jis_lead) {
			if (c->jis_set == JIS_ASCII) {
				size_t end = n - i < room ? n : i + room;
				while (i < end && p[i] < 0x80 && p[i] != 0x1b && p[i] != 0x0e &&
				       p[i] != 0x0f)
					tmp[t++] = p[i++];
			} else if (c->jis_set == JIS_X0208) {
				while (i + 1 < n && t + 2 <= sizeof(tmp) - 16 && p[i] >= 0x21 &&
				       p[i] <= 0x7e && p[i + 1] >= 0x21 && p[i + 1] <= 0x7e) {
					jis_to_sjis(p[i], p[i + 1], tmp + t);
					t += 2;
					i += 2;
				}
			}
		}
		if (i == start)
			t += jis_byte(c, p[i++], tmp + t);
	}
	return iconv_write(c, tmp, t);
}

static int jis_finish(struct kw_charset *c)
{
	unsigned char tmp[32];
	size_t t = 0;
	if (c->jis_esc_len > 0) {
		/* An escape cut short: as an unknown one. */
		unsigned char seq[4];
		size_t len = c->jis_esc_len;
		memcpy(seq, c->jis_esc, len);
		c->jis_esc_len = 0;
		tmp[t++] = JIS_BAD;
		for (size_t j = 1; j < len; j++)
			t += jis_byte(c, seq[j], tmp + t);
	}
	if (c->jis_lead || c->jis_esc_len > 0)
		tmp[t++] = JIS_BAD;
	c->jis_lead = 0;
	c->jis_esc_len = 0;
	if (iconv_write(c, tmp, t) < 0)
		return -1;
	return iconv_finish(c);
}

/* ---------------------------------------------------------------- deciding */

static void decide(struct kw_charset *c, const struct kw_cs_choice *ch)
{
	c->cs = *ch;
	c->decided = 1;
	c->mode = M_CONVERT;
	const char *from = NULL;
	if (ch->kind == KW_CS_ICONV)
		from = ch->name;
	else if (ch->kind == KW_CS_ISO2022JP)
		from = "CP932";
	if (from == NULL || (c->jp = kw_jp_table(from)) != NULL)
		return;
	c->cd = iconv_open("UTF-8", from);
	if (c->cd == (iconv_t)-1) {
		/* Taken by kw_cs_resolve, so only if memory ran out. */
		abort();
	}
}

static int convert(struct kw_charset *c, const unsigned char *p, size_t n)
{
	switch (c->cs.kind) {
	case KW_CS_UTF8:
		return utf8_run(c, p, n);
	case KW_CS_1252:
		return w1252_run(c, p, n);
	case KW_CS_ISO2022JP:
		return jis_write(c, p, n);
	default:
		return iconv_write(c, p, n);
	}
}

static void choose_utf8(struct kw_charset *c)
{
	struct kw_cs_choice ch;
	kw_cs_resolve("utf-8", 5, 0, &ch);
	decide(c, &ch);
}

/* Detection on the window, once full (or at the end). */
static int detect_window(struct kw_charset *c, int final)
{
	if (c->win_len < KW_CHARSET_SNIFF && !final)
		return 0;
	struct kw_cs_choice ch;
	if (kw_cs_detect(c->win, c->win_len, final, &ch)) {
		decide(c, &ch);
		return convert(c, c->win, c->win_len);
	}
	/* Nothing but ASCII: pass it on and look further. */
	size_t n = c->win_len;
	c->win_len = 0;
	if (final)
		choose_utf8(c);
	else
		c->mode = M_ASCII;
	return put(c, c->win, n);
}

static const struct {
	const char *bom;
	size_t len;
	const char *name;
} boms[] = {
        {"\xef\xbb\xbf", 3, "utf-8"},
        {"\xff\xfe", 2, "utf-16le"},
        {"\xfe\xff", 2, "utf-16be"},
};

/* The first window: BOM, HTTP label, <meta>, detection. */
static int sniff(struct kw_charset *c, int final)
{
	int maybe_bom = 0;
	for (size_t i = 0; i < sizeof(boms) / sizeof(boms[0]); i++) {
		size_t l = boms[i].len;
		if (c->win_len >= l && memcmp(c->win, boms[i].bom, l) == 0) {
			struct kw_cs_choice ch;
			kw_cs_resolve(boms[i].name, strlen(boms[i].name), 0, &ch);
			decide(c, &ch);
			return convert(c, c->win + l, c->win_len - l);
		}
		if (c->win_len < l && memcmp(c->win, boms[i].bom, c->win_len) == 0)
			maybe_bom = 1;
	}
	if (maybe_bom && !final)
		return 0;
	if (c->have_http) {
		decide(c, &c->http);
		return convert(c, c->win, c->win_len);
	}
	if (c->win_len < KW_CHARSET_SNIFF && !final)
		return 0;
	struct kw_cs_choice ch;
	if (c->sniff_html && kw_cs_meta(c->win, c->win_len, &ch) == 0) {
		decide(c, &ch);
		return convert(c, c->win, c->win_len);
	}
	return detect_window(c, final);
}

/* ---------------------------------------------------------------- interface */

struct kw_charset *kw_charset_new(const char *http_charset, size_t http_charset_len, int sniff_html,
                                  struct kw_sink out)
{
	struct kw_charset *c = calloc(1, sizeof(*c));
	if (c == NULL)
		abort();
	c->out = out;
	c->sniff_html = sniff_html;
	c->cd = (iconv_t)-1;
	c->mode = M_SNIFF;
	if (http_charset != NULL && kw_cs_resolve(http_charset, http_charset_len, 0, &c->http) == 0)
		c->have_http = 1;
	return c;
}

int kw_charset_write(struct kw_charset *c, const char *p, size_t n)
{
	if (c->stopped)
		return -1;
	const unsigned char *u = (const unsigned char *)p;
	int rc = 0;
	while (n > 0 && rc == 0) {
		if (c->mode == M_CONVERT) {
			rc = convert(c, u, n);
			break;
		}
		if (c->mode == M_ASCII) {
			size_t i = 0;
			while (i < n && u[i] < 0x80 && u[i] != 0x1b)
				i++;
			rc = put(c, u, i);
			u += i;
			n -= i;
			if (n > 0)
				c->mode = M_DETECT;
			continue;
		}
		size_t take = KW_CHARSET_SNIFF - c->win_len;
		if (take > n)
			take = n;
		memcpy(c->win + c->win_len, u, take);
		c->win_len += take;
		u += take;
		n -= take;
		rc = c->mode == M_SNIFF ? sniff(c, 0) : detect_window(c, 0);
	}
	if (rc == 0)
		rc = flush(c);
	if (rc < 0)
		c->stopped = 1;
	return rc;
}

int kw_charset_finish(struct kw_charset *c)
{
	if (c->stopped)
		return -1;
	int rc = 0;
	if (c->mode == M_SNIFF)
		rc = sniff(c, 1);
	else if (c->mode == M_DETECT)
		rc = detect_window(c, 1);
	else if (c->mode == M_ASCII)
		choose_utf8(c);
	if (rc == 0) {
		switch (c->cs.kind) {
		case KW_CS_UTF8:
			if (c->carry_len > 0) {
				c->carry_len = 0;
				rc = put(c, fffd, 3);
			}
			break;
		case KW_CS_1252:
			break;
		case KW_CS_ISO2022JP:
			rc = jis_finish(c);
			break;
		default:
			rc = iconv_finish(c);
			break;
		}
	}
	if (rc == 0)
		rc = flush(c);
	if (rc < 0)
		c->stopped = 1;
	return rc;
}

const char *kw_charset_name(const struct kw_charset *c)
{
	return c->decided ? c->cs.name : NULL;
}

void kw_charset_free(struct kw_charset *c)
{
	if (c == NULL)
		return;
	if (c->cd != (iconv_t)-1)
		iconv_close(c->cd);
	free(c);
}

static int charset_sink_write(void *arg, const char *p, size_t n)
{
	return kw_charset_write(arg, p, n);
}

struct kw_sink kw_charset_sink(struct kw_charset *c)
{
	return (struct kw_sink){charset_sink_write, c};
}
