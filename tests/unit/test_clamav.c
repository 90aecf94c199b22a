/*
 * Unit tests for modules/clamav.c, the virus scanning module, driven through
 * its struct module as the core drives it: a module conf made from the
 * directive table's own defaults (applied here by a small stand-in for the
 * configuration parser), build, judge_body on real bodies (body.c), version,
 * stale, wants_body. The engine is loaded from the project's database in
 * conf/signatures (the tests run from the top of the tree, as make check
 * does); databases that the tests change are copies in a temporary folder.
 *
 * The EICAR string is put together at run time from two halves so that it
 * never appears in the tree. Debian's clamav-testfiles package must be
 * installed: its 44 files must all be blocked. Archives are made at run
 * time with the zip command, or Python's zipfile where zip is missing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "body.h"
#include "conf.h"
#include "http_parse.h"
#include "module.h"

#define CONF_DIR   "conf"
#define SIG_DIR    CONF_DIR "/signatures"
#define TESTFILES  "/usr/share/clamav-testfiles"
#define NTESTFILES 44
#define EICAR_SIG  "icapd.Test.EICAR"

/* The EICAR test string, in two halves. */
static const char eicar_a[] = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EIC";
static const char eicar_b[] = "AR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

struct fixture {
	const struct module *m;
	void *conf;  /* default module conf, signatures from conf/signatures */
	void *state; /* built from it */
	char tmp[64];
	char eicar[70];
	size_t eicar_len;
};

/* A stand-in for the configuration parser */

static const struct conf_directive *directive(const struct module *m, const char *name)
{
	for (size_t i = 0; i < m->ndirectives; i++)
		if (strcmp(m->directives[i].name, name) == 0)
			return &m->directives[i];
	fail_msg("module %s has no directive %s", m->name, name);
	return NULL;
}

/* A number with one of the suffixes in units ("k", "m", ...), each worth mult[i]. */
static unsigned long long number(const char *s, const char *const *units,
                                 const unsigned long long *mult)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	assert_int_equal(errno, 0);
	assert_true(end != s);
	if (*end == '\0')
		return v * mult[0];
	for (size_t i = 1; units[i] != NULL; i++)
		if (strcmp(end, units[i]) == 0)
			return v * mult[i];
	fail_msg("bad number \"%s\"", s);
	return 0;
}

/* Sets directive name of module m in conf to value, as the parser would. */
static void conf_set(const struct module *m, void *conf, const char *name, const char *value)
{
	static const char *const size_units[] = {"", "k", "m", "g", NULL};
	static const unsigned long long size_mult[] = {1, 1ULL << 10, 1ULL << 20, 1ULL << 30};
	static const char *const time_units[] = {"", "ms", "s", "m", "h", NULL};
	static const unsigned long long time_mult[] = {1, 1, 1000, 60000, 3600000};
	const struct conf_directive *d = directive(m, name);
	void *field = (char *)conf + d->offset;
	unsigned long long v;

	switch (d->type) {
	case CT_UINT:
	case CT_SIZE:
	case CT_DURATION:
		if (d->type == CT_UINT)
			v = number(value, (const char *const[]){"", NULL}, size_mult);
		else if (d->type == CT_SIZE)
			v = number(value, size_units, size_mult);
		else
			v = number(value, time_units, time_mult);
		assert_true(v >= d->min && (d->max == 0 || v <= d->max));
		*(unsigned long long *)field = v;
		break;
	case CT_FLAG:
		assert_true(strcmp(value, "on") == 0 || strcmp(value, "off") == 0);
		*(bool *)field = strcmp(value, "on") == 0;
		break;
	case CT_PATH: {
		char **p = field;
		free(*p);
		if (value[0] == '/') {
			*p = strdup(value);
		} else {
			/* Relative to the folder of the configuration file. */
			*p = malloc(strlen(CONF_DIR) + strlen(value) + 2);
			assert_non_null(*p);
			sprintf(*p, "%s/%s", CONF_DIR, value);
		}
		assert_non_null(*p);
		break;
	}
	case CT_WORDS: {
		struct conf_words *w = field;
		for (size_t i = 0; i < w->n; i++)
			free(w->v[i]);
		free(w->v);
		w->v = NULL;
		w->n = 0;
		char *copy = strdup(value), *save = NULL;
		assert_non_null(copy);
		for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
			w->v = realloc(w->v, (w->n + 1) * sizeof(char *));
			assert_non_null(w->v);
			w->v[w->n++] = strdup(t);
		}
		free(copy);
		break;
	}
	default:
		fail_msg("directive %s: type %d not expected in module clamav", name, d->type);
	}
}

