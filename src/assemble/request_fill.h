/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Turn request start/end events into a struct request_record (strings, sanitising, RequestInfo). */
#ifndef KAPIMON_REQUEST_FILL_H
#define KAPIMON_REQUEST_FILL_H

#include <stddef.h>
#include <stdint.h>

#include "assemble/record.h"
#include "kapimon/events.h"

/* Fill everything known at request start; start_ns = ev ts + mono_to_wall. */
void request_fill_start(struct request_record *r, const struct kp_req_start *ev, int64_t mono_to_wall);
/* The same into a record buffer filled request after request (zeroed once, then only ever filled by
 * these functions): the ~2.8 KB are not cleared, only what the record holds is written; the bytes after
 * each string's NUL keep what earlier fills of this buffer left there. */
void request_fill_start_reused(struct request_record *r, const struct kp_req_start *ev, int64_t mono_to_wall);
/* The captured path raw[0..len) was cut by the capture bound: sanitise it into r->path ending in
 * PS_TRUNC_MARKER ("...[truncated]"), never in a partial escape or UTF-8 sequence. Modifies raw. */
void request_mark_path_cut(struct request_record *r, char *raw, size_t len);
/* Add status (0 -> 200: the handler wrote nothing, Go sends 200) and byte counts. */
void request_fill_end(struct request_record *r, const struct kp_req_end *ev);

#endif
