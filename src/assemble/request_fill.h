/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Turn request start/end events into a struct request_record (strings, sanitising, RequestInfo). */
#ifndef KAPIMON_REQUEST_FILL_H
#define KAPIMON_REQUEST_FILL_H

#include <stddef.h>
#include <stdint.h>

#include "assemble/record.h"
#include "kapimon/events.h"
#include "util/strbuf.h"

/*
 * A request's start as kept until its end (the assembler's pending requests): what a record needs of
 * its kp_req_start, with the strings packed one after another by their length (method, path, user agent,
 * address, then user and groups when the start carries an authenticated user). A start event spreads a
 * typical request's few hundred bytes over ~10 cache lines of fixed-size buffers; kept, they fit in ~3,
 * and only those are copied and read back. The path is kept up to its first NUL (the request target as a
 * C string); it may carry a secret: req_start_forget clears it once the request is done.
 */
struct req_start_kept {
	uint64_t ts_ns;         /* CLOCK_MONOTONIC start (an authn start's: when the request arrived) */
	uint64_t conn;          /* the start's key (conn, stream_id) */
	int64_t content_length;
	uint32_t stream_id;
	uint8_t proto, truncated, authn, user_found;
	uint8_t ngroups;        /* as the event says (groups kept: at most KP_GROUPS_MAX) */
	uint8_t method_len, addr_len, user_len; /* bytes kept, each within its event buffer */
	uint16_t path_len, ua_len;
	uint8_t group_len[KP_GROUPS_MAX];
	char s[KP_METHOD_MAX + KP_PATH_MAX + KP_UA_MAX + KP_ADDR_MAX + KP_USER_MAX + KP_GROUPS_MAX * KP_GROUP_MAX];
};

/* Keep ev in k (ts_ns: the event's; the caller may correct it). */
void req_start_keep(struct req_start_kept *restrict k, const struct kp_req_start *restrict ev);
/* Clear k's path (before k is freed or reused). Inline: once per request. */
static inline void req_start_forget(struct req_start_kept *k)
{
	mem_clear_short(k->s + k->method_len, k->path_len);
	k->path_len = 0;
}
/* The kept address: ev->addr bytes, k->addr_len of them. */
const char *req_start_kept_addr(const struct req_start_kept *k);

/* Fill everything known at request start; start_ns = ev ts + mono_to_wall. */
void request_fill_start(struct request_record *r, const struct kp_req_start *ev, int64_t mono_to_wall);
/* The same into a record buffer filled request after request (zeroed once, then only ever filled by
 * these functions): the ~2.8 KB are not cleared, only what the record holds is written; the bytes after
 * each string's NUL keep what earlier fills of this buffer left there. */
void request_fill_start_reused(struct request_record *r, const struct kp_req_start *ev, int64_t mono_to_wall);
/* request_fill_start_reused from a kept start. */
void request_fill_kept(struct request_record *r, const struct req_start_kept *k, int64_t mono_to_wall);
/* The captured path raw[0..len) was cut by the capture bound: sanitise it into r->path ending in
 * PS_TRUNC_MARKER ("...[truncated]"), never in a partial escape or UTF-8 sequence. */
void request_mark_path_cut(struct request_record *r, const char *raw, size_t len);
/* Add status (0 -> 200: the handler wrote nothing, Go sends 200) and byte counts. */
void request_fill_end(struct request_record *r, const struct kp_req_end *ev);

#endif
