/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Online form of the offline detector (analysis/decompose.h), for live views such as `kapimon top`:
 * feed one value per step, get the baseline, score and flag of that step. It keeps the last `window`
 * values and runs the same decomposition + Tukey fence on them, reporting the newest point, so flags
 * agree with the offline detector over a window of the same length. The period is re-detected every
 * window/4 steps when season is auto. Cost per step: O(window log window); memory: O(window).
 */
#ifndef KAPIMON_ANALYSIS_ONLINE_H
#define KAPIMON_ANALYSIS_ONLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analysis/decompose.h"

struct online_detector {
	struct dc_params params;
	size_t window, min_points;
	double *ring, *lin;
	size_t len, head;
	uint64_t fed;
	int period;             /* cached period (auto mode) */
	uint64_t next_detect;
};

struct online_result {
	double baseline;
	double score;
	int flag;   /* +1 high, -1 low, 0 normal (always 0 until warm) */
	bool warm;  /* enough history (min_points) to judge */
	int period; /* period in use */
};

/* window: history length in steps (>= 8; 0 means 240). params NULL: defaults (auto season, avg trend,
 * threshold 1.5). Returns 0 or -1 (OOM / bad window). */
int online_init(struct online_detector *d, size_t window, const struct dc_params *params);
void online_free(struct online_detector *d);
/* Feed the value of the next step (NaN = missing: never flagged). Returns 0 or -1 (OOM). */
int online_feed(struct online_detector *d, double value, struct online_result *out);

#endif
