/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Live aggregation of finished request records (for `kapimon top` and the Prometheus textfile).
 *
 * Records are counted, weighted by their sample_factor, into bounded tables ("groupings"):
 *   AGG_BY_KEY            (user agent, verb, group/resource, subresource)
 *   AGG_BY_AGENT          user agent
 *   AGG_BY_CLIENT         client IP (port stripped)
 *   AGG_BY_VERB_RESOURCE  (verb, group/resource)
 *   AGG_BY_RESOURCE       group/resource (or the path of a non-resource request)
 *   AGG_BY_NAMESPACE      namespace ("" for cluster-scoped and non-resource requests)
 *   AGG_BY_USER           authenticated user ("" when unknown: failed authentication, generic starts)
 *   AGG_BY_PRIORITY_LEVEL API Priority and Fairness priority level (name, else UID; "" when unknown)
 *   AGG_TOTAL             one row: everything
 * Each grouping holds at most max_keys rows, chosen by a decayed Space-Saving summary
 * (aggregate/hh.h): a new key always gets a row, the one of the key with the smallest decayed
 * request weight (time constant decay_steps), whose counts move to the table's "(other)" row
 * (agg_stats.evicted[table]). So the rows are always the heavy hitters of the recent past, memory is
 * fixed whatever the number of distinct keys, and the sum of the rows and "(other)" is the total.
 * Error bound (docs/top.md): a row tracked for the whole queried window is counted exactly; a row
 * admitted inside it may have missed up to agg_row.req_err requests before its admission; a key
 * without a row had at most agg_untracked_bound() requests in the window (both <= the table's
 * decayed total weight / max_keys).
 *
 * Time is cut into steps (step_ns, default 1 s) by the request's end time (start + latency); the
 * last nsteps (default 60) are kept. For each row and each of the last nsteps - cause_steps steps
 * (the steps queries cover): requests, 4xx (429 excluded), 429, 5xx, response bytes, etcd bytes and
 * keys (a 32 B slot), and the latency histogram (aggregate/loghist.h, <= 3.6% relative error) stored
 * sparsely as (row, row generation, bucket) -> weight cells, at most cells_per_step per step
 * (observations beyond that still count everywhere except in quantiles; agg_stats.cell_overflow).
 * The rows of AGG_BY_KEY, AGG_BY_VERB_RESOURCE and the total also keep their request count of each
 * of the nsteps steps (4 B a step: agg_entry_requests, agg_step_requests), so the live cause's
 * baseline steps (cause_steps, top: AGG_CAUSE_STEPS) cost 4 B a step in those rows and nothing in
 * the others. A query merges the last k completed steps (k <= nsteps - cause_steps). A record
 * older than the slots' steps but within nsteps counts in the cumulative totals and the request
 * history only. Cumulative totals since the row's key got it (per status
 * class, bytes, latency sum and fixed Prometheus buckets) are kept for every row as well.
 *
 * In-flight: a snapshot, not a running sum: agg_inflight_clear() and then agg_inflight(+1) for every
 * request in the assembler's pending table (top does it at each refresh), so replaced starts, lost
 * ends and rows that changed keys can never leave a count behind. The total of the request series
 * per step feeds the online anomaly detector (analysis/online.h) in agg_update_anomaly().
 *
 * Cost: agg_add() compares the record's key fields (those of the groupings counted) with the previous
 * record's, 16 bytes at a time; per grouping whose fields are all the previous record's and whose row
 * still holds that key it goes to that row without a lookup, otherwise it hashes each key field once
 * and does a hash lookup; then a heap update
 * (O(log max_keys), none unless the row passes a child), and no allocation; all
 * memory is allocated in agg_new() (calloc'd, so pages are only resident once rows are used): per
 * table (max_keys + 1) * (304 B + (nsteps - cause_steps) * 32 B [+ 4 B + nsteps * 4 B in the three
 * tables with a history] + the sizes of the key fields it groups by), query scratch
 * (max_keys + 1) * 2.7 KiB once, and (nsteps - cause_steps) * (cells_per_step * 4/3 rounded up to a
 * power of two) * 12 B of cells plus (nsteps - cause_steps) * cells_per_step * 4 B of lists of the
 * used cells (resident only as far as cells are used), and the total's cells, dense: (nsteps -
 * cause_steps) * 1.3 KiB.
 * Not thread-safe; pure logic (no clock reads: callers pass times).
 */
