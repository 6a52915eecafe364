/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Anomaly detection on one series: dc_run() with method stream (default) runs analysis/stream.h over
 * the points in order; with method offline, the decomposition below.
 *
 * Offline anomaly detection on one series (the method of ADX's series_decompose_anomalies, made robust):
 *   x = trend + seasonal + residual
 *   trend:    avg (median of the series), linefit (least squares, refitted once without outliers) or none
 *   seasonal: period auto-detected from the autocorrelation of the detrended, winsorised series (first
 *             prominent peak within 85% of the highest), kept when it holds out of sample in 80% of the
 *             whole cycles (dc_season_cycles: three floods in five cycles are not a season), component =
 *             per-phase median of the detrended series
 *   score:    Tukey fence on the residuals with the pct_lo/pct_hi percentiles (10/90 by default):
 *             (r - P_hi)/(P_hi - P_lo) above, (r - P_lo)/(P_hi - P_lo) below, 0 in between
 *   flag:     +1 when score > threshold, -1 when score < -threshold.
 * Missing values are NaN on input: they are interpolated for the decomposition and never flagged.
 */
#ifndef KAPIMON_ANALYSIS_DECOMPOSE_H
#define KAPIMON_ANALYSIS_DECOMPOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dc_trend { DC_TREND_AVG, DC_TREND_LINEFIT, DC_TREND_NONE };

/* stream (default): analysis/stream.h, each point judged on earlier points only, one flag per event;
 * offline: the whole-series decomposition below, for retrospective analysis of a finished series. */
enum dc_method { DC_METHOD_STREAM, DC_METHOD_OFFLINE };

#define DC_THRESHOLD_STREAM 4.0  /* -log10 of the tail probability */
#define DC_THRESHOLD_OFFLINE 1.5 /* Tukey fence widths */

#define DC_SEASON_AUTO (-1)
#define DC_MIN_SEASONAL_STRENGTH 0.3 /* out-of-sample seasonal strength for a cycle to hold a period */
#define DC_SEASON_HELD 0.8           /* offline: share of the whole cycles in which a period must hold */

struct dc_params {
	enum dc_method method;
	bool counts;         /* stream: values are counts (Poisson scale floor) */
	int season;          /* DC_SEASON_AUTO, 0 (no seasonality) or a period in points */
	enum dc_trend trend;
	double threshold;    /* 0: the method's default (DC_THRESHOLD_*) */
	double pct_lo, pct_hi; /* 10, 90 */
	int max_period;      /* upper bound for auto detection (0: min(n/2, 2000)) */
};

struct dc_result {
	size_t n;
	int period;          /* 0 when no seasonality was used */
	double *baseline;    /* trend + seasonal */
	double *resid;       /* x - baseline (NaN where x is missing) */
	double *score;
	int8_t *flag;        /* offline: every anomalous point; stream: the point an event was detected */
	int8_t *event;       /* the extent of alerted events (offline: = flag) */
	double fence_lo, fence_hi, width; /* residual percentiles and the scale used */
	/* Robust second opinion (50% breakdown): the percentile fences fail once anomalies fill more
	 * than (100 - pct_hi)% of the window (a flood lasting a fifth of a recording); a residual
	 * more than DC_ROBUST_Z robust standard deviations (1.4826 x MAD) from the median residual is
	 * scored as anomalous too. rob_scale 0: unusable (constant residuals). */
	double rob_center, rob_scale, threshold;
	size_t nmissing;
};

void dc_params_default(struct dc_params *p);
/* Threshold in effect for p (its own, or the method's default). */
double dc_threshold(const struct dc_params *p);
/* 0 on success; -1 when there is no finite value or memory ran out. */
int dc_run(const double *x, size_t n, const struct dc_params *p, struct dc_result *r);
void dc_result_free(struct dc_result *r);
#define DC_ROBUST_Z 6.0
/* Score a residual against the fences of a finished run (the larger of the Tukey score and the
 * robust one, which exceeds the threshold exactly when |z| > DC_ROBUST_Z). */
double dc_score(const struct dc_result *r, double resid);

/* Dominant period of x (no NaN) in points, or 0 when none is clear. */
int dc_detect_period(const double *x, size_t n, int max_period);

/* Seasonal profile of the detrended series dt for period P: per phase, the median of dt[i] for i in
 * [lo, hi) outside [x0, x1) (finite values only; 0 for a phase with none), made zero-mean; phase of
 * index i = (first + i) % P. prof holds P values; tmp n = hi - lo. */
void dc_season_profile(const double *dt, size_t lo, size_t hi, size_t x0, size_t x1, uint64_t first, size_t P,
		       double *tmp, double *prof);
/* Out-of-sample test of period P on the detrended series dt[lo, hi): for each of the last max_cycles
 * whole cycles (counted back from hi), the profile fitted on the rest of [lo, hi) must explain at least
 * min_strength of the cycle's variance (seasonal strength 1 - var(remainder)/var(dt), Wang, Smith &
 * Hyndman 2006). Returns the cycles evaluated, *held those in which the period held. A few equally
 * spaced bursts hold in their own cycles only. Scratch: tmp (hi - lo values), prof (P). */
size_t dc_season_cycles(const double *dt, size_t lo, size_t hi, uint64_t first, size_t P, size_t max_cycles,
			double min_strength, double *tmp, double *prof, size_t *held);

/* Percentile p (0..100) of v[0..n) by linear interpolation; sorts v in place. NaN when n == 0. */
double dc_percentile_sorted(double *v, size_t n, double p);

struct dc_interval {
	size_t start, end; /* inclusive point indices */
	double score;      /* the most extreme score inside, signed */
};
/* Runs of equal non-zero flags; runs of the same sign separated by at most max_gap unflagged points are
 * merged. Returns the number of intervals (*out malloc'ed, NULL when none) or -1 on OOM. */
long dc_intervals(const int8_t *flag, const double *score, size_t n, size_t max_gap, struct dc_interval **out);

#endif
