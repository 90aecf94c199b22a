/*
 * conf: the configuration file, in the block syntax of conf/icapd.conf.
 * conf_load() reads and checks a whole file and reports every mistake with
 * file:line; it returns a complete configuration or nothing. The result is
 * immutable: it belongs to one generation (see generation.h).
 */
#ifndef ICAPD_CONF_H
#define ICAPD_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "icap_parse.h"
#include "netacl.h"

struct conf_words {
	char **v;
	size_t n;
};

enum conf_url_log { CONF_URL_OFF = 0, CONF_URL_HOST, CONF_URL_FULL };
enum conf_scan_error { CONF_SCAN_ERROR_BLOCK = 0, CONF_SCAN_ERROR_ALLOW };

struct module;

/* A module's settings: its "module NAME { ... }" block, or its defaults. */
struct conf_module {
	const struct module *module;
	void *mconf; /* the module's own struct, conf_size bytes */
	int line;    /* of the block; 0 when defaults only */
};

struct conf_service {
	char *name;       /* the URI path, "/echo" */
	unsigned methods; /* bit (1 << enum icap_method) per allowed method */
	struct conf_words chain;
	unsigned long long preview;
	unsigned long long options_ttl;
	struct conf_words transfer_preview, transfer_ignore, transfer_complete;
	unsigned long long on_scan_error; /* enum conf_scan_error */
	unsigned long long early_hold;
	struct conf_words keyword_categories; /* for the keyword module */
	char istag[40];                       /* quoted, set when the generation is built */
	const char *file;
	int line;
};

/* One "listen_tls ADDR cert FILE key FILE ...;" statement. */
struct conf_tls_listen {
	char *addr;
	char *cert, *key;   /* absolute paths */
	char *client_ca;    /* NULL: none given */
	bool verify_client; /* require a client certificate signed by client_ca */
	int line;           /* of the statement, for errors found when it is loaded */
};

/* "user NAME [GROUP];": who icapd runs as after start-up (privdrop.h).
 * Resolved when the file is read, so that "icapd -t" reports an unknown
 * user or group with its line. */
struct conf_user {
	char *name;  /* NULL: no change of user */
	char *group; /* NULL: NAME's primary group */
	uid_t uid;
	gid_t gid;
	int line;
};

struct conf {
	char *path; /* absolute */
	struct conf_user user;
	struct conf_words listen;
	struct conf_tls_listen *listen_tls;
	size_t nlisten_tls;
	struct netacl allow_clients; /* who may connect to listen and listen_tls */
	char *admin_listen;          /* NULL: no admin listener */
	struct netacl admin_allow_clients;
	unsigned long long max_connections;
	unsigned long long header_timeout_ms, keepalive_timeout_ms, body_timeout_ms;
	unsigned long long shutdown_timeout_ms;
	unsigned long long max_icap_header, max_http_header;
	unsigned long long body_memory, max_body_size;
	char *spool_dir;
	unsigned long long scan_threads;
	bool scan_isolation;                /* scans in scanner processes (scanner_pool.h) */
	unsigned long long scan_timeout_ms; /* a scanner that takes longer is killed */
	unsigned long long watch_interval_ms;
	unsigned long long cache_memory, cache_ttl_ms;
	char *redis; /* NULL: no shared tier */
	char *redis_password, *redis_secret_file;
	unsigned long long redis_timeout_ms;
	bool redis_tls;
	/* NULL when not given (redis_tls_server_name: then the address of redis) */
	char *redis_tls_ca, *redis_tls_cert, *redis_tls_key, *redis_tls_server_name;
	char *block_page;             /* NULL: built-in */
	char *access_log, *error_log; /* "off", "stderr", "syslog" or a path */
	bool log_client_address, log_username;
	unsigned long long log_url; /* enum conf_url_log */
	bool log_matches;
	struct conf_service *services;
	size_t nservices;
	struct conf_module *modules;
	size_t nmodules;
};

/*
 * Reads path. Each error is written to errors as "file:line: message\n".
 * Returns the configuration, or NULL if there was any error.
 */
struct conf *conf_load(const char *path, FILE *errors);

void conf_free(struct conf *c);

/* Word lists as modules keep them: a deep copy, and freeing (w is left empty). */
void conf_words_copy(struct conf_words *dst, const struct conf_words *src);
void conf_words_free(struct conf_words *w);

/* p resolved against the folder of the configuration file (a copy). */
char *conf_path_resolve(const struct conf *c, const char *p);

/* The settings of module m, made from its defaults if the file has no block. */
struct conf_module *conf_module_get(struct conf *c, const struct module *m);

const struct conf_service *conf_service_find(const struct conf *c, const char *name, size_t len);

/* Prints every directive with its default and one line of help. */
void conf_print_directives(FILE *out);

#endif
