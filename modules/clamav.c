/*
 * clamav: the virus scanning module, on libclamav. A generation's state holds
 * one compiled engine, loaded from the signature directory with the scan
 * limits of the "module clamav { ... }" block, plus the administrator's skip
 * rules (content type, host, declared size) and allow lists (SHA-256 of known
 * good objects, signature names that are false positives on their network).
 *
 * Reloads are cheap when nothing changed: the state keeps a digest of its
 * settings and of a stat() snapshot of the signature directory (and the
 * allow file), and build() hands the old state back when both match. When
 * only the allow lists or skip rules changed, the new state shares the old
 * engine (engines have their own reference count), so the engine is rebuilt
 * only when the signatures or the limits changed. A database that fails to
 * load (corrupt, half written) makes build() fail and name the file, and
 * the running generation keeps its engine.
 *
 * Scans run on scan threads, many at once on one engine (libclamav allows
 * it); the body is handed over as a file descriptor. Objects that exceed a
 * limit, encrypted archives and documents, and engine errors are verdict
 * errors, which the service's on_scan_error policy turns into a block or a
 * pass. The only global is the pthread_once that runs cl_init().
 *
 * What is read from disk (folder snapshots, loading an engine and naming
 * the file that breaks it, the allow file) is in clamav_db.c.
 */
#ifdef WITH_CLAMAV

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>
#include <sys/mman.h>
#include <stdint.h>

#include "body.h"
#include "clamav_db.h"
#include "conf.h"
#include "hdr_parse.h"
#include "http_parse.h"
#include "module.h"
#include "multipart.h"

#define CLAMAV_STATE_MAGIC  0x434c4d53u /* "CLMS" */
#define CLAMAV_ENGINE_MAGIC 0x434c4d45u /* "CLME" */

#define SHA256_LEN CLAMAV_DB_SHA256_LEN
#define KIB        1024ULL
#define MIB        (1024ULL * 1024)
#define MAX_BYTES  (4096ULL * MIB - 1) /* libclamav's limits are at most 4 GiB - 1 */
#define HOUR_MS    (3600ULL * 1000)

/* Skip reasons for the log (wants_body). */
#define SKIP_CONTENT_TYPE "content type exempt"
#define SKIP_HOST         "host exempt"
#define SKIP_SIZE         "larger than skip_larger_than"

/* libclamav's names for what the heuristics report (see judge_body). */
#define NAME_LIMITS     "Heuristics.Limits.Exceeded"
#define NAME_ENCRYPTED  "Heuristics.Encrypted"
#define NAME_UNOFFICIAL ".UNOFFICIAL"

/* The "module clamav { ... }" block. */
struct clamav_conf {
	char *signatures; /* folder of databases */
	unsigned long long max_scan_size, max_file_size, max_recursion, max_files;
	unsigned long long max_scan_time; /* ms */
	bool block_encrypted;
	struct conf_words skip_content_types, skip_hosts;
	unsigned long long skip_larger_than; /* 0: never skip by size */
	char *allow_sha256;                  /* NULL: no allow file */
	struct conf_words allow_signatures;
};

/* A compiled engine; states whose signatures and limits agree share it. */
struct clamav_engine {
	unsigned magic;
	atomic_uint refs;
	struct cl_engine *cl;
	unsigned sigs;
	unsigned char key[SHA256_LEN]; /* directory, limits, snapshot */
};

struct clamav_state {
	unsigned magic;
	atomic_uint refs;
	struct clamav_engine *engine;
	char *sigdir;
	struct clamav_db_snap snap;
	char *allow_path; /* NULL: none */
	struct clamav_db_file allow_stat;
	bool block_encrypted;
	unsigned long long skip_larger_than;
	struct conf_words skip_types, skip_hosts, allow_sigs;
	unsigned char (*allow_sha)[SHA256_LEN]; /* sorted */
	size_t nallow_sha;
	unsigned char key[SHA256_LEN]; /* everything build() reads: reuse test */
	char version[24];
};

