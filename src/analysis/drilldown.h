/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Multi-dimensional root-cause localisation ("drill-down") on a leaf table: one row per combination of
 * dimension values with a real and a forecast (predict) value. Finds the few attribute combinations
 * (elements) whose deviation explains the total one. Method (docs/analysis.md):
 *   1. each leaf gets a deviation score ds = 2(v-f)/(v+f); leaves beyond a noise threshold estimated
 *      robustly from the data (weighted MAD, the cleaner of both sides) are abnormal, with a sign;
 *   2. greedy search over all cuboids up to max_depth: element score = R * P^3 where R is the share of
 *      the remaining abnormal deviation the element holds (recall, in deviation units) and P the share
 *      of its mass that is abnormal in the same direction (purity: the ripple effect says every
 *      descendant of a true root cause deviates the same way); ties go to the shallower element;
 *   3. the best element is reported, its leaves leave the search, repeat until the remaining abnormal
 *      deviation is noise.
 * Leaves with real = predict = 0 are no evidence either way (most combinations of a wide table are
 * empty). For counts, leaves beyond the threshold but individually insignificant ("thin": one request
 * each from thousands of clients) count for an element whose net deviation is significant, so a
 * flood spread thinly is attributed to what its leaves share. dd_summary.unexplained tells how much
 * significant deviation no cause covers (a cause deeper than max_depth, say).
 */
#ifndef KAPIMON_ANALYSIS_DRILLDOWN_H
#define KAPIMON_ANALYSIS_DRILLDOWN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analysis/strmap.h"

#define DD_MAX_DIMS 32

struct dd_table {
	size_t ndims;
	char **dim_names;
	struct strmap *vals; /* per dimension: value string <-> code */
	struct strmap leafkeys;
	size_t n, cap;
	uint32_t *codes;     /* n * ndims */
	double *real, *pred;
	size_t merged;       /* rows that repeated an existing combination (summed) */
};

int dd_table_init(struct dd_table *t, size_t ndims, char *const *names);
void dd_table_free(struct dd_table *t);
/* Add (or sum into) the leaf with these dimension values. Returns the leaf index or -1 (OOM). */
long dd_table_add(struct dd_table *t, const char *const *vals, const size_t *lens, double real, double pred);

struct dd_params {
	int max_depth;        /* 0: all dimensions when <= 5, else 3 */
	int max_causes;       /* 5 */
	double min_ep;        /* minimum share of the abnormal deviation a cause must hold (1e-4) */
	double dev_threshold; /* |ds| above which a leaf is abnormal; <= 0: estimated */
	bool counts;          /* values are event counts: also require a Poisson-significant deviation */
};

struct dd_cause {
	int depth;
	int dims[DD_MAX_DIMS];       /* dimension indices, ascending */
	uint32_t codes[DD_MAX_DIMS]; /* value codes for those dimensions */
	double real, pred;           /* sums over the element's leaves */
	size_t support;              /* leaves in the element */
	double relative_ratio;       /* (real - pred) / max(|real|, |pred|) */
	double relative_unexpected_difference; /* (real - pred) / sum |v - f| over abnormal leaves */
	double score;                /* R * P^3 at selection */
	int direction;               /* +1 rise, -1 drop */
};

struct dd_summary {
	double real, pred;     /* totals */
	double threshold;      /* |ds| threshold used */
	size_t abnormal;       /* abnormal leaves (significant on their own) */
	size_t thin;           /* counts: leaves beyond the threshold but each too small to be significant */
	double abnormal_dev;   /* sum |v - f| over abnormal leaves */
	double unexplained;    /* share of abnormal_dev in no cause (0..1) */
	int max_depth;         /* the depth searched */
};

void dd_params_default(struct dd_params *p);
/* Returns the number of causes (most likely first, *out malloc'ed) or -1 on OOM. */
long dd_run(const struct dd_table *t, const struct dd_params *p, struct dd_cause **out, struct dd_summary *sum);
/* Value string of dimension d's code. */
const char *dd_value(const struct dd_table *t, int dim, uint32_t code);

#endif
