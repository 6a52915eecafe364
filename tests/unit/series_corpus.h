/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kapimon's own anomaly-detection corpus: realistic synthetic series with labelled event windows,
 * generated from fixed seeds (no public benchmark data). Families:
 *   season_gauss    daily season + Gaussian noise; spikes, dips, short bursts
 *   heavy_tail      Student-t(3) noise (heavy tails); large spikes
 *   two_level       a quantised metric alternating between two values (Markov); excursions to a third
 *   weekly          hourly steps, daily x weekly pattern, noise proportional to the level; drops
 *   random_walk     drifting level (random walk) + noise; spikes
 *   level_shift     noise + persistent level shifts up and down
 *   trend_change    a slope that changes; the change is the event
 *   bursty_counts   Poisson counts with repeated normal bursts (unlabelled); floods are the events
 *   missing         season_gauss with missing stretches (NaN)
 *   apiserver       requests/s like an apiserver's: kubelet/controller periodic load, Poisson noise,
 *                   a flood and a lease storm (events)
 *   recorded        requests/s recorded by kapimon on the testbed during test_anomaly_cause.sh (a one-agent
 *                   flood, a thin flood, a lease storm): seed 1 tests/unit/data/recorded-apiserver.csv,
 *                   seed 2 recorded-spaced-floods.csv (the three bursts 19-20 s apart: not a season)
 * Scoring (like the public streaming benchmarks, not tuned to them): an event window is detected when
 * the first flag inside it comes no later than its end; every flag outside all windows is a false alarm.
 */
#ifndef KAPIMON_TEST_SERIES_CORPUS_H
#define KAPIMON_TEST_SERIES_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#define SC_MAX_EVENTS 16
/* the recorded family: one series per file, seed k = file k (1-based) */
#define SC_RECORDED_FILES 2
extern const char *const sc_recorded_csv[SC_RECORDED_FILES];

struct sc_series {
	const char *family;
	unsigned seed;
	size_t n;
	double *x;                 /* NaN = missing */
	size_t nev;
	size_t ev_start[SC_MAX_EVENTS], ev_end[SC_MAX_EVENTS]; /* label windows [start, end) */
	size_t ev_onset[SC_MAX_EVENTS];                        /* where the anomaly really begins */
	int counts;                /* values are counts */
};

/* Family names, NULL-terminated. */
extern const char *const sc_families[];
/* Generate one series of a family (0 or -1 on OOM/unknown family). */
int sc_generate(const char *family, unsigned seed, struct sc_series *s);
void sc_free(struct sc_series *s);

struct sc_score {
	size_t points, normal_points, events, detected, false_alarms;
	double delay_sum; /* steps from onset to the first flag, detected events */
};
/* Add the verdicts (flag[i] != 0 = alert at i) of one series to the score. */
void sc_score_series(const struct sc_series *s, const int8_t *flag, struct sc_score *sc);

#endif