static pthread_once_t clamav_once = PTHREAD_ONCE_INIT;
/* Written once, inside clamav_once. */
static cl_error_t clamav_init_result;

static void clamav_init(void)
{
	clamav_init_result = cl_init(CL_INIT_DEFAULT);
}

/* Allocation failures end the process, as in conf.c. */
static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (p == NULL)
		abort();
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (p == NULL)
		abort();
	return p;
}

static struct clamav_state *state_of(const void *p)
{
	struct clamav_state *st = (struct clamav_state *)p;
	if (st == NULL || st->magic != CLAMAV_STATE_MAGIC)
		abort();
	return st;
}

/* Directives */

#define C(f) offsetof(struct clamav_conf, f)

static const struct conf_directive clamav_directives[] = {
        {.name = "signatures",
         .ctx = CTX_MODULE,
         .type = CT_PATH,
         .offset = C(signatures),
         .def = "signatures",
         .help = "folder of ClamAV databases (.cvd .cld .ndb .hdb ...), e.g. /var/lib/clamav"},
        {.name = "max_scan_size",
         .ctx = CTX_MODULE,
         .type = CT_SIZE,
         .offset = C(max_scan_size),
         .min = KIB,
         .max = MAX_BYTES,
         .def = "100m",
         .help = "most bytes scanned in one object, archive contents included"},
        {.name = "max_file_size",
         .ctx = CTX_MODULE,
         .type = CT_SIZE,
         .offset = C(max_file_size),
         .min = KIB,
         .max = MAX_BYTES,
         .def = "100m",
         .help = "largest file scanned: the object, or one file inside it"},
        {.name = "max_recursion",
         .ctx = CTX_MODULE,
         .type = CT_UINT,
         .offset = C(max_recursion),
         .min = 1,
         .max = 100,
         .def = "16",
         .help = "deepest nesting of archives scanned"},
        {.name = "max_files",
         .ctx = CTX_MODULE,
         .type = CT_UINT,
         .offset = C(max_files),
         .min = 1,
         .max = 1000000,
         .def = "10000",
         .help = "most files scanned inside one object"},
        {.name = "max_scan_time",
         .ctx = CTX_MODULE,
         .type = CT_DURATION,
         .offset = C(max_scan_time),
         .min = 1000,
         .max = HOUR_MS,
         .def = "120s",
         .help = "longest time one scan may take"},
        {.name = "block_encrypted",
         .ctx = CTX_MODULE,
         .type = CT_FLAG,
         .offset = C(block_encrypted),
         .def = "on",
         .help = "encrypted archives and documents are scan errors (on_scan_error decides)"},
        {.name = "skip_content_types",
         .ctx = CTX_MODULE,
         .type = CT_WORDS,
         .offset = C(skip_content_types),
         .def = "",
         .help = "Content-Types not scanned: exact (image/png) or prefix (video/)"},
        {.name = "skip_hosts",
         .ctx = CTX_MODULE,
         .type = CT_WORDS,
         .offset = C(skip_hosts),
         .def = "",
         .help = "hosts not scanned: exact (example.com) or domain (.example.com)"},
        {.name = "skip_larger_than",
         .ctx = CTX_MODULE,
         .type = CT_SIZE,
         .offset = C(skip_larger_than),
         .def = "0",
         .help = "bodies announced larger than this are not scanned; 0: scan all"},
        {.name = "allow_sha256",
         .ctx = CTX_MODULE,
         .type = CT_PATH,
         .offset = C(allow_sha256),
         .def = NULL,
         .help = "file of hex SHA-256 digests (sha256sum output works) let through unscanned"},
        {.name = "allow_signatures",
         .ctx = CTX_MODULE,
         .type = CT_WORDS,
         .offset = C(allow_signatures),
         .def = "",
         .help = "signature names that are false positives here: let through"},
};

