// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "analysis/online.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int online_init(struct online_detector *d, size_t window, const struct dc_params *params)
{
	memset(d, 0, sizeof(*d));
	if (window == 0)
		window = 240;
	if (window < 8)
		return -1;
	if (params)
		d->params = *params;
	else
		dc_params_default(&d->params);
	d->window = window;
	d->min_points = window < 20 ? window : 20;
	d->ring = malloc(window * sizeof(double));
	d->lin = malloc(window * sizeof(double));
	if (!d->ring || !d->lin) {
		online_free(d);
		return -1;
	}
	return 0;
}

void online_free(struct online_detector *d)
{
	free(d->ring);
	free(d->lin);
	memset(d, 0, sizeof(*d));
}

int online_feed(struct online_detector *d, double value, struct online_result *out)
{
	struct dc_params p = d->params;
	struct dc_result r;
	size_t n;

	memset(out, 0, sizeof(*out));
	d->ring[d->head] = value;
	d->head = (d->head + 1) % d->window;
	if (d->len < d->window)
		d->len++;
	d->fed++;
	n = d->len;
	for (size_t i = 0; i < n; i++)
		d->lin[i] = d->ring[(d->head + d->window - n + i) % d->window];
	out->baseline = isfinite(value) ? value : NAN;
	if (n < d->min_points)
		return 0;
	if (p.season == DC_SEASON_AUTO) {
		if (d->fed >= d->next_detect) {
			/* detect on the history without the newest point */
			d->period = dc_detect_period(d->lin, n, p.max_period);
			d->next_detect = d->fed + (d->window / 4 ? d->window / 4 : 1);
		}
		p.season = d->period;
	}
	if (dc_run(d->lin, n, &p, &r) < 0) {
		/* only when every value in the window is missing */
		return 0;
	}
	out->warm = true;
	out->baseline = r.baseline[n - 1];
	out->score = r.score[n - 1];
	out->flag = r.flag[n - 1];
	out->period = r.period;
	dc_result_free(&r);
	return 0;
}
