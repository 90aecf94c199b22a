/*
 * conf: tokenizer, directive table and checks for the configuration file.
 *
 * The syntax is nginx's: "name arg...;" or "name arg... { ... }", '#'
 * comments, double-quoted strings. Every directive is a row in one table
 * (name, where it may appear, type, bounds, default, help); defaults are
 * applied through the same parsers as the file, so a default cannot be out of
 * bounds. After an error the parser skips to the end of the statement and
 * goes on, so one run reports every mistake.
 */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "hdr_parse.h"
#include "conf_directive.h"
#include "conf_listen.h"
#include "lex.h"
#include "module.h"
#include "netaddr.h"
#include "privdrop.h"

#define M(f) offsetof(struct conf, f)
#define S(f) offsetof(struct conf_service, f)
#define KIB  1024ULL
#define MIB  (1024ULL * 1024)
#define HOUR (3600ULL * 1000)

/* The core's directives: the top level and service blocks. */
static const struct conf_directive core_directives[] = {
        {.name = "listen",
         .ctx = CTX_MAIN,
         .type = CT_ADDR_MULTI,
         .offset = M(listen),
         .help = "address:port for ICAP; repeat for more (" CONF_LISTEN_DEFAULT
                 " when the file has no listen or listen_tls)"},
        {.name = "listen_tls",
         .ctx = CTX_MAIN,
         .type = CT_LISTEN_TLS,
         .help = "address:port for ICAP over TLS (icaps://): ADDR cert FILE key FILE "
                 "[client_ca FILE] [verify_client on|off]; repeat for more"},
        {.name = "allow_clients",
         .ctx = CTX_MAIN,
         .type = CT_NETS,
         .offset = M(allow_clients),
         .def = "127.0.0.0/8 ::1",
         .help = "networks that may connect to listen and listen_tls (a.b.c.d/n, v6/n); "
                 "others are closed unread"},
        {.name = "admin_listen",
         .ctx = CTX_MAIN,
         .type = CT_ADDR,
         .offset = M(admin_listen),
         .def = "off",
         .help = "address:port for /metrics and /healthz, or off"},
        {.name = "admin_allow_clients",
         .ctx = CTX_MAIN,
         .type = CT_NETS,
         .offset = M(admin_allow_clients),
         .def = "127.0.0.0/8 ::1",
         .help = "networks that may connect to admin_listen; others are closed unread"},
        {.name = "user",
         .ctx = CTX_MAIN,
         .type = CT_USER,
         .help = "NAME [GROUP]: started as root, run as this user (its groups, or GROUP) "
                 "once listeners are bound and keys read; default: no change"},
        {.name = "max_connections",
         .ctx = CTX_MAIN,
         .type = CT_UINT,
         .offset = M(max_connections),
         .min = 1,
         .max = 1000000,
         .def = "4096",
         .help = "concurrent ICAP connections; advertised as Max-Connections"},
        {.name = "header_timeout",
         .ctx = CTX_MAIN,
         .type = CT_DURATION,
         .offset = M(header_timeout_ms),
         .min = 100,
         .max = HOUR,
         .def = "10s",
         .help = "time to receive an ICAP head and its HTTP headers, from the first byte"},
        {.name = "keepalive_timeout",
         .ctx = CTX_MAIN,
         .type = CT_DURATION,
         .offset = M(keepalive_timeout_ms),
         .min = 100,
         .max = 24 * HOUR,
         .def = "300s",
         .help = "idle time allowed between requests"},
        {.name = "body_timeout",
         .ctx = CTX_MAIN,
         .type = CT_DURATION,
         .offset = M(body_timeout_ms),
         .min = 100,
         .max = 24 * HOUR,
         .def = "120s",
         .help = "silence allowed in the middle of a body, or while a reply waits to be read"},
        {.name = "shutdown_timeout",
         .ctx = CTX_MAIN,
         .type = CT_DURATION,
         .offset = M(shutdown_timeout_ms),
         .max = HOUR,
         .def = "30s",
         .help = "on SIGTERM, time given to transactions in flight"},
        {.name = "max_icap_header",
         .ctx = CTX_MAIN,
         .type = CT_SIZE,
         .offset = M(max_icap_header),
         .min = 1 * KIB,
         .max = 16 * MIB,
         .def = "64k",
         .help = "largest ICAP request line plus headers"},
        {.name = "max_http_header",
         .ctx = CTX_MAIN,
         .type = CT_SIZE,
         .offset = M(max_http_header),
         .min = 1 * KIB,
         .max = 16 * MIB,
         .def = "64k",
         .help = "largest encapsulated HTTP header block"},
        {.name = "body_memory",
         .ctx = CTX_MAIN,
         .type = CT_SIZE,
         .offset = M(body_memory),
         .max = 1024 * MIB,
         .def = "1m",
         .help = "body bytes held in memory for the modules before spilling to spool_dir"},
        {.name = "max_body_size",
         .ctx = CTX_MAIN,
         .type = CT_SIZE,
         .offset = M(max_body_size),
         .min = 1,
         .def = "100m",
         .help = "body bytes kept for the modules; larger bodies cannot be judged whole"},
        {.name = "spool_dir",
         .ctx = CTX_MAIN,
         .type = CT_PATH,
         .offset = M(spool_dir),
         .def = "/var/tmp",
         .help = "folder for bodies past body_memory (unlinked files, never left behind)"},
        {.name = "scan_threads",
         .ctx = CTX_MAIN,
         .type = CT_UINT,
         .offset = M(scan_threads),
         .max = 256,
         .def = "0",
         .help = "scans run at once (scanner processes or threads); 0: one per core"},
        {.name = "scan_isolation",
         .ctx = CTX_MAIN,
         .type = CT_FLAG,
         .offset = M(scan_isolation),
         .def = "on",
         .help = "run the body modules in sandboxed scanner processes (off: threads; read at "
                 "start-up)"},
        {.name = "scan_timeout",
         .ctx = CTX_MAIN,
         .type = CT_DURATION,
         .offset = M(scan_timeout_ms),
         .min = 1000,
         .max = 24 * HOUR,
         .def = "180s",
         .help = "a scanner process busy longer than this on one body is killed and replaced"},
        {.name = "watch_interval",
         .ctx = CTX_MAIN,
         .type = CT_DURATION,
         .offset = M(watch_interval_ms),
         .max = 24 * HOUR,
         .def = "10s",
         .help = "how often to look for changed signatures or lists (0: never)"},
        {.name = "block_page",
         .ctx = CTX_MAIN,
         .type = CT_PATH,
         .offset = M(block_page),
         .help = "HTML template of the block page (default: the built-in one)"},
        {.name = "cache",
         .ctx = CTX_MAIN,
         .type = CT_SECTION,
         .inner = CTX_CACHE,
         .help = "cache { ... }: verdicts by content hash"},
        {.name = "memory",
         .ctx = CTX_CACHE,
         .type = CT_SIZE,
         .offset = M(cache_memory),
         .max = 64 * 1024 * MIB,
         .def = "256m",
         .help = "memory for cached verdicts (0: no cache)"},
        {.name = "ttl",
         .ctx = CTX_CACHE,
         .type = CT_DURATION,
         .offset = M(cache_ttl_ms),
         .max = 30 * 24 * HOUR,
         .def = "1h",
         .help = "how long a verdict is reused"},
        {.name = "redis",
         .ctx = CTX_CACHE,
         .type = CT_ADDR,
         .offset = M(redis),
         .def = "off",
         .help = "address:port of a Redis shared by several icapd servers, or off"},
        {.name = "redis_password",
         .ctx = CTX_CACHE,
         .type = CT_STRING,
         .offset = M(redis_password),
         .help = "Redis AUTH password"},
        {.name = "redis_secret_file",
         .ctx = CTX_CACHE,
         .type = CT_PATH,
         .offset = M(redis_secret_file),
         .help = "file with the shared secret that signs entries (HMAC-SHA-256); required"},
        {.name = "redis_timeout",
         .ctx = CTX_CACHE,
         .type = CT_DURATION,
         .offset = M(redis_timeout_ms),
         .min = 1,
         .max = 10000,
         .def = "50ms",
         .help = "a Redis lookup slower than this counts as a miss"},
        {.name = "redis_tls",
         .ctx = CTX_CACHE,
         .type = CT_FLAG,
         .offset = M(redis_tls),
         .def = "off",
         .help = "TLS 1.2+ to Redis; its certificate is always verified"},
        {.name = "redis_tls_ca",
         .ctx = CTX_CACHE,
         .type = CT_PATH,
         .offset = M(redis_tls_ca),
         .help = "CA certificates (PEM) for Redis's certificate (default: the system's)"},
        {.name = "redis_tls_cert",
         .ctx = CTX_CACHE,
         .type = CT_PATH,
         .offset = M(redis_tls_cert),
         .help = "client certificate (PEM) for Redis's tls-auth-clients; with redis_tls_key"},
        {.name = "redis_tls_key",
         .ctx = CTX_CACHE,
         .type = CT_PATH,
         .offset = M(redis_tls_key),
         .help = "private key (PEM) of redis_tls_cert"},
        {.name = "redis_tls_server_name",
         .ctx = CTX_CACHE,
         .type = CT_STRING,
         .offset = M(redis_tls_server_name),
         .help = "SNI, and the name Redis's certificate must have (default: the redis "
                 "address, as an IP)"},
        {.name = "access_log",
         .ctx = CTX_MAIN,
         .type = CT_LOG,
         .offset = M(access_log),
         .def = "stderr",
         .help = "off, stderr, syslog or a file (reopened on SIGUSR1)"},
        {.name = "error_log",
         .ctx = CTX_MAIN,
         .type = CT_LOG,
         .offset = M(error_log),
         .def = "stderr",
         .help = "stderr, syslog or a file (reopened on SIGUSR1)"},
        {.name = "log_client_address",
         .ctx = CTX_MAIN,
         .type = CT_FLAG,
         .offset = M(log_client_address),
         .def = "off",
         .help = "log the client address (X-Client-IP, else the peer)"},
        {.name = "log_username",
         .ctx = CTX_MAIN,
         .type = CT_FLAG,
         .offset = M(log_username),
         .def = "off",
         .help = "log the user name (X-Client-Username, X-Authenticated-User)"},
        {.name = "log_url",
         .ctx = CTX_MAIN,
         .type = CT_CHOICE,
         .offset = M(log_url),
         .def = "off",
         .help = "log the HTTP request's URL: off, host or full",
         .choices = "off|host|full"},
        {.name = "log_matches",
         .ctx = CTX_MAIN,
         .type = CT_FLAG,
         .offset = M(log_matches),
         .def = "off",
         .help = "log what matched (list entry, keyword rules): it tells what a user read or "
                 "wrote"},
        {.name = "service", .ctx = CTX_MAIN, .type = CT_SERVICE, .help = "service /path { ... }"},
        {.name = "module",
         .ctx = CTX_MAIN,
         .type = CT_MODULE,
         .help = "module NAME { ... }: settings of a module"},
        {.name = "methods",
         .ctx = CTX_SERVICE,
         .type = CT_METHODS,
         .offset = S(methods),
         .help = "REQMOD and/or RESPMOD (required)"},
        {.name = "chain",
         .ctx = CTX_SERVICE,
         .type = CT_WORDS,
         .offset = S(chain),
         .def = "",
         .help = "modules that judge each message, in order; empty: pass everything"},
        {.name = "preview",
         .ctx = CTX_SERVICE,
         .type = CT_SIZE,
         .offset = S(preview),
         .max = 1 * MIB,
         .def = "1024",
         .help = "Preview bytes advertised in OPTIONS"},
        {.name = "options_ttl",
         .ctx = CTX_SERVICE,
         .type = CT_DURATION,
         .offset = S(options_ttl),
         .min = 1000,
         .max = 30 * 24 * HOUR,
         .def = "1h",
         .help = "how long clients may cache the OPTIONS reply (Options-TTL)"},
        {.name = "on_scan_error",
         .ctx = CTX_SERVICE,
         .type = CT_CHOICE,
         .offset = S(on_scan_error),
         .def = "block",
         .help = "when a body cannot be judged (limit, encrypted, engine error): block or allow",
         .choices = "block|allow"},
        {.name = "early_hold",
         .ctx = CTX_SERVICE,
         .type = CT_SIZE,
         .offset = S(early_hold),
         .max = 1024 * MIB,
         .def = "32k",
         .help = "without Allow: 204, body bytes held back until the verdict while the "
                 "rest passes (Squid 5.7 stalls past 64k)"},
        {.name = "keyword_categories",
         .ctx = CTX_SERVICE,
         .type = CT_WORDS,
         .offset = S(keyword_categories),
         .def = "",
         .help = "categories of the keyword rules this service applies (all when empty)"},
        {.name = "transfer_preview",
         .ctx = CTX_SERVICE,
         .type = CT_WORDS,
         .offset = S(transfer_preview),
         .def = "*",
         .help = "file extensions to preview (Transfer-Preview)"},
        {.name = "transfer_ignore",
         .ctx = CTX_SERVICE,
         .type = CT_WORDS,
         .offset = S(transfer_ignore),
         .def = "",
         .help = "file extensions not to send at all (Transfer-Ignore)"},
        {.name = "transfer_complete",
         .ctx = CTX_SERVICE,
         .type = CT_WORDS,
         .offset = S(transfer_complete),
         .def = "",
         .help = "file extensions to send whole, without preview (Transfer-Complete)"},
};

