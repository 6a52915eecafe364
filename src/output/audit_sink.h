/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The audit-log sink: one `audit.k8s.io/v1` Event line per finished request, shaped like the
 * kube-apiserver's own audit log at level Metadata, stage ResponseComplete (docs/records.md, "Audit
 * format"), so tools that read audit logs (and `kapimon analyze --input audit`) read kapimon's output.
 * Requests still running when capture stops (ongoing) and etcd calls are not written: the apiserver
 * audits neither. `user` and `annotations` are omitted: kapimon does not know the identity yet.
 * Every string from the wire (path, user agent, client, request info) is escaped by json_writer.
 * Pure: no clock reads, no randomness (the caller passes the per-run seed).
 */
#ifndef KAPIMON_AUDIT_SINK_H
#define KAPIMON_AUDIT_SINK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "assemble/record.h"
#include "output/json_writer.h"
#include "pipeline/pipeline.h"

#define AUDIT_ID_LEN 37 /* 36 characters of a UUID + NUL */

struct audit_sink {
	FILE *out;
	struct json_writer w;
	uint64_t seed;           /* per-run random: auditIDs of two runs do not collide */
	uint64_t events;         /* lines written */
	uint64_t skipped_ongoing; /* requests still running at flush: not audited */
};

void audit_sink_init(struct audit_sink *a, FILE *out, uint64_t seed);
/* The sink interface to attach with pipeline_add_sink (ctx = a). */
struct pipeline_sink audit_sink_iface(struct audit_sink *a);
/* Write to another file from now on (a rotated or reopened one); counters are kept. */
void audit_sink_set_out(struct audit_sink *a, FILE *out);
/* One Event object for r (no newline); ongoing records are written too (callers skip them). */
void audit_event_json(struct json_writer *w, const struct request_record *r, uint64_t seed);
/* The auditID of request id under seed: a version-4-format UUID, lowercase, 36 characters. */
void audit_id(uint64_t seed, uint64_t id, char out[AUDIT_ID_LEN]);
/* RFC 3339 UTC with exactly 6 fraction digits, as metav1.MicroTime marshals ("...T10:00:00.123456Z"). */
void audit_micro_ts(uint64_t ns, char *buf, size_t cap);

#endif
