/*
 * Unit tests for scanner_proto.c: datagrams with descriptors between the
 * server and a scanner process, and the checks on a scanner's verdict. What
 * matters: descriptors arrive as the same open files, none leaks when a
 * message is refused or more come than asked for, and a verdict with a bad
 * kind, an out-of-range module or unterminated strings never gets through
 * unchanged.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scanner_proto.h"

static int open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
}

static void assert_same_file(int a, int b)
{
	struct stat sa, sb;
	assert_int_equal(fstat(a, &sa), 0);
	assert_int_equal(fstat(b, &sb), 0);
	assert_true(sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev);
}

static void test_message_with_two_fds(void **state)
{
	(void)state;
	int sv[2], p[2];
	pair(sv);
	assert_int_equal(pipe(p), 0);
	int before = open_fds();
	struct scanner_job job = {.magic = SCANNER_JOB_MAGIC, .has_body = 1, .id = 42};
	assert_int_equal(scanner_send(sv[0], &job, sizeof(job), p, 2), 0);

	struct scanner_job got;
	int fds[2];
	assert_int_equal(scanner_recv(sv[1], &got, sizeof(got), fds, 2), sizeof(got));
	assert_int_equal(got.id, 42);
	assert_same_file(fds[0], p[0]);
	assert_same_file(fds[1], p[1]);
	assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	/* The received write end reaches the original read end. */
	assert_int_equal(write(fds[1], "ok", 2), 2);
	char buf[2];
	assert_int_equal(read(p[0], buf, 2), 2);
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(open_fds(), before);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

/* Negative descriptors are left out; a receiver that wants fewer closes the rest. */
static void test_fd_counts(void **state)
{
	(void)state;
	int sv[2], p[2];
	pair(sv);
	assert_int_equal(pipe(p), 0);
	int before = open_fds();
	int one[2] = {-1, p[0]};
	char msg = 'm';
	assert_int_equal(scanner_send(sv[0], &msg, 1, one, 2), 0);
	int fds[2];
	assert_int_equal(scanner_recv(sv[1], &msg, 1, fds, 2), 1);
	assert_true(fds[0] >= 0);
	assert_int_equal(fds[1], -1);
	assert_same_file(fds[0], p[0]);
	close(fds[0]);

	assert_int_equal(scanner_send(sv[0], &msg, 1, p, 2), 0);
	assert_int_equal(scanner_recv(sv[1], &msg, 1, NULL, 0), 1);
	assert_int_equal(open_fds(), before);

	assert_int_equal(scanner_send(sv[0], &msg, 1, NULL, 0), 0);
	assert_int_equal(scanner_recv(sv[1], &msg, 1, fds, 2), 1);
	assert_int_equal(fds[0], -1);
	assert_int_equal(fds[1], -1);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

/* A datagram longer than the buffer is refused whole, descriptors closed. */
static void test_too_long(void **state)
{
	(void)state;
	int sv[2], p[2];
	pair(sv);
	assert_int_equal(pipe(p), 0);
	int before = open_fds();
	char big[100] = {0}, small[10];
	assert_int_equal(scanner_send(sv[0], big, sizeof(big), p, 2), 0);
	int fds[2];
	errno = 0;
	assert_int_equal(scanner_recv(sv[1], small, sizeof(small), fds, 2), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(fds[0], -1);
	assert_int_equal(open_fds(), before);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

static void test_end_of_file(void **state)
{
	(void)state;
	int sv[2];
	pair(sv);
	close(sv[0]);
	char c;
	int fd;
	assert_int_equal(scanner_recv(sv[1], &c, 1, &fd, 1), 0);
	close(sv[1]);
	/* Sending to a peer that is gone fails without SIGPIPE. */
	pair(sv);
	close(sv[1]);
	assert_int_equal(scanner_send(sv[0], &c, 1, NULL, 0), -1);
	assert_int_equal(errno, EPIPE);
	close(sv[0]);
}

static struct scanner_verdict good(void)
{
	struct scanner_verdict v = {
	        .magic = SCANNER_VERDICT_MAGIC, .kind = VERDICT_BLOCK, .module = 1, .is_threat = 7};
	snprintf(v.reason, sizeof(v.reason), "Eicar");
	return v;
}

static void test_verdict_check(void **state)
{
	(void)state;
	struct scanner_verdict v = good();
	assert_int_equal(scanner_verdict_check(&v, 2), 0);
	assert_int_equal(v.is_threat, 1);
	assert_string_equal(v.reason, "Eicar");

	v = good();
	v.module = SCANNER_NONE;
	assert_int_equal(scanner_verdict_check(&v, 2), 0);

	v = good();
	v.module = 2;
	assert_int_equal(scanner_verdict_check(&v, 2), -1);
	v = good();
	v.kind = VERDICT_ERROR + 1;
	assert_int_equal(scanner_verdict_check(&v, 2), -1);
	v = good();
	v.magic ^= 1;
	assert_int_equal(scanner_verdict_check(&v, 2), -1);

	/* Strings without their NUL are cut at the buffer's end. */
	v = good();
	memset(v.reason, 'A', sizeof(v.reason));
	memset(v.detail, 'B', sizeof(v.detail));
	assert_int_equal(scanner_verdict_check(&v, 2), 0);
	assert_int_equal(strlen(v.reason), sizeof(v.reason) - 1);
	assert_int_equal(strlen(v.detail), sizeof(v.detail) - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_message_with_two_fds),
	        cmocka_unit_test(test_fd_counts),
	        cmocka_unit_test(test_too_long),
	        cmocka_unit_test(test_end_of_file),
	        cmocka_unit_test(test_verdict_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
