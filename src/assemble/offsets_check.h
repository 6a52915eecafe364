/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Validation of unverified struct offsets on a probe group's first events.
 *
 * When no measured offset table matches a binary (src/goelf/offsets.c: source "nearest"), the BPF
 * programs read Go structs through offsets that may be wrong. Wrong offsets give garbage, not
 * errors, so the first events of such a group are checked for plausibility before any record is
 * made from them: methods from the known set, paths starting with '/', statuses 100-599, h2 stream
 * ids odd (client-initiated) and below 2^31, byte counts sane; etcd calls to /etcdserverpb.*
 * methods with keys under the etcd prefix, status codes 0-16.
 *
 * Policy (documented in docs/go-introspection.md, "Validating unverified offsets"):
 *  - a group under validation has its events HELD (copied, in arrival order, at most OC_HOLD_MAX);
 *  - once OC_MIN_EVENTS informative (good or bad) events were seen, the verdict is taken: FAIL when
 *    more than OC_MAX_BAD_PCT percent are bad; PASS otherwise, for HTTP groups only once a quarter of
 *    OC_MIN_EVENTS request ends carried a real status (a wrong status offset often reads 0, which is
 *    uninformative); never earlier;
 *  - PASS: the held events are released (delivered in order) and later events pass through;
 *  - FAIL: the held events are discarded, the caller detaches the group; no record is ever made
 *    from its events;
 *  - OC_HOLD_MAX events held without a verdict (mostly uninformative events): FAIL ("cannot verify").
 * Pure logic: no BPF, no allocation per event (the hold queue is allocated when a group is watched).
 */
#ifndef KAPIMON_OFFSETS_CHECK_H
#define KAPIMON_OFFSETS_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kapimon/events.h"

/* Probe groups: the same indices as enum goff_group (src/goelf/offsets.h, goff_group_name) and capture's groups. */
enum oc_group { OC_H2X = 0, OC_H2B = 1, OC_H1 = 2, OC_GRPC = 3, OC__NGROUPS = 4 };

enum oc_score { OC_NEUTRAL = 0, OC_GOOD, OC_BAD };
enum oc_state { OC_OFF = 0 /* not under validation (measured offsets) */, OC_PENDING, OC_PASS, OC_FAIL };
enum oc_action { OC_DELIVER = 0, OC_HOLD, OC_DROP };

#define OC_MIN_EVENTS 20   /* informative events needed before any verdict */
#define OC_MAX_BAD_PCT 10  /* PASS when bad * 100 <= informative * OC_MAX_BAD_PCT */
#define OC_HOLD_MAX 128    /* events held per group while pending */

/* The group an event belongs to (h2 events by their flavor), or -1 for events no offsets group
 * produces (connection events). */
int oc_event_group(const void *data, size_t size);

/* Score one event on its own. etcd_prefix: the apiserver's --etcd-prefix (NULL: "/registry").
 * why (may be NULL) gets the reason for OC_BAD (escaped, printable). */
enum oc_score oc_score_event(const void *data, size_t size, const char *etcd_prefix, char *why, size_t why_len);

/* The last value of Go flag `name` ("-name V", "--name=V", ...) in a NUL-separated cmdline; "" when absent. */
void oc_cmdline_flag(const char *cmdline, size_t len, const char *name, char *out, size_t out_len);
/* The value of --etcd-prefix in a NUL-separated command line ("--etcd-prefix=P" or "--etcd-prefix P";
 * the last one wins, as with Go's flag parsing); out = "" when absent. */
void oc_etcd_prefix_from_cmdline(const char *cmdline, size_t len, char *out, size_t out_len);

struct offcheck;

/* min_events 0 = OC_MIN_EVENTS. Returns NULL on allocation failure. */
struct offcheck *oc_new(unsigned min_events, const char *etcd_prefix);
void oc_free(struct offcheck *oc);
/* Put a group under validation (allocates its hold queue). Returns 0 or -ENOMEM / -EINVAL. */
int oc_watch(struct offcheck *oc, enum oc_group g);
/* Any group still pending? (the caller's fast path: false = deliver everything) */
bool oc_pending_any(const struct offcheck *oc);

/* Feed one event. OC_DELIVER: the caller delivers it now (group not watched, or passed).
 * OC_HOLD: copied into the hold queue. OC_DROP: the group failed; discard it.
 * *decided (may be NULL) is set to the group whose verdict this event produced, else -1: on PASS
 * call oc_release, on FAIL detach the group. */
enum oc_action oc_feed(struct offcheck *oc, const void *data, size_t size, int *decided);

/* Hand a passed group's held events to fn in arrival order and forget them; returns how many. */
typedef void (*oc_release_fn)(void *ctx, const void *data, size_t size);
size_t oc_release(struct offcheck *oc, enum oc_group g, oc_release_fn fn, void *ctx);

struct oc_group_info {
	enum oc_state state;
	unsigned good, bad, neutral;
	unsigned good_ends;  /* HTTP request ends with a plausible status (100-599) */
	unsigned held;       /* events held now */
	uint64_t discarded;  /* events discarded (held at FAIL, or fed after FAIL) */
	char why[320];       /* FAIL: the reason (counts; the first bad event); PASS: the counts */
};
void oc_info(const struct offcheck *oc, enum oc_group g, struct oc_group_info *out);
/* Discard whatever is still held for pending groups (capture ends before a verdict); returns how many. */
uint64_t oc_discard_pending(struct offcheck *oc);

#endif
