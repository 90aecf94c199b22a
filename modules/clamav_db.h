/*
 * clamav_db: what the clamav module reads from disk, kept apart from the
 * module's hooks. A snapshot (stat only, no reading) of the database files
 * in a signature folder tells cheaply whether the folder changed; an engine
 * is loaded and compiled from the folder with the scan limits, and when that
 * fails the file at fault is named; the allow file of SHA-256 digests is
 * parsed. Also the digest helpers the module's keys and version are made
 * with. Private to modules/clamav.c.
 */
#ifndef ICAPD_CLAMAV_DB_H
#define ICAPD_CLAMAV_DB_H

#include <clamav.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CLAMAV_DB_SHA256_LEN 32

/* One file as stat() saw it (a database, or the allow file). */
struct clamav_db_file {
	char *name;
	unsigned long long size, ino;
	long long mtime_ns, ctime_ns;
};

/* The database files of a signature folder, sorted by name. */
struct clamav_db_snap {
	struct clamav_db_file *v;
	size_t n;
};

/* Scan limits, as the directives give them. */
struct clamav_db_limits {
	unsigned long long scan_size, file_size, recursion, files, scan_time_ms;
};

/* The context of one cl_scandesc_callback: the last name reported, and
 * what the archives scanned claim to hold (see clamav_db_scan_init). */
struct clamav_db_scan {
	char name[160];
	unsigned long long claimed, claim_limit;
	bool claims_too_much;
};

/*
 * Starts the context of a scan on cl. Archive members add the size they
 * claim to unpack to (every entry counts, also entries that point at data
 * another entry already used, which libclamav scans once: the overlapping
 * zip bomb); past the engine's max scan size the scan stops with
 * claims_too_much set, as the scan limit it is.
 */
void clamav_db_scan_init(struct clamav_db_scan *scan, const struct cl_engine *cl);

/*
 * Stats the database files of dir (the names libclamav loads; symbolic
 * links followed) into s. Returns 0, or -1 with errno set if dir cannot be
 * read.
 */
int clamav_db_snap_take(const char *dir, struct clamav_db_snap *s);
bool clamav_db_snap_equal(const struct clamav_db_snap *a, const struct clamav_db_snap *b);
void clamav_db_snap_free(struct clamav_db_snap *s);
void clamav_db_snap_digest(EVP_MD_CTX *md, const struct clamav_db_snap *s);

/* Stats path into f (name: path). Returns 0, or -1 with errno set. */
int clamav_db_file_stat(const char *path, struct clamav_db_file *f);
bool clamav_db_file_equal(const struct clamav_db_file *a, const struct clamav_db_file *b);
void clamav_db_file_digest(EVP_MD_CTX *md, const struct clamav_db_file *f);

/*
 * Loads and compiles the databases of dir with the limits lim. On entry *s
 * is the snapshot taken just before; if the folder changes while it loads
 * (an update in progress), it loads again, and on return *s describes what
 * was loaded. Scans on the engine report names to a struct clamav_db_scan
 * given as their context. Returns the engine (and its signature count in
 * *sigs), or NULL after writing why to errors, naming the file at fault.
 */
struct cl_engine *clamav_db_load(const char *dir, const struct clamav_db_limits *lim,
                                 struct clamav_db_snap *s, unsigned *sigs, FILE *errors);

/*
 * Reads the allow file at path: one hex SHA-256 per line, '#' comments and
 * blank lines ignored, anything after the digest ignored (so the output of
 * sha256sum works). Stores the sorted digests in *digests (malloc'd) and
 * their count in *n. Returns 0, or -1 after writing "path:line: ..." to
 * errors.
 */
int clamav_db_allow_load(const char *path, unsigned char (**digests)[CLAMAV_DB_SHA256_LEN],
                         size_t *n, FILE *errors);

/* Compares two digests (for qsort and bsearch). */
int clamav_db_sha_cmp(const void *a, const void *b);

/*
 * Digests: each field goes in with its length, so that no two different
 * inputs run together. Allocation failures end the process.
 */
EVP_MD_CTX *clamav_db_dig_begin(const char *what);
void clamav_db_dig_str(EVP_MD_CTX *md, const char *s); /* NULL is distinct from "" */
void clamav_db_dig_u64(EVP_MD_CTX *md, unsigned long long v);
void clamav_db_dig_end(EVP_MD_CTX *md, unsigned char out[CLAMAV_DB_SHA256_LEN]);

#endif