static void clamav_conf_free(void *mconf)
{
	struct clamav_conf *c = mconf;
	free(c->signatures);
	free(c->allow_sha256);
	conf_words_free(&c->skip_content_types);
	conf_words_free(&c->skip_hosts);
	conf_words_free(&c->allow_signatures);
}

/* Digests (the helpers are in clamav_db.c). */

static void dig_words(EVP_MD_CTX *md, const struct conf_words *w)
{
	clamav_db_dig_u64(md, w->n);
	for (size_t i = 0; i < w->n; i++)
		clamav_db_dig_str(md, w->v[i]);
}

/* Engines */

static void engine_unref(struct clamav_engine *e)
{
	if (e == NULL)
		return;
	if (e->magic != CLAMAV_ENGINE_MAGIC)
		abort();
	if (atomic_fetch_sub(&e->refs, 1) != 1)
		return;
	cl_engine_free(e->cl);
	e->magic = 0;
	free(e);
}

/* The key of the engine that c and the snapshot s describe. */
static void engine_key(const struct clamav_conf *c, const struct clamav_db_snap *s,
                       unsigned char key[SHA256_LEN])
{
	EVP_MD_CTX *md = clamav_db_dig_begin("clamav engine");
	clamav_db_dig_str(md, c->signatures);
	clamav_db_dig_u64(md, c->max_scan_size);
	clamav_db_dig_u64(md, c->max_file_size);
	clamav_db_dig_u64(md, c->max_recursion);
	clamav_db_dig_u64(md, c->max_files);
	clamav_db_dig_u64(md, c->max_scan_time);
	clamav_db_snap_digest(md, s);
	clamav_db_dig_end(md, key);
}

/*
 * Loads an engine from c's folder with c's limits (see clamav_db_load; *s
 * may be replaced by a newer snapshot). Returns it with one reference, or
 * NULL after writing why to errors.
 */
static struct clamav_engine *engine_load(const struct clamav_conf *c, struct clamav_db_snap *s,
                                         FILE *errors)
{
	const struct clamav_db_limits lim = {
	        .scan_size = c->max_scan_size,
	        .file_size = c->max_file_size,
	        .recursion = c->max_recursion,
	        .files = c->max_files,
	        .scan_time_ms = c->max_scan_time,
	};
	unsigned sigs = 0;
	struct cl_engine *cl = clamav_db_load(c->signatures, &lim, s, &sigs, errors);
	if (cl == NULL)
		return NULL;
	struct clamav_engine *e = xcalloc(1, sizeof(*e));
	e->magic = CLAMAV_ENGINE_MAGIC;
	atomic_init(&e->refs, 1);
	e->cl = cl;
	e->sigs = sigs;
	return e;
}

/* States */

static void clamav_ref(void *state)
{
	atomic_fetch_add(&state_of(state)->refs, 1);
}

static void clamav_unref(void *state)
{
	if (state == NULL)
		return;
	struct clamav_state *st = state_of(state);
	if (atomic_fetch_sub(&st->refs, 1) != 1)
		return;
	engine_unref(st->engine);
	free(st->sigdir);
	clamav_db_snap_free(&st->snap);
	free(st->allow_path);
	free(st->allow_stat.name);
	conf_words_free(&st->skip_types);
	conf_words_free(&st->skip_hosts);
	conf_words_free(&st->allow_sigs);
	free(st->allow_sha);
	st->magic = 0;
	free(st);
}

/*
 * The key of the state c and the snapshots describe: the engine's key, the
 * other settings, and the allow file's stat (its content is read only when
 * a state is built).
 */