/* A zeroed module conf with every default applied. */
static void *conf_new(const struct module *m)
{
	void *c = calloc(1, m->conf_size);
	assert_non_null(c);
	for (size_t i = 0; i < m->ndirectives; i++) {
		const struct conf_directive *d = &m->directives[i];
		assert_non_null(d->help);
		if (d->def != NULL)
			conf_set(m, c, d->name, d->def);
	}
	return c;
}

static void conf_destroy(const struct module *m, void *c)
{
	m->conf_free(c);
	free(c);
}

/* Helpers */

/* Builds a state, keeping what build wrote to errors in *msg (freed by the caller). */
static void *build(const struct module *m, const void *conf, void *old, char **msg)
{
	size_t len = 0;
	char *buf = NULL;
	FILE *errors = open_memstream(&buf, &len);
	assert_non_null(errors);
	void *st = m->build(conf, old, errors);
	fclose(errors);
	if (msg != NULL)
		*msg = buf;
	else
		free(buf);
	return st;
}

static struct body *body_of(const void *p, size_t n, uint64_t max_size)
{
	const struct body_limits lim = {
	        .memory = 64 << 10, .max_size = max_size, .spool_dir = "/tmp"};
	struct body *b = body_new(&lim);
	assert_non_null(b);
	body_append_mem(b, p, n);
	body_finish(b);
	return b;
}

static void judge(const struct module *m, const void *st, const void *p, size_t n,
                  struct verdict *v)
{
	struct module_msg msg = {.method = ICAP_METHOD_RESPMOD};
	struct body *b = body_of(p, n, 256 << 20);
	memset(v, 0, sizeof(*v));
	m->judge_body(st, &msg, b, v);
	assert_string_equal(v->module, "clamav");
	body_free(b);
}

static void fill_random(unsigned char *p, size_t n, uint64_t seed)
{
	uint64_t x = seed | 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)(x >> 24);
	}
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	char *p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static void copy_file(const char *from, const char *to)
{
	size_t n;
	char *p = read_file(from, &n);
	write_file(to, p, n);
	free(p);
}

static bool have_zip(void)
{
	return system("command -v zip >/dev/null 2>&1") == 0;
}

static void run(const char *cmd)
{
	int rc = system(cmd);
	if (rc != 0)
		fail_msg("command failed (%d): %s", rc, cmd);
}

static void hex(const unsigned char *h, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", h[i]);
}

/* Fixture */

static int group_setup(void **state)
{
	static struct fixture f;
	f.m = module_find("clamav");
	if (f.m == NULL) {
		fprintf(stderr, "test_clamav: module clamav not compiled in (-DWITH_CLAMAV)\n");
		return -1;
	}
	if (access(SIG_DIR "/icapd-eicar.ndb", R_OK) != 0) {
		fprintf(stderr, "test_clamav: %s not found: run from the top of the tree\n",
		        SIG_DIR);
		return -1;
	}
	f.eicar_len = (size_t)snprintf(f.eicar, sizeof(f.eicar), "%s%s", eicar_a, eicar_b);
	if (f.eicar_len != 68)
		return -1;
	snprintf(f.tmp, sizeof(f.tmp), "/tmp/icapd-test-clamav-XXXXXX");
	if (mkdtemp(f.tmp) == NULL)
		return -1;
	f.conf = conf_new(f.m);
	char *msg = NULL;
	f.state = build(f.m, f.conf, NULL, &msg);
	if (f.state == NULL) {
		fprintf(stderr, "test_clamav: build failed: %s\n", msg);
		free(msg);
		return -1;
	}
	free(msg);
	*state = &f;
	return 0;
}

static int group_teardown(void **state)
{
	struct fixture *f = *state;
	f->m->unref(f->state);
	conf_destroy(f->m, f->conf);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->tmp);
	return system(cmd) == 0 ? 0 : -1;
}

