// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "analysis/online.h"

#include <math.h>
#include <string.h>

int online_init(struct online_detector *d, size_t window, const struct dc_params *params)
{
	struct sd_params sp;

	memset(d, 0, sizeof(*d));
	if (window == 0)
		window = 2048;
	if (window < 16)
		return -1;
	sd_params_default(&sp);
	sp.history = window;
	sp.poisson = true;
	if (sp.scale_window > window)
		sp.scale_window = window;
	if (params) {
		sp.threshold = dc_threshold(params);
		sp.season = params->season == DC_SEASON_AUTO ? SD_SEASON_AUTO : params->season;
		sp.max_period = params->max_period;
		sp.poisson = params->counts;
	}
	d->params = sp;
	d->sd = sd_new(&sp);
	return d->sd ? 0 : -1;
}

void online_free(struct online_detector *d)
{
	sd_free(d->sd);
	memset(d, 0, sizeof(*d));
}

int online_feed(struct online_detector *d, double value, struct online_result *out)
{
	struct sd_verdict v;

	memset(out, 0, sizeof(*out));
	sd_feed(d->sd, value, &v);
	if (v.flag) {
		d->event_start = v.event_start;
		d->event_alerted = true;
	} else if (v.recurring) {
		d->event_alerted = false;
	}
	d->fed++;
	out->baseline = v.forecast;
	out->score = v.score;
	out->flag = v.flag;
	out->warm = v.warm;
	out->period = v.period;
	if (v.event && d->event_alerted) {
		out->event = v.event;
		out->event_start = d->event_start;
	}
	/* an episode: the alerted event's level was re-learnt; it goes on (for the live view) until the
	 * series returns to the level before it or the detector forgets that level */
	if (v.relearnt && d->event_alerted && v.event) {
		d->episode = v.event;
		d->episode_until = d->fed + sd_episode_memory(&d->params);
	}
	if (d->episode && (v.returned || d->fed > d->episode_until || v.flag))
		d->episode = 0;
	if (d->episode && !v.relearnt) {
		out->event = d->episode;
		out->event_start = d->event_start;
		out->baseline = v.prior;
	}
	return 0;
}
