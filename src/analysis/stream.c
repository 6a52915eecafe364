// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Streaming anomaly detector: see stream.h for the method, docs/analysis.md for the parameters. */
#include "analysis/stream.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/decompose.h"

#define SD_SCORE_MAX 1000.0
#define SD_CLIP 3.0      /* residuals are clipped to +-3 robust sigmas before they update the baseline */
#define SD_REFIT_EVERY 16
#define SD_SEASON_CYCLES 4 /* cycles in which a period must hold out of sample */
#define SD_RECUR_MAX 32
#define SD_MIN_RESID 20  /* residuals needed before the tail is fitted */

struct sd_detector {
	struct sd_params p;
	uint64_t n;    /* values fed */
	size_t nobs;   /* finite values fed */

	double *hist;  /* last p.history values (NaN = missing) */
	size_t hlen, hhead;
	uint64_t next_detect;

	double *res;   /* |residual| of recent ordinary points */
	size_t rlen, rhead, since_fit;
	double *sortbuf;
	double sig_mad, sig_c, tail_t, tail_frac, tail_sg, tail_xi;
	bool tail_ok;

	bool have_level;
	double level, trend;
	double *season;
	int period;

	double quantum, last_x, step;
	bool have_last;

	double cpos, cneg;
	uint64_t cpos_from, cneg_from; /* where each sum last left 0: the change point's estimate */
	double zlast;

	int ev_sign;
	long ev_start, ev_last;
	size_t ev_quiet, ev_ndev;
	double *ev_dev; /* deseasonalised values of the event's deviating points (relearn of them) */

	bool have_old;
	double old_level;
	uint64_t old_until;

	/* onsets of recent events (recurrence) */
	uint64_t on_idx[SD_RECUR_MAX];
	double on_mag[SD_RECUR_MAX]; /* signed residual at the onset */
	size_t non, on_head;
};

void sd_params_default(struct sd_params *p)
{
	memset(p, 0, sizeof(*p));
	p->threshold = 4.0;
	p->season = SD_SEASON_AUTO;
	p->history = 2048;
	p->scale_window = 512;
	p->warmup = 30;
	p->relearn = 12;
	p->quiet = 3;
	p->exit_frac = 0.5;
	p->alpha = 0.05;
	p->beta = 0;
	p->gamma = 0.1;
	p->phi = 0.98;
	p->cusum_k = 1.5;
	p->recur = 4;
}

size_t sd_episode_memory(const struct sd_params *p)
{
	return 25 * p->relearn;
}

/* finite clamp: results stay finite for any finite input */
static double fin(double x)
{
	if (isnan(x))
		return 0;
	if (x > DBL_MAX)
		return DBL_MAX;
	if (x < -DBL_MAX)
		return -DBL_MAX;
	return x;
}

static double sub(double a, double b)
{
	return fin(a - b);
}

struct sd_detector *sd_new(const struct sd_params *pp)
{
	struct sd_detector *d;
	struct sd_params p;

	if (pp)
		p = *pp;
	else
		sd_params_default(&p);
	if (!(p.threshold > 0) || p.history < 16 || p.scale_window < SD_MIN_RESID || p.relearn < 2 || p.quiet < 1 ||
	    !(p.exit_frac > 0 && p.exit_frac <= 1) || !(p.alpha > 0 && p.alpha < 1) || !(p.beta >= 0 && p.beta < 1) ||
	    !(p.gamma >= 0 && p.gamma < 1) || !(p.phi > 0 && p.phi <= 1) || !(p.cusum_k > 0) ||
	    (p.season > 0 && (size_t)p.season * 2 > p.history))
		return NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->p = p;
	d->hist = malloc(p.history * sizeof(double));
	d->res = malloc(p.scale_window * sizeof(double));
	d->sortbuf = malloc((p.scale_window > p.history ? p.scale_window : p.history) * sizeof(double));
	d->ev_dev = malloc(p.relearn * sizeof(double));
	if (!d->hist || !d->res || !d->sortbuf || !d->ev_dev) {
		sd_free(d);
		return NULL;
	}
	d->quantum = INFINITY;
	d->ev_start = d->ev_last = -1;
	d->next_detect = 48;
	return d;
}

void sd_free(struct sd_detector *d)
{
	if (!d)
		return;
	free(d->hist);
	free(d->res);
	free(d->sortbuf);
	free(d->ev_dev);
	free(d->season);
	free(d);
}

