/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Connections per group — a client's IP, or an etcd endpoint the apiserver connects to — from conn
 * records (assemble/conntrack.h): opened, closed, open now, retransmitted segments, resets, bytes and
 * lifetime of closed connections. Used by `top` (the connections panel) and the agent's Prometheus
 * sink.
 *
 * Bounded: `cap` groups keep their own row, chosen by a heavy-hitter summary (aggregate/hh.h) of
 * events per group (decayed with a time constant of 1 h of record time); an evicted group's counts
 * move to its direction's "(other)" row, so sums over the rows are exact. A row's `open` is the
 * group's count after its last event (exact: only that group's events change it); the "(other)"
 * row's is the direction's total open minus the tracked rows'. Pure logic, not thread-safe.
 */
#ifndef KAPIMON_CONN_AGG_H
#define KAPIMON_CONN_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "assemble/record.h"

#define CONN_AGG_ROWS 256 /* default cap */

struct conn_agg_row {
	char group[REC_ADDR_LEN]; /* client IP / etcd "ip:port"; "(other)" for the folded row */
	enum rec_conn_dir dir;
	bool other;
	uint32_t open;            /* now */
	/* cumulative */
	uint64_t opened, closed, retrans, resets_sent, resets_received;
	uint64_t bytes_in, bytes_out; /* of closed connections whose counters were read */
	uint64_t lifetime_ns, lifetimes; /* sum and number of known lifetimes (closed, not seeded) */
	/* since the previous conn_agg_window_reset */
	uint64_t w_opened, w_closed, w_retrans, w_resets;
};

struct conn_agg;

/* cap: groups with their own row (0: CONN_AGG_ROWS). NULL on OOM or bad cap. */
struct conn_agg *conn_agg_new(uint32_t cap);
void conn_agg_free(struct conn_agg *a);
void conn_agg_add(struct conn_agg *a, const struct conn_record *r);
/* The rows with anything to show (tracked groups, then the "(other)" rows that have counts), by
 * direction (clients first) and open connections, then opened, descending. Returns the rows there are
 * (may exceed max; at most max stored). */
size_t conn_agg_rows(const struct conn_agg *a, struct conn_agg_row *out, size_t max);
/* Start a new window (w_* counters) for every row. */
void conn_agg_window_reset(struct conn_agg *a);
uint64_t conn_agg_evictions(const struct conn_agg *a);
uint32_t conn_agg_cap(const struct conn_agg *a);

#endif
