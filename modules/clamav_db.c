/*
 * clamav_db: the clamav module's inputs on disk (see clamav_db.h).
 *
 * A snapshot records name, size, inode, mtime and ctime (in nanoseconds) of
 * each file libclamav would load from the folder, and nothing else: other
 * files (README, freshclam.dat) neither trigger reloads nor change the
 * version. freshclam replaces databases by renaming new files over old ones,
 * which always changes the inode; an edit in place shows in the size or the
 * times (at the file system's timestamp resolution).
 *
 * libclamav's cl_load() says only "Malformed database" when a file of the
 * folder is bad; to name it, the files are then loaded one at a time, newest
 * first (the likeliest culprit), each into a scratch engine freed before the
 * next, so that the failure path needs no more memory than one engine.
 */
#ifdef WITH_CLAMAV

#include "clamav_db.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* Times a load is retried when the folder changes while it loads. */
#define LOAD_TRIES 3

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (p == NULL)
		abort();
	return p;
}

/* Digests */

static void dig_bytes(EVP_MD_CTX *md, const void *p, size_t n)
{
	unsigned long long len = n;
	EVP_DigestUpdate(md, &len, sizeof(len));
	EVP_DigestUpdate(md, p, n);
}

void clamav_db_dig_str(EVP_MD_CTX *md, const char *s)
{
	if (s == NULL)
		dig_bytes(md, "\xff(null)", 7);
	else
		dig_bytes(md, s, strlen(s));
}

void clamav_db_dig_u64(EVP_MD_CTX *md, unsigned long long v)
{
	EVP_DigestUpdate(md, &v, sizeof(v));
}

EVP_MD_CTX *clamav_db_dig_begin(const char *what)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		abort();
	clamav_db_dig_str(md, what);
	return md;
}

void clamav_db_dig_end(EVP_MD_CTX *md, unsigned char out[CLAMAV_DB_SHA256_LEN])
{
	unsigned len = 0;
	if (EVP_DigestFinal_ex(md, out, &len) != 1 || len != CLAMAV_DB_SHA256_LEN)
		abort();
	EVP_MD_CTX_free(md);
}

/* Snapshots */

/* True for the file names libclamav loads from a folder (its CLI_DBEXT). */
static bool is_db_name(const char *name)
{
	static const char *const ext[] = {
	        ".db",  ".hdb", ".hdu", ".fp",   ".mdb",  ".mdu", ".hsb",  ".hsu", ".sfp", ".msb",
	        ".msu", ".ndb", ".ndu", ".ldb",  ".ldu",  ".sdb", ".zmd",  ".rmd", ".pdb", ".gdb",
	        ".wdb", ".cbc", ".ftm", ".cfg",  ".cvd",  ".cld", ".cud",  ".cdb", ".cat", ".crb",
	        ".idb", ".ioc", ".yar", ".yara", ".pwdb", ".ign", ".ign2", ".imp",
	};
	size_t n = strlen(name);
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		size_t el = strlen(ext[i]);
		if (n > el && strcasecmp(name + n - el, ext[i]) == 0)
			return true;
	}
	return false;
}

static void file_set(struct clamav_db_file *f, const char *name, const struct stat *st)
{
	f->name = strdup(name);
	if (f->name == NULL)
		abort();
	f->size = (unsigned long long)st->st_size;
	f->ino = (unsigned long long)st->st_ino;
	f->mtime_ns = (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
	f->ctime_ns = (long long)st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec;
}

int clamav_db_file_stat(const char *path, struct clamav_db_file *f)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	file_set(f, path, &st);
	return 0;
}

bool clamav_db_file_equal(const struct clamav_db_file *a, const struct clamav_db_file *b)
{
	return strcmp(a->name, b->name) == 0 && a->size == b->size && a->ino == b->ino &&
	       a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

void clamav_db_file_digest(EVP_MD_CTX *md, const struct clamav_db_file *f)
{
	clamav_db_dig_str(md, f->name);
	clamav_db_dig_u64(md, f->size);
	clamav_db_dig_u64(md, f->ino);
	clamav_db_dig_u64(md, (unsigned long long)f->mtime_ns);
	clamav_db_dig_u64(md, (unsigned long long)f->ctime_ns);
}

void clamav_db_snap_free(struct clamav_db_snap *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].name);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static int file_cmp(const void *a, const void *b)
{
	return strcmp(((const struct clamav_db_file *)a)->name,
	              ((const struct clamav_db_file *)b)->name);
}