#ifndef KAPIMON_AGGREGATE_H
#define KAPIMON_AGGREGATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregate/loghist.h"
#include "analysis/online.h"
#include "assemble/record.h"

enum agg_table {
	AGG_BY_KEY = 0,
	AGG_BY_AGENT,
	AGG_BY_CLIENT,
	AGG_BY_VERB_RESOURCE,
	AGG_BY_RESOURCE,
	AGG_BY_NAMESPACE,
	AGG_BY_USER,
	AGG_BY_PRIORITY_LEVEL,
	AGG_TOTAL,
	AGG__NTABLES,
};

/* Status classes of the cumulative counters; 429 is its own class (not in 4xx). */
enum agg_class {
	AGG_C_1XX = 0,
	AGG_C_2XX,
	AGG_C_3XX,
	AGG_C_4XX,
	AGG_C_429,
	AGG_C_5XX,
	AGG_C_UNKNOWN,
	AGG__NCLASS,
};

/* Upper bounds (seconds) of the cumulative Prometheus histogram; a last +Inf bucket follows. */
#define AGG_NLE 15
extern const double agg_le_seconds[AGG_NLE];

/* AGG_SORT_ETCD_BYTES / _KEYS: what the rows' requests cost in etcd (request records' etcd_resp_bytes,
 * etcd_kvs: the response bytes and key-values of the etcd calls linked to them) */
enum agg_sort { AGG_SORT_RATE = 0, AGG_SORT_ERRORS, AGG_SORT_P99, AGG_SORT_BYTES, AGG_SORT_ETCD_BYTES, AGG_SORT_ETCD_KEYS,
		AGG__NSORT };

#define AGG_RESOURCE_LEN (2 * REC_FIELD_LEN + 2)

/* The full key of a record: every field (agg_key_from_record). */
struct agg_key_text {
	char user_agent[REC_UA_LEN];
	char verb[REC_VERB_LEN];
	char resource[AGG_RESOURCE_LEN]; /* "group/resource", "resource" (core) or the path (non-resource) */
	char subresource[REC_FIELD_LEN];
	char client[REC_ADDR_LEN];       /* IP without the port */
	char namespace_[REC_FIELD_LEN];  /* resource requests' namespace ("" when cluster-scoped) */
	char user[REC_USER_LEN];         /* the authenticated user ("" when unknown) */
	char priority_level[REC_APF_NAME_LEN]; /* APF priority level: name, else UID (REC_APF_LABEL) */
};

/* A row's identity: NUL-terminated strings, "" for the fields its table does not group by (a table
 * stores only the fields it groups by). Valid until the row gets another key or agg_free. */
struct agg_key {
	const char *user_agent, *verb, *resource, *subresource, *client, *namespace_, *user, *priority_level;
};

struct agg_cum {
	double req[AGG__NCLASS]; /* weighted requests per status class */
	double bytes_out;        /* weighted response bytes (records with unknown size add 0) */
	double etcd_bytes;       /* weighted etcd response bytes of the requests' linked calls */
	double etcd_kvs;         /* weighted key-values etcd returned to them */
	double latency_sum_s;    /* weighted sum of latencies, seconds */
	double le[AGG_NLE + 1];  /* weighted counts per bucket (not cumulative); [AGG_NLE] is > last bound */
};

