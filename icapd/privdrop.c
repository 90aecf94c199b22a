/*
 * privdrop: changing to the "user" of the configuration after start-up.
 *
 * Decisions:
 * - Names are resolved when the file is read (getpwnam_r), so "icapd -t"
 *   reports an unknown user at its line and a reload cannot silently
 *   change who icapd is (a changed "user" takes a restart, like "listen").
 * - The order is initgroups, setresgid, setresuid: groups can only be
 *   changed while still root. The saved IDs are set too, and then checked
 *   (real, effective and saved), along with setuid(0) and setgid(0)
 *   failing and no capability left: a drop that did not fully happen
 *   stops icapd rather than leaving it running as root unawares.
 * - no_new_privs: nothing icapd (or a future scanner process) executes
 *   can gain privileges through set-user-ID files or file capabilities.
 * - Not dumpable: the memory holds TLS private keys and message bodies, so
 *   no core files, and other processes of the same user (a compromised
 *   scanner process, say) cannot ptrace icapd or read its /proc files.
 * - spool_dir is checked by making a file in it as the new user; icapd
 *   never creates or chowns it (make install creates one owned by the
 *   icapd user). Log files stay open across the drop; if a reload or
 *   SIGUSR1 cannot reopen one, writing goes on to the file already open.
 */
#include "privdrop.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "body.h"
#include "log.h"

/* getpwnam_r / getgrnam_r need a buffer whose size they do not tell in
 * advance: grow it (groups with many members need more than a page). */
#define LOOKUP_MAX (1024 * 1024)

static int lookup_user(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd pw, *res = NULL;
	int r = ERANGE;
	for (size_t len = 4096; r == ERANGE && len <= LOOKUP_MAX; len *= 4) {
		char *buf = malloc(len);
		if (buf == NULL)
			abort();
		r = getpwnam_r(name, &pw, buf, len, &res);
		if (r == 0 && res != NULL) {
			*uid = pw.pw_uid;
			*gid = pw.pw_gid;
		}
		free(buf);
	}
	return r == 0 && res != NULL ? 0 : -1;
}

static int lookup_group(const char *name, gid_t *gid)
{
	struct group gr, *res = NULL;
	int r = ERANGE;
	for (size_t len = 4096; r == ERANGE && len <= LOOKUP_MAX; len *= 4) {
		char *buf = malloc(len);
		if (buf == NULL)
			abort();
		r = getgrnam_r(name, &gr, buf, len, &res);
		if (r == 0 && res != NULL)
			*gid = gr.gr_gid;
		free(buf);
	}
	return r == 0 && res != NULL ? 0 : -1;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (d == NULL)
		abort();
	return d;
}

int privdrop_parse(struct conf_user *u, char **args, size_t nargs, int line, char *err,
                   size_t errlen)
{
	uid_t uid;
	gid_t gid;

	if (nargs < 1 || nargs > 2) {
		snprintf(err, errlen, "\"user\" takes a user name and optionally a group name");
		return -1;
	}
	if (lookup_user(args[0], &uid, &gid) < 0) {
		snprintf(err, errlen,
		         "user \"%s\": no such user (create it, e.g. useradd --system "
		         "--no-create-home --shell /usr/sbin/nologin %s)",
		         args[0], args[0]);
		return -1;
	}
	if (nargs == 2 && lookup_group(args[1], &gid) < 0) {
		snprintf(err, errlen, "user %s \"%s\": no such group", args[0], args[1]);
		return -1;
	}
	privdrop_user_free(u);
	u->name = xstrdup(args[0]);
	u->group = nargs == 2 ? xstrdup(args[1]) : NULL;
	u->uid = uid;
	u->gid = gid;
	u->line = line;
	return 0;
}

void privdrop_user_free(struct conf_user *u)
{
	free(u->name);
	free(u->group);
	memset(u, 0, sizeof(*u));
}

/* "user NAME (uid N)" for the current effective user, for messages. */
static const char *whoami(char *buf, size_t len)
{
	uid_t uid = geteuid();
	struct passwd pw, *res = NULL;
	char pwbuf[4096];
	if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res != NULL)
		snprintf(buf, len, "user %s (uid %u)", pw.pw_name, (unsigned)uid);
	else
		snprintf(buf, len, "uid %u", (unsigned)uid);
	return buf;
}

/* True if the process holds no capability, effective or permitted. */
static bool no_capabilities(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) != 0)
		return false;
	for (size_t i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		if (data[i].effective != 0 || data[i].permitted != 0)
			return false;
	return true;
}