int clamav_db_snap_take(const char *dir, struct clamav_db_snap *s)
{
	s->v = NULL;
	s->n = 0;
	DIR *d = opendir(dir);
	if (d == NULL)
		return -1;
	size_t cap = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		if (e->d_name[0] == '.' || !is_db_name(e->d_name))
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (s->n == cap) {
			cap = cap ? 2 * cap : 16;
			s->v = realloc(s->v, cap * sizeof(*s->v));
			if (s->v == NULL)
				abort();
		}
		file_set(&s->v[s->n++], e->d_name, &st);
	}
	closedir(d);
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), file_cmp);
	return 0;
}

bool clamav_db_snap_equal(const struct clamav_db_snap *a, const struct clamav_db_snap *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!clamav_db_file_equal(&a->v[i], &b->v[i]))
			return false;
	return true;
}

void clamav_db_snap_digest(EVP_MD_CTX *md, const struct clamav_db_snap *s)
{
	clamav_db_dig_u64(md, s->n);
	for (size_t i = 0; i < s->n; i++)
		clamav_db_file_digest(md, &s->v[i]);
}

/* Allow file */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int clamav_db_sha_cmp(const void *a, const void *b)
{
	return memcmp(a, b, CLAMAV_DB_SHA256_LEN);
}

/* Parses 64 hex digits at p, followed by the end of the word, into h. Returns 0 or -1. */
static int parse_digest(const char *p, unsigned char h[CLAMAV_DB_SHA256_LEN])
{
	for (size_t i = 0; i < 2 * CLAMAV_DB_SHA256_LEN; i++) {
		int v = hexval((unsigned char)p[i]);
		if (v < 0)
			return -1;
		if (i % 2 == 0)
			h[i / 2] = (unsigned char)(v << 4);
		else
			h[i / 2] |= (unsigned char)v;
	}
	return strchr(" \t\r\n#", p[2 * CLAMAV_DB_SHA256_LEN]) != NULL ? 0 : -1;
}

