/*
 * kw_text: how the stages of the keyword module's text pipeline connect.
 * Each stage (content decoding, form decoding, charset conversion, HTML to
 * text, normalization, matching) takes bytes through its write function and
 * passes what it produces to the next stage's sink, so a body of any size
 * flows through in blocks with bounded memory: no stage holds more than a
 * small carry-over (an incomplete UTF-8 sequence, a tag being read, an
 * entity, a character that may still combine with the next).
 *
 * A write returns 0, or -1 to stop the pipeline: the stage that stopped
 * says why (a decompression bomb, a corrupt stream). Stages run on scan
 * threads, one pipeline per message, and share nothing mutable.
 */
#ifndef ICAPD_KW_TEXT_H
#define ICAPD_KW_TEXT_H

#include <stddef.h>

struct kw_sink {
	int (*write)(void *arg, const char *p, size_t n);
	void *arg;
};

static inline int kw_sink_write(const struct kw_sink *s, const char *p, size_t n)
{
	return n == 0 ? 0 : s->write(s->arg, p, n);
}

#endif