/* The drop itself, as root. Each failure is logged; returns 0 or -1. */
static int drop(const struct conf *c)
{
	const struct conf_user *u = &c->user;
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (initgroups(u->name, u->gid) < 0) {
		log_error("user %s: cannot set its groups: %s", u->name, strerror(errno));
		return -1;
	}
	if (setresgid(u->gid, u->gid, u->gid) < 0) {
		log_error("user %s: cannot change to gid %u: %s", u->name, (unsigned)u->gid,
		          strerror(errno));
		return -1;
	}
	if (setresuid(u->uid, u->uid, u->uid) < 0) {
		log_error("user %s: cannot change to uid %u: %s", u->name, (unsigned)u->uid,
		          strerror(errno));
		return -1;
	}
	/* Trust, then verify: root must be gone for good. */
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 || ru != u->uid ||
	    eu != u->uid || su != u->uid || rg != u->gid || eg != u->gid || sg != u->gid ||
	    setuid(0) == 0 || setgid(0) == 0 || !no_capabilities()) {
		log_error("user %s: privileges were not fully dropped (uid %u/%u/%u, gid "
		          "%u/%u/%u); stopping",
		          u->name, (unsigned)ru, (unsigned)eu, (unsigned)su, (unsigned)rg,
		          (unsigned)eg, (unsigned)sg);
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		log_error("user %s: cannot set no_new_privs: %s", u->name, strerror(errno));
		return -1;
	}
	/* The kernel already clears it on a change of user; said here because
	 * it is a decision (see the top of the file), not an accident. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	return 0;
}

int privdrop_check_spool(const char *dir, char *err, size_t errlen)
{
	char who[128];
	int fd = body_spool_open(dir);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	snprintf(err, errlen, "spool_dir %s: %s cannot create files there: %s", dir,
	         whoami(who, sizeof(who)), strerror(errno));
	return -1;
}

/* Logs, once at start-up, which of the files a reload reads again the new
 * user cannot read, and what that means. */
static void check_rereadable(const struct conf *c)
{
	char who[128];
	whoami(who, sizeof(who));
	if (access(c->path, R_OK) != 0)
		log_warn("%s: %s cannot read it (%s): reloads (SIGHUP) will fail until it can",
		         c->path, who, strerror(errno));
	for (size_t i = 0; i < c->nlisten_tls; i++) {
		const struct conf_tls_listen *t = &c->listen_tls[i];
		const char *files[] = {t->cert, t->key, t->client_ca};
		for (size_t k = 0; k < 3; k++) {
			if (files[k] == NULL || access(files[k], R_OK) == 0)
				continue;
			log_info("listen_tls %s: %s cannot read %s (%s): the certificate and key "
			         "read at start-up stay in use across reloads; new ones take a "
			         "restart, or read access for %s",
			         t->addr, who, files[k], strerror(errno), c->user.name);
			break;
		}
	}
	log_check_writable();
}

int privdrop_start(const struct conf *c)
{
	const struct conf_user *u = &c->user;
	char err[512], who[128];

	if (u->name == NULL) {
		if (geteuid() == 0)
			log_warn("icapd runs as root: add \"user icapd;\" to %s to run "
			         "unprivileged after start-up (see Security in the README)",
			         c->path);
	} else if (geteuid() != 0) {
		if (geteuid() != u->uid) {
			log_error("%s:%d: user %s: icapd was started as %s, not as root, and "
			          "cannot change to uid %u; start it as root or as %s, or remove "
			          "\"user\"",
			          c->path, u->line, u->name, whoami(who, sizeof(who)),
			          (unsigned)u->uid, u->name);
			return -1;
		}
	} else if (u->uid == 0) {
		log_warn("%s:%d: user %s is root: icapd keeps every privilege", c->path, u->line,
		         u->name);
	} else {
		if (drop(c) < 0)
			return -1;
		log_info("running as user %s (uid %u, gid %u)", u->name, (unsigned)u->uid,
		         (unsigned)u->gid);
		check_rereadable(c);
	}
	if (privdrop_check_spool(c->spool_dir, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	return 0;
}

void privdrop_reload_hint(const char *errors)
{
	char who[128];
	if (geteuid() == 0 || errors == NULL || strstr(errors, strerror(EACCES)) == NULL)
		return;
	log_error("reload: icapd runs as %s since start-up: the files above must be readable "
	          "by it",
	          whoami(who, sizeof(who)));
}