static void state_key(const struct clamav_conf *c, const unsigned char ekey[SHA256_LEN],
                      const struct clamav_db_file *allow, unsigned char key[SHA256_LEN])
{
	EVP_MD_CTX *md = clamav_db_dig_begin("clamav state");
	EVP_DigestUpdate(md, ekey, SHA256_LEN);
	clamav_db_dig_u64(md, c->block_encrypted);
	dig_words(md, &c->skip_content_types);
	dig_words(md, &c->skip_hosts);
	clamav_db_dig_u64(md, c->skip_larger_than);
	dig_words(md, &c->allow_signatures);
	clamav_db_dig_str(md, c->allow_sha256);
	if (allow->name != NULL)
		clamav_db_file_digest(md, allow);
	clamav_db_dig_end(md, key);
}

/*
 * version(): "clamav:" and 12 hex digits of a digest of what decides
 * verdicts: libclamav's version, the engine's key (signature snapshot and
 * limits), the settings and the allowed digests themselves.
 */
static void state_version(struct clamav_state *st)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char h[SHA256_LEN];
	EVP_MD_CTX *md = clamav_db_dig_begin("clamav version");
	clamav_db_dig_str(md, cl_retver());
	EVP_DigestUpdate(md, st->engine->key, SHA256_LEN);
	clamav_db_dig_u64(md, st->block_encrypted);
	dig_words(md, &st->skip_types);
	dig_words(md, &st->skip_hosts);
	clamav_db_dig_u64(md, st->skip_larger_than);
	dig_words(md, &st->allow_sigs);
	clamav_db_dig_u64(md, st->nallow_sha);
	if (st->nallow_sha > 0)
		EVP_DigestUpdate(md, st->allow_sha, st->nallow_sha * SHA256_LEN);
	clamav_db_dig_end(md, h);
	char *p = st->version + sprintf(st->version, "clamav:");
	for (int i = 0; i < 6; i++) {
		*p++ = hex[h[i] >> 4];
		*p++ = hex[h[i] & 15];
	}
	*p = '\0';
}

/*
 * Builds a state from mconf (a struct clamav_conf whose paths the parser
 * made absolute or relative to the working directory). old, if not NULL,
 * is the running state: returned with a new reference if nothing changed,
 * its engine shared if only settings outside the engine changed. Returns
 * the state, or NULL after writing the reasons to errors.
 */
static void *clamav_build(const void *mconf, void *old, FILE *errors)
{
	const struct clamav_conf *c = mconf;
	struct clamav_state *prev = old != NULL ? state_of(old) : NULL;

	pthread_once(&clamav_once, clamav_init);
	if (clamav_init_result != CL_SUCCESS) {
		fprintf(errors, "libclamav: cannot initialize: %s\n",
		        cl_strerror(clamav_init_result));
		return NULL;
	}
	if (c->signatures == NULL) {
		fprintf(errors, "module clamav: no signatures folder\n");
		return NULL;
	}

	struct clamav_db_snap snap;
	if (clamav_db_snap_take(c->signatures, &snap) < 0) {
		fprintf(errors, "%s: cannot read the signature folder: %s\n", c->signatures,
		        strerror(errno));
		return NULL;
	}
	if (snap.n == 0) {
		fprintf(errors, "%s: no ClamAV databases in it (.cvd, .cld, .ndb, .hdb, ...)\n",
		        c->signatures);
		return NULL;
	}
	struct clamav_db_file allow = {0};
	if (c->allow_sha256 != NULL && clamav_db_file_stat(c->allow_sha256, &allow) < 0) {
		fprintf(errors, "%s: %s\n", c->allow_sha256, strerror(errno));
		clamav_db_snap_free(&snap);
		return NULL;
	}

	unsigned char ekey[SHA256_LEN], skey[SHA256_LEN];
	engine_key(c, &snap, ekey);
	state_key(c, ekey, &allow, skey);
	if (prev != NULL && memcmp(prev->key, skey, SHA256_LEN) == 0) {
		clamav_db_snap_free(&snap);
		free(allow.name);
		clamav_ref(prev);
		return prev;
	}

	struct clamav_state *st = xcalloc(1, sizeof(*st));
	st->magic = CLAMAV_STATE_MAGIC;
	atomic_init(&st->refs, 1);
	st->sigdir = xstrdup(c->signatures);
	st->allow_stat = allow;
	st->allow_path = c->allow_sha256 != NULL ? xstrdup(c->allow_sha256) : NULL;
	st->block_encrypted = c->block_encrypted;
	st->skip_larger_than = c->skip_larger_than;
	conf_words_copy(&st->skip_types, &c->skip_content_types);
	conf_words_copy(&st->skip_hosts, &c->skip_hosts);
	conf_words_copy(&st->allow_sigs, &c->allow_signatures);
	if (st->allow_path != NULL &&
	    clamav_db_allow_load(st->allow_path, &st->allow_sha, &st->nallow_sha, errors) < 0) {
		clamav_db_snap_free(&snap);
		clamav_unref(st);
		return NULL;
	}

	if (prev != NULL && memcmp(prev->engine->key, ekey, SHA256_LEN) == 0) {
		atomic_fetch_add(&prev->engine->refs, 1);
		st->engine = prev->engine;
	} else {
		st->engine = engine_load(c, &snap, errors);
		if (st->engine == NULL) {
			clamav_db_snap_free(&snap);
			clamav_unref(st);
			return NULL;
		}
		/* The snapshot may be newer than the one the key was made from. */
		engine_key(c, &snap, ekey);
		state_key(c, ekey, &st->allow_stat, skey);
		memcpy(st->engine->key, ekey, SHA256_LEN);
	}
	st->snap = snap;
	memcpy(st->key, skey, SHA256_LEN);
	state_version(st);
	return st;
}