#define NCORE (sizeof(core_directives) / sizeof(core_directives[0]))

/* The directives a block may hold: the core's (filtered by context) or a
 * module's. */
struct table {
	const struct conf_directive *d;
	size_t n;
};

static const struct table core_table = {core_directives, NCORE};

struct parser {
	struct lex lx;
	struct conf *conf;
};

/* Value parsers: each returns 0, or -1 with a message in err. */

struct unit {
	const char *suffix;
	unsigned long long mult;
};

static int parse_number(const char *s, const struct unit *units, size_t nunits,
                        unsigned long long *out)
{
	size_t digits = 0;
	while (s[digits] >= '0' && s[digits] <= '9')
		digits++;
	unsigned long long v;
	if (hdr_parse_uint(s, digits, ULLONG_MAX, &v) < 0)
		return -1;
	const char *sfx = s + digits;
	for (size_t i = 0; i < nunits; i++) {
		if (strcasecmp(sfx, units[i].suffix) == 0) {
			if (units[i].mult && v > ULLONG_MAX / units[i].mult)
				return -1;
			*out = v * units[i].mult;
			return 0;
		}
	}
	return -1;
}

static const struct unit size_units[] = {{"", 1}, {"k", KIB}, {"m", MIB}, {"g", 1024 * MIB}},
                         time_units[] = {{"ms", 1},
                                         {"s", 1000},
                                         {"m", 60000},
                                         {"h", HOUR},
                                         {"d", 24 * HOUR}};

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (d == NULL)
		abort();
	return d;
}

