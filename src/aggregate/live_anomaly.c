// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "aggregate/live_anomaly.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int live_anomaly_params(struct agg_params *ap, const struct dc_params *dp)
{
	if (dp->season > LA_MAX_SEASON)
		return -1;
	ap->detector_threshold = dp->threshold;
	ap->detector_season = dp->season;
	if (dp->season > 0 && ap->detector_window && ap->detector_window < 4 * (uint32_t)dp->season)
		ap->detector_window = 4 * (uint32_t)dp->season;
	return 0;
}

void live_anomaly_init(struct live_anomaly *la, struct agg *a)
{
	memset(la, 0, sizeof(*la));
	la->agg = a;
	la->view.state = AL_LEARNING;
	la->view.rate = la->view.baseline = NAN;
}

static double clamp_score(double s)
{
	if (isnan(s))
		return 0;
	return fabs(s) > AL_SCORE_MAX ? copysign(AL_SCORE_MAX, s) : s;
}

/* a record of the followed event, with the numbers of its latest drill-down (or of the newest step) */
static void fill(const struct live_anomaly *la, enum la_phase ph, uint64_t now_wall, struct anomaly_record *r)
{
	uint64_t step_ns = agg_get_params(la->agg)->step_ns;
	const struct live_cause *c = &la->ev_cause;

	memset(r, 0, sizeof(*r));
	r->phase = ph;
	r->metric = LA_METRIC;
	r->seq = la->seq;
	r->ts_ns = now_wall;
	r->start_ns = la->since_step * step_ns;
	r->end_ns = ph == LA_END ? (la->last_step + 1) * step_ns : 0;
	r->direction = la->direction;
	r->score = la->peak_score;
	if (c->since_step == la->since_step && c->seconds > 0) {
		r->cause = *c;
		r->observed = c->real / c->seconds;
		r->expected = c->expected / c->seconds;
	} else { /* no drill-down of this event (yet): the newest step and the baseline */
		r->cause.since_step = la->since_step;
		r->cause.direction = la->direction;
		r->cause.seconds = 1;
		r->observed = r->cause.real = isfinite(la->view.rate) ? la->view.rate : 0;
		r->expected = r->cause.expected = isfinite(la->view.baseline) ? la->view.baseline : 0;
	}
}

size_t live_anomaly_update(struct live_anomaly *la, uint64_t now_wall, struct anomaly_record *out)
{
	uint64_t step, es, step_ns = agg_get_params(la->agg)->step_ns;
	size_t n = 0;
	bool on, started;

	agg_update_anomaly(la->agg, &la->res, &step);
	anomaly_view(&la->res, agg_step_requests(la->agg, step) * 1e9 / (double)step_ns, &la->view);
	/* the cause of an alerted event, over its steps so far (kept when its start leaves the window) */
	es = agg_anomaly_event_step(la->agg);
	on = es != UINT64_MAX && la->res.warm;
	if (!on) {
		la->cause_on = false;
	} else {
		struct live_cause c;

		if (live_cause_compute(la->agg, es, la->res.baseline, &c) == 0) {
			la->cause = c;
			la->cause_on = true;
		} else if (la->cause.since_step != es) {
			la->cause_on = false; /* nothing computed for this event yet */
		}
	}
	/* the event: it ends when the detector's event is over or another one began */
	if (la->active && (!on || es != la->since_step)) {
		fill(la, LA_END, now_wall, &out[n++]);
		la->active = false;
	}
	if (!on)
		return n;
	started = !la->active;
	if (started) {
		la->active = true;
		la->seq++;
		la->events_total++;
		la->since_step = es;
		la->direction = la->res.event > 0 ? 1 : -1;
		la->peak_score = clamp_score(la->res.score);
		la->reported[0] = '\0';
		memset(&la->ev_cause, 0, sizeof(la->ev_cause));
		la->ev_cause.since_step = UINT64_MAX;
	} else if ((la->res.score > 0) == (la->direction > 0) &&
		   fabs(clamp_score(la->res.score)) > fabs(la->peak_score)) {
		la->peak_score = clamp_score(la->res.score);
	}
	la->last_step = step;
	/* the event's drill-down: the latest one that found a cause (the latest, while none did) */
	if (la->cause_on && la->cause.since_step == es &&
	    (la->cause.valid || !la->ev_cause.valid || la->ev_cause.since_step != es))
		la->ev_cause = la->cause;
	if (started) {
		fill(la, LA_START, now_wall, &out[n++]);
	} else if (la->ev_cause.since_step == es && la->ev_cause.valid && strcmp(la->ev_cause.attrs, la->reported)) {
		fill(la, LA_CAUSE, now_wall, &out[n++]); /* found, or another one */
	}
	if (la->ev_cause.since_step == es && la->ev_cause.valid)
		snprintf(la->reported, sizeof(la->reported), "%s", la->ev_cause.attrs);
	return n;
}

/* ---- the sink form ---- */

struct live_anomaly *live_anomaly_sink_new(const struct agg_params *p, uint64_t start_wall)
{
	struct live_anomaly *la;
	struct agg *a;

	if (!p || !p->detector_window)
		return NULL;
	a = agg_new(p, start_wall);
	if (!a)
		return NULL;
	la = malloc(sizeof(*la));
	if (!la) {
		agg_free(a);
		return NULL;
	}
	live_anomaly_init(la, a);
	la->own = true;
	agg_sink_init(&la->sink, a, NULL);
	return la;
}

void live_anomaly_sink_free(struct live_anomaly *la)
{
	if (!la)
		return;
	if (la->own)
		agg_free(la->agg);
	free(la);
}

struct pipeline_sink live_anomaly_sink_iface(struct live_anomaly *la)
{
	struct pipeline_sink s = agg_sink_iface(&la->sink);

	s.name = "anomaly";
	return s;
}

size_t live_anomaly_sink_refresh(struct live_anomaly *la, uint64_t now_wall, struct anomaly_record *out)
{
	agg_advance(la->agg, now_wall);
	return live_anomaly_update(la, now_wall, out);
}

const char *anomaly_phase_name(enum la_phase p)
{
	static const char *const names[] = { "start", "cause", "end" };

	return (unsigned)p < sizeof(names) / sizeof(names[0]) ? names[p] : "?";
}

void anomaly_record_format(const struct anomaly_record *r, char *buf, size_t cap)
{
	live_cause_format_span(&r->cause, r->start_ns, r->phase == LA_END ? r->end_ns : 0, buf, cap);
}
