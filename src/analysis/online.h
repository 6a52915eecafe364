/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The live form of the anomaly detector, for `kapimon top` (and the agent): feed one value per step,
 * get that step's verdict. A thin holder of the streaming detector (analysis/stream.h), so live views
 * and the offline commands (`anomalies`, `analyze`, whose default method is the same detector) judge
 * a series the same way. Cost per step O(1) amortised; memory O(window).
 */
#ifndef KAPIMON_ANALYSIS_ONLINE_H
#define KAPIMON_ANALYSIS_ONLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analysis/decompose.h"
#include "analysis/stream.h"

struct online_detector {
	struct sd_detector *sd;
	struct sd_params params;
	uint64_t fed;
	uint64_t event_start; /* step index (0-based count of values fed) where the current event began */
	bool event_alerted;   /* the current event was alerted (not a recurring one) */
	int episode;          /* sign of an alerted event whose new level was re-learnt, until it returns */
	uint64_t episode_until;
};

struct online_result {
	double baseline;  /* the forecast the step was judged against; during an episode (an alerted event
			   * whose level the detector re-learnt, a flood that goes on) the level before it */
	double score;     /* signed, -log10(tail probability) units (analysis/stream.h) */
	int flag;         /* +1/-1 at the step an event is first detected, else 0 */
	int event;        /* +1/-1 while the step belongs to an alerted event or its episode, else 0 */
	uint64_t event_start; /* the step index where that event began (valid when event != 0) */
	bool warm;        /* enough history to judge */
	int period;       /* period in use */
};

/* window: history kept for period detection, in steps (>= 16; 0 means 2048). params NULL: defaults
 * (season auto, threshold DC_THRESHOLD_STREAM) for a series of counts (live request counts); else
 * params' season, max_period, threshold and counts.
 * Returns 0 or -1 (OOM / bad window). */
int online_init(struct online_detector *d, size_t window, const struct dc_params *params);
void online_free(struct online_detector *d);
/* Feed the value of the next step (NaN = missing: never flagged). Returns 0. */
int online_feed(struct online_detector *d, double value, struct online_result *out);

#endif
