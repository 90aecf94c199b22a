/*
 * scanner_zygote: the process that forks a generation's scanners and
 * replaces those that die.
 *
 * The server forks it right after a generation is swapped in, on the event
 * loop, when no other thread runs (scan threads are not used with scanner
 * processes, and the reload thread has been joined), so the child inherits
 * no lock held by another thread. The zygote stays single-threaded, so every
 * scanner it forks later is as clean. Scanners share the generation's pages
 * (the ClamAV engine is loaded once, by the server) copy-on-write: a reload
 * costs at most the old and the new engine, as it does without isolation.
 *
 * The zygote speaks only on its control socket: it hands each new scanner's
 * socket to the server (SCANNER_EVENT_STARTED) and says when one ended
 * (SCANNER_EVENT_EXITED, with its wait status). A scanner that dies is
 * replaced at once; one that dies by itself (not SIGKILL) within a second
 * of starting, several times in a row (a broken sandbox, say), is replaced
 * after a pause that grows to 5 s, so a broken setup does not fork without
 * end. When the server closes the control socket (the generation is gone,
 * or a fresh zygote replaces this one), the zygote forks no more and ends
 * after its last scanner, which ends when the server closes its socket;
 * when the server dies, PR_SET_PDEATHSIG ends them all.
 */
#include "scanner_zygote.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "sandbox.h"
#include "scanner_proto.h"
#include "scanner_worker.h"

#define CTL_FD         3
#define QUICK_DEATH_MS 1000
#define MAX_BACKOFF_MS 5000

struct zygote {
	struct generation *g;
	pid_t *pids; /* 0: a slot waiting for a scanner */
	uint64_t *started_ms;
	unsigned n;
	unsigned quick_deaths;
	uint64_t respawn_at_ms; /* 0: now */
};

/* The start of a child of this process: dies with its parent, keeps only
 * fd (as CTL_FD) and the standard descriptors, ignores the signals that
 * are the server's. */
static void child_setup(int fd, pid_t parent, const char *name)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/* "pkill -HUP icapd" and a terminal's Ctrl-C reach these processes too:
	 * the server alone acts on them, and these end with it. */
	int ignored[] = {SIGHUP, SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGPIPE};
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		signal(ignored[i], SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	if (fd != CTL_FD && dup2(fd, CTL_FD) < 0)
		_exit(1);
	if (close_range(CTL_FD + 1, ~0u, 0) < 0)
		_exit(1);
	prctl(PR_SET_NAME, name);
}

static void report(int ctl, enum scanner_event_kind kind, pid_t pid, int status, int fd)
{
	struct scanner_event ev = {
	        .magic = SCANNER_EVENT_MAGIC, .kind = kind, .pid = pid, .status = status};
	/* The server gone: PR_SET_PDEATHSIG ends this process anyway. */
	(void)scanner_send(ctl, &ev, sizeof(ev), &fd, fd >= 0 ? 1 : 0);
}

static void spawn(struct zygote *z, unsigned slot)
{
	int sv[2];
#ifdef ICAPD_FAULT_INJECTION
	if (getenv("ICAPD_TEST_NO_FORK") != NULL) /* test builds: fork failing */
		return;
#endif
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	pid_t zpid = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		child_setup(sv[1], zpid, "icapd-scanner");
#ifdef ICAPD_FAULT_INJECTION
		/* Test builds: a sandbox that cannot be set up (tests/integ). */
		if (getenv("ICAPD_TEST_NO_SANDBOX") != NULL)
			_exit(4);
#endif
		if (sandbox_enter() < 0)
			_exit(4);
		scanner_worker_main(CTL_FD, z->g);
	}
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return;
	}
	z->pids[slot] = pid;
	z->started_ms[slot] = clock_ms();
	report(CTL_FD, SCANNER_EVENT_STARTED, pid, 0, sv[0]);
	close(sv[0]);
}

static void reap(struct zygote *z)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (unsigned i = 0; i < z->n; i++) {
			if (z->pids[i] != pid)
				continue;
			z->pids[i] = 0;
			report(CTL_FD, SCANNER_EVENT_EXITED, pid, status, -1);
			/* Killed (by the server for a hang, by an operator, by the OOM
			 * killer): replaced at once. Dead by itself right after the
			 * start: something is broken, so slow down. */
			bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
			if (!killed && clock_ms() - z->started_ms[i] < QUICK_DEATH_MS) {
				unsigned back = 100u << (z->quick_deaths < 6 ? z->quick_deaths : 6);
				z->quick_deaths++;
				z->respawn_at_ms = clock_ms() +
				                   (back < MAX_BACKOFF_MS ? back : MAX_BACKOFF_MS);
			} else {
				z->quick_deaths = 0;
			}
		}
	}
}

/* The server let this zygote go: its scanners end as the server closes
 * their sockets (busy ones after their scan); then so does the zygote. */
static noreturn void shut_down(struct zygote *z)
{
	(void)z;
	close(CTL_FD);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	_exit(0);
}

static noreturn void zygote_main(struct zygote *z)
{
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		_exit(1);
	for (;;) {
		int timeout = -1;
		for (unsigned i = 0; i < z->n; i++) {
			if (z->pids[i] != 0)
				continue;
			uint64_t now = clock_ms();
			if (now >= z->respawn_at_ms) {
				spawn(z, i);
				if (z->pids[i] == 0) /* fork failed: try again soon */
					z->respawn_at_ms = now + 100;
			}
			if (z->pids[i] == 0) {
				int64_t wait = (int64_t)(z->respawn_at_ms - clock_ms());
				timeout = wait > 0 ? (int)wait : 0;
			}
		}
		struct pollfd p[2] = {{.fd = CTL_FD, .events = POLLIN},
		                      {.fd = sfd, .events = POLLIN}};
		if (poll(p, 2, timeout) < 0 && errno != EINTR)
			_exit(1);
		if (p[0].revents != 0) {
			char buf[64];
			ssize_t r = recv(CTL_FD, buf, sizeof(buf), MSG_DONTWAIT);
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
				shut_down(z);
		}
		if (p[1].revents != 0) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				;
			reap(z);
		}
	}
}

pid_t scanner_zygote_start(struct generation *g, unsigned nscanners, int *ctl)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	pid_t server = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		child_setup(sv[1], server, "icapd-zygote");
		pid_t pids[nscanners];
		uint64_t started[nscanners];
		memset(pids, 0, sizeof(pids));
		struct zygote z = {.g = g, .pids = pids, .started_ms = started, .n = nscanners};
		zygote_main(&z);
	}
	close(sv[1]);
	*ctl = sv[0];
	return pid;
}
