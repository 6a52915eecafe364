/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Live aggregation of etcd calls (for `kapimon top`): what the apiserver's traffic costs in etcd.
 *
 * Unary etcd calls (struct etcd_record with stream false; stream messages are only counted in the
 * stats) are counted, weighted by their sample_factor, per (op, resource) and in a total row, in
 * steps of step_ns by the call's end time (start + latency), like the request aggregation
 * (aggregate/aggregate.h). Per row and step: calls, errors (grpc_status != 0), request bytes
 * (protobuf request message), calls linked to an apiserver request, and the latency histogram
 * (aggregate/loghist.h, <= 3.6% relative error) stored sparsely as (row, bucket) -> weight cells,
 * at most cells_per_step per step (further observations are counted everywhere except in the
 * quantiles; etcd_agg_stats.cell_overflow). At most max_keys (op, resource) rows; further keys go
 * to the "(other)" row (etcd_agg_stats.overflow).
 *
 * Linked calls are also attributed to the rows of the request they belong to (request_id), in the
 * request aggregation's tables: the caller announces every counted request with etcd_agg_request()
 * (its id, end time and its row index per table, from agg_add_rows()); a bounded ring of the last
 * `recent` requests (indexed by id; ids are sequential) maps an etcd record's request_id back to
 * those rows. The linked call is counted in the step the request ended in, so per row
 * ETCD/S / REQ/S is the number of etcd calls per request.
 *
 * Reported steps are never changed afterwards: etcd_agg_advance(now) marks the steps before now's
 * step as reported, and a record (or link) that arrives for a reported step is counted in the
 * oldest unreported step instead (etcd_agg_stats.deferred). Calls without a parent request arrive
 * late by design (the etcd assembler holds them up to its link hold), so they are counted once,
 * in a later window, rather than never.
 *
 * Cost: etcd_agg_add() does one hash lookup (none when the call's op, resource and group fields are
 * the previous call's), a latency cell for its row (the total's cells are a dense array per step) and,
 * for a linked call, one ring lookup and a slot update per table its request has a row in (the slots of
 * the previous linked call when its request had the same rows, in the same step); nothing is allocated after etcd_agg_new() (calloc'd, so pages become
 * resident only when used). Not thread-safe; pure logic (no clock reads: callers pass times).
 */
#ifndef KAPIMON_ETCD_AGG_H
#define KAPIMON_ETCD_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregate/aggregate.h"
#include "assemble/record.h"

#define ETCD_AGG_OP_LEN 24
#define ETCD_AGG_MAX_LINK_TABLES 16

struct etcd_agg_params {
	uint64_t step_ns;        /* 1e9: use the request aggregation's */
	uint32_t nsteps;         /* steps kept (>= the longest window queried); 60 */
	uint32_t max_keys;       /* (op, resource) rows; 1024 */
	uint32_t cells_per_step; /* distinct (row, latency bucket) pairs per step; 4096 */
	uint32_t link_tables;    /* request tables linked calls are attributed to (<= ETCD_AGG_MAX_LINK_TABLES); AGG__NTABLES */
	uint32_t link_rows;      /* rows per request table (the request aggregation's max_keys + 1); 4097 */
	uint32_t recent;         /* requests remembered for attribution, a power of two; 16384 */
};

struct etcd_agg_key {
	char op[ETCD_AGG_OP_LEN];        /* "range", "put", "txn", ... */
	char resource[AGG_RESOURCE_LEN]; /* "group/resource", "resource" (core group), "" when unknown */
};

/* One (op, resource) row, or the total, over the last k completed steps. */
struct etcd_agg_row {
	const struct etcd_agg_key *key; /* NULL for the total */
	bool other;                     /* the "(other)" row */
	double calls, errors, req_bytes, linked;           /* weighted sums over the span */
	double rate, err_pct, req_bytes_rate, linked_rate; /* per second over the span; err_pct of calls */
	double p50_ns, p90_ns, p99_ns;                     /* NaN when no call ended in the span */
};

struct etcd_agg_stats {
	uint64_t records;        /* unary calls counted */
	uint64_t streams;        /* stream messages ignored */
	uint64_t deferred;       /* records or links counted in a later step than their own (it was reported) */
	uint64_t late;           /* records or links outside the kept steps (not in any window) */
	uint64_t overflow;       /* records counted in "(other)" */
	uint64_t cell_overflow;  /* observations left out of quantiles */
	uint64_t linked;         /* records with a request_id */
	uint64_t attributed;     /* ... whose request was found (counted in its rows) */
	uint64_t unattributed;   /* ... whose request was not (forgotten or never announced) */
};

struct etcd_agg;

void etcd_agg_params_default(struct etcd_agg_params *p);
/* start_ns: wall time the aggregation starts (as agg_new). NULL params: defaults. NULL on bad
 * params or OOM. */
struct etcd_agg *etcd_agg_new(const struct etcd_agg_params *p, uint64_t start_ns);
void etcd_agg_free(struct etcd_agg *e);

/* A request was counted: request id, wall end time, and its row index in each of the link_tables
 * request tables (rows[t] < link_rows). */
void etcd_agg_request(struct etcd_agg *e, uint64_t request_id, uint64_t end_ns, const uint32_t *rows);
/* Request row `row` of table `table` got a new key (agg_set_evict_hook(agg, etcd_agg_evict_hook, e)):
 * its linked calls move to that table's "(other)" row (index 0), as its requests did. Requests still
 * in the attribution ring keep their row index: a call linked to one of them after the move counts
 * for the row's new key (the calls are emitted with their request, so this is rare). */
void etcd_agg_evict_hook(void *etcd_agg, uint32_t table, uint32_t row);
/* Count a finished etcd record. */
void etcd_agg_add(struct etcd_agg *e, const struct etcd_record *r);
/* Steps before now_ns's step are reported from here on (records for them go to now's step). */
void etcd_agg_advance(struct etcd_agg *e, uint64_t now_ns);

/*
 * (op, resource) rows over the last k completed steps (k clamped to [1, nsteps]; the current step is
 * excluded), sorted by calls (descending, ties by key); at most max_rows written; returns the
 * number of rows with calls. *total (optional): the total row. *span_s (optional): the seconds the
 * rates are divided by (less than k steps right after start, as agg_query).
 */
size_t etcd_agg_query(struct etcd_agg *e, uint32_t k, struct etcd_agg_row *rows, size_t max_rows,
		      struct etcd_agg_row *total, double *span_s);
/* Weighted etcd calls linked to requests of row `row` of request table `table` over the same k steps. */
double etcd_agg_linked(const struct etcd_agg *e, uint32_t table, uint32_t row, uint32_t k);

const struct etcd_agg_stats *etcd_agg_get_stats(const struct etcd_agg *e);

#endif
