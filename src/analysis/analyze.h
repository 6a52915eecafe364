/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The analyze pipeline: events (timestamp, weight, dimension values) -> one sparse series per dimension
 * combination (memory: one cell per non-empty (series, step)) -> global series -> offline detector ->
 * anomalous intervals -> per interval, a leaf table (real = the leaf's sum in the interval, predict =
 * the leaf's own normal rate times the global baseline's shape) -> drill-down.
 */
#ifndef KAPIMON_ANALYSIS_ANALYZE_H
#define KAPIMON_ANALYSIS_ANALYZE_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/decompose.h"
#include "analysis/drilldown.h"
#include "analysis/strmap.h"

struct az_cells {
	int64_t *bucket;
	double *val;
	uint32_t n, cap;
	bool unsorted;
};

struct analyzer {
	int64_t step_ns;
	size_t ndims;
	char *dim_names[DD_MAX_DIMS];
	struct strmap keys;    /* series key: values joined by 0x1f */
	struct az_cells *cells;
	size_t ncells_cap;
	int64_t min_ts, max_ts;
	size_t events;
	char *keybuf;
	size_t keycap;
};

struct az_anomaly {
	int64_t start_ns, end_ns; /* [start, end) */
	size_t start_idx, end_idx; /* global-series points, inclusive */
	double score, real, expected;
	bool drilled;              /* drill-down ran (only the max_drill strongest) */
	struct dd_cause *causes;
	long ncauses;
	struct dd_summary dd;
};

struct az_result {
	size_t npoints, nseries;
	int64_t t0_ns;             /* start of point 0 */
	double *global;            /* per-step totals (NaN: partial edge step) */
	struct dc_result dc;
	struct az_anomaly *anoms;
	size_t nanoms, ndrilled;
	struct dd_table table;     /* leaves = series (names for causes) */
	size_t partial_edges;
};

int az_init(struct analyzer *a, int64_t step_ns, size_t ndims, char *const *dims);
void az_free(struct analyzer *a);
/* Add one event. 0 or -1 (OOM). */
int az_add(struct analyzer *a, int64_t ts_ns, double w, const char *const *vals, const size_t *lens);
/* Run detection and drill-down (at most max_drill intervals, the strongest). 0, or -1 with err set. */
int az_run(struct analyzer *a, const struct dc_params *dp, const struct dd_params *ddp, size_t max_drill,
	   struct az_result *r, char *err, size_t errcap);
void az_result_free(struct az_result *r);

#endif
