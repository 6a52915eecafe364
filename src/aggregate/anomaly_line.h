/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The anomaly mark of `kapimon top` (header line 4 and the JSON "anomaly" object), formed from the
 * online detector's newest result (analysis/online.h) and the request rate of that step, guarded so
 * that it never shows a meaningless number:
 *   - "learning": the detector has no baseline yet (not warm, or the baseline is not a number);
 *   - the direction is the detector's event (every step of an alerted event), else its flag;
 *   - a flag is kept only when the step's rate differs from the baseline by more than counting noise,
 *     max(AL_MIN_DIFF, AL_NOISE_Z * sqrt(baseline)) requests per second (Poisson counts of a 1 s step),
 *     and a LOW flag also needs a baseline of at least AL_MIN_LOW_BASE/s (below that "low" means "quiet");
 *   - the score is reported clamped to [-AL_SCORE_MAX, AL_SCORE_MAX] (-log10 of a tail probability:
 *     it is infinite when the probability underflows, and huge scores say no more than the rate and
 *     the baseline do); a NaN score never flags.
 * Pure: no clock, no allocation.
 */
#ifndef KAPIMON_ANOMALY_LINE_H
#define KAPIMON_ANOMALY_LINE_H

#include <stdbool.h>
#include <stddef.h>

#include "analysis/online.h"

#define AL_MIN_DIFF 2.0
#define AL_NOISE_Z 4.0
#define AL_MIN_LOW_BASE 5.0
#define AL_SCORE_MAX 99.0

enum al_state { AL_LEARNING = 0, AL_NONE, AL_HIGH, AL_LOW };

struct anomaly_view {
	enum al_state state;
	int flag;         /* +1 / -1 / 0 after the guards */
	double rate;      /* the step's request rate (NaN when unknown) */
	double baseline;  /* NaN while learning */
	double score;     /* clamped; 0 while learning or when not finite */
	bool clamped;     /* |raw score| was larger than AL_SCORE_MAX */
};

/* rate: requests per second of the step the result is for (NaN when unknown). */
void anomaly_view(const struct online_result *r, double rate, struct anomaly_view *v);
/* "anomaly: learning the baseline" / "anomaly: none (baseline 12/s)" /
 * "anomaly: HIGH rate 480/s, baseline 12/s (score 35.2)" ("score >99" when clamped). */
void anomaly_format(const struct anomaly_view *v, char *buf, size_t cap);
const char *anomaly_state_name(enum al_state s);

#endif
