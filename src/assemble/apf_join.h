/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * API Priority and Fairness rejections -> the requests they answered. The apiserver calls
 * flowcontrol metrics.AddReject(priority level, flow schema, reason) and then, on the same goroutine,
 * filters.tooManyRequests(req, w); the second event carries req's context chain. A request's end
 * carries its own context object (h2 stream ctx, h1 Request.ctx): the rejection whose chain holds it is
 * that request's (as etcd calls are linked, assemble/etcd_assembler.h). Both events come before the
 * request's end on the same ring buffer, so a request looks up what is already there; what no request
 * claims (a request that began before attach, an end lost) expires after hold_ns.
 * Names of served requests: a served request carries the UIDs of its priority level and flow schema
 * (response headers); the APF config controller's digests (at start and at every config change) give
 * each object's name and UID, kept per kind in a table of APF_MAX_OBJECTS, so a UID seen after a digest
 * gets its name.
 * Bounded: APF_MAX_GOROUTINES rejections waiting for their 429 (hashed by goroutine, 8 probes; 64 were
 * too few for 120 requests rejected at once on the testbed), APF_MAX_PENDING 429s waiting for their
 * request's end (the oldest is dropped and counted when full). Pure logic: nothing here touches BPF.
 */
#ifndef KAPIMON_APF_JOIN_H
#define KAPIMON_APF_JOIN_H

#include <stdbool.h>
#include <stdint.h>

#include "assemble/record.h"
#include "kapimon/events.h"

#define APF_MAX_GOROUTINES 1024 /* power of two */
#define APF_MAX_PENDING 1024
#define APF_MAX_OBJECTS 512 /* names per kind (priority levels, flow schemas) learned from config digests */

struct apf_join_stats {
	uint64_t rejects;      /* AddReject events */
	uint64_t too_many;     /* tooManyRequests events (429s from the APF or max-in-flight filter) */
	uint64_t unpaired;     /* 429s without an AddReject on their goroutine (max-in-flight, APF cancel) */
	uint64_t attributed;   /* 429s matched to their request's end */
	uint64_t expired;      /* 429s no request end claimed within the hold */
	uint64_t dropped_full; /* 429s (or rejections) dropped because their table was full */
	uint64_t objects;      /* objects (name, UID) learned from config digests */
	uint64_t named;        /* served requests given names from their UIDs */
};

struct apf_join;

struct apf_join *apf_join_new(uint64_t hold_ns);
void apf_join_free(struct apf_join *j);
void apf_join_reject(struct apf_join *j, const struct kp_apf_reject *ev);
void apf_join_too_many(struct apf_join *j, const struct kp_apf_too_many *ev);
void apf_join_object(struct apf_join *j, const struct kp_apf_object *ev);
/* A request ended (r->link_ctx: its context object): its UIDs get their names when known; when a 429
 * of its is waiting, fill its names and reason (r->apf; r->truncated for cut names) and return true. */
bool apf_join_request_end(struct apf_join *j, struct request_record *r);
/* Forget 429s and rejections older than hold_ns (CLOCK_MONOTONIC now). */
void apf_join_tick(struct apf_join *j, uint64_t now_mono);
const struct apf_join_stats *apf_join_get_stats(const struct apf_join *j);

#endif
