/*
 * scanner_proto: datagrams with descriptors (SCM_RIGHTS) between the server
 * and its scanner processes, and the checks on what a scanner answers.
 */
#include "scanner_proto.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FDS 2

int scanner_send(int sock, const void *msg, size_t len, const int *fds, size_t nfds)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
	} ctl;
	struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	int pass[MAX_FDS];
	size_t n = 0;

	for (size_t i = 0; i < nfds && i < MAX_FDS; i++)
		if (fds[i] >= 0)
			pass[n++] = fds[i];
	if (n > 0) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(c), pass, sizeof(int) * n);
	}
	for (;;) {
		ssize_t w = sendmsg(sock, &mh, MSG_NOSIGNAL);
		if (w == (ssize_t)len)
			return 0;
		if (w >= 0) { /* a datagram goes whole or not at all */
			errno = EMSGSIZE;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

ssize_t scanner_recv(int sock, void *msg, size_t cap, int *fds, size_t nfds)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
	} ctl;
	struct iovec iov = {.iov_base = msg, .iov_len = cap};
	struct msghdr mh = {.msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = ctl.buf,
	                    .msg_controllen = sizeof(ctl.buf)};
	ssize_t r;

	for (size_t i = 0; i < nfds; i++)
		fds[i] = -1;
	do
		r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -1;
	size_t got = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (got < nfds)
				fds[got++] = fd;
			else
				close(fd);
		}
	}
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
		for (size_t i = 0; i < got; i++) {
			close(fds[i]);
			fds[i] = -1;
		}
		errno = EMSGSIZE;
		return -1;
	}
	return r;
}

int scanner_verdict_check(struct scanner_verdict *v, size_t nmods)
{
	if (v->magic != SCANNER_VERDICT_MAGIC)
		return -1;
	if (v->kind != VERDICT_PASS && v->kind != VERDICT_BLOCK && v->kind != VERDICT_ERROR)
		return -1;
	if (v->module != SCANNER_NONE && v->module >= nmods)
		return -1;
	v->reason[sizeof(v->reason) - 1] = 0;
	v->detail[sizeof(v->detail) - 1] = 0;
	v->is_threat = v->is_threat != 0;
	return 0;
}