static const char *clamav_version(const void *state)
{
	return state_of(state)->version;
}

/*
 * True if the signature folder or the allow file changed since the state
 * was built (or can no longer be read). Only stats: cheap enough for the
 * event loop.
 */
static bool clamav_stale(const void *state)
{
	const struct clamav_state *st = state_of(state);
	struct clamav_db_snap now;
	if (clamav_db_snap_take(st->sigdir, &now) < 0)
		return true;
	bool changed = !clamav_db_snap_equal(&st->snap, &now);
	clamav_db_snap_free(&now);
	if (!changed && st->allow_path != NULL) {
		struct clamav_db_file f;
		if (clamav_db_file_stat(st->allow_path, &f) < 0)
			return true;
		changed = !clamav_db_file_equal(&st->allow_stat, &f);
		free(f.name);
	}
	return changed;
}

/* Skip rules */

/*
 * True if the one Content-Type of h is in the list: an entry ending in '/'
 * (or "/ *") matches every subtype, others the whole media type; case does
 * not matter, parameters are ignored. A head with several Content-Type
 * fields, or a truncated one, is never exempt.
 */
static bool type_exempt(const struct conf_words *w, const struct http_head *h)
{
	if (h->truncated || hdr_count(h->hdrs, h->nhdrs, "Content-Type") != 1)
		return false;
	const struct hdr *ct = hdr_find(h->hdrs, h->nhdrs, "Content-Type");
	size_t len = 0;
	while (len < ct->value_len && ct->value[len] != ';' && ct->value[len] != ' ' &&
	       ct->value[len] != '\t')
		len++;
	if (len == 0)
		return false;
	for (size_t i = 0; i < w->n; i++) {
		const char *e = w->v[i];
		size_t el = strlen(e);
		if (el >= 2 && e[el - 2] == '/' && e[el - 1] == '*')
			el--;
		bool prefix = el > 0 && e[el - 1] == '/';
		if ((prefix ? len >= el : len == el) && strncasecmp(ct->value, e, el) == 0)
			return true;
	}
	return false;
}

/*
 * True if the request's host is in the list: an entry "example.com" matches
 * that host, ".example.com" it and every name under it. The port and a
 * trailing dot are ignored.
 */
