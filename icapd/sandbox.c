/*
 * sandbox: what a scanner process gives up before it reads a hostile byte.
 *
 * A scanner parses archives, documents and executables with libclamav, the
 * code most likely to hold an exploitable bug. If one is exploited, the
 * attacker should get a process that can read the body it was given and
 * answer a verdict, and little else. So, after the fork:
 *   - no new privileges (no set-uid binary can raise them again),
 *   - no core files (they would hold other users' downloads),
 *   - a seccomp filter that refuses, with EPERM, the system calls a scanner
 *     never needs and an attacker wants: starting programs, creating
 *     processes (threads stay allowed), opening sockets or connecting
 *     (to reach the network or the server's own listeners), signalling other
 *     processes (the server and its other scanners), tracing or reading
 *     other processes' memory, and changing the namespace or the keyring.
 * It stays an allow-by-default filter: libclamav writes temporary files for
 * archive members, and the exact set of calls glibc and libclamav make
 * differs between versions; refusing a call a library really needs would
 * turn every scan into an error, which fails closed but helps nobody. Files
 * are limited by the user the server runs as (see the `user` directive).
 */
#include "sandbox.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

/* Calls refused outright. */
static const int refused[] = {
        SCMP_SYS(execve),
        SCMP_SYS(execveat),
        SCMP_SYS(fork),
        SCMP_SYS(vfork),
        SCMP_SYS(socket),
        SCMP_SYS(socketpair),
        SCMP_SYS(connect),
        SCMP_SYS(bind),
        SCMP_SYS(listen),
        SCMP_SYS(accept),
        SCMP_SYS(accept4),
        SCMP_SYS(ptrace),
        SCMP_SYS(process_vm_readv),
        SCMP_SYS(process_vm_writev),
        SCMP_SYS(kill),
        SCMP_SYS(pidfd_open),
        SCMP_SYS(pidfd_send_signal),
        SCMP_SYS(pidfd_getfd),
        SCMP_SYS(setns),
        SCMP_SYS(unshare),
        SCMP_SYS(mount),
        SCMP_SYS(umount2),
        SCMP_SYS(pivot_root),
        SCMP_SYS(chroot),
        SCMP_SYS(keyctl),
        SCMP_SYS(add_key),
        SCMP_SYS(request_key),
        SCMP_SYS(bpf),
        SCMP_SYS(perf_event_open),
        SCMP_SYS(userfaultfd),
        SCMP_SYS(init_module),
        SCMP_SYS(finit_module),
        SCMP_SYS(delete_module),
        SCMP_SYS(kexec_load),
        SCMP_SYS(reboot),
        SCMP_SYS(swapon),
        SCMP_SYS(swapoff),
        SCMP_SYS(setuid),
        SCMP_SYS(setgid),
        SCMP_SYS(setreuid),
        SCMP_SYS(setregid),
        SCMP_SYS(setresuid),
        SCMP_SYS(setresgid),
        SCMP_SYS(setgroups),
        SCMP_SYS(prlimit64),
        SCMP_SYS(personality),
        SCMP_SYS(io_uring_setup),
};

static int add_rules(scmp_filter_ctx ctx)
{
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), refused[i], 0) < 0)
			return -1;
	/* clone makes threads (allowed) and processes (not); clone3 passes its
	 * flags in memory, which a filter cannot read: ENOSYS makes glibc use
	 * clone. */
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
	                     SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0)) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) < 0)
		return -1;
	/* Signals only to this process (abort() raises SIGABRT with tgkill). */
	pid_t self = getpid();
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(tgkill), 1,
	                     SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)self)) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(tkill), 0) < 0)
		return -1;
	return 0;
}

int sandbox_enter(void)
{
	struct rlimit no_core = {0, 0};
	if (setrlimit(RLIMIT_CORE, &no_core) < 0 || prctl(PR_SET_DUMPABLE, 0) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (ctx == NULL)
		return -1;
	int r = add_rules(ctx) < 0 ? -1 : seccomp_load(ctx);
	seccomp_release(ctx);
	return r < 0 ? -1 : 0;
}
