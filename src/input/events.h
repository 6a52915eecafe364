/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Event loaders for analysis: kapimon flow records (JSON lines from `kapimon record`), kube-apiserver
 * audit logs (audit.k8s.io/v1 Event lines) and CSV. Each usable record becomes one event
 * (timestamp, weight, dimension values) handed to a callback; everything skipped is counted by reason.
 */
#ifndef KAPIMON_INPUT_EVENTS_H
#define KAPIMON_INPUT_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define EV_MAX_DIMS 32
#define EV_VAL_LEN 1024 /* longer dimension values are truncated (counted) */

enum ev_format { EV_AUTO, EV_FLOWS, EV_AUDIT, EV_CSV };

struct ev_opts {
	enum ev_format fmt;
	size_t ndims;
	const char *dims[EV_MAX_DIMS];
	const char *time_col;  /* CSV: time column (default: time/timestamp/ts) */
	const char *value_col; /* CSV: weight column (default: 1 per row) */
	const char *kind;      /* flows: record kind to use (default "request") */
};

struct ev_stats {
	enum ev_format fmt;    /* detected format */
	size_t lines;          /* physical lines / CSV records read */
	size_t used;           /* events produced */
	size_t blank;
	size_t bad;            /* unparsable lines (JSON syntax, bad numbers) */
	size_t bad_time;       /* missing or unparsable timestamp */
	size_t other_kind;     /* flows: records of another kind */
	size_t kind_etcd, kind_stats;
	size_t stage_skipped[4]; /* audit: RequestReceived, ResponseStarted, other stage, not an Event */
	size_t missing_dim;    /* events where a dimension was absent (value "") */
	size_t truncated;      /* dimension values cut at EV_VAL_LEN */
	size_t bad_weight;     /* sample_factor / value column unusable: weight 1 (flows) or row skipped (CSV) */
	double weight;         /* total weight */
	size_t first_bad_line; /* line of the first bad line, 0 when none */
	char first_bad_msg[160];
};

typedef int (*ev_cb)(void *ctx, int64_t ts_ns, double weight, const char *const *vals, const size_t *lens);

/* Read all of f. Returns 0, or -1 with a message in err (I/O error, CSV header problems, a callback
 * failure, or no usable record at all). */
int ev_load(FILE *f, const struct ev_opts *o, ev_cb cb, void *ctx, struct ev_stats *st, char *err, size_t errcap);
const char *ev_format_name(enum ev_format f);

#endif