int clamav_db_allow_load(const char *path, unsigned char (**digests)[CLAMAV_DB_SHA256_LEN],
                         size_t *n, FILE *errors)
{
	*digests = NULL;
	*n = 0;
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		fprintf(errors, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t cap = 0, room = 0;
	int lineno = 0, rc = 0;
	while (getline(&line, &cap, f) >= 0) {
		lineno++;
		const char *p = line + strspn(line, " \t\r\n");
		if (*p == '#' || *p == '\0')
			continue;
		unsigned char h[CLAMAV_DB_SHA256_LEN];
		if (parse_digest(p, h) < 0) {
			fprintf(errors, "%s:%d: not a SHA-256 digest (64 hex digits)\n", path,
			        lineno);
			rc = -1;
			continue;
		}
		if (*n == room) {
			room = room ? 2 * room : 64;
			*digests = realloc(*digests, room * CLAMAV_DB_SHA256_LEN);
			if (*digests == NULL)
				abort();
		}
		memcpy((*digests)[(*n)++], h, CLAMAV_DB_SHA256_LEN);
	}
	if (ferror(f)) {
		fprintf(errors, "%s: %s\n", path, strerror(errno));
		rc = -1;
	}
	free(line);
	fclose(f);
	if (*n > 1)
		qsort(*digests, *n, CLAMAV_DB_SHA256_LEN, clamav_db_sha_cmp);
	return rc;
}

/* Engines */

/*
 * libclamav 1.4 returns CL_VIRUS with no name for an object over
 * max_file_size (Heuristics.Limits.Exceeded.MaxFileSize) unless a
 * virus-found callback is set; this one keeps the last name of a scan.
 */
static void on_virus_found(int fd, const char *name, void *context)
{
	struct clamav_db_scan *scan = context;
	(void)fd;
	if (scan != NULL && name != NULL)
		snprintf(scan->name, sizeof(scan->name), "%s", name);
}

static cl_error_t on_archive_member(const char *container_type, unsigned long size_in_container,
                                    const char *name, unsigned long size, int encrypted,
                                    unsigned int pos_in_container, void *context)
{
	struct clamav_db_scan *scan = context;
	(void)container_type;
	(void)size_in_container;
	(void)name;
	(void)encrypted;
	(void)pos_in_container;
	if (scan == NULL || scan->claim_limit == 0)
		return CL_CLEAN;
	scan->claimed += size;
	if (scan->claimed <= scan->claim_limit)
		return CL_CLEAN;
	scan->claims_too_much = true;
	return CL_VIRUS;
}

void clamav_db_scan_init(struct clamav_db_scan *scan, const struct cl_engine *cl)
{
	cl_error_t err = CL_SUCCESS;
	long long limit = cl_engine_get_num(cl, CL_ENGINE_MAX_SCANSIZE, (int *)&err);
	*scan = (struct clamav_db_scan){
	        .claim_limit = err == CL_SUCCESS && limit > 0 ? (unsigned long long)limit : 0};
}

/*
 * After cl_load(dir) failed with r: loads each database file alone, newest
 * first, and names the first that fails (or the folder if none does).
 */
static void report_load_error(const char *dir, const struct clamav_db_snap *s, cl_error_t r,
                              FILE *errors)
{
	size_t *order = xcalloc(s->n, sizeof(*order));
	for (size_t i = 0; i < s->n; i++) {
		size_t j = i;
		for (; j > 0 && s->v[order[j - 1]].mtime_ns < s->v[i].mtime_ns; j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
	for (size_t k = 0; k < s->n; k++) {
		const char *name = s->v[order[k]].name;
		size_t plen = strlen(dir) + strlen(name) + 2;
		char *path = xcalloc(plen, 1);
		snprintf(path, plen, "%s/%s", dir, name);
		struct cl_engine *e = cl_engine_new();
		unsigned n = 0;
		cl_error_t fr = e != NULL ? cl_load(path, e, &n, CL_DB_STDOPT) : CL_EMEM;
		if (e != NULL)
			cl_engine_free(e);
		if (fr != CL_SUCCESS) {
			fprintf(errors, "%s: cannot load ClamAV database: %s\n", path,
			        cl_strerror(fr));
			free(path);
			free(order);
			return;
		}
		free(path);
	}
	free(order);
	fprintf(errors, "%s: cannot load ClamAV databases: %s\n", dir, cl_strerror(r));
}

/* A new engine with the limits set. Returns it, or NULL after writing why to errors. */
static struct cl_engine *engine_new(const char *dir, const struct clamav_db_limits *lim,
                                    FILE *errors)
{
	struct cl_engine *cl = cl_engine_new();
	if (cl == NULL) {
		fprintf(errors, "%s: cannot make a ClamAV engine\n", dir);
		return NULL;
	}
	cl_engine_set_clcb_virus_found(cl, on_virus_found);
	cl_engine_set_clcb_meta(cl, on_archive_member);
	const struct {
		enum cl_engine_field f;
		unsigned long long v;
	} set[] = {
	        {CL_ENGINE_MAX_SCANSIZE, lim->scan_size},
	        {CL_ENGINE_MAX_FILESIZE, lim->file_size},
	        {CL_ENGINE_MAX_RECURSION, lim->recursion},
	        {CL_ENGINE_MAX_FILES, lim->files},
	        {CL_ENGINE_MAX_SCANTIME, lim->scan_time_ms},
	};
	for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++) {
		cl_error_t r = cl_engine_set_num(cl, set[i].f, (long long)set[i].v);
		if (r != CL_SUCCESS) {
			fprintf(errors, "%s: cannot set ClamAV scan limits: %s\n", dir,
			        cl_strerror(r));
			cl_engine_free(cl);
			return NULL;
		}
	}
	return cl;
}

struct cl_engine *clamav_db_load(const char *dir, const struct clamav_db_limits *lim,
                                 struct clamav_db_snap *s, unsigned *sigs, FILE *errors)
{
	for (int attempt = 1;; attempt++) {
		struct cl_engine *cl = engine_new(dir, lim, errors);
		if (cl == NULL)
			return NULL;
		*sigs = 0;
		cl_error_t r = cl_load(dir, cl, sigs, CL_DB_STDOPT);
		if (r != CL_SUCCESS) {
			cl_engine_free(cl);
			report_load_error(dir, s, r, errors);
			return NULL;
		}
		if (*sigs == 0) {
			cl_engine_free(cl);
			fprintf(errors, "%s: no ClamAV signatures in it\n", dir);
			return NULL;
		}
		struct clamav_db_snap after;
		if (clamav_db_snap_take(dir, &after) < 0) {
			fprintf(errors, "%s: %s\n", dir, strerror(errno));
			cl_engine_free(cl);
			return NULL;
		}
		if (!clamav_db_snap_equal(s, &after)) {
			/* Being updated: what was loaded may be half old, half new. */
			cl_engine_free(cl);
			clamav_db_snap_free(s);
			*s = after;
			if (attempt < LOAD_TRIES)
				continue;
			fprintf(errors, "%s: changed while loading, %d times; not loaded\n", dir,
			        LOAD_TRIES);
			return NULL;
		}
		clamav_db_snap_free(&after);
		if ((r = cl_engine_compile(cl)) != CL_SUCCESS) {
			fprintf(errors, "%s: cannot compile ClamAV signatures: %s\n", dir,
			        cl_strerror(r));
			cl_engine_free(cl);
			return NULL;
		}
		return cl;
	}
}

#endif /* WITH_CLAMAV */
