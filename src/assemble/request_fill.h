/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Turn request start/end events into a struct request_record (strings, sanitising, RequestInfo). */
#ifndef KAPIMON_REQUEST_FILL_H
#define KAPIMON_REQUEST_FILL_H

#include <stdint.h>

#include "assemble/record.h"
#include "kapimon/events.h"

/* Fill everything known at request start; start_ns = ev ts + mono_to_wall. */
void request_fill_start(struct request_record *r, const struct kp_req_start *ev, int64_t mono_to_wall);
/* Add status (0 -> 200: the handler wrote nothing, Go sends 200) and byte counts. */
void request_fill_end(struct request_record *r, const struct kp_req_end *ev);

#endif