static bool host_exempt(const struct conf_words *w, const struct http_head *req)
{
	const char *host = NULL;
	size_t len = http_request_host(req, &host);
	if (len == 0)
		return false;
	if (host[0] == '[') {
		const char *rb = memchr(host, ']', len);
		if (rb != NULL)
			len = (size_t)(rb - host) + 1;
	} else {
		const char *colon = memchr(host, ':', len);
		if (colon != NULL)
			len = (size_t)(colon - host);
	}
	if (len > 0 && host[len - 1] == '.')
		len--;
	if (len == 0)
		return false;
	for (size_t i = 0; i < w->n; i++) {
		const char *e = w->v[i];
		size_t el = strlen(e);
		if (el == 0)
			continue;
		if (e[0] == '.') {
			/* ".example.com": the host itself, or a name ending in it. */
			if (len == el - 1 && strncasecmp(host, e + 1, len) == 0)
				return true;
			if (len > el && strncasecmp(host + len - el, e, el) == 0)
				return true;
		} else if (len == el && strncasecmp(host, e, len) == 0) {
			return true;
		}
	}
	return false;
}

/*
 * Whether m's body is to be scanned. length_hint is the announced length
 * (0 or UINT64_MAX when unknown, which never skips). Returns false with a constant
 * *skip_reason for an exempt content type (of the response in RESPMOD, of
 * the request in REQMOD), an exempt host, or a length over
 * skip_larger_than.
 */
static bool clamav_wants_body(const void *state, const struct module_msg *m, uint64_t length_hint,
                              const char **skip_reason)
{
	const struct clamav_state *st = state_of(state);
	const char *why = NULL;
	const struct http_head *h = m->method == ICAP_METHOD_RESPMOD ? m->res : m->req;

	if (st->skip_types.n > 0 && h != NULL && type_exempt(&st->skip_types, h))
		why = SKIP_CONTENT_TYPE;
	else if (st->skip_hosts.n > 0 && m->req != NULL && host_exempt(&st->skip_hosts, m->req))
		why = SKIP_HOST;
	else if (st->skip_larger_than > 0 && length_hint != UINT64_MAX &&
	         length_hint > st->skip_larger_than)
		why = SKIP_SIZE;
	if (why == NULL)
		return true;
	if (skip_reason != NULL)
		*skip_reason = why;
	return false;
}

/* Scanning */

static void set_verdict(struct verdict *v, enum verdict_kind kind, bool threat, const char *fmt,
                        ...) __attribute__((format(printf, 4, 5)));

static void set_verdict(struct verdict *v, enum verdict_kind kind, bool threat, const char *fmt,
                        ...)
{
	va_list ap;
	v->kind = kind;
	v->module = "clamav";
	v->is_threat = threat;
	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
	va_end(ap);
}

static bool allowed_sha(const struct clamav_state *st, const unsigned char *h)
{
	return st->nallow_sha > 0 &&
	       bsearch(h, st->allow_sha, st->nallow_sha, SHA256_LEN, clamav_db_sha_cmp) != NULL;
}

/* True if name, or name without libclamav's ".UNOFFICIAL", is in the list. */
static bool allowed_sig(const struct conf_words *w, const char *name)
{
	size_t n = strlen(name), ul = strlen(NAME_UNOFFICIAL);
	size_t base = n > ul && strcmp(name + n - ul, NAME_UNOFFICIAL) == 0 ? n - ul : n;
	for (size_t i = 0; i < w->n; i++)
		if (strcmp(w->v[i], name) == 0 ||
		    (strlen(w->v[i]) == base && strncmp(w->v[i], name, base) == 0))
			return true;
	return false;
}

/*
 * Judges a finished body: PASS if its SHA-256 is allowed, else scans it
 * whole (an incomplete body is a VERDICT_ERROR). Runs on a scan thread.
 *
 * What libclamav 1.4 reports with these options, and what it becomes:
 * CL_CLEAN is a pass; CL_VIRUS with "Heuristics.Limits.Exceeded.MaxRecursion"
 * (or .MaxFileSize, .MaxScanSize, .MaxFiles, .MaxScanTime) and
 * "Heuristics.Encrypted.Zip" (.RAR, .PDF, ...) are verdict errors; a name
 * the administrator allowed is a pass; any other name blocks as a threat.
 * A real signature found after a heuristic one wins (heuristics do not take
 * precedence), so an archive too deep to finish that also holds a known
 * virus is reported as that virus.
 */
