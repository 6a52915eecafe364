/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Streaming anomaly detector: one value per step in, a verdict on that step out. A verdict depends
 * only on that value and earlier ones (what a live monitor can do). Method (docs/analysis.md):
 *
 *   forecast  f = level + trend + season[phase]: a robust additive Holt-Winters (damped trend),
 *             updated with residuals clipped to +-clip robust sigmas, and never with points of an
 *             anomalous event; the period is detected from past values only (autocorrelation of the
 *             history, analysis/decompose.h), adopted when it holds out of sample in each of the last
 *             four cycles (dc_season_cycles), and the seasonal profile re-initialised from history.
 *   spike     the tail probability of |r| = |x - f| under a generalised Pareto tail fitted (method of
 *             moments, shape clamped to [0, 0.5)) to the excesses of the recent |r| over their upper
 *             quantile (peaks over threshold, as SPOT); score = -log10(p), so it adapts to heavy tails.
 *   shift     two-sided CUSUM of standardised residuals (clipped); its score is log10 of Siegmund's
 *             in-control average run length for the current sum, in the same -log10(p) units.
 *   score     signed max of both; flag the point where an event starts when |score| > threshold.
 *   scale     never collapses: robust scales are floored by the series' quantum (smallest step seen
 *             between consecutive distinct values), a relative epsilon of the level, and for counts
 *             (poisson) sqrt(forecast + 1).
 *   events    one alert per event: the event goes on while points deviate the same way with
 *             |score| > threshold * exit_frac; it ends after `quiet` ordinary points. An event that
 *             lasts `relearn` points is a new level: the level is re-learnt (the median of the event's
 *             deseasonalised values), the event ends, and the old level is remembered so that a
 *             return to it later is not alerted again. An event like `recur` recent ones (same
 *             direction, no larger) is the series' rhythm: its extent is kept, no alert.
 * Finite for every finite input (differences of values near +-DBL_MAX are clamped); NaN = missing
 * (never flagged, the phase advances, nothing is learnt).
 * Memory O(history + scale_window); cost per step O(1) amortised plus a sort of scale_window values
 * every 16 steps and a period search every history/8 steps.
 */
#ifndef KAPIMON_ANALYSIS_STREAM_H
#define KAPIMON_ANALYSIS_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SD_SEASON_AUTO (-1)

struct sd_params {
	double threshold;  /* -log10 of the tail probability that starts an event (default 4) */
	int season;        /* SD_SEASON_AUTO, 0 (none) or a fixed period in steps */
	int max_period;    /* upper bound of the period search (0: history / 2) */
	size_t history;    /* values kept for period detection (default 2048) */
	size_t scale_window; /* recent residuals behind the scale and tail fit (default 512) */
	size_t warmup;     /* steps before any flag (default 30) */
	size_t relearn;    /* an event this long is a new level (default 12) */
	size_t quiet;      /* ordinary points that end an event (default 3) */
	double exit_frac;  /* an event continues while |score| > threshold * exit_frac (default 0.5) */
	double alpha, beta, gamma, phi; /* level, trend, season smoothing; trend damping */
	double cusum_k;    /* CUSUM allowance in robust sigmas (default 1.5) */
	bool poisson;      /* values are counts: scale >= sqrt(forecast + 1) */
	size_t recur;      /* an event like this many in the last `history` steps is not alerted (default
			    * 4; 0 = off) */
};

struct sd_verdict {
	double forecast; /* the baseline the point was judged against */
	double prior;    /* inside an episode whose level was re-learnt: the forecast from the level before
			  * it (else = forecast) */
	double score;    /* signed, -log10(p) units, finite */
	int flag;        /* +1/-1 at the point an event is first detected, else 0 */
	int event;       /* +1/-1 while the point belongs to an anomalous event, else 0 */
	bool warm;       /* enough history to judge */
	bool relearnt;   /* this point ended an event by re-learning the level */
	bool recurring;  /* an event started here but is like recent ones: not alerted */
	bool episode;    /* an event started here inside an episode whose level was re-learnt: not alerted */
	bool returned;   /* back to the level before a re-learnt shift: the episode ended here */
	uint64_t event_start; /* at an onset: the index where the change began (the CUSUM's change-point
			       * estimate when the shift detector fired; else this point) */
	int period;      /* period in use (0: none) */
};

struct sd_detector;

void sd_params_default(struct sd_params *p);
/* Steps for which the level before a re-learnt shift is remembered (a return to it is not an alert). */
size_t sd_episode_memory(const struct sd_params *p);
/* NULL on OOM or invalid parameters. */
struct sd_detector *sd_new(const struct sd_params *p);
void sd_free(struct sd_detector *d);
/* Judge the next value (NaN = missing) and learn from it. */
void sd_feed(struct sd_detector *d, double x, struct sd_verdict *v);
/* Index (0-based count of values fed) of the point that started the current event, or -1. */
long sd_event_start(const struct sd_detector *d);
/* Index of the last point of the current event that still deviated (its extent so far), or -1. */
long sd_event_last(const struct sd_detector *d);

#endif
