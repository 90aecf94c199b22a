/*
 * chunked: a byte-at-a-time state machine, so that input split at any point
 * decodes exactly as input given whole. Grammar accepted:
 *
 *   chunk      = chunk-size *WSP [ ";" ext *( ";" ext ) ] CRLF data CRLF
 *   last-chunk = 1*"0" *WSP [ ";" ext ... ] CRLF *( trailer-line CRLF ) CRLF
 *
 * Only a last chunk whose extensions include the name "ieof" sets c->ieof.
 * Quoted strings in extensions are tracked, so that a ";" inside one does not
 * start a new extension ('0; x="a;ieof"' is not ieof).
 */
#include "chunked.h"

#include <string.h>
#include <strings.h>

enum {
	S_SIZE,    /* hex digits */
	S_SIZE_WS, /* white space after the digits */
	S_EXT,     /* inside extensions, up to CR */
	S_EXT_QS,  /* inside a quoted string in an extension */
	S_EXT_QP,  /* after a backslash in a quoted string */
	S_SIZE_LF, /* after CR of the size line */
	S_DATA,    /* data bytes: the caller takes them */
	S_DATA_CR, /* CRLF after data */
	S_DATA_LF,
	S_TRAILER, /* start of a trailer line or the final CRLF */
	S_TRAILER_LINE,
	S_TRAILER_LF,
	S_FINAL_LF,
	S_END,
};

void chunked_init(struct chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->state = S_SIZE;
}

bool chunked_in_trailers(const struct chunked *c)
{
	return c->state == S_TRAILER || c->state == S_TRAILER_LINE || c->state == S_TRAILER_LF ||
	       c->state == S_FINAL_LF;
}

uint64_t chunked_pending(const struct chunked *c)
{
	return c->state == S_DATA ? c->remaining : 0;
}

void chunked_consume(struct chunked *c, uint64_t n)
{
	/* Outside data, pending is 0, and taking 0 bytes must change nothing. */
	if (c->state != S_DATA)
		return;
	if (n > c->remaining)
		n = c->remaining;
	c->remaining -= n;
	if (c->remaining == 0)
		c->state = S_DATA_CR;
}

static int hexval(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Tracks extension names, to spot "ieof" without storing the whole line. */
static void ext_byte(struct chunked *c, unsigned char ch)
{
	if (ch == ';') {
		if (c->ext_len == 4 && strncasecmp(c->ext, "ieof", 4) == 0)
			c->ieof = true;
		c->ext_len = 0;
		c->ext_name_done = false;
		return;
	}
	if (c->ext_name_done)
		return;
	if (ch == ' ' || ch == '\t') {
		if (c->ext_len > 0)
			c->ext_name_done = true;
		return;
	}
	if (ch == '=') {
		c->ext_name_done = true;
		return;
	}
	if (c->ext_len < 4)
		c->ext[c->ext_len] = (char)ch;
	c->ext_len++;
}

static void ext_end(struct chunked *c)
{
	if (c->ext_len == 4 && strncasecmp(c->ext, "ieof", 4) == 0)
		c->ieof = true;
}

enum chunked_status chunked_parse(struct chunked *c, const char *in, size_t len, size_t *used)
{
	size_t i = 0;

	for (; i < len; i++) {
		unsigned char ch = (unsigned char)in[i];
		int h;

		if (c->state == S_SIZE || c->state == S_SIZE_WS || c->state == S_EXT ||
		    c->state == S_EXT_QS || c->state == S_EXT_QP) {
			if (++c->line_len > CHUNKED_MAX_LINE)
				goto error;
		}
		switch (c->state) {
		case S_SIZE:
			h = hexval(ch);
			if (h >= 0) {
				if (c->size > (CHUNKED_MAX_SIZE - (unsigned)h) >> 4)
					goto error;
				c->size = c->size << 4 | (unsigned)h;
				c->digits++;
				break;
			}
			if (c->digits == 0)
				goto error;
			if (ch == ' ' || ch == '\t') {
				c->state = S_SIZE_WS;
			} else if (ch == ';') {
				c->state = S_EXT;
				ext_byte(c, ch);
			} else if (ch == '\r') {
				c->state = S_SIZE_LF;
			} else {
				goto error;
			}
			break;
		case S_SIZE_WS:
			if (ch == ';') {
				c->state = S_EXT;
				ext_byte(c, ch);
			} else if (ch == '\r') {
				c->state = S_SIZE_LF;
			} else if (ch != ' ' && ch != '\t') {
				goto error;
			}
			break;
		case S_EXT:
			if (ch == '\r') {
				ext_end(c);
				c->state = S_SIZE_LF;
			} else if (ch == '\n' || (ch < 0x20 && ch != '\t') || ch == 0x7f) {
				goto error;
			} else if (ch == '"') {
				/* A quoted value. A quote is never part of a name, so
				 * one inside a name spoils it ('ieof"x"' is no ieof). */
				if (!c->ext_name_done)
					c->ext_len = sizeof(c->ext);
				c->ext_name_done = true;
				c->state = S_EXT_QS;
			} else {
				ext_byte(c, ch);
			}
			break;
		case S_EXT_QS:
		case S_EXT_QP:
			/* No CR or other control: the string must close on its line. */
			if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
				goto error;
			if (c->state == S_EXT_QP)
				c->state = S_EXT_QS;
			else if (ch == '\\')
				c->state = S_EXT_QP;
			else if (ch == '"')
				c->state = S_EXT;
			break;
		case S_SIZE_LF:
			if (ch != '\n')
				goto error;
			c->line_len = 0;
			if (c->size == 0) {
				c->state = S_TRAILER;
				if (c->stop_at_trailers) {
					*used = i + 1;
					return CHUNKED_NEED_MORE;
				}
				break;
			}
			/* ieof only counts on the last chunk. */
			c->ieof = false;
			c->remaining = c->size;
			c->state = S_DATA;
			*used = i + 1;
			return CHUNKED_DATA;
		case S_DATA:
			*used = i;
			return CHUNKED_DATA;
		case S_DATA_CR:
			if (ch != '\r')
				goto error;
			c->state = S_DATA_LF;
			break;
		case S_DATA_LF:
			if (ch != '\n')
				goto error;
			c->size = 0;
			c->digits = 0;
			c->line_len = 0;
			c->ext_len = 0;
			c->ext_name_done = false;
			c->state = S_SIZE;
			break;
		case S_TRAILER:
			if (ch == '\r') {
				c->state = S_FINAL_LF;
				break;
			}
			c->state = S_TRAILER_LINE;
			/* fall through */
		case S_TRAILER_LINE:
			if (++c->trailer_len > CHUNKED_MAX_TRAILERS)
				goto error;
			if (ch == '\r')
				c->state = S_TRAILER_LF;
			else if (ch == '\n' || ch == 0)
				goto error;
			break;
		case S_TRAILER_LF:
			if (ch != '\n')
				goto error;
			c->state = S_TRAILER;
			break;
		case S_FINAL_LF:
			if (ch != '\n')
				goto error;
			c->state = S_END;
			*used = i + 1;
			return CHUNKED_END;
		case S_END:
			*used = i;
			return CHUNKED_END;
		}
	}
	*used = i;
	if (c->state == S_DATA)
		return CHUNKED_DATA;
	if (c->state == S_END)
		return CHUNKED_END;
	return CHUNKED_NEED_MORE;
error:
	*used = i;
	return CHUNKED_ERROR;
}
