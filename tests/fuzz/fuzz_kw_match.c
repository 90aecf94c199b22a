/*
 * Fuzz target for kw_match.c: the data is split at its NULs into up to 32
 * strings and, last, the text (the data whole, without a NUL). Each
 * string's matches are counted against a naive count of its occurrences
 * in the text; the text is scanned whole, in writes cut at points derived
 * from the data (one of them long, so that it is probed in place), a byte
 * at a time (short texts), and from a copy at an offset past a 64-byte
 * boundary, with each code path the CPU has (scalar, AVX2, AVX-512): the
 * same matches in the same order every time. Violations abort.
 */

#include "fuzz_util.h"
#include "kw_match.h"

#define MAX_STRINGS 32
#define MAX_ORDER   4096

struct seen {
	long count[MAX_STRINGS];
	unsigned order[MAX_ORDER];
	size_t n;
};

static void on_match(void *ctx, unsigned id)
{
	struct seen *s = ctx;
	CHECK(id < MAX_STRINGS);
	s->count[id]++;
	if (s->n < MAX_ORDER)
		s->order[s->n++] = id;
}

/* Scans text[0..n) in writes ending at cuts[0..ncuts) (sorted), each an
 * exact-size copy, or (align >= 0) one write from align bytes past a
 * 64-byte boundary. */
static void scan(const struct kw_match *m, const char *text, size_t n, const size_t *cuts,
                 size_t ncuts, int align, struct seen *out)
{
	memset(out, 0, sizeof(*out));
	struct kw_match_stream *s = kw_match_open(m, on_match, out);
	if (align >= 0) {
		char *buf = aligned_alloc(64, (n + (size_t)align + 64) / 64 * 64);
		CHECK(buf != NULL);
		memcpy(buf + align, text, n);
		kw_match_write(s, buf + align, n);
		free(buf);
	} else {
		size_t at = 0;
		for (size_t k = 0; k <= ncuts; k++) {
			size_t end = k < ncuts ? cuts[k] : n;
			char *piece = fz_copy(text + at, end - at);
			kw_match_write(s, piece, end - at);
			free(piece);
			at = end;
		}
	}
	kw_match_finish(s);
	kw_match_close(s);
}

static bool same(const struct seen *a, const struct seen *b)
{
	return a->n == b->n && memcmp(a->count, b->count, sizeof(a->count)) == 0 &&
	       memcmp(a->order, b->order, a->n * sizeof(a->order[0])) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t nparts = 1;
	for (size_t i = 0; i < size && nparts <= MAX_STRINGS; i++)
		nparts += data[i] == 0;
	size_t off[MAX_STRINGS + 1], len[MAX_STRINGS + 1];
	fz_split(data, size, nparts, off, len);
	size_t nstr = nparts - 1;
	const char *strs[MAX_STRINGS];
	size_t lens[MAX_STRINGS];
	unsigned ids[MAX_STRINGS];
	size_t k = 0;
	for (size_t i = 0; i < nstr; i++)
		if (len[i] > 0) {
			strs[k] = (const char *)data + off[i];
			lens[k] = len[i];
			ids[k] = (unsigned)k;
			k++;
		}
	nstr = k;
	const char *text = (const char *)data + off[nparts - 1];
	size_t n = len[nparts - 1];
	if (nstr == 0) {
		strs[0] = (const char *)data;
		lens[0] = n < 8 ? n : 8;
		ids[0] = 0;
		nstr = lens[0] > 0;
	}

	long want[MAX_STRINGS] = {0};
	for (size_t i = 0; i < nstr; i++)
		for (size_t p = 0; p + lens[i] <= n; p++)
			want[i] += memcmp(text + p, strs[i], lens[i]) == 0;

	uint64_t h = fz_hash(data, size);
	struct kw_match *m = kw_match_build(strs, lens, ids, nstr);
	static struct seen whole, other;
	for (int isa = KW_MATCH_AVX512; isa >= KW_MATCH_SCALAR; isa--) {
		kw_match_limit_isa(m, (enum kw_match_isa)isa);
		scan(m, text, n, NULL, 0, -1, &whole);
		CHECK(memcmp(whole.count, want, sizeof(want)) == 0);
		size_t cuts[3] = {(size_t)(h % (n + 1)), 0, 0};
		cuts[1] = cuts[0] + (size_t)((h >> 20) % (n - cuts[0] + 1));
		cuts[2] = cuts[1] + (size_t)((h >> 40) % (n - cuts[1] + 1));
		scan(m, text, n, cuts, 3, -1, &other);
		CHECK(same(&whole, &other));
		scan(m, text, n, NULL, 0, (int)(h % 64), &other);
		CHECK(same(&whole, &other));
		if (n <= 1024) {
			size_t bytes[1024];
			for (size_t i = 0; i + 1 < n; i++)
				bytes[i] = i + 1;
			scan(m, text, n, bytes, n ? n - 1 : 0, -1, &other);
			CHECK(same(&whole, &other));
		}
	}
	kw_match_free(m);
	return 0;
}