/* Turns what libclamav returned into a verdict. Returns true if it decided
 * anything but a pass. */
static bool map_result(const struct clamav_state *st, cl_error_t r, const char *name,
                       const struct clamav_db_scan *scan, struct verdict *v)
{
	if (r == CL_CLEAN) {
		set_verdict(v, VERDICT_PASS, false, "clean");
	} else if (r == CL_VIRUS && scan->claims_too_much) {
		set_verdict(v, VERDICT_ERROR, false,
		            "scan limit exceeded: archive members claim more than max_scan_size");
	} else if (r == CL_VIRUS) {
		if (name == NULL)
			name = scan->name[0] != '\0' ? scan->name : "Unnamed.Detection";
		if (allowed_sig(&st->allow_sigs, name))
			set_verdict(v, VERDICT_PASS, false, "allowed signature %s", name);
		else if (strncmp(name, NAME_LIMITS, strlen(NAME_LIMITS)) == 0)
			set_verdict(v, VERDICT_ERROR, false, "scan limit exceeded: %s", name);
		else if (strncmp(name, NAME_ENCRYPTED, strlen(NAME_ENCRYPTED)) == 0)
			set_verdict(v, VERDICT_ERROR, false, "encrypted: %s", name);
		else
			set_verdict(v, VERDICT_BLOCK, true, "%s", name);
	} else if (r == CL_ETIMEOUT || r == CL_EMAXREC || r == CL_EMAXSIZE || r == CL_EMAXFILES) {
		set_verdict(v, VERDICT_ERROR, false, "scan limit exceeded: %s", cl_strerror(r));
	} else {
		set_verdict(v, VERDICT_ERROR, false, "engine error: %s", cl_strerror(r));
	}
	return v->kind != VERDICT_PASS;
}

/* At most this many parts of a form are scanned one by one. */
#define MAX_FORM_PARTS 1000

struct part_scan {
	const struct clamav_state *st;
	const char *base;
	struct cl_scan_options *opts;
	struct verdict *v;
	bool decided;
};

static int scan_one_part(void *arg, const struct multipart_part *p)
{
	struct part_scan *ps = arg;
	if (p->len == 0)
		return 0;
	cl_fmap_t *map = cl_fmap_open_memory(ps->base + p->off, p->len);
	if (map == NULL)
		return 0;
	const char *name = NULL;
	unsigned long scanned = 0;
	struct clamav_db_scan scan;
	clamav_db_scan_init(&scan, ps->st->engine->cl);
	cl_error_t r = cl_scanmap_callback(map, NULL, &name, &scanned, ps->st->engine->cl, ps->opts,
	                                   &scan);
	cl_fmap_close(map);
	ps->decided = map_result(ps->st, r, name, &scan, ps->v);
	return ps->decided;
}

/*
 * A form upload (multipart): each part is scanned on its own too, exactly as
 * it was sent, since a signature over a whole file (a hash) does not match
 * the form around it. Returns true if a part decided the verdict.
 */
