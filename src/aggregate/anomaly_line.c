// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "aggregate/anomaly_line.h"

#include <math.h>
#include <stdio.h>

static const char *const state_names[] = { "learning", "none", "high", "low" };

const char *anomaly_state_name(enum al_state s)
{
	return s <= AL_LOW ? state_names[s] : "?";
}

void anomaly_view(const struct online_result *r, double rate, struct anomaly_view *v)
{
	double base = r->baseline, diff, noise;
	int dir;

	v->rate = rate;
	v->baseline = NAN;
	v->score = 0;
	v->clamped = false;
	v->flag = 0;
	if (!r->warm || !isfinite(base)) {
		v->state = AL_LEARNING;
		return;
	}
	if (base < 0)
		base = 0; /* a rate is never negative; a fitted baseline may be */
	v->baseline = base;
	v->state = AL_NONE;
	if (!isnan(r->score)) {
		v->clamped = fabs(r->score) > AL_SCORE_MAX; /* an infinite score is clamped too */
		v->score = v->clamped ? copysign(AL_SCORE_MAX, r->score) : r->score;
	}
	/* the detector flags the step an event starts and marks the steps of the event: a view refreshed
	 * every interval shows the event */
	dir = r->event ? r->event : r->flag;
	if (!dir || !isfinite(rate) || isnan(r->score))
		return;
	diff = rate - base;
	noise = AL_NOISE_Z * sqrt(base);
	if (noise < AL_MIN_DIFF)
		noise = AL_MIN_DIFF;
	if (fabs(diff) <= noise || (dir > 0) != (diff > 0))
		return;
	if (dir < 0 && base < AL_MIN_LOW_BASE)
		return;
	v->flag = dir > 0 ? 1 : -1;
	v->state = v->flag > 0 ? AL_HIGH : AL_LOW;
}

static void fmt_num(char *b, size_t cap, double v)
{
	snprintf(b, cap, v < 10 ? "%.1f" : "%.0f", v);
}

void anomaly_format(const struct anomaly_view *v, char *buf, size_t cap)
{
	char r[32], b[32], s[32];

	if (v->state == AL_LEARNING) {
		snprintf(buf, cap, "anomaly: learning the baseline");
		return;
	}
	fmt_num(b, sizeof(b), v->baseline);
	if (v->state == AL_NONE) {
		snprintf(buf, cap, "anomaly: none (baseline %s/s)", b);
		return;
	}
	fmt_num(r, sizeof(r), v->rate);
	if (v->clamped)
		snprintf(s, sizeof(s), "%s%.0f", v->score > 0 ? ">" : "<", v->score);
	else
		snprintf(s, sizeof(s), "%.1f", v->score);
	snprintf(buf, cap, "anomaly: %s rate %s/s, baseline %s/s (score %s)", v->state == AL_HIGH ? "HIGH" : "LOW", r,
		 b, s);
}