static void words_add(struct conf_words *w, const char *s)
{
	char **v = realloc(w->v, (w->n + 1) * sizeof(*v));
	if (v == NULL)
		abort();
	w->v = v;
	w->v[w->n++] = xstrdup(s);
}

void conf_words_copy(struct conf_words *dst, const struct conf_words *src)
{
	dst->n = src->n;
	dst->v = calloc(src->n ? src->n : 1, sizeof(char *));
	if (dst->v == NULL)
		abort();
	for (size_t i = 0; i < src->n; i++)
		dst->v[i] = xstrdup(src->v[i]);
}

void conf_words_free(struct conf_words *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i]);
	free(w->v);
	w->v = NULL;
	w->n = 0;
}

/* Resolves a path relative to the folder of the configuration file. */
char *conf_path_resolve(const struct conf *c, const char *p)
{
	if (p[0] == '/')
		return xstrdup(p);
	const char *slash = strrchr(c->path, '/');
	size_t dl = slash ? (size_t)(slash - c->path) : 0;
	char *r = malloc(dl + strlen(p) + 2);
	if (r == NULL)
		abort();
	sprintf(r, "%.*s/%s", (int)dl, c->path, p);
	return r;
}

/*
 * Sets one directive from its arguments args[0..nargs). base is the struct
 * conf or struct conf_service it writes into. Returns 0, or -1 with a message
 * in err.
 */
