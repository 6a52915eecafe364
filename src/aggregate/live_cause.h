/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The cause of a live anomaly (`top`'s cause line): when the online detector reports an alerted event
 * (analysis/online.h), drill down over the aggregate's live rows (aggregate.h) what changed between the
 * steps before the event and its steps so far:
 *   leaves   = the (user agent, verb, resource) rows of AGG_BY_KEY, plus, for each (verb, resource)
 *              row of AGG_BY_VERB_RESOURCE, a "(other agents)" leaf with what the named agents' rows
 *              do not hold (agents without a row of their own: a flood spread over thousands of
 *              clients stays visible by what it does);
 *   real     = each leaf's requests during the event's completed steps;
 *   predict  = its request rate over the baseline steps before the event, scaled so that all leaves
 *              together expect what the detector expected (its baseline x the event's seconds);
 *   cause    = the first root cause of analysis/drilldown.h (counts), and its share of the excess.
 * Pure: no clock; reads the aggregate only.
 */
#ifndef KAPIMON_LIVE_CAUSE_H
#define KAPIMON_LIVE_CAUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregate/aggregate.h"

/* The groupings the drill-down reads (an aggregation that feeds it must count them: agg_params.tables). */
#define LIVE_CAUSE_TABLES (AGG_TABLE_BIT(AGG_BY_KEY) | AGG_TABLE_BIT(AGG_BY_VERB_RESOURCE))

#define LC_OTHER_AGENTS "(other agents)"
#define LC_BASELINE_STEPS 10

struct live_cause {
	bool valid;           /* a cause was found */
	int direction;        /* +1 rise, -1 drop of the total */
	uint64_t since_step;  /* the event's first step */
	double seconds;       /* completed event seconds judged */
	double real, expected; /* requests of all leaves during them, and what the detector expected */
	double cause_real, cause_expected;
	double share;         /* the cause's share of the excess (real - expected), 0..1 */
	char attrs[384];      /* "user_agent=X, verb=get, resource=leases" (values escaped for a terminal) */
	size_t nattrs;
	char names[3][16], values[3][REC_UA_LEN]; /* the attributes, unescaped (JSON writes them escaped) */
};

/* Compute the cause of the event that began at step `since` (completed steps [since, current)) for a
 * detector baseline of expected_rate requests per second. 0 (out->valid says whether a cause was
 * found), -1 when there are no complete steps of the event or no baseline step, or on OOM. */
int live_cause_compute(struct agg *a, uint64_t since, double expected_rate, struct live_cause *out);
/* "anomaly since 04:12:40: requests +201/s (270 vs 69 expected) -- cause: user_agent=..., verb=get,
 * resource=leases (98% of the excess)"; since_wall: the wall time (ns) of the event's first step. */
void live_cause_format(const struct live_cause *c, uint64_t since_wall_ns, char *buf, size_t cap);
/* The same for an event that ended at end_wall_ns (0: still going on, as live_cause_format):
 * "anomaly since 04:12:40 until 04:13:55 (75 s): requests ..." */
void live_cause_format_span(const struct live_cause *c, uint64_t since_wall_ns, uint64_t end_wall_ns, char *buf,
			    size_t cap);

#endif