struct agg_params {
	uint64_t step_ns;        /* 1e9 */
	uint32_t nsteps;         /* 60 */
	uint32_t max_keys;       /* 4096 rows per table (AGG_TOTAL has 1), plus "(other)" */
	uint32_t cells_per_step; /* 12288 distinct (row, latency bucket) pairs per step */
	uint32_t detector_window; /* 120 steps of history for the anomaly detector; 0 = no detector */
	double detector_threshold; /* 0: the stream detector's default (DC_THRESHOLD_STREAM) */
	int detector_season;      /* DC_SEASON_AUTO (default), 0 = none, or a period in steps (<= window / 2) */
	uint32_t decay_steps;    /* 5: time constant (steps) of the heavy-hitter scores that pick the rows;
				  * the error bounds grow as e^(window / decay_steps): use >= the window queried */
	uint32_t tables;         /* AGG_ALL_TABLES: the groupings counted (a bit per enum agg_table; the total
				  * always); more can be enabled later (agg_enable_tables) */
	uint32_t cause_steps;    /* 0: of the nsteps, how many of the oldest are kept only as request counts
				  * (the history of AGG_BY_KEY, AGG_BY_VERB_RESOURCE and the total: the live
				  * cause and the detector); queries cover the other nsteps - cause_steps */
};

#define AGG_TABLE_BIT(t) (1u << (t))
#define AGG_ALL_TABLES ((1u << AGG__NTABLES) - 1)

struct agg_stats {
	uint64_t records;          /* records added (not ongoing) */
	uint64_t ongoing;          /* ongoing records ignored */
	uint64_t late;             /* records whose end step had already left the window (cumulative only) */
	uint64_t evicted[AGG__NTABLES];    /* keys that lost their row to a new key (counts moved to "(other)") */
	uint64_t cell_overflow;    /* observations left out of quantiles (step cell table full) */
};

/* One row of a query, over the last k completed steps. */
struct agg_row {
	const struct agg_key *key;
	bool other;           /* the "(other)" row: keys that lost their row (and in-flight requests without one) */
	uint32_t index;       /* row index in its table (agg_table_entry) */
	double req, e4xx, e429, e5xx, bytes; /* weighted sums over the steps */
	double rate, err_pct, bytes_rate;    /* per second over the span; err_pct = (4xx+429+5xx)/req*100 */
	double etcd_bytes, etcd_kvs;         /* weighted sums: etcd response bytes, key-values returned */
	double etcd_bytes_rate, etcd_kvs_rate; /* per second over the span */
	double req_err, rate_err; /* true requests are in [req, req + req_err]: 0 unless the key got its
				   * row inside the span (requests before that may have been uncounted) */
	uint64_t since_step;  /* step the key got its row (0 for "(other)" and the total) */
	double p50_ns, p90_ns, p99_ns;       /* NaN when no latency was recorded */
	int64_t inflight;
};

struct agg;

void agg_params_default(struct agg_params *p);
/* Defaults for a view that only queries windows of `window` steps (top: --interval): keeps window + 2
 * steps (the window, the step being filled, one spare) plus AGG_CAUSE_STEPS (cause_steps: request
 * counts only, in the rows the live cause reads) for the live cause of an anomaly
 * (aggregate/live_cause.h: the steps before an event and its first ones), and decays the
 * heavy-hitter scores with a time constant of max(5, window) steps, so the error bounds hold over the
 * window. */
#define AGG_CAUSE_STEPS 20
void agg_params_for_window(struct agg_params *p, uint32_t window);
/* start_ns: wall time the aggregation starts (steps before it are not counted as time). NULL params:
 * defaults. Returns NULL on bad params or OOM. */
struct agg *agg_new(const struct agg_params *p, uint64_t start_ns);
void agg_free(struct agg *a);
const struct agg_params *agg_get_params(const struct agg *a);

/* Count the groupings of mask (bits of enum agg_table) too, from now_ns (wall) on: a grouping counts
 * the records that end from the time it was enabled, and its queries' span starts there (like the
 * aggregation's start). Groupings are never disabled. A view counts only what it can show: `top`
 * enables the grouping the user switches to when they switch. */
void agg_enable_tables(struct agg *a, uint32_t mask, uint64_t now_ns);
bool agg_table_enabled(const struct agg *a, enum agg_table t);

/* Build the full key of a record (verb falls back to the lowercase method, resource to the path). */
void agg_key_from_record(const struct request_record *r, struct agg_key_text *k);

