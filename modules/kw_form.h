/*
 * kw_form: an application/x-www-form-urlencoded body to its text,
 * streaming: '+' is a space, %XX a byte, and each '=' and '&' a line break
 * between names and values, so that one field's text never runs into the
 * next's.
 */
#ifndef ICAPD_KW_FORM_H
#define ICAPD_KW_FORM_H

#include "kw_text.h"

struct kw_form;

struct kw_form *kw_form_new(struct kw_sink out);
int kw_form_write(struct kw_form *f, const char *p, size_t n);
int kw_form_finish(struct kw_form *f);
void kw_form_free(struct kw_form *f);
struct kw_sink kw_form_sink(struct kw_form *f);

#endif