long sd_event_start(const struct sd_detector *d)
{
	return d->ev_sign ? d->ev_start : -1;
}

long sd_event_last(const struct sd_detector *d)
{
	return d->ev_sign ? d->ev_last : -1;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Robust scales and the generalised Pareto tail of the recent |residuals|. */
static void fit_scale(struct sd_detector *d)
{
	size_t n = d->rlen, nexc;
	double *s = d->sortbuf, m = 0, v = 0, t;

	d->since_fit = 0;
	if (n < SD_MIN_RESID) {
		d->tail_ok = false;
		return;
	}
	memcpy(s, d->res, n * sizeof(double));
	qsort(s, n, sizeof(double), cmp_dbl);
	d->sig_mad = 1.4826 * s[n / 2];
	d->sig_c = fmax(d->sig_mad, s[(size_t)(0.9 * (double)(n - 1))] / 1.645);
	/* peaks over the upper ~5% (at least 10 excesses) */
	nexc = (size_t)ceil(0.05 * (double)n);
	if (nexc < 10)
		nexc = 10;
	t = s[n - nexc - 1];
	/* generalised Pareto fit of the excesses by probability-weighted moments (Hosking & Wallis 1987):
	 * a0 = mean(y), a1 = mean(y_i (1 - p_i)) over ascending y with p_i = (i + 0.65)/nexc;
	 * xi = 2 - a0/(a0 - 2 a1), sigma = 2 a0 a1/(a0 - 2 a1). xi is clamped to [0, 0.7]: a lighter than
	 * exponential fit would put an end point on the tail. */
	for (size_t i = 0; i < nexc; i++) {
		double y = s[n - nexc + i] - t;

		m += y / (double)nexc;
		v += y * (1 - ((double)i + 0.65) / (double)nexc) / (double)nexc;
	}
	d->tail_t = t;
	d->tail_frac = (double)nexc / (double)n;
	d->tail_xi = 0;
	d->tail_sg = m;
	if (m > 0 && m - 2 * v > 0 && isfinite(m) && isfinite(v)) {
		double xi = 2 - m / (m - 2 * v), sg = 2 * m * v / (m - 2 * v);

		/* few excesses say little about the shape: shrink towards the exponential */
		xi *= (double)nexc / (double)(nexc + 10);
		if (xi > 0.7)
			xi = 0.7;
		if (xi > 0) {
			d->tail_xi = xi;
			d->tail_sg = sg;
		}
	}
	d->tail_ok = true;
}

static void push_resid(struct sd_detector *d, double a)
{
	d->res[d->rhead] = fin(fabs(a));
	d->rhead = (d->rhead + 1) % d->p.scale_window;
	if (d->rlen < d->p.scale_window)
		d->rlen++;
	if (++d->since_fit >= SD_REFIT_EVERY || d->rlen <= 2 * SD_MIN_RESID)
		fit_scale(d);
}

/* The smallest scale a residual is measured in: the series' quantum, a relative epsilon, counts. */
static double scale_floor(const struct sd_detector *d, double f)
{
	double fl = fmax(1e-9 * fabs(f), 1e-300);

	if (isfinite(d->quantum))
		fl = fmax(fl, 0.5 * d->quantum);
	else
		fl = fmax(fl, 1e-6 * fmax(fabs(f), 1));
	if (d->p.poisson)
		fl = fmax(fl, sqrt(fmax(f, 0) + 1));
	return fl;
}

/* -log10 of the tail probability of |r| = a */
static double spike_score(const struct sd_detector *d, double a, double fl)
{
	double t = d->tail_t, sg = d->tail_sg, xi = d->tail_xi, lp;

	/* a tail fitted below the series' resolution says nothing about its shape at that resolution:
	 * exponential at the floor's scale */
	if (!(sg >= fl)) {
		sg = fl;
		xi = 0;
	}
	if (a <= t)
		return t > 0 ? -log10(d->tail_frac) * a / t : 0;
	if (xi > 1e-9)
		lp = log(d->tail_frac) - log1p(xi * ((a - t) / sg)) / xi;
	else
		lp = log(d->tail_frac) - (a - t) / sg;
	lp = -lp / M_LN10;
	return isfinite(lp) ? fmin(lp, SD_SCORE_MAX) : SD_SCORE_MAX;
}

/* log10 of Siegmund's in-control average run length of a CUSUM whose sum reached h */
static double cusum_score(double h, double k)
{
	double hp = h + 1.166, x = 2 * k * hp, l;

	if (h <= 0)
		return 0;
	if (x > 30)
		l = (x - log(2 * k * k)) / M_LN10;
	else
		l = log10(fmax((exp(x) - x - 1) / (2 * k * k), 1));
	return isfinite(l) ? fmin(l, SD_SCORE_MAX) : SD_SCORE_MAX;
}

static double season_at(const struct sd_detector *d, uint64_t idx)
{
	return d->period > 0 ? d->season[idx % (uint64_t)d->period] : 0;
}

/* History (oldest first) into buf; returns its length. */
static size_t hist_linear(const struct sd_detector *d, double *buf)
{
	size_t n = d->hlen, cap = d->p.history;

	for (size_t i = 0; i < n; i++)
		buf[i] = d->hist[(d->hhead + cap - n + i) % cap];
	return n;
}

/* (Re)initialise the seasonal profile for period per from the history: per-phase median of the
 * values minus their centred moving average, made zero-mean. The period is only used when it holds
 * out of sample in each of the last SD_SEASON_CYCLES cycles that have a centred average (at least 3):
 * a profile fitted on the other cycles explains at least DC_MIN_SEASONAL_STRENGTH of the cycle's
 * variance (seasonal strength, Wang, Smith & Hyndman 2006). Random switching shows spurious
 * autocorrelation, in-sample medians of a few cycles overfit, and a few equally spaced bursts (three
 * floods 20 s apart) are a rhythm of the last cycles only: the cycle before them, without a burst,
 * refutes it. Four cycles, as `recur`: four like events are the series' rhythm. The level becomes the
 * mean of the last cycle's deseasonalised values. */
static void init_season(struct sd_detector *d, int per)
{
	size_t n = hist_linear(d, d->sortbuf), P = (size_t)per, half = P / 2;
	uint64_t first = d->n - n; /* absolute index of h[0] */
	double *h = d->sortbuf, *dt = NULL, *ps = NULL, *prof = NULL, *tmp = NULL, lv = 0;
	size_t *pc = NULL, ncyc, held, nlv = 0;

	if (per < 2 || n < 4 * P)
		return;
	dt = malloc(n * sizeof(double));
	ps = malloc((n + 1) * sizeof(double));
	pc = malloc((n + 1) * sizeof(size_t));
	prof = malloc(P * sizeof(double));
	tmp = malloc(n * sizeof(double));
	if (!dt || !ps || !pc || !prof || !tmp)
		goto out;
	ps[0] = 0;
	pc[0] = 0;
	for (size_t i = 0; i < n; i++) {
		ps[i + 1] = ps[i] + (isfinite(h[i]) ? h[i] : 0);
		pc[i + 1] = pc[i] + (isfinite(h[i]) ? 1 : 0);
	}
	for (size_t i = 0; i < n; i++) {
		size_t a = i >= half ? i - half : 0, c;

		dt[i] = NAN;
		if (i < half || a + P > n || !isfinite(h[i]))
			continue;
		c = pc[a + P] - pc[a];
		if (c * 2 >= P)
			dt[i] = sub(h[i], (ps[a + P] - ps[a]) / (double)c);
	}
	/* out-of-sample strength on each of the last cycles that have a centred average */
	ncyc = dc_season_cycles(dt, half, n - (P - half), first, P, SD_SEASON_CYCLES, DC_MIN_SEASONAL_STRENGTH, tmp, prof,
				&held);
	if (ncyc < 3 || held < ncyc)
		goto out;
	dc_season_profile(dt, 0, n, 0, 0, first, P, tmp, prof);
	for (size_t i = n - P; i < n; i++)
		if (isfinite(h[i])) {
			lv += sub(h[i], prof[(first + i) % P]);
			nlv++;
		}
	free(d->season);
	d->season = prof;
	prof = NULL;
	d->period = per;
	/* residuals of the model without this season say nothing about the new one's */
	d->rlen = d->rhead = 0;
	d->tail_ok = false;
	if (nlv) {
		d->level = fin(lv / (double)nlv);
		d->trend = 0;
	}
out:
	free(dt);
	free(ps);
	free(pc);
	free(prof);
	free(tmp);
}

static void maybe_detect_period(struct sd_detector *d)
{
	int per;

	if (d->p.season == 0)
		return;
	if (d->p.season > 0) {
		if (d->period == 0 && d->hlen >= 2 * (size_t)d->p.season)
			init_season(d, d->p.season);
		return;
	}
	if (d->n < d->next_detect)
		return;
	/* every 32 steps until a period is found, then every history/8 */
	d->next_detect = d->n + (d->period == 0 || d->p.history / 8 < 32 ? 32 : d->p.history / 8);
	{
		size_t n = hist_linear(d, d->sortbuf);
		int maxp = d->p.max_period > 0 ? d->p.max_period : (int)(n / 4); /* four cycles seen */

		per = dc_detect_period(d->sortbuf, n, maxp);
	}
	if (per > 1 && per != d->period)
		init_season(d, per);
}

static void learn(struct sd_detector *d, uint64_t idx, double r)
{
	if (isfinite(d->step) && d->step > 0 && d->step < d->quantum)
		d->quantum = d->step;

	double lim = SD_CLIP * fmax(d->sig_c, scale_floor(d, d->level)), e = r;

	if (d->tail_ok) {
		if (e > lim)
			e = lim;
		if (e < -lim)
			e = -lim;
	}
	d->level = fin(d->level + d->p.phi * d->trend + d->p.alpha * e);
	d->trend = fin(d->p.phi * d->trend + d->p.beta * e);
	if (d->period > 0) {
		double *s = &d->season[idx % (uint64_t)d->period];

		*s = fin(*s + d->p.gamma * e);
	}
}

/* An event like `recur` earlier ones within the last `history` steps (same direction, onset residual
 * no larger than theirs up to 25%) is the series' normal behaviour: recorded, not alerted. Remembers
 * this onset either way. */
static bool recurring(struct sd_detector *d, uint64_t idx, double r)
{
	size_t like = 0;

	for (size_t i = 0; i < d->non; i++) {
		uint64_t j = d->on_idx[i];
		double m = d->on_mag[i];

		if (idx - j <= d->p.history && (m > 0) == (r > 0) && fabs(r) <= 1.25 * fabs(m))
			like++;
	}
	d->on_idx[d->on_head] = idx;
	d->on_mag[d->on_head] = r;
	d->on_head = (d->on_head + 1) % SD_RECUR_MAX;
	if (d->non < SD_RECUR_MAX)
		d->non++;
	return d->p.recur > 0 && like >= d->p.recur;
}

static void end_event(struct sd_detector *d)
{
	d->ev_sign = 0;
	d->ev_quiet = 0;
	d->ev_ndev = 0;
	d->cpos = d->cneg = 0;
}

void sd_feed(struct sd_detector *d, double x, struct sd_verdict *v)
{
	uint64_t idx = d->n++;
	double f, r, a, fl, s_spike, s_cus, score, thr = d->p.threshold;
	int sign;
	bool anom, cont;

	memset(v, 0, sizeof(*v));
	d->hist[d->hhead] = isfinite(x) ? x : NAN;
	d->hhead = (d->hhead + 1) % d->p.history;
	if (d->hlen < d->p.history)
		d->hlen++;
	v->period = d->period;
	f = d->have_level ? fin(d->level + d->p.phi * d->trend + season_at(d, idx)) : (isfinite(x) ? x : NAN);
	v->forecast = f;
	if (!isfinite(x)) {
		if (d->have_level)
			d->level = fin(d->level + d->p.phi * d->trend);
		return;
	}
	d->nobs++;
	/* the quantum learns from ordinary points only (learn()), with the step from the previous value */
	d->step = d->have_last && x != d->last_x ? fabs(x - d->last_x) : 0;
	d->last_x = x;
	d->have_last = true;
	if (!d->have_level) {
		d->level = x;
		d->have_level = true;
		return;
	}
	maybe_detect_period(d);
	f = fin(d->level + d->p.phi * d->trend + season_at(d, idx));
	v->forecast = f;
	v->period = d->period;
	v->prior = d->have_old && idx <= d->old_until ? fin(d->old_level + season_at(d, idx)) : f;
	r = sub(x, f);
	a = fabs(r);
	fl = scale_floor(d, f);
	v->warm = d->tail_ok && d->nobs >= d->p.warmup;
	if (!d->tail_ok) {
		learn(d, idx, r);
		push_resid(d, r);
		return;
	}
	s_spike = spike_score(d, a, fl);
	{
		double sc = fmax(d->sig_c, fl), z = r / sc;

		/* clipped so that one point alone moves the sum by at most 1: persistence, not size, is
		 * what the CUSUM judges (single points are the spike score's) */
		if (z > d->p.cusum_k + 1)
			z = d->p.cusum_k + 1;
		if (z < -d->p.cusum_k - 1)
			z = -d->p.cusum_k - 1;
		if (d->cpos == 0)
			d->cpos_from = idx;
		if (d->cneg == 0)
			d->cneg_from = idx;
		d->cpos = fmax(0, d->cpos + z - d->p.cusum_k);
		d->cneg = fmax(0, d->cneg - z - d->p.cusum_k);
		d->zlast = z;
	}
	s_cus = cusum_score(fmax(d->cpos, d->cneg), d->p.cusum_k);
	uint64_t from = idx; /* where a change detected here began */

	if (s_spike >= s_cus) {
		score = s_spike;
		sign = r >= 0 ? 1 : -1;
	} else {
		score = s_cus;
		sign = d->cpos >= d->cneg ? 1 : -1;
		from = sign > 0 ? d->cpos_from : d->cneg_from;
	}
	/* back to the level that was there before a re-learnt shift (a flood that stops): a return, not
	 * a new anomaly; it also ends an event of the same episode */
	if (score > thr && d->have_old && idx <= d->old_until) {
		double fo = fin(d->old_level + season_at(d, idx)), ro = sub(x, fo);

		if (spike_score(d, fabs(ro), scale_floor(d, fo)) <= thr * d->p.exit_frac) {
			d->level = d->old_level;
			d->trend = 0;
			d->have_old = false;
			end_event(d);
			v->forecast = fo;
			v->score = (ro >= 0 ? 1 : -1) * spike_score(d, fabs(ro), scale_floor(d, fo));
			v->returned = true;
			learn(d, idx, ro);
			push_resid(d, ro);
			return;
		}
	}
	if (d->have_old && idx > d->old_until)
		d->have_old = false;
	v->score = sign * score;
	/* a point starts an event only when it deviates itself in the score's direction (a CUSUM that is
	 * still high from earlier points does not start a new event on a point that does not push it) */
	anom = v->warm && score > thr && (r >= 0 ? 1 : -1) == sign && (s_spike >= s_cus || fabs(d->zlast) > d->p.cusum_k);
	/* an event goes on while its points deviate the same way: by their own size, or by still
	 * pushing the CUSUM (a sum that only decays does not keep an event alive) */
	cont = d->ev_sign != 0 && (r >= 0 ? 1 : -1) == d->ev_sign &&
	       (s_spike > thr * d->p.exit_frac || (sign == d->ev_sign && fabs(d->zlast) > d->p.cusum_k));
	if (d->ev_sign && !cont && anom) {
		/* the other way round: this event is over, a new one starts */
		end_event(d);
	}
	if (!d->ev_sign && anom) {
		d->ev_sign = sign;
		d->ev_start = (long)from;
		d->ev_last = (long)idx;
		d->ev_quiet = 0;
		d->ev_ndev = 0;
		d->ev_dev[d->ev_ndev++] = sub(x, season_at(d, idx));
		v->event = sign;
		v->event_start = from;
		v->recurring = recurring(d, idx, r);
		/* still inside an episode whose new level was re-learnt (a flood whose rate varies): not a
		 * new alert unless it moves away from the old level by more than twice the episode did */
		v->episode = d->have_old && idx <= d->old_until && (x > d->old_level) == (d->level > d->old_level) &&
			     fabs(x - d->old_level) <= 2 * fabs(d->level - d->old_level);
		if (!v->recurring && !v->episode)
			v->flag = sign;
		d->level = fin(d->level + d->p.phi * d->trend);
		return;
	}
	if (cont) {
		d->ev_last = (long)idx;
		d->ev_quiet = 0;
		v->event = d->ev_sign;
		if (d->ev_ndev < d->p.relearn)
			d->ev_dev[d->ev_ndev++] = sub(x, season_at(d, idx));
		if (d->ev_ndev >= d->p.relearn) {
			/* a new level: learn it, remember the old one */
			double *tmp = d->sortbuf;

			memcpy(tmp, d->ev_dev, d->ev_ndev * sizeof(double));
			d->old_level = d->level;
			d->have_old = true;
			d->old_until = idx + sd_episode_memory(&d->p);
			d->level = dc_percentile_sorted(tmp, d->ev_ndev, 50);
			d->trend = 0;
			end_event(d);
			v->relearnt = true;
			return;
		}
		d->level = fin(d->level + d->p.phi * d->trend);
		return;
	}
	if (d->ev_sign && ++d->ev_quiet >= d->p.quiet)
		end_event(d);
	learn(d, idx, r);
	push_resid(d, r);
}