/* A fresh folder under the fixture's temporary one. */
static void subdir(const struct fixture *f, const char *name, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s", f->tmp, name);
	assert_int_equal(mkdir(out, 0700), 0);
}

/* Tests */

static void test_directives(void **state)
{
	struct fixture *f = *state;
	assert_string_equal(f->m->name, "clamav");
	assert_non_null(f->m->build);
	assert_non_null(f->m->judge_body);
	const char *names[] = {"signatures",       "max_scan_size",      "max_file_size",
	                       "max_recursion",    "max_files",          "max_scan_time",
	                       "block_encrypted",  "skip_content_types", "skip_hosts",
	                       "skip_larger_than", "allow_sha256",       "allow_signatures"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct conf_directive *d = directive(f->m, names[i]);
		assert_true(d->ctx == CTX_MODULE);
		assert_true(d->offset < f->m->conf_size);
	}
	assert_null(directive(f->m, "allow_sha256")->def);
	const char *v = f->m->version(f->state);
	assert_int_equal(strncmp(v, "clamav:", 7), 0);
	assert_int_equal(strlen(v), 7 + 12);
	assert_false(f->m->stale(f->state));
}

static void test_eicar_anywhere(void **state)
{
	struct fixture *f = *state;
	size_t n = 200 << 10;
	size_t at[] = {0, n / 2 - 7, n - f->eicar_len};
	unsigned char *p = malloc(n);
	assert_non_null(p);
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		fill_random(p, n, 42 + i);
		memcpy(p + at[i], f->eicar, f->eicar_len);
		struct verdict v;
		judge(f->m, f->state, p, n, &v);
		assert_int_equal(v.kind, VERDICT_BLOCK);
		assert_true(v.is_threat);
		assert_int_equal(strncmp(v.reason, EICAR_SIG, strlen(EICAR_SIG)), 0);
	}
	/* The bare string too. */
	struct verdict v;
	judge(f->m, f->state, f->eicar, f->eicar_len, &v);
	assert_int_equal(v.kind, VERDICT_BLOCK);
	free(p);
}

static void test_clamav_testfiles(void **state)
{
	struct fixture *f = *state;
	DIR *d = opendir(TESTFILES);
	if (d == NULL)
		fail_msg("%s: %s: apt-get install clamav-testfiles", TESTFILES, strerror(errno));
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char path[PATH_MAX];
		size_t len;
		snprintf(path, sizeof(path), "%s/%s", TESTFILES, e->d_name);
		char *p = read_file(path, &len);
		struct verdict v;
		judge(f->m, f->state, p, len, &v);
		if (v.kind != VERDICT_BLOCK || !v.is_threat)
			fail_msg("%s: verdict %d (%s), expected a block", path, v.kind, v.reason);
		free(p);
		n++;
	}
	closedir(d);
	assert_int_equal(n, NTESTFILES);
}

static void test_clean(void **state)
{
	struct fixture *f = *state;
	size_t n = 1 << 20;
	unsigned char *p = malloc(n);
	assert_non_null(p);
	fill_random(p, n, 7);
	struct verdict v;
	judge(f->m, f->state, p, n, &v);
	assert_int_equal(v.kind, VERDICT_PASS);
	assert_false(v.is_threat);
	judge(f->m, f->state, p, 0, &v);
	assert_int_equal(v.kind, VERDICT_PASS);
	free(p);
}

/*
 * Makes dir/out.zip: payload (written as dir/payload) zipped depth times,
 * each archive inside the next.
 */
static void nested_zip(const char *dir, const void *payload, size_t n, int depth)
{
	char path[PATH_MAX], cmd[PATH_MAX + 512];
	snprintf(path, sizeof(path), "%s/payload", dir);
	write_file(path, payload, n);
	if (have_zip())
		snprintf(cmd, sizeof(cmd),
		         "cd '%s' && f=payload && i=0 && while [ $i -lt %d ]; do i=$((i+1)); "
		         "zip -q n$i.zip $f && f=n$i.zip; done && mv $f out.zip",
		         dir, depth);
	else
		snprintf(cmd, sizeof(cmd),
		         "cd '%s' && python3 -c 'import zipfile\nf=\"payload\"\n"
		         "for i in range(1, %d + 1):\n"
		         "    z = zipfile.ZipFile(\"n%%d.zip\" %% i, \"w\", zipfile.ZIP_DEFLATED)\n"
		         "    z.write(f)\n    z.close()\n    f = \"n%%d.zip\" %% i\n"
		         "import os\nos.rename(f, \"out.zip\")'",
		         dir, depth);
	run(cmd);
}

