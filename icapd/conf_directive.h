/*
 * conf_directive: one row of a directive table. The core's table lives in
 * conf.c; each module brings its own for its "module NAME { ... }" block.
 * A row says where the value goes (an offset into the struct the block
 * fills), its type and bounds, its default (parsed like the file, so it
 * cannot be out of bounds) and one line of help.
 */
#ifndef ICAPD_CONF_DIRECTIVE_H
#define ICAPD_CONF_DIRECTIVE_H

#include <stddef.h>

enum conf_type {
	CT_ADDR,       /* one host:port, or "off" (char *, NULL when off) */
	CT_ADDR_MULTI, /* host:port, repeatable (struct conf_words) */
	CT_UINT,       /* unsigned long long */
	CT_SIZE,       /* bytes, with k, m or g (unsigned long long) */
	CT_DURATION,   /* milliseconds; ms, s, m, h or d (unsigned long long) */
	CT_FLAG,       /* on | off (bool) */
	CT_CHOICE,     /* one of the words in choices, "a|b|c" (unsigned long long index) */
	CT_LOG,        /* off | stderr | syslog | path (char *) */
	CT_PATH,       /* a path, relative to the configuration file (char *) */
	CT_STRING,     /* any one word (char *) */
	CT_METHODS,    /* REQMOD RESPMOD (unsigned, bit per enum icap_method) */
	CT_WORDS,      /* zero or more words (struct conf_words) */
	CT_SERVICE,    /* service /path { ... } */
	CT_MODULE,     /* module NAME { ... } */
	CT_SECTION,    /* NAME { ... }: rows of context .inner, into the same struct */
	CT_NETS,       /* networks a.b.c.d/n or v6/n, repeatable (struct netacl) */
	CT_LISTEN_TLS, /* ADDR cert FILE key FILE [client_ca FILE] [verify_client on|off] */
	CT_USER,       /* NAME [GROUP] (struct conf_user; privdrop.c parses it) */
};

enum conf_ctx { CTX_MAIN = 1, CTX_SERVICE = 2, CTX_MODULE = 4, CTX_CACHE = 8 };

struct conf_directive {
	const char *name;
	enum conf_ctx ctx;
	enum conf_type type;
	size_t offset;
	unsigned long long min, max; /* max 0: no upper bound */
	const char *def;             /* NULL: no default */
	const char *help;
	const char *choices; /* CT_CHOICE: "block|allow" */
	enum conf_ctx inner; /* CT_SECTION: the context of its rows */
};

#endif
