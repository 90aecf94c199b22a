/*
 * url_policy: who may reach which categories, in a file an administrator
 * reads and edits without a manual open (conf/urlfilter.policy). It uses
 * the block syntax of icapd.conf (lex.h):
 *
 *   # Who: by address (from X-Client-IP: Squid sends it with
 *   # "icap_send_client_ip on") and by user name (X-Client-Username or
 *   # X-Authenticated-User: "icap_send_client_username on").
 *   group teachers { address 10.1.0.0/16 192.0.2.7 2001:db8::/32; user alice bob; }
 *   group pupils   { address 10.2.0.0/16; }
 *
 *   # When (local time): days and hours; a window may wrap past midnight.
 *   time lessons { days mon-fri; hours 08:00-12:00 13:00-16:30; }
 *
 *   # What: rules apply in order, the first match decides; "default"
 *   # ends the search. A policy without "for" applies to everyone.
 *   policy pupils_in_lessons {
 *       for pupils;            # one or more groups
 *       during lessons;        # optional
 *       allow school_sites;    # allow lists beat block lists by coming first
 *       block games social_networks adult;
 *       default allow;
 *   }
 *   policy everyone {
 *       block malware phishing;
 *       default allow;
 *   }
 *
 * Policies are tried in file order; the first whose groups and window
 * match the client is used. If its rules reach no decision and it has no
 * default, the next matching policy is tried; past the last, the request
 * is allowed. A group matches when any of its addresses or users match.
 * Categories are names of list folders (url_lists.h); an unknown one is an
 * error, like every other mistake, reported as "file:line: ...".
 *
 * Details:
 * - Addresses are IPv4 or IPv6, alone or as network/length; a network
 *   with host bits set ("10.0.0.1/8") is an error that names the network
 *   meant (10.0.0.0/8). An IPv4-mapped client address (::ffff:10.1.2.3)
 *   matches IPv4 networks (so ::/0 covers IPv4 clients too). A client
 *   address that does not parse matches no address (user names still can).
 * - User names compare ignoring ASCII case, exactly otherwise (no realm
 *   or domain is stripped).
 * - days: mon tue wed thu fri sat sun and ranges (mon-fri; fri-mon wraps
 *   through the weekend), separated by spaces or commas; none: every day.
 *   hours: HH:MM-HH:MM, the end excluded, 24:00 allowed as an end; none:
 *   the whole day. A window that wraps past midnight belongs to the day it
 *   starts on: "days fri; hours 22:00-06:00;" covers Friday 22:00 to
 *   Saturday 06:00, not Friday 00:00-06:00. Times are local (localtime_r).
 * - "for" and "during" may each be given once per policy, with several
 *   names (any of them matching is enough). Groups and times may be
 *   defined anywhere in the file; names of groups, times and policies are
 *   letters, digits, '_', '-' and '.', each defined once.
 * - A rule after "default" is an error (it could never apply), as are
 *   empty groups, times and policies.
 */
#ifndef ICAPD_URL_POLICY_H
#define ICAPD_URL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "url_lists.h"

struct url_policy;

/*
 * Reads the policy at path; category_id(arg, name) gives a category's id
 * (url_lists_category_id), or -1 for an unknown name. Errors go to errors
 * as "file:line: message" (file as given); returns NULL if there were any.
 */
struct url_policy *url_policy_load(const char *path,
                                   int (*category_id)(void *arg, const char *name), void *arg,
                                   FILE *errors);

void url_policy_free(struct url_policy *p);

/* Whether any group matches by address or by user name (icapd -t warns
 * that Squid must be told to send them). */
bool url_policy_uses_address(const struct url_policy *p);
bool url_policy_uses_user(const struct url_policy *p);

/* The client as the ICAP request describes it. */
struct url_client {
	const char *address; /* text from X-Client-IP, or NULL */
	const char *user;    /* user name, or NULL */
	time_t now;
};

struct url_decision {
	bool block;
	/* The category whose rule decided, or -1 for a default (or none). */
	int category;
	/* For the category: the list entry that matched it (from matches). */
	const struct url_match *match;
	/* The rule that decided: policy name, file line; NULL/0 when no policy
	 * applied and the request is allowed by the built-in default. */
	const char *policy;
	int line;
};

/*
 * Decides for a client and the categories the URL is listed in (matches,
 * n: from url_lists_lookup). Never fails; safe on any thread; allocates
 * nothing. p may be NULL (everything is allowed). When one rule lists
 * several of the URL's categories, the first in the rule's order decides.
 */
void url_policy_decide(const struct url_policy *p, const struct url_client *cl,
                       const struct url_match *matches, size_t n, struct url_decision *d);

#endif