static void judge_path(const struct fixture *f, const void *st, const char *path, struct verdict *v)
{
	size_t n;
	char *p = read_file(path, &n);
	judge(f->m, st, p, n, v);
	free(p);
}

static void test_archives(void **state)
{
	struct fixture *f = *state;
	char dir[128], path[160];
	struct verdict v;

	/* Inside three zips, EICAR is found. */
	subdir(f, "zip3", dir, sizeof(dir));
	nested_zip(dir, f->eicar, f->eicar_len, 3);
	snprintf(path, sizeof(path), "%s/out.zip", dir);
	judge_path(f, f->state, path, &v);
	assert_int_equal(v.kind, VERDICT_BLOCK);
	assert_int_equal(strncmp(v.reason, EICAR_SIG, strlen(EICAR_SIG)), 0);

	/* Deeper than max_recursion (16): a scan error, whatever is inside. */
	subdir(f, "zip20", dir, sizeof(dir));
	nested_zip(dir, "hello\n", 6, 20);
	snprintf(path, sizeof(path), "%s/out.zip", dir);
	judge_path(f, f->state, path, &v);
	assert_int_equal(v.kind, VERDICT_ERROR);
	assert_false(v.is_threat);
	assert_string_equal(v.reason,
	                    "scan limit exceeded: Heuristics.Limits.Exceeded.MaxRecursion");
}

static void test_limits(void **state)
{
	struct fixture *f = *state;
	size_t n = 3 << 20;
	unsigned char *p = malloc(n);
	assert_non_null(p);
	fill_random(p, n, 99);
	struct verdict v;

	/* Bigger than max_file_size. */
	void *conf = conf_new(f->m);
	conf_set(f->m, conf, "max_file_size", "1m");
	void *st = build(f->m, conf, NULL, NULL);
	assert_non_null(st);
	judge(f->m, st, p, n, &v);
	assert_int_equal(v.kind, VERDICT_ERROR);
	assert_string_equal(v.reason,
	                    "scan limit exceeded: Heuristics.Limits.Exceeded.MaxFileSize");
	f->m->unref(st);
	conf_destroy(f->m, conf);

	/* Bigger than max_scan_size. */
	conf = conf_new(f->m);
	conf_set(f->m, conf, "max_scan_size", "1m");
	st = build(f->m, conf, NULL, NULL);
	assert_non_null(st);
	judge(f->m, st, p, n, &v);
	assert_int_equal(v.kind, VERDICT_ERROR);
	assert_string_equal(v.reason,
	                    "scan limit exceeded: Heuristics.Limits.Exceeded.MaxScanSize");
	f->m->unref(st);
	conf_destroy(f->m, conf);

	/* More than the server kept: not scanned, an error. */
	struct module_msg msg = {.method = ICAP_METHOD_RESPMOD};
	struct body *b = body_of(p, n, 1 << 20);
	assert_false(body_complete(b));
	f->m->judge_body(f->state, &msg, b, &v);
	assert_int_equal(v.kind, VERDICT_ERROR);
	assert_string_equal(v.reason, "larger than the scan limit");
	body_free(b);
	free(p);
}

static void test_encrypted(void **state)
{
	struct fixture *f = *state;
	if (!have_zip()) {
		fprintf(stderr, "test_encrypted: no zip command, encrypted archives not tested "
		                "(apt-get install zip)\n");
		return;
	}
	char dir[128], cmd[512], path[160];
	subdir(f, "enc", dir, sizeof(dir));
	snprintf(cmd, sizeof(cmd), "cd '%s' && echo secret >s.txt && zip -q -e -P pw e.zip s.txt",
	         dir);
	run(cmd);
	snprintf(path, sizeof(path), "%s/e.zip", dir);
	struct verdict v;
	judge_path(f, f->state, path, &v);
	assert_int_equal(v.kind, VERDICT_ERROR);
	assert_string_equal(v.reason, "encrypted: Heuristics.Encrypted.Zip");

	void *conf = conf_new(f->m);
	conf_set(f->m, conf, "block_encrypted", "off");
	void *st = build(f->m, conf, NULL, NULL);
	assert_non_null(st);
	assert_string_not_equal(f->m->version(st), f->m->version(f->state));
	judge_path(f, st, path, &v);
	assert_int_equal(v.kind, VERDICT_PASS);
	f->m->unref(st);
	conf_destroy(f->m, conf);
}

