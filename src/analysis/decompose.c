// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "analysis/decompose.h"
#include "analysis/stream.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void dc_params_default(struct dc_params *p)
{
	p->method = DC_METHOD_STREAM;
	p->counts = false;
	p->season = DC_SEASON_AUTO;
	p->trend = DC_TREND_AVG;
	p->threshold = 0;
	p->pct_lo = 10;
	p->pct_hi = 90;
	p->max_period = 0;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double dc_percentile_sorted(double *v, size_t n, double p)
{
	double pos, frac;
	size_t i;

	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_dbl);
	if (p <= 0)
		return v[0];
	if (p >= 100)
		return v[n - 1];
	pos = p / 100.0 * (double)(n - 1);
	i = (size_t)pos;
	frac = pos - (double)i;
	if (i + 1 >= n)
		return v[n - 1];
	return v[i] + frac * (v[i + 1] - v[i]);
}

/* least squares line through (i, y[i]) for i with w[i] (all when w == NULL) */
static void linefit(const double *y, const bool *use, size_t n, double *a, double *b)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0, m = 0;

	for (size_t i = 0; i < n; i++) {
		if (use && !use[i])
			continue;
		double x = (double)i;

		sx += x;
		sy += y[i];
		sxx += x * x;
		sxy += x * y[i];
		m++;
	}
	if (m < 2) {
		*a = m > 0 ? sy / m : 0;
		*b = 0;
		return;
	}
	double den = m * sxx - sx * sx;

	*b = den != 0 ? (m * sxy - sx * sy) / den : 0;
	*a = (sy - *b * sx) / m;
}

/* a - b of finite values, clamped to the finite range */
static double fin_diff(double a, double b)
{
	return fmax(-DBL_MAX, fmin(DBL_MAX, a - b));
}

void dc_season_profile(const double *dt, size_t lo, size_t hi, size_t x0, size_t x1, uint64_t first, size_t P,
		       double *tmp, double *prof)
{
	double mean = 0;

	for (size_t ph = 0; ph < P; ph++) {
		size_t m = 0;
		size_t i0 = lo + (size_t)((P + ph - (first + lo) % P) % P);

		for (size_t i = i0; i < hi; i += P)
			if ((i < x0 || i >= x1) && isfinite(dt[i]))
				tmp[m++] = dt[i];
		prof[ph] = m ? dc_percentile_sorted(tmp, m, 50) : 0;
		mean += prof[ph] / (double)P;
	}
	for (size_t ph = 0; ph < P; ph++)
		prof[ph] = fin_diff(prof[ph], mean);
}

/* Seasonal strength of dt over [a, a + P) with the profile prof; -INFINITY when fewer than half the
 * cycle's values are finite or the cycle has no variance. */
static double cycle_strength(const double *dt, size_t a, uint64_t first, size_t P, const double *prof)
{
	double md = 0, mr = 0, vd = 0, vr = 0;
	size_t k = 0;

	for (size_t i = a; i < a + P; i++)
		if (isfinite(dt[i])) {
			md += dt[i];
			mr += dt[i] - prof[(first + i) % P];
			k++;
		}
	if (k * 2 < P)
		return -INFINITY;
	md /= (double)k;
	mr /= (double)k;
	for (size_t i = a; i < a + P; i++)
		if (isfinite(dt[i])) {
			double r = dt[i] - prof[(first + i) % P];

			vd += (dt[i] - md) * (dt[i] - md);
			vr += (r - mr) * (r - mr);
		}
	return vd > 0 ? 1 - vr / vd : -INFINITY;
}

size_t dc_season_cycles(const double *dt, size_t lo, size_t hi, uint64_t first, size_t P, size_t max_cycles,
			double min_strength, double *tmp, double *prof, size_t *held)
{
	size_t c = 0;

	*held = 0;
	for (size_t end = hi; c < max_cycles && P > 1 && end >= lo + P; c++, end -= P) {
		dc_season_profile(dt, lo, hi, end - P, end, first, P, tmp, prof);
		if (cycle_strength(dt, end - P, first, P, prof) >= min_strength)
			(*held)++;
	}
	return c;
}