static int set_value(struct conf *c, const struct conf_directive *d, void *base, char **args,
                     size_t nargs, char *err, size_t errlen)
{
	void *field = (char *)base + d->offset;
	unsigned long long v = 0;

	if (d->type == CT_WORDS) {
		struct conf_words *w = field;
		conf_words_free(w);
		for (size_t i = 0; i < nargs; i++)
			words_add(w, args[i]);
		return 0;
	}
	if (d->type == CT_NETS) {
		if (nargs == 0) {
			snprintf(err, errlen, "\"%s\" takes one or more networks", d->name);
			return -1;
		}
		for (size_t i = 0; i < nargs; i++)
			if (netacl_add(field, args[i], err, errlen) < 0)
				return -1;
		return 0;
	}
	if (d->type == CT_METHODS) {
		unsigned m = 0;
		if (nargs == 0)
			goto nargs_err;
		for (size_t i = 0; i < nargs; i++) {
			if (strcmp(args[i], "REQMOD") == 0)
				m |= 1u << ICAP_METHOD_REQMOD;
			else if (strcmp(args[i], "RESPMOD") == 0)
				m |= 1u << ICAP_METHOD_RESPMOD;
			else {
				snprintf(err, errlen, "unknown method \"%s\" (REQMOD or RESPMOD)",
				         args[i]);
				return -1;
			}
		}
		*(unsigned *)field = m;
		return 0;
	}
	if (nargs != 1)
		goto nargs_err;
	const char *a = args[0];
	switch (d->type) {
	case CT_ADDR:
		if (strcmp(a, "off") == 0) {
			free(*(char **)field);
			*(char **)field = NULL;
			return 0;
		}
		/* fall through */
	case CT_ADDR_MULTI:
		if (netaddr_parse(a, NULL) < 0) {
			snprintf(err, errlen, "\"%s\" is not an address:port", a);
			return -1;
		}
		if (d->type == CT_ADDR_MULTI) {
			words_add(field, a);
		} else {
			free(*(char **)field);
			*(char **)field = xstrdup(a);
		}
		return 0;
	case CT_UINT:
		if (hdr_parse_uint(a, strlen(a), ULLONG_MAX, &v) < 0)
			goto num_err;
		break;
	case CT_SIZE:
		if (parse_number(a, size_units, 4, &v) < 0)
			goto num_err;
		break;
	case CT_DURATION:
		if (strcmp(a, "0") == 0) /* the one duration that needs no unit */
			v = 0;
		else if (parse_number(a, time_units, 5, &v) < 0) {
			snprintf(err, errlen, "\"%s\" is not a duration (e.g. 500ms, 10s, 5m, 1h)",
			         a);
			return -1;
		}
		break;
	case CT_FLAG:
		if (strcmp(a, "on") != 0 && strcmp(a, "off") != 0) {
			snprintf(err, errlen, "\"%s\" is not on or off", a);
			return -1;
		}
		*(bool *)field = strcmp(a, "on") == 0;
		return 0;
	case CT_CHOICE: {
		/* The index of a in "a|b|c". */
		const char *ch = d->choices;
		size_t al = strlen(a);
		for (v = 0; ch != NULL && *ch; v++) {
			size_t wl = strcspn(ch, "|");
			if (wl == al && strncmp(ch, a, al) == 0) {
				*(unsigned long long *)field = v;
				return 0;
			}
			ch += wl + (ch[wl] == '|');
		}
		snprintf(err, errlen, "\"%s\" is not one of %s", a, d->choices);
		return -1;
	}
	case CT_PATH:
		free(*(char **)field);
		*(char **)field = conf_path_resolve(c, a);
		return 0;
	case CT_STRING:
		free(*(char **)field);
		*(char **)field = xstrdup(a);
		return 0;
	case CT_LOG:
		free(*(char **)field);
		if (strcmp(a, "off") == 0 || strcmp(a, "stderr") == 0 || strcmp(a, "syslog") == 0)
			*(char **)field = xstrdup(a);
		else
			*(char **)field = conf_path_resolve(c, a);
		return 0;
	default:
		snprintf(err, errlen, "internal: bad directive type");
		return -1;
	}
	if (v < d->min || (d->max && v > d->max)) {
		snprintf(err, errlen, "%s %s is out of range (%llu to %llu%s)", d->name, a, d->min,
		         d->max,
		         d->type == CT_DURATION ? " ms"
		         : d->type == CT_SIZE   ? " bytes"
		                                : "");
		return -1;
	}
	*(unsigned long long *)field = v;
	return 0;
num_err:
	snprintf(err, errlen, "\"%s\" is not a %s", a,
	         d->type == CT_SIZE ? "size (e.g. 512, 64k, 1m)" : "number");
	return -1;
nargs_err:
	snprintf(err, errlen, "\"%s\" takes %s", d->name,
	         d->type == CT_METHODS ? "one or more methods" : "one value");
	return -1;
}