/* Count a finished record. Records with ongoing set are ignored (counted in stats). */
void agg_add(struct agg *a, const struct request_record *r);
/* agg_add that also writes, when rows is not NULL, the row index (as agg_row.index) the record was
 * counted in for every table: rows[AGG__NTABLES], UINT32_MAX for a table that did not count it (not
 * enabled, or enabled after the record ended). Returns false (rows untouched) for ongoing records. */
bool agg_add_rows(struct agg *a, const struct request_record *r, uint32_t *rows);
/* In-flight snapshot: clear every row's count, then add each pending request (delta +1) to its rows.
 * A key without a row gets a free one, or the row of an idle key (decayed weight < 0.01 request), but
 * never evicts a key with recent requests: then the request counts in "(other)". Counts never go
 * below 0. */
void agg_inflight_clear(struct agg *a);
void agg_inflight(struct agg *a, const struct request_record *r, int delta);
/* Called when entry `row` of table `table` gets a new key (its old counts went to "(other)", index 0):
 * whoever keeps data by row index (etcd_agg's linked calls) must move it too. */
typedef void (*agg_evict_fn)(void *ctx, uint32_t table, uint32_t row);
void agg_set_evict_hook(struct agg *a, agg_evict_fn fn, void *ctx);
/* Move the clock to now_ns (wall): steps up to now's step exist; older ones leave the window. */
void agg_advance(struct agg *a, uint64_t now_ns);
/* Step number of a wall time, and the current (newest) step. */
uint64_t agg_step_of(const struct agg *a, uint64_t ns);
uint64_t agg_current_step(const struct agg *a);

/*
 * Rows of table t over the last k completed steps (k clamped to [1, nsteps - cause_steps]; the current step is
 * excluded). Rows with no request, no in-flight request in the span are left out. Sorted by `sort`
 * (descending, ties by key), at most max_rows written to rows[]; returns the number of rows that had
 * data (may exceed max_rows). *span_s (optional): the seconds the rates are divided by (less than
 * k steps right after start). Pointers in rows stay valid until agg_free.
 */
size_t agg_query(struct agg *a, enum agg_table t, uint32_t k, enum agg_sort sort, struct agg_row *rows,
		 size_t max_rows, double *span_s);

/* Requests in the last k completed steps above which a key of table t certainly has a row (0 while
 * the table has free rows): keys not shown had at most this many. */
double agg_untracked_bound(const struct agg *a, enum agg_table t, uint32_t k);

/* Per-step total request count (weighted) of step s, 0 when outside the window. */
double agg_step_requests(const struct agg *a, uint64_t step);

/* Feed every completed step not yet fed to the anomaly detector (request rate per second).
 * Call from the refresh loop (not per event: the detector allocates). Returns the number fed; *out
 * gets the newest result (flag 0 / warm false when nothing was fed yet or there is no detector). */
int agg_update_anomaly(struct agg *a, struct online_result *out, uint64_t *out_step);

/* The step where the alerted event of the newest detector result began, UINT64_MAX when no event is
 * going on (or no detector). */
uint64_t agg_anomaly_event_step(const struct agg *a);
/* Rows of a table for export (cumulative totals): count (including "(other)", index 0), and row i's
 * key, totals since the key got the row, and in-flight. At most max_keys + 1 per table. */
size_t agg_table_size(const struct agg *a, enum agg_table t);
const struct agg_key *agg_table_entry(const struct agg *a, enum agg_table t, size_t i, const struct agg_cum **cum,
				      int64_t *inflight, bool *other);

const struct agg_stats *agg_get_stats(const struct agg *a);
/* Weighted requests of entry i of table t (as agg_table_entry) over steps [first, end) that are still
 * in the window (older steps count 0). */
double agg_entry_requests(const struct agg *a, enum agg_table t, size_t i, uint64_t first, uint64_t end);
/* Oldest step still kept (and not before the aggregation started). */
uint64_t agg_oldest_step(const struct agg *a);

/* Status code -> class. */
enum agg_class agg_status_class(int32_t status);
const char *agg_class_name(enum agg_class c);
const char *agg_table_name(enum agg_table t);
const char *agg_sort_name(enum agg_sort s);

#endif