int dc_detect_period(const double *x, size_t n, int max_period)
{
	double *y, *tmp, a, b, lo, hi, var = 0, best = -1;
	double *acf;
	size_t maxlag;
	int period = 0;

	if (n < 8)
		return 0;
	maxlag = n / 2;
	if (max_period > 0 && (size_t)max_period < maxlag)
		maxlag = (size_t)max_period;
	if (max_period <= 0 && maxlag > 2000)
		maxlag = 2000;
	if (maxlag < 2)
		return 0;
	y = malloc(n * sizeof(*y));
	tmp = malloc(n * sizeof(*tmp));
	acf = calloc(maxlag + 2, sizeof(*acf));
	if (!y || !tmp || !acf)
		goto out;
	/* missing values (NaN): carry the previous value (the first finite one at the start) */
	{
		double last = NAN;

		for (size_t i = 0; i < n; i++)
			if (isfinite(x[i])) {
				last = x[i];
				break;
			}
		if (!isfinite(last))
			goto out;
		for (size_t i = 0; i < n; i++) {
			if (isfinite(x[i]))
				last = x[i];
			tmp[i] = last;
		}
	}
	linefit(tmp, NULL, n, &a, &b);
	for (size_t i = 0; i < n; i++)
		y[i] = tmp[i] - (a + b * (double)i);
	/* winsorise: spikes must not create or hide periodicity */
	memcpy(tmp, y, n * sizeof(*y));
	lo = dc_percentile_sorted(tmp, n, 2);
	hi = tmp[(size_t)(0.98 * (double)(n - 1))];
	double mean = 0;

	for (size_t i = 0; i < n; i++) {
		y[i] = y[i] < lo ? lo : y[i] > hi ? hi : y[i];
		mean += y[i];
	}
	mean /= (double)n;
	for (size_t i = 0; i < n; i++) {
		y[i] -= mean;
		var += y[i] * y[i];
	}
	if (var <= 0)
		goto out;
	for (size_t k = 1; k <= maxlag + 1 && k < n; k++) {
		double s = 0;

		for (size_t i = 0; i + k < n; i++)
			s += y[i] * y[i + k];
		/* unbiased: the biased estimate favours shorter lags (period 59 instead of 60) */
		acf[k] = (s / (double)(n - k)) / (var / (double)n);
	}
	/* prominent local maxima: higher than every earlier lag's minimum by a margin */
	double runmin = acf[1];

	for (size_t k = 2; k <= maxlag; k++) {
		if (acf[k] < runmin)
			runmin = acf[k];
		if (acf[k] > acf[k - 1] && acf[k] >= acf[k + 1] && acf[k] - runmin >= 0.3 && acf[k] > best)
			best = acf[k];
	}
	/* significance: the autocorrelation of white noise has a standard error of about 1/sqrt(n) */
	if (best < 0.25 || best < 3.0 / sqrt((double)n))
		goto out;
	runmin = acf[1];
	for (size_t k = 2; k <= maxlag; k++) {
		if (acf[k] < runmin)
			runmin = acf[k];
		if (acf[k] > acf[k - 1] && acf[k] >= acf[k + 1] && acf[k] - runmin >= 0.3 && acf[k] >= 0.85 * best) {
			period = (int)k;
			break;
		}
	}
	/* refine by +-1: the lag whose per-phase means explain most of the variance */
	if (period > 2) {
		double best_sse = INFINITY;
		int best_p = period;

		for (int q = period - 1; q <= period + 1; q++) {
			double sse = 0;

			if ((size_t)q * 2 > n)
				continue;
			for (int ph = 0; ph < q; ph++) {
				double sum = 0, sq = 0;
				size_t m = 0;

				for (size_t i = (size_t)ph; i < n; i += (size_t)q) {
					sum += y[i];
					sq += y[i] * y[i];
					m++;
				}
				if (m)
					sse += sq - sum * sum / (double)m;
			}
			/* penalise the extra phase parameters slightly */
			sse *= 1.0 + (double)q / (double)n;
			if (sse < best_sse) {
				best_sse = sse;
				best_p = q;
			}
		}
		period = best_p;
	}
	/* a period needs at least two full cycles */
	if ((size_t)period * 2 > n)
		period = 0;
out:
	free(y);
	free(tmp);
	free(acf);
	return period;
}

void dc_result_free(struct dc_result *r)
{
	free(r->baseline);
	free(r->resid);
	free(r->score);
	free(r->flag);
	free(r->event);
	memset(r, 0, sizeof(*r));
}