/* Applies every default of the rows of t in context ctx to base. */
static void set_defaults(struct conf *c, const struct table *t, enum conf_ctx ctx, void *base)
{
	char err[256];
	for (size_t i = 0; i < t->n; i++) {
		const struct conf_directive *d = &t->d[i];
		if (d->ctx != ctx || d->def == NULL)
			continue;
		/* Split the default on spaces: "" gives no words. */
		char *copy = xstrdup(d->def), *args[8], *save = NULL;
		size_t n = 0;
		for (char *w = strtok_r(copy, " ", &save); w && n < 8;
		     w = strtok_r(NULL, " ", &save))
			args[n++] = w;
		if (set_value(c, d, base, args, n, err, sizeof(err)) < 0)
			abort(); /* a default out of its own bounds is a programming error */
		free(copy);
	}
}

static const struct conf_directive *find_directive(const struct table *t, const char *name,
                                                   enum conf_ctx ctx, bool *wrong_place)
{
	*wrong_place = false;
	for (size_t i = 0; i < t->n; i++) {
		if (strcmp(t->d[i].name, name) != 0)
			continue;
		if (t->d[i].ctx == ctx)
			return &t->d[i];
		*wrong_place = true;
	}
	return NULL;
}

static void parse_block(struct parser *ps, const struct table *t, enum conf_ctx ctx, void *base,
                        const char *block);