static void test_allow_signatures(void **state)
{
	struct fixture *f = *state;
	void *conf = conf_new(f->m);
	conf_set(f->m, conf, "allow_signatures", "Some.Other " EICAR_SIG);
	void *st = build(f->m, conf, f->state, NULL);
	assert_non_null(st);
	assert_ptr_not_equal(st, f->state);
	assert_string_not_equal(f->m->version(st), f->m->version(f->state));
	struct verdict v;
	judge(f->m, st, f->eicar, f->eicar_len, &v);
	assert_int_equal(v.kind, VERDICT_PASS);
	assert_int_equal(strncmp(v.reason, "allowed signature " EICAR_SIG, 34), 0);
	/* Other signatures still block. */
	size_t n;
	char *p = read_file(TESTFILES "/clam.exe", &n);
	judge(f->m, st, p, n, &v);
	assert_int_equal(v.kind, VERDICT_BLOCK);
	free(p);
	f->m->unref(st);
	conf_destroy(f->m, conf);
}

static void test_allow_sha256(void **state)
{
	struct fixture *f = *state;
	unsigned char h[32];
	char hx[65], path[128], text[256];
	unsigned hl;
	assert_int_equal(EVP_Digest(f->eicar, f->eicar_len, h, &hl, EVP_sha256(), NULL), 1);
	hex(h, sizeof(h), hx);

	snprintf(path, sizeof(path), "%s/allow.sha256", f->tmp);
	snprintf(text, sizeof(text), "# known good\n\n%s  eicar.com\n", hx);
	write_file(path, text, strlen(text));
	void *conf = conf_new(f->m);
	conf_set(f->m, conf, "allow_sha256", path);
	char *msg = NULL;
	void *st = build(f->m, conf, NULL, &msg);
	if (st == NULL)
		fail_msg("build: %s", msg);
	free(msg);
	struct verdict v;
	judge(f->m, st, f->eicar, f->eicar_len, &v);
	assert_int_equal(v.kind, VERDICT_PASS);
	assert_string_equal(v.reason, "allowed by sha256");
	/* The same bytes with one more are not allowed. */
	char more[80];
	memcpy(more, f->eicar, f->eicar_len);
	more[f->eicar_len] = '\n';
	judge(f->m, st, more, f->eicar_len + 1, &v);
	assert_int_equal(v.kind, VERDICT_BLOCK);

	/* Changing the allow file makes the state stale. */
	assert_false(f->m->stale(st));
	snprintf(text, sizeof(text), "%s\n", hx);
	write_file(path, text, strlen(text));
	assert_true(f->m->stale(st));
	f->m->unref(st);

	/* A line that is not a digest fails the build, naming file and line. */
	snprintf(text, sizeof(text), "%s\nnot-a-digest\n", hx);
	write_file(path, text, strlen(text));
	st = build(f->m, conf, NULL, &msg);
	assert_null(st);
	assert_non_null(strstr(msg, "allow.sha256:2:"));
	free(msg);
	conf_destroy(f->m, conf);
}

