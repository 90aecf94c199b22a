/*
 * kw_form: an application/x-www-form-urlencoded body to text, a byte at a
 * time (a %XX split between writes is carried). '+' is a space, %XX the
 * byte XX (any byte: the result goes on to kw_charset, as the form's bytes
 * are in the page's charset), '=' and '&' a line break. A '%' not followed
 * by two hex digits is kept as it is, as browsers' decoders do.
 */
#include "kw_form.h"

#include <stdlib.h>
#include <string.h>

#define OBUF_SIZE (16 * 1024)

enum { F_TEXT, F_PCT, F_PCT1 };

struct kw_form {
	struct kw_sink out;
	int state;
	int stopped;
	unsigned char hi; /* the first hex digit after '%' */
	size_t olen;
	char obuf[OBUF_SIZE];
};

/* The bytes that are not themselves. */
static const unsigned char special[256] = {['%'] = 1, ['+'] = 1, ['='] = 1, ['&'] = 1};

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void flush(struct kw_form *f)
{
	if (f->olen == 0 || f->stopped)
		return;
	size_t n = f->olen;
	f->olen = 0;
	if (kw_sink_write(&f->out, f->obuf, n) < 0)
		f->stopped = 1;
}

static void out(struct kw_form *f, const void *p, size_t n)
{
	if (n > OBUF_SIZE - f->olen)
		flush(f);
	memcpy(f->obuf + f->olen, p, n);
	f->olen += n;
}

struct kw_form *kw_form_new(struct kw_sink out_sink)
{
	struct kw_form *f = calloc(1, sizeof(*f));
	if (f == NULL)
		abort();
	f->out = out_sink;
	return f;
}

int kw_form_write(struct kw_form *f, const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;
	for (size_t i = 0; i < n && !f->stopped;) {
		unsigned char ch = u[i];
		if (f->state == F_PCT) {
			if (hexval(ch) < 0) {
				out(f, "%", 1);
				f->state = F_TEXT;
				continue; /* read again as text */
			}
			f->hi = ch;
			f->state = F_PCT1;
			i++;
			continue;
		}
		if (f->state == F_PCT1) {
			f->state = F_TEXT;
			if (hexval(ch) < 0) {
				char lit[2] = {'%', (char)f->hi};
				out(f, lit, 2);
				continue;
			}
			unsigned char b = (unsigned char)(hexval(f->hi) << 4 | hexval(ch));
			out(f, &b, 1);
			i++;
			continue;
		}
		/* A run of plain bytes, then the one that is not. */
		size_t j = i;
		while (j < n && !special[u[j]])
			j++;
		while (i < j) {
			size_t k = j - i < OBUF_SIZE ? j - i : OBUF_SIZE;
			out(f, u + i, k);
			i += k;
		}
		if (j == n)
			break;
		unsigned char b = u[j] == '+' ? ' ' : '\n';
		i = j + 1;
		if (u[j] == '%') {
			int hi, lo;
			if (j + 2 >= n || (hi = hexval(u[j + 1])) < 0 ||
			    (lo = hexval(u[j + 2])) < 0) {
				f->state = F_PCT; /* cut by the write, or not an escape */
				continue;
			}
			b = (unsigned char)(hi << 4 | lo);
			i = j + 3;
		}
		if (f->olen == OBUF_SIZE)
			flush(f);
		f->obuf[f->olen++] = (char)b;
	}
	flush(f);
	return f->stopped ? -1 : 0;
}

int kw_form_finish(struct kw_form *f)
{
	if (f->state == F_PCT)
		out(f, "%", 1);
	else if (f->state == F_PCT1)
		out(f, (char[]){'%', (char)f->hi}, 2);
	f->state = F_TEXT;
	flush(f);
	return f->stopped ? -1 : 0;
}

void kw_form_free(struct kw_form *f)
{
	free(f);
}

static int form_sink_write(void *arg, const char *p, size_t n)
{
	return kw_form_write(arg, p, n);
}

struct kw_sink kw_form_sink(struct kw_form *f)
{
	return (struct kw_sink){form_sink_write, f};
}
