/*
 * Unit tests for the "user" directive (privdrop.c, through conf_load) and
 * the spool check. Names are resolved while the file is read: root (uid
 * and gid 0), an explicit group, a user's primary group, and the errors
 * for an unknown user or group, a wrong number of words, a second "user"
 * and "user" inside a block, each with file:line. The spool check accepts
 * a writable folder (with and without O_TMPFILE) and names a missing one.
 * The drop itself needs root and a fresh process: tests/integ/
 * test_privdrop.py covers it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "body.h"
#include "conf.h"
#include "privdrop.h"

/* ---------------------------------------------------------------- helpers */

struct loaded {
	struct conf *conf;
	char *errors; /* what conf_load reported, "" if nothing */
};

/* Loads text as a configuration file named t.conf in a fresh folder. */
static struct loaded load(const char *text)
{
	char dir[] = "/tmp/test_privdrop.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof(path), "%s/t.conf", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);

	struct loaded l = {0};
	size_t len = 0;
	FILE *errs = open_memstream(&l.errors, &len);
	assert_non_null(errs);
	l.conf = conf_load(path, errs);
	fclose(errs);
	unlink(path);
	rmdir(dir);
	return l;
}

static void loaded_free(struct loaded *l)
{
	conf_free(l->conf);
	free(l->errors);
}

/* A configuration with errors: none loaded, and want among the messages. */
static void expect_error(const char *text, const char *want)
{
	struct loaded l = load(text);
	if (l.conf != NULL || strstr(l.errors, want) == NULL)
		fail_msg("expected an error with \"%s\", got: \"%s\"", want, l.errors);
	loaded_free(&l);
}

/* ---------------------------------------------------------------- parsing */

static void test_no_user_by_default(void **state)
{
	(void)state;
	struct loaded l = load("listen 127.0.0.1:1344;\n");
	assert_non_null(l.conf);
	assert_null(l.conf->user.name);
	assert_null(l.conf->user.group);
	loaded_free(&l);
}

static void test_user_root(void **state)
{
	(void)state;
	struct loaded l = load("# comment\n\nuser root;\n");
	assert_non_null(l.conf);
	assert_string_equal(l.conf->user.name, "root");
	assert_null(l.conf->user.group);
	assert_int_equal(l.conf->user.uid, 0);
	assert_int_equal(l.conf->user.gid, 0);
	assert_int_equal(l.conf->user.line, 3);
	loaded_free(&l);
}

/* Without a group, the user's primary group (not a group of its name). */
static void test_primary_group(void **state)
{
	(void)state;
	struct passwd *pw = getpwnam("nobody");
	if (pw == NULL)
		skip();
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	struct loaded l = load("user nobody;");
	assert_non_null(l.conf);
	assert_int_equal(l.conf->user.uid, uid);
	assert_int_equal(l.conf->user.gid, gid);
	loaded_free(&l);
}

static void test_explicit_group(void **state)
{
	(void)state;
	struct group *gr = getgrnam("daemon");
	if (gr == NULL)
		skip();
	gid_t gid = gr->gr_gid;
	struct loaded l = load("user root daemon;\n");
	assert_non_null(l.conf);
	assert_string_equal(l.conf->user.name, "root");
	assert_string_equal(l.conf->user.group, "daemon");
	assert_int_equal(l.conf->user.uid, 0);
	assert_int_equal(l.conf->user.gid, gid);
	loaded_free(&l);
}

static void test_quoted_name(void **state)
{
	(void)state;
	struct loaded l = load("user \"root\";\n");
	assert_non_null(l.conf);
	assert_string_equal(l.conf->user.name, "root");
	loaded_free(&l);
}

static void test_unknown_user(void **state)
{
	(void)state;
	expect_error("listen 127.0.0.1:1344;\nuser icapd-no-such-user;\n",
	             "t.conf:2: user \"icapd-no-such-user\": no such user");
}

static void test_unknown_group(void **state)
{
	(void)state;
	expect_error("\n\n\nuser root icapd-no-such-group;\n",
	             "t.conf:4: user root \"icapd-no-such-group\": no such group");
}

static void test_word_count(void **state)
{
	(void)state;
	expect_error("user;\n", "t.conf:1: \"user\" takes a user name");
	expect_error("user root root root;\n", "t.conf:1: \"user\" takes a user name");
}

static void test_set_twice(void **state)
{
	(void)state;
	expect_error("user root;\nuser root;\n", "t.conf:2: \"user\" is set twice");
}

static void test_not_in_a_block(void **state)
{
	(void)state;
	expect_error("service /echo {\n methods RESPMOD;\n user root;\n}\n",
	             "t.conf:3: \"user\" is not allowed inside a service");
	expect_error("cache {\n user root;\n}\n", "t.conf:2: \"user\" is not allowed inside cache");
}

/* Every other error of the file is still reported beside an unknown user. */
static void test_errors_go_on(void **state)
{
	(void)state;
	struct loaded l = load("user icapd-no-such-user;\nlisen 1;\n");
	assert_null(l.conf);
	assert_non_null(strstr(l.errors, "t.conf:1: user"));
	assert_non_null(strstr(l.errors, "t.conf:2: unknown directive \"lisen\""));
	loaded_free(&l);
}

/* ---------------------------------------------------------------- spool */

static void test_spool_writable(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_privdrop_spool.XXXXXX", err[512];
	assert_non_null(mkdtemp(dir));
	assert_int_equal(privdrop_check_spool(dir, err, sizeof(err)), 0);
	body_test_no_tmpfile = true; /* mkstemp + unlink: nothing may be left */
	assert_int_equal(privdrop_check_spool(dir, err, sizeof(err)), 0);
	body_test_no_tmpfile = false;
	assert_int_equal(rmdir(dir), 0); /* fails if a file was left behind */
}

static void test_spool_missing(void **state)
{
	(void)state;
	char err[512];
	assert_int_equal(privdrop_check_spool("/nonexistent/icapd-spool", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "spool_dir /nonexistent/icapd-spool: "));
	assert_non_null(strstr(err, "cannot create files there"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_no_user_by_default), cmocka_unit_test(test_user_root),
	        cmocka_unit_test(test_primary_group),      cmocka_unit_test(test_explicit_group),
	        cmocka_unit_test(test_quoted_name),        cmocka_unit_test(test_unknown_user),
	        cmocka_unit_test(test_unknown_group),      cmocka_unit_test(test_word_count),
	        cmocka_unit_test(test_set_twice),          cmocka_unit_test(test_not_in_a_block),
	        cmocka_unit_test(test_errors_go_on),       cmocka_unit_test(test_spool_writable),
	        cmocka_unit_test(test_spool_missing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