/* Starts a service block: checks the name, then parses its body. */
static void parse_service(struct parser *ps, char *name, int line)
{
	struct conf *c = ps->conf;
	if (name[0] != '/' || strpbrk(name, "?# \t") != NULL)
		lex_error(&ps->lx, line, "service name \"%s\" must be a path like /echo", name);
	else if (conf_service_find(c, name, strlen(name)) != NULL)
		lex_error(&ps->lx, line, "service %s is defined twice", name);
	struct conf_service *v = realloc(c->services, (c->nservices + 1) * sizeof(*v));
	if (v == NULL)
		abort();
	c->services = v;
	struct conf_service *s = &c->services[c->nservices++];
	memset(s, 0, sizeof(*s));
	s->name = xstrdup(name);
	s->file = c->path;
	s->line = line;
	set_defaults(c, &core_table, CTX_SERVICE, s);
	parse_block(ps, &core_table, CTX_SERVICE, s, name);
	if (s->methods == 0)
		lex_error(&ps->lx, line, "service %s has no \"methods\"", s->name);
	for (size_t i = 0; i < s->chain.n; i++)
		if (module_find(s->chain.v[i]) == NULL)
			lex_error(&ps->lx, line, "service %s: %s module \"%s\" in chain", s->name,
			          module_known(s->chain.v[i]) ? "not compiled in:" : "unknown",
			          s->chain.v[i]);
}

/* The settings of module m: from its block, or its defaults if it has none. */
struct conf_module *conf_module_get(struct conf *c, const struct module *m)
{
	for (size_t i = 0; i < c->nmodules; i++)
		if (c->modules[i].module == m)
			return &c->modules[i];
	struct conf_module *v = realloc(c->modules, (c->nmodules + 1) * sizeof(*v));
	if (v == NULL)
		abort();
	c->modules = v;
	struct conf_module *cm = &c->modules[c->nmodules++];
	cm->module = m;
	cm->line = 0;
	cm->mconf = calloc(1, m->conf_size ? m->conf_size : 1);
	if (cm->mconf == NULL)
		abort();
	struct table t = {m->directives, m->ndirectives};
	set_defaults(c, &t, CTX_MODULE, cm->mconf);
	return cm;
}

/* A module block: "module clamav { signatures /var/lib/clamav; }". */
static void parse_module(struct parser *ps, const char *name, int line)
{
	const struct module *m = module_find(name);
	if (m == NULL) {
		if (module_known(name))
			lex_error(&ps->lx, line,
			          "module %s is not compiled in (configure --without-%s)", name,
			          name);
		else
			lex_error(&ps->lx, line, "unknown module \"%s\"", name);
		/* Skip its block without a message per line. */
		int depth = 1;
		while (ps->lx.kind != LEX_EOF && depth > 0) {
			depth += ps->lx.kind == LEX_OPEN;
			depth -= ps->lx.kind == LEX_CLOSE;
			lex_next(&ps->lx);
		}
		return;
	}
	for (size_t i = 0; i < ps->conf->nmodules; i++)
		if (ps->conf->modules[i].module == m && ps->conf->modules[i].line != 0)
			lex_error(&ps->lx, line, "module %s is configured twice", name);
	struct conf_module *cm = conf_module_get(ps->conf, m);
	cm->line = line;
	struct table t = {m->directives, m->ndirectives};
	parse_block(ps, &t, CTX_MODULE, cm->mconf, name);
}