static bool scan_form_parts(const struct clamav_state *st, const struct module_msg *m, int fd,
                            uint64_t len, struct cl_scan_options *opts, struct verdict *v)
{
	const struct http_head *h = m->method == ICAP_METHOD_REQMOD ? m->req : m->res;
	const struct hdr *ct = h ? hdr_find(h->hdrs, h->nhdrs, "Content-Type") : NULL;
	char boundary[MULTIPART_BOUNDARY_MAX + 1];
	size_t blen = ct ? multipart_boundary(ct->value, ct->value_len, boundary) : 0;
	if (blen == 0 || len == 0 || len > SIZE_MAX)
		return false;
	void *base = mmap(NULL, (size_t)len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (base == MAP_FAILED)
		return false;
	struct part_scan ps = {.st = st, .base = base, .opts = opts, .v = v};
	multipart_each(base, (size_t)len, boundary, blen, MAX_FORM_PARTS, scan_one_part, &ps);
	munmap(base, (size_t)len);
	return ps.decided;
}

static void clamav_judge_body(const void *state, const struct module_msg *m, struct body *b,
                              struct verdict *v)
{
	const struct clamav_state *st = state_of(state);

	if (allowed_sha(st, body_sha256(b))) {
		set_verdict(v, VERDICT_PASS, false, "allowed by sha256");
		return;
	}
	if (!body_complete(b)) {
		char c;
		/* body_read refuses even 0 bytes of a body that failed to spool. */
		if (body_read(b, 0, &c, 0) < 0)
			set_verdict(v, VERDICT_ERROR, false, "engine error: %s",
			            "body could not be stored");
		else
			set_verdict(v, VERDICT_ERROR, false, "larger than the scan limit");
		return;
	}
	if (body_length(b) == 0) {
		set_verdict(v, VERDICT_PASS, false, "empty");
		return;
	}
	int fd = body_fd(b);
	if (fd < 0) {
		set_verdict(v, VERDICT_ERROR, false, "engine error: body not readable: %s",
		            strerror(errno));
		return;
	}

	struct cl_scan_options opts = {
	        .general = CL_SCAN_GENERAL_HEURISTICS,
	        .parse = ~0u,
	        .heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX,
	};
	if (st->block_encrypted)
		opts.heuristic |=
		        CL_SCAN_HEURISTIC_ENCRYPTED_ARCHIVE | CL_SCAN_HEURISTIC_ENCRYPTED_DOC;
	if (scan_form_parts(st, m, fd, body_length(b), &opts, v))
		return;
	const char *name = NULL;
	unsigned long scanned = 0;
	struct clamav_db_scan scan;
	clamav_db_scan_init(&scan, st->engine->cl);
	cl_error_t r =
	        cl_scandesc_callback(fd, NULL, &name, &scanned, st->engine->cl, &opts, &scan);
	map_result(st, r, name, &scan, v);
}

/* Signature count and age: an engine that stops updating should be seen. */
static void clamav_render_metrics(const void *state, struct evbuffer *out)
{
	const struct clamav_state *st = state_of(state);
	long long newest = 0;
	for (size_t i = 0; i < st->snap.n; i++)
		if (st->snap.v[i].mtime_ns > newest)
			newest = st->snap.v[i].mtime_ns;
	evbuffer_add_printf(out,
	                    "# HELP icapd_clamav_signatures Signatures in the running engine.\n"
	                    "# TYPE icapd_clamav_signatures gauge\n"
	                    "icapd_clamav_signatures %u\n"
	                    "# HELP icapd_clamav_signature_age_seconds Age of the newest "
	                    "signature database file.\n"
	                    "# TYPE icapd_clamav_signature_age_seconds gauge\n"
	                    "icapd_clamav_signature_age_seconds %.0f\n",
	                    st->engine->sigs,
	                    newest ? difftime(time(NULL), (time_t)(newest / 1000000000)) : 0.0);
}

const struct module clamav_module = {
        .name = "clamav",
        .directives = clamav_directives,
        .ndirectives = sizeof(clamav_directives) / sizeof(clamav_directives[0]),
        .conf_size = sizeof(struct clamav_conf),
        .conf_free = clamav_conf_free,
        .build = clamav_build,
        .ref = clamav_ref,
        .unref = clamav_unref,
        .version = clamav_version,
        .stale = clamav_stale,
        .render_metrics = clamav_render_metrics,
        .wants_body = clamav_wants_body,
        .judge_body = clamav_judge_body,
};

#endif /* WITH_CLAMAV */