double dc_score(const struct dc_result *r, double resid)
{
	double t = 0, z;

	if (!isfinite(resid))
		return 0;
	if (resid > r->fence_hi)
		t = (resid - r->fence_hi) / r->width;
	else if (resid < r->fence_lo)
		t = (resid - r->fence_lo) / r->width;
	if (r->rob_scale > 0) {
		/* in the same units as the fence score: DC_ROBUST_Z robust sigmas score the default
		 * threshold, so --threshold governs this rule too */
		z = (resid - r->rob_center) / r->rob_scale * DC_THRESHOLD_OFFLINE / DC_ROBUST_Z;
		if (fabs(z) > fabs(t))
			t = z;
	}
	return t;
}

static int dc_run_offline(const double *x, size_t n, const struct dc_params *p, struct dc_result *r);

double dc_threshold(const struct dc_params *p)
{
	if (p->threshold > 0)
		return p->threshold;
	return p->method == DC_METHOD_OFFLINE ? DC_THRESHOLD_OFFLINE : DC_THRESHOLD_STREAM;
}

/* The streaming detector over the points in order: baseline = its forecast, flag = the onset of an
 * alerted event, event = the points of alerted events that deviated. */
static int dc_run_stream(const double *x, size_t n, const struct dc_params *p, struct dc_result *r)
{
	struct sd_params sp;
	struct sd_detector *d;
	struct sd_verdict v;
	double *prior = NULL;
	size_t nfin = 0, ev_from = 0, ep_from = 0;
	int ep_sign = 0;
	bool alerted = false;

	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < n; i++)
		nfin += isfinite(x[i]) != 0;
	if (!nfin)
		return -1;
	sd_params_default(&sp);
	sp.threshold = dc_threshold(p);
	sp.season = p->season == DC_SEASON_AUTO ? SD_SEASON_AUTO : p->season;
	sp.max_period = p->max_period;
	sp.poisson = p->counts;
	if (sp.season > 0 && (size_t)sp.season * 4 > sp.history)
		sp.history = (size_t)sp.season * 4;
	d = sd_new(&sp);
	r->n = n;
	r->threshold = sp.threshold;
	r->baseline = malloc(n * sizeof(double));
	r->resid = malloc(n * sizeof(double));
	r->score = malloc(n * sizeof(double));
	r->flag = calloc(n, 1);
	r->event = calloc(n, 1);
	prior = malloc(n * sizeof(double));
	if (!d || !prior || !r->baseline || !r->resid || !r->score || !r->flag || !r->event) {
		free(prior);
		sd_free(d);
		dc_result_free(r);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		sd_feed(d, x[i], &v);
		r->baseline[i] = v.forecast;
		prior[i] = v.prior;
		r->resid[i] = isfinite(x[i]) ? fin_diff(x[i], v.forecast) : NAN; /* finite */
		r->score[i] = v.score;
		r->flag[i] = (int8_t)v.flag;
		if (v.flag)
			alerted = true;
		else if (v.recurring)
			alerted = false;
		/* an episode (alerted, re-learnt, then back to the old level): its whole extent is anomalous
		 * for a retrospective view, also the points after the re-learning */
		if (v.relearnt && alerted) {
			ep_sign = v.event;
			ep_from = i;
		}
		if (ep_sign && i > ep_from + sd_episode_memory(&sp))
			ep_sign = 0; /* the detector forgot the old level: a lasting shift */
		if (ep_sign && (v.returned || i == n - 1)) {
			/* and its expected values are those of the level before it (also for an episode still
			 * going on when the series ends) */
			size_t to = v.returned ? i : n;

			for (size_t j = ep_from; j < to; j++) {
				r->baseline[j] = prior[j];
				if (isfinite(x[j])) {
					r->event[j] = (int8_t)ep_sign;
					r->resid[j] = x[j] - prior[j];
				}
			}
			ep_sign = 0;
		}
		/* an alerted event's extent: from where its change began (the CUSUM's estimate) to its
		 * last deviating point, including the ordinary points in between */
		if (v.flag)
			ev_from = v.event_start;
		if (v.event && alerted) {
			for (size_t j = ev_from; j <= i; j++)
				if (isfinite(x[j]))
					r->event[j] = (int8_t)v.event;
			ev_from = i + 1;
		}
		if (v.period)
			r->period = v.period;
		if (!isfinite(x[i]))
			r->nmissing++;
	}
	sd_free(d);
	free(prior);
	return 0;
}