/* Parses statements until '}' (inside a block) or the end of the file. */
static void parse_block(struct parser *ps, const struct table *t, enum conf_ctx ctx, void *base,
                        const char *block)
{
	char err[512];
	unsigned char seen[256] = {0};

	for (;;) {
		if (ps->lx.kind == LEX_EOF) {
			if (block != NULL)
				lex_error(&ps->lx, ps->lx.line, "missing \"}\" to close %s", block);
			return;
		}
		if (ps->lx.kind == LEX_CLOSE) {
			if (block != NULL) {
				lex_next(&ps->lx);
				return;
			}
			lex_error(&ps->lx, ps->lx.tok_line, "unexpected \"}\"");
			lex_next(&ps->lx);
			continue;
		}
		if (ps->lx.kind != LEX_WORD) {
			if (ps->lx.kind != LEX_BAD)
				lex_error(&ps->lx, ps->lx.tok_line, "expected a directive");
			lex_skip_statement(&ps->lx);
			continue;
		}
		int line = ps->lx.tok_line;
		char *name = ps->lx.word;
		ps->lx.word = NULL;
		char *args[64];
		size_t nargs = 0;
		bool too_many = false;
		lex_next(&ps->lx);
		while (ps->lx.kind == LEX_WORD) {
			if (nargs < 64)
				args[nargs++] = ps->lx.word;
			else {
				too_many = true;
				free(ps->lx.word);
			}
			ps->lx.word = NULL;
			lex_next(&ps->lx);
		}
		bool wrong_place;
		const struct conf_directive *d = find_directive(t, name, ctx, &wrong_place);
		if (d == NULL) {
			if (wrong_place)
				lex_error(&ps->lx, line, "\"%s\" is not allowed %s", name,
				          ctx == CTX_MAIN      ? "at the top level"
				          : ctx == CTX_SERVICE ? "inside a service"
				          : ctx == CTX_CACHE   ? "inside cache { }"
				                               : "inside a module block");
			else
				lex_error(&ps->lx, line, "unknown directive \"%s\"", name);
			lex_skip_statement(&ps->lx);
		} else if (d->type == CT_SERVICE) {
			if (nargs != 1 || ps->lx.kind != LEX_OPEN) {
				lex_error(&ps->lx, line, "expected \"service /name {\"");
				lex_skip_statement(&ps->lx);
			} else {
				lex_next(&ps->lx);
				parse_service(ps, args[0], line);
			}
		} else if (d->type == CT_SECTION) {
			if (nargs != 0 || ps->lx.kind != LEX_OPEN) {
				lex_error(&ps->lx, line, "expected \"%s {\"", name);
				lex_skip_statement(&ps->lx);
			} else {
				lex_next(&ps->lx);
				parse_block(ps, t, d->inner, base, name);
			}
		} else if (d->type == CT_MODULE) {
			if (nargs != 1 || ps->lx.kind != LEX_OPEN) {
				lex_error(&ps->lx, line, "expected \"module NAME {\"");
				lex_skip_statement(&ps->lx);
			} else {
				lex_next(&ps->lx);
				parse_module(ps, args[0], line);
			}
		} else if (ps->lx.kind != LEX_SEMI) {
			lex_error(&ps->lx, line, "\"%s\": missing \";\"", name);
			if (ps->lx.kind != LEX_CLOSE && ps->lx.kind != LEX_EOF)
				lex_skip_statement(&ps->lx);
		} else {
			size_t idx = (size_t)(d - t->d) % sizeof(seen);
			/* Repeatable: the first statement replaces the default, the
			 * next ones add to it. */
			bool multi = d->type == CT_ADDR_MULTI || d->type == CT_NETS ||
			             d->type == CT_LISTEN_TLS;
			if (too_many)
				lex_error(&ps->lx, line, "\"%s\": too many values", name);
			else if (seen[idx]++ && !multi)
				lex_error(&ps->lx, line, "\"%s\" is set twice", name);
			else {
				if (d->type == CT_ADDR_MULTI && seen[idx] == 1)
					conf_words_free(
					        (struct conf_words *)((char *)base + d->offset));
				if (d->type == CT_NETS && seen[idx] == 1)
					netacl_free((struct netacl *)((char *)base + d->offset));
				int r = d->type == CT_LISTEN_TLS
				                ? conf_listen_tls_parse(ps->conf, args, nargs, line,
				                                        err, sizeof(err))
				        : d->type == CT_USER
				                ? privdrop_parse(&ps->conf->user, args, nargs, line,
				                                 err, sizeof(err))
				                : set_value(ps->conf, d, base, args, nargs, err,
				                            sizeof(err));
				if (r < 0)
					lex_error(&ps->lx, line, "%s", err);
			}
			lex_next(&ps->lx);
		}
		for (size_t i = 0; i < nargs; i++)
			free(args[i]);
		free(name);
	}
}

/* The cache block's TLS settings hang together: none without redis_tls
 * (TLS is never implied, so that a CA given alone does not leave the link
 * in the clear unnoticed), and a client certificate comes with its key. */