static void test_bad_databases(void **state)
{
	struct fixture *f = *state;
	char dir[128], path[160];
	char *msg = NULL;

	/* A corrupt database: no state, the file named, the old state untouched. */
	subdir(f, "bad", dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/icapd-eicar.ndb", dir);
	copy_file(SIG_DIR "/icapd-eicar.ndb", path);
	snprintf(path, sizeof(path), "%s/bad.ndb", dir);
	write_file(path, "garbage\x01\x02 not a signature\n", 27);
	void *conf = conf_new(f->m);
	conf_set(f->m, conf, "signatures", dir);
	void *st = build(f->m, conf, f->state, &msg);
	assert_null(st);
	if (strstr(msg, "bad.ndb") == NULL)
		fail_msg("error message does not name bad.ndb: %s", msg);
	free(msg);
	struct verdict v;
	judge(f->m, f->state, f->eicar, f->eicar_len, &v);
	assert_int_equal(v.kind, VERDICT_BLOCK);

	/* A half-written .ndb line. */
	write_file(path, "icapd.Test.Half:0:*:585", 23);
	assert_null(build(f->m, conf, NULL, &msg));
	assert_non_null(strstr(msg, "bad.ndb"));
	free(msg);
	conf_destroy(f->m, conf);

	/* A missing folder. */
	conf = conf_new(f->m);
	snprintf(path, sizeof(path), "%s/no-such-folder", f->tmp);
	conf_set(f->m, conf, "signatures", path);
	assert_null(build(f->m, conf, NULL, &msg));
	assert_non_null(strstr(msg, "no-such-folder"));
	free(msg);
	conf_destroy(f->m, conf);

	/* A folder without databases. */
	conf = conf_new(f->m);
	subdir(f, "empty", dir, sizeof(dir));
	conf_set(f->m, conf, "signatures", dir);
	assert_null(build(f->m, conf, NULL, &msg));
	assert_non_null(strstr(msg, "empty"));
	free(msg);
	conf_destroy(f->m, conf);
}

static void test_reuse_and_reload(void **state)
{
	struct fixture *f = *state;
	char dir[128], path[160];
	subdir(f, "reload", dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/icapd-eicar.ndb", dir);
	copy_file(SIG_DIR "/icapd-eicar.ndb", path);
	void *conf = conf_new(f->m);
	conf_set(f->m, conf, "signatures", dir);

	void *a = build(f->m, conf, NULL, NULL);
	assert_non_null(a);
	char va[32];
	snprintf(va, sizeof(va), "%s", f->m->version(a));

	/* Nothing changed: the same state, one more reference. */
	void *a2 = build(f->m, conf, a, NULL);
	assert_ptr_equal(a2, a);
	f->m->unref(a2);
	assert_false(f->m->stale(a));

	/* A file that only a new signature detects. */
	static const char marker[] = "icapd unit test marker 5e1f0c";
	char sig[160], mhex[2 * sizeof(marker)];
	hex((const unsigned char *)marker, strlen(marker), mhex);
	struct verdict v;
	judge(f->m, a, marker, strlen(marker), &v);
	assert_int_equal(v.kind, VERDICT_PASS);

	/* Add a signature: stale, a new state and version that detect it. */
	snprintf(path, sizeof(path), "%s/extra.ndb", dir);
	int n = snprintf(sig, sizeof(sig), "icapd.Test.Marker:0:*:%s\n", mhex);
	write_file(path, sig, (size_t)n);
	assert_true(f->m->stale(a));
	void *b = build(f->m, conf, a, NULL);
	assert_non_null(b);
	assert_ptr_not_equal(b, a);
	assert_string_not_equal(f->m->version(b), va);
	assert_false(f->m->stale(b));
	judge(f->m, b, marker, strlen(marker), &v);
	assert_int_equal(v.kind, VERDICT_BLOCK);
	assert_int_equal(strncmp(v.reason, "icapd.Test.Marker", 17), 0);
	judge(f->m, a, marker, strlen(marker), &v);
	assert_int_equal(v.kind, VERDICT_PASS);

	/* The old state outlives its replacement's build, and the other way round. */
	f->m->unref(a);
	judge(f->m, b, f->eicar, f->eicar_len, &v);
	assert_int_equal(v.kind, VERDICT_BLOCK);

	/* A file replaced (renamed over, as freshclam does) with one of the same size. */
	char tmp[170];
	snprintf(tmp, sizeof(tmp), "%s/extra.tmp", dir);
	sig[strlen("icapd.Test.")] = 'X';
	write_file(tmp, sig, (size_t)n);
	assert_false(f->m->stale(b));
	assert_int_equal(rename(tmp, path), 0);
	assert_true(f->m->stale(b));
	/* A file removed too. */
	void *c = build(f->m, conf, b, NULL);
	assert_non_null(c);
	assert_ptr_not_equal(c, b);
	assert_int_equal(unlink(path), 0);
	assert_true(f->m->stale(c));

	/* Files libclamav ignores do not count. */
	void *d = build(f->m, conf, c, NULL);
	assert_non_null(d);
	assert_string_equal(f->m->version(d), va);
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	write_file(path, "x\n", 2);
	assert_false(f->m->stale(d));

	f->m->unref(b);
	f->m->unref(c);
	f->m->unref(d);
	conf_destroy(f->m, conf);
}

static void test_version_settings(void **state)
{
	struct fixture *f = *state;
	const char *v0 = f->m->version(f->state);
	const char *const changes[][2] = {
	        {"max_recursion", "10"},          {"max_scan_size", "50m"},
	        {"skip_content_types", "video/"}, {"skip_hosts", ".example.com"},
	        {"skip_larger_than", "1g"},
	};
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		void *conf = conf_new(f->m);
		conf_set(f->m, conf, changes[i][0], changes[i][1]);
		void *st = build(f->m, conf, f->state, NULL);
		assert_non_null(st);
		assert_ptr_not_equal(st, f->state);
		if (strcmp(f->m->version(st), v0) == 0)
			fail_msg("version unchanged by %s %s", changes[i][0], changes[i][1]);
		f->m->unref(st);
		conf_destroy(f->m, conf);
	}
}

/* Parses a header block (CRLF lines, ending in an empty line) into h. */
static void head(struct http_head *h, bool request, const char *text)
{
	memset(h, 0, sizeof(*h));
	int r = request ? http_parse_request_block(text, strlen(text), h)
	                : http_parse_response_block(text, strlen(text), h);
	assert_int_equal(r, 0);
}

static void test_wants_body(void **state)
{
	struct fixture *f = *state;
	void *conf = conf_new(f->m);
	conf_set(f->m, conf, "skip_content_types", "video/ image/png audio/*");
	conf_set(f->m, conf, "skip_hosts", "updates.example.org .example.com");
	conf_set(f->m, conf, "skip_larger_than", "10m");
	void *st = build(f->m, conf, f->state, NULL);
	assert_non_null(st);

	struct http_head req, res;
	struct module_msg m = {.method = ICAP_METHOD_RESPMOD, .req = &req, .res = &res};
	const char *why = NULL;
	head(&req, true, "GET http://www.other.net/x HTTP/1.1\r\nHost: www.other.net\r\n\r\n");

	static const struct {
		const char *type;
		bool skip;
	} types[] = {
	        {"video/mp4", true},     {"Video/MP4; codecs=x", true}, {"image/png", true},
	        {"image/png;q=1", true}, {"image/pngx", false},         {"image/gif", false},
	        {"audio/ogg", true},     {"application/zip", false},    {"videox/y", false},
	};
	char text[256];
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		snprintf(text, sizeof(text), "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n\r\n",
		         types[i].type);
		head(&res, false, text);
		why = NULL;
		bool wants = f->m->wants_body(st, &m, 1000, &why);
		if (wants == types[i].skip)
			fail_msg("Content-Type %s: wants_body %d", types[i].type, wants);
		if (!wants)
			assert_string_equal(why, "content type exempt");
	}
	/* Two Content-Types: never exempt. */
	head(&res, false,
	     "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Type: text/html\r\n\r\n");
	assert_true(f->m->wants_body(st, &m, 1000, &why));
	/* In REQMOD, the request's Content-Type counts. */
	head(&res, false, "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\n\r\n");
	m.method = ICAP_METHOD_REQMOD;
	assert_true(f->m->wants_body(st, &m, 1000, &why));
	head(&req, true, "POST /u HTTP/1.1\r\nHost: x.net\r\nContent-Type: video/mp4\r\n\r\n");
	assert_false(f->m->wants_body(st, &m, 1000, &why));
	m.method = ICAP_METHOD_RESPMOD;
	head(&res, false, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n");

	static const struct {
		const char *req;
		bool skip;
	} hosts[] = {
	        {"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", true},
	        {"GET http://a.b.EXAMPLE.com:8080/ HTTP/1.1\r\nHost: x\r\n\r\n", true},
	        {"GET http://badexample.com/ HTTP/1.1\r\nHost: x\r\n\r\n", false},
	        {"GET http://example.com.evil.net/ HTTP/1.1\r\nHost: x\r\n\r\n", false},
	        {"GET http://updates.example.org./f HTTP/1.1\r\nHost: x\r\n\r\n", true},
	        {"GET http://x.updates.example.org/f HTTP/1.1\r\nHost: x\r\n\r\n", false},
	        {"GET / HTTP/1.1\r\nHost: www.example.com:443\r\n\r\n", true},
	        {"GET / HTTP/1.1\r\nHost: www.other.net\r\n\r\n", false},
	};
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		head(&req, true, hosts[i].req);
		why = NULL;
		bool wants = f->m->wants_body(st, &m, 1000, &why);
		if (wants == hosts[i].skip)
			fail_msg("request %s: wants_body %d", hosts[i].req, wants);
		if (!wants)
			assert_string_equal(why, "host exempt");
	}

	/* Size: over skip_larger_than is skipped; unknown (UINT64_MAX) is not. */
	head(&req, true, "GET / HTTP/1.1\r\nHost: www.other.net\r\n\r\n");
	assert_true(f->m->wants_body(st, &m, 10 << 20, &why));
	assert_false(f->m->wants_body(st, &m, (10 << 20) + 1, &why));
	assert_string_equal(why, "larger than skip_larger_than");
	assert_true(f->m->wants_body(st, &m, UINT64_MAX, &why));
	/* No heads at all, and the default settings: scanned. */
	struct module_msg bare = {.method = ICAP_METHOD_RESPMOD};
	assert_true(f->m->wants_body(st, &bare, 1000, NULL));
	assert_true(f->m->wants_body(f->state, &m, UINT64_MAX - 1, NULL));

	f->m->unref(st);
	conf_destroy(f->m, conf);
}

