/*
 * replay: a main() for the fuzz targets when they are built without
 * libFuzzer, so that `make check` runs their seed corpora (and any crash
 * reproducer) under the sanitizers. Each argument that is a directory has
 * every regular file in it run through LLVMFuzzerTestOneInput; a file
 * argument is run directly. A crash aborts through the sanitizers; a path
 * that cannot be read is an error (exit 1), so that a misspelt corpus does
 * not pass silently.
 */
#ifndef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Runs one file; returns 0, or -1 if it cannot be read. */
static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 4096, len = 0;
	uint8_t *buf = malloc(cap);
	if (buf == NULL) {
		fclose(f);
		fprintf(stderr, "replay: out of memory\n");
		return -1;
	}
	for (;;) {
		if (len == cap) {
			uint8_t *nb = realloc(buf, cap * 2);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				fprintf(stderr, "replay: out of memory\n");
				return -1;
			}
			buf = nb;
			cap *= 2;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	int err = ferror(f);
	fclose(f);
	if (err) {
		free(buf);
		fprintf(stderr, "replay: %s: read error\n", path);
		return -1;
	}
	/* An exact-size copy, so that AddressSanitizer sees reads past the end. */
	uint8_t *exact = malloc(len ? len : 1);
	if (exact == NULL) {
		free(buf);
		fprintf(stderr, "replay: out of memory\n");
		return -1;
	}
	if (len)
		memcpy(exact, buf, len);
	free(buf);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 0;
}

/* Runs every regular file in dir; returns how many, or -1 on error. */
static long run_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	long n = 0;

	if (d == NULL) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		size_t need = strlen(dir) + strlen(e->d_name) + 2;
		char *path = malloc(need);
		if (path == NULL) {
			closedir(d);
			return -1;
		}
		snprintf(path, need, "%s/%s", dir, e->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (run_file(path) < 0) {
				free(path);
				closedir(d);
				return -1;
			}
			n++;
		}
		free(path);
	}
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	long total = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		if (S_ISDIR(st.st_mode)) {
			long n = run_dir(argv[i]);
			if (n < 0)
				return 1;
			total += n;
		} else {
			if (run_file(argv[i]) < 0)
				return 1;
			total++;
		}
	}
	printf("replayed %ld inputs\n", total);
	return 0;
}