static void check_redis_tls(const struct conf *c, const char *file, FILE *errors, int *nerrors)
{
	const struct {
		const char *name;
		const char *value;
	} opts[] = {
	        {"redis_tls_ca", c->redis_tls_ca},
	        {"redis_tls_cert", c->redis_tls_cert},
	        {"redis_tls_key", c->redis_tls_key},
	        {"redis_tls_server_name", c->redis_tls_server_name},
	};
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		if (opts[i].value != NULL && !c->redis_tls) {
			fprintf(errors, "%s: cache { %s ...; } needs redis_tls on\n", file,
			        opts[i].name);
			(*nerrors)++;
		}
	}
	if ((c->redis_tls_cert == NULL) != (c->redis_tls_key == NULL)) {
		fprintf(errors, "%s: cache { ... } needs both redis_tls_cert and redis_tls_key\n",
		        file);
		(*nerrors)++;
	}
}

struct conf *conf_load(const char *path, FILE *errors)
{
	size_t len;
	char *text = lex_read_file(path, 16 * MIB, &len, errors);
	if (text == NULL)
		return NULL;

	struct conf *c = calloc(1, sizeof(*c));
	if (c == NULL)
		abort();
	c->path = realpath(path, NULL);
	if (c->path == NULL)
		c->path = xstrdup(path);
	set_defaults(c, &core_table, CTX_MAIN, c);
	set_defaults(c, &core_table, CTX_CACHE, c);

	const char *base = strrchr(path, '/');
	struct parser ps = {.conf = c};
	lex_init(&ps.lx, base ? base + 1 : path, text, len, errors);
	parse_block(&ps, &core_table, CTX_MAIN, c, NULL);
	lex_done(&ps.lx);
	free(text);
	if (ps.lx.nerrors == 0 && c->redis != NULL && c->redis_secret_file == NULL) {
		/* Unsigned entries would let whoever can write to Redis whitelist malware. */
		fprintf(errors, "%s: cache { redis ...; } needs redis_secret_file\n", ps.lx.file);
		ps.lx.nerrors++;
	}
	if (ps.lx.nerrors == 0)
		check_redis_tls(c, ps.lx.file, errors, &ps.lx.nerrors);
	if (ps.lx.nerrors == 0)
		ps.lx.nerrors += conf_listen_check(c, ps.lx.file, errors);
	if (ps.lx.nerrors > 0) {
		conf_free(c);
		return NULL;
	}
	return c;
}

void conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nservices; i++) {
		struct conf_service *s = &c->services[i];
		free(s->name);
		conf_words_free(&s->chain);
		conf_words_free(&s->transfer_preview);
		conf_words_free(&s->transfer_ignore);
		conf_words_free(&s->transfer_complete);
		conf_words_free(&s->keyword_categories);
	}
	free(c->services);
	for (size_t i = 0; i < c->nmodules; i++) {
		if (c->modules[i].module->conf_free != NULL)
			c->modules[i].module->conf_free(c->modules[i].mconf);
		free(c->modules[i].mconf);
	}
	free(c->modules);
	privdrop_user_free(&c->user);
	conf_words_free(&c->listen);
	conf_listen_free(c);
	netacl_free(&c->allow_clients);
	free(c->admin_listen);
	netacl_free(&c->admin_allow_clients);
	free(c->redis);
	free(c->redis_password);
	free(c->redis_secret_file);
	free(c->redis_tls_ca);
	free(c->redis_tls_cert);
	free(c->redis_tls_key);
	free(c->redis_tls_server_name);
	free(c->spool_dir);
	free(c->block_page);
	free(c->access_log);
	free(c->error_log);
	free(c->path);
	free(c);
}

const struct conf_service *conf_service_find(const struct conf *c, const char *name, size_t len)
{
	for (size_t i = 0; i < c->nservices; i++)
		if (strlen(c->services[i].name) == len &&
		    memcmp(c->services[i].name, name, len) == 0)
			return &c->services[i];
	return NULL;
}

static void print_table(FILE *out, const struct table *t, const char *indent)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct conf_directive *d = &t->d[i];
		fprintf(out, "  %s%-20s %s",
		        d->ctx == CTX_SERVICE || d->ctx == CTX_CACHE ? "  " : indent, d->name,
		        d->help);
		if (d->def != NULL)
			fprintf(out, " [%s]", d->def[0] ? d->def : "empty");
		fputc('\n', out);
	}
}

static void print_module(const struct module *m, void *arg)
{
	FILE *out = arg;
	struct table t = {m->directives, m->ndirectives};
	fprintf(out, "  module %s { ... }\n", m->name);
	print_table(out, &t, "  ");
}

void conf_print_directives(FILE *out)
{
	fprintf(out, "Directives (default in brackets):\n");
	print_table(out, &core_table, "");
	module_foreach(print_module, out);
}