struct scan_job {
	const struct fixture *f;
	int blocked;
};

static void *scan_thread(void *arg)
{
	struct scan_job *j = arg;
	size_t n = 64 << 10;
	unsigned char *p = malloc(n);
	for (int i = 0; i < 8; i++) {
		fill_random(p, n, (uint64_t)i + 1000);
		if (i % 2 == 0)
			memcpy(p + (size_t)i * 1000, j->f->eicar, j->f->eicar_len);
		struct module_msg msg = {.method = ICAP_METHOD_RESPMOD};
		struct body *b = body_of(p, n, 1 << 20);
		struct verdict v;
		j->f->m->judge_body(j->f->state, &msg, b, &v);
		j->blocked += v.kind == VERDICT_BLOCK;
		body_free(b);
	}
	free(p);
	return NULL;
}

static void test_concurrent_scans(void **state)
{
	struct fixture *f = *state;
	pthread_t t[4];
	struct scan_job jobs[4];
	for (int i = 0; i < 4; i++) {
		jobs[i] = (struct scan_job){f, 0};
		assert_int_equal(pthread_create(&t[i], NULL, scan_thread, &jobs[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(jobs[i].blocked, 4);
	}
}

static void test_not_compiled_in(void **state)
{
	(void)state;
	skip(); /* configure --without-clamav: nothing to test */
}

int main(void)
{
	if (module_find("clamav") == NULL) {
		fprintf(stderr, "test_clamav: module clamav not compiled in (--without-clamav)\n");
		const struct CMUnitTest none[] = {cmocka_unit_test(test_not_compiled_in)};
		return cmocka_run_group_tests(none, NULL, NULL);
	}
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_directives),       cmocka_unit_test(test_eicar_anywhere),
	        cmocka_unit_test(test_clamav_testfiles), cmocka_unit_test(test_clean),
	        cmocka_unit_test(test_archives),         cmocka_unit_test(test_limits),
	        cmocka_unit_test(test_encrypted),        cmocka_unit_test(test_allow_signatures),
	        cmocka_unit_test(test_allow_sha256),     cmocka_unit_test(test_bad_databases),
	        cmocka_unit_test(test_reuse_and_reload), cmocka_unit_test(test_version_settings),
	        cmocka_unit_test(test_wants_body),       cmocka_unit_test(test_concurrent_scans),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