int dc_run(const double *x, size_t n, const struct dc_params *p, struct dc_result *r)
{
	if (p->method == DC_METHOD_STREAM)
		return dc_run_stream(x, n, p, r);
	return dc_run_offline(x, n, p, r);
}

static int dc_run_offline(const double *x, size_t n, const struct dc_params *p, struct dc_result *r)
{
	double *f = NULL, *tmp = NULL, *trend = NULL, *seas = NULL;
	size_t nfin = 0, first = n, last = 0;
	int ret = -1;

	memset(r, 0, sizeof(*r));
	r->n = n;
	for (size_t i = 0; i < n; i++) {
		if (isfinite(x[i])) {
			nfin++;
			if (first == n)
				first = i;
			last = i;
		}
	}
	if (nfin == 0)
		return -1;
	r->nmissing = n - nfin;
	f = malloc(n * sizeof(*f));
	tmp = malloc(n * sizeof(*tmp));
	trend = malloc(n * sizeof(*trend));
	r->baseline = malloc(n * sizeof(double));
	r->resid = malloc(n * sizeof(double));
	r->score = malloc(n * sizeof(double));
	r->flag = calloc(n, 1);
	if (!f || !tmp || !trend || !r->baseline || !r->resid || !r->score || !r->flag)
		goto out;

	/* fill missing values: linear interpolation inside, nearest value at the edges */
	for (size_t i = 0; i < n; i++) {
		if (isfinite(x[i])) {
			f[i] = x[i];
			continue;
		}
		if (i < first) {
			f[i] = x[first];
		} else if (i > last) {
			f[i] = x[last];
		} else {
			size_t j = i + 1;

			while (!isfinite(x[j]))
				j++;
			double a = f[i - 1], b = x[j];

			for (size_t k = i; k < j; k++)
				f[k] = a + (b - a) * (double)(k - i + 1) / (double)(j - i + 1);
			i = j - 1;
		}
	}

	/* trend */
	switch (p->trend) {
	case DC_TREND_NONE:
		for (size_t i = 0; i < n; i++)
			trend[i] = 0;
		break;
	case DC_TREND_AVG: {
		size_t m = 0;

		for (size_t i = 0; i < n; i++)
			if (isfinite(x[i]))
				tmp[m++] = x[i];
		double med = dc_percentile_sorted(tmp, m, 50);

		for (size_t i = 0; i < n; i++)
			trend[i] = med;
		break;
	}
	case DC_TREND_LINEFIT: {
		double a, b, mad;
		bool *use = malloc(n * sizeof(*use));

		if (!use)
			goto out;
		linefit(f, NULL, n, &a, &b);
		for (size_t i = 0; i < n; i++)
			tmp[i] = fabs(f[i] - (a + b * (double)i));
		mad = dc_percentile_sorted(tmp, n, 50);
		if (mad > 0) {
			for (size_t i = 0; i < n; i++)
				use[i] = fabs(f[i] - (a + b * (double)i)) <= 6 * mad;
			linefit(f, use, n, &a, &b);
		}
		free(use);
		for (size_t i = 0; i < n; i++)
			trend[i] = a + b * (double)i;
		break;
	}
	}

	/* seasonality */
	r->period = 0;
	if (p->season == DC_SEASON_AUTO) {
		r->period = dc_detect_period(f, n, p->max_period);
		/* the period must hold out of sample in DC_SEASON_HELD of the whole cycles (at least 3) */
		if (r->period > 1) {
			size_t P = (size_t)r->period, held, ncyc;
			double *dt = malloc(n * sizeof(*dt)), *prof = malloc(P * sizeof(*prof));

			if (!dt || !prof) {
				free(dt);
				free(prof);
				goto out;
			}
			for (size_t i = 0; i < n; i++)
				dt[i] = isfinite(x[i]) ? fin_diff(x[i], trend[i]) : NAN;
			ncyc = dc_season_cycles(dt, 0, n, 0, P, n / P, DC_MIN_SEASONAL_STRENGTH, tmp, prof, &held);
			if (ncyc < 3 || (double)held < DC_SEASON_HELD * (double)ncyc)
				r->period = 0;
			free(dt);
			free(prof);
		}
	} else if (p->season > 1 && (size_t)p->season * 2 <= n)
		r->period = p->season;
	for (size_t i = 0; i < n; i++)
		r->baseline[i] = trend[i];
	if (r->period > 1) {
		size_t per = (size_t)r->period;

		seas = malloc(per * sizeof(*seas));
		if (!seas)
			goto out;
		for (size_t ph = 0; ph < per; ph++) {
			size_t m = 0;

			for (size_t i = ph; i < n; i += per)
				if (isfinite(x[i]))
					tmp[m++] = x[i] - trend[i];
			if (m == 0)
				for (size_t i = ph; i < n; i += per)
					tmp[m++] = f[i] - trend[i];
			seas[ph] = dc_percentile_sorted(tmp, m, 50);
		}
		for (size_t i = 0; i < n; i++)
			r->baseline[i] += seas[i % per];
	}

	/* residuals and Tukey fences */
	size_t m = 0;
	double sum_abs = 0;

	for (size_t i = 0; i < n; i++) {
		r->resid[i] = isfinite(x[i]) ? x[i] - r->baseline[i] : NAN;
		if (isfinite(x[i])) {
			tmp[m++] = r->resid[i];
			sum_abs += fabs(x[i]);
		}
	}
	double lo = dc_percentile_sorted(tmp, m, p->pct_lo);
	double hi = dc_percentile_sorted(tmp, m, p->pct_hi);
	/* degenerate spread (a constant series with rare spikes): fall back to a tiny scale relative to
	 * the series' magnitude so that exact repeats score 0 and any real deviation scores high */
	double floor_w = 1e-6 * (sum_abs / (double)m) + 1e-12;

	r->fence_lo = lo;
	r->fence_hi = hi;
	r->width = hi - lo > floor_w ? hi - lo : floor_w;
	r->threshold = dc_threshold(p);
	{
		/* tmp[0..m) holds the residuals (sorted by the percentile calls) */
		double med = dc_percentile_sorted(tmp, m, 50), q1 = dc_percentile_sorted(tmp, m, 25),
		       q3 = dc_percentile_sorted(tmp, m, 75);

		for (size_t i = 0; i < m; i++)
			tmp[i] = fabs(tmp[i] - med);
		double mad = dc_percentile_sorted(tmp, m, 50);

		r->rob_center = med;
		r->rob_scale = mad > floor_w ? 1.4826 * mad : (q3 - q1) > floor_w ? (q3 - q1) / 1.349 : 0;
		if (m < 8)
			r->rob_scale = 0; /* too few points for a robust scale */
	}
	for (size_t i = 0; i < n; i++) {
		r->score[i] = dc_score(r, r->resid[i]);
		r->flag[i] = r->score[i] > r->threshold ? 1 : r->score[i] < -r->threshold ? -1 : 0;
	}
	r->event = malloc(n ? n : 1);
	if (!r->event)
		goto out;
	memcpy(r->event, r->flag, n);
	ret = 0;
out:
	free(f);
	free(tmp);
	free(trend);
	free(seas);
	if (ret)
		dc_result_free(r);
	return ret;
}

long dc_intervals(const int8_t *flag, const double *score, size_t n, size_t max_gap, struct dc_interval **out)
{
	struct dc_interval *iv = NULL;
	size_t cnt = 0, cap = 0;

	*out = NULL;
	for (size_t i = 0; i < n;) {
		if (!flag[i]) {
			i++;
			continue;
		}
		int8_t s = flag[i];
		size_t st = i, en = i;
		double sc = score[i];

		for (size_t j = i + 1; j < n; j++) {
			if (flag[j] == s) {
				en = j;
				if (fabs(score[j]) > fabs(sc))
					sc = score[j];
			} else if (flag[j] != 0 || j - en > max_gap) {
				break;
			}
		}
		if (cnt == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct dc_interval *t = realloc(iv, nc * sizeof(*t));

			if (!t) {
				free(iv);
				return -1;
			}
			iv = t;
			cap = nc;
		}
		iv[cnt].start = st;
		iv[cnt].end = en;
		iv[cnt].score = sc;
		cnt++;
		i = en + 1;
	}
	*out = iv;
	return (long)cnt;
}
