// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "sampling/budget.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

bool budget_parse(const char *s, double *fraction)
{
	char *end;
	double v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v))
		return false;
	if (*end == '%') {
		v /= 100.0;
		end++;
	}
	if (*end || v <= 0 || v > 1)
		return false;
	*fraction = v;
	return true;
}

static void plan(struct budget_ctl *b)
{
	double win = 0, cycle = (double)b->period_ns;

	if (b->allow >= 0.9) { /* cycling would save little and cost the attach/detach churn */
		b->duty = 1.0;
		b->cycle_ns = b->period_ns;
		return;
	}
	for (unsigned m = 1; m <= b->max_mult; m++) {
		double cap;

		cycle = (double)b->period_ns * m;
		win = b->allow * cycle - b->extra_ns;
		cap = cycle - (double)b->drain_ns - 1.5 * b->churn_ns - 2e7;
		if (win > cap)
			win = cap;
		if (win >= (double)b->min_window_ns)
			break;
	}
	if (win < (double)b->min_window_ns)
		win = (double)b->min_window_ns; /* cannot meet the budget: the measured overhead says so */
	b->cycle_ns = (uint64_t)cycle;
	b->duty = win / cycle;
}

void budget_init(struct budget_ctl *b, double budget, double hit_cost_ns, uint64_t period_ns)
{
	memset(b, 0, sizeof(*b));
	b->budget = budget;
	b->hit_cost_ns = hit_cost_ns > 0 ? hit_cost_ns : 1;
	b->per_hit_ns = b->hit_cost_ns;
	b->period_ns = period_ns ? period_ns : 10000000000ULL;
	/* a window shorter than this holds too few requests to weight them well (the cycle grows
	 * instead, up to max_mult periods) */
	b->min_window_ns = b->period_ns / 10 > 100000000ULL ? b->period_ns / 10 : 100000000ULL;
	b->max_mult = 8;
	/* the first cycle measures the load with a window of a quarter of the cycle (a full-capture
	 * cycle would already break the budget; a very short one weighs its few records heavily) */
	b->allow = 0.25;
	/* until measured: attach (~10-70 ms for a dozen uprobes here) + drain + detach */
	b->extra_ns = (double)b->period_ns / 10 < 2e8 ? (double)b->period_ns / 10 : 2e8;
	b->drain_ns = b->period_ns / 10 < 250000000ULL ? b->period_ns / 10 : 250000000ULL;
	b->churn_ns = (double)b->period_ns / 4 < 5e8 ? (double)b->period_ns / 4 : 5e8;
	plan(b);
}

/* Window and cycle for an allowed attached share: the shortest cycle (in periods) whose window,
 * after the attached time it costs outside the window, is still min_window_ns long. */
void budget_update(struct budget_ctl *b, const struct budget_cycle *m)
{
	double cost = (double)m->hits * b->hit_cost_ns + (double)m->prog_ns, cpu = (double)m->cpu_ns, own = cpu - cost;
	double per_hit = m->hits ? cost / (double)m->hits : b->hit_cost_ns, f, want;

	if (!m->cycle_ns || !m->window_ns)
		return;
	if (m->churn_ns) /* quick to grow, slow to shrink */
		b->churn_ns = (double)m->churn_ns > b->churn_ns ? (double)m->churn_ns
								: 0.75 * b->churn_ns + 0.25 * (double)m->churn_ns;
	/* CPU time comes in clock ticks: never divide by ~0 */
	if (own < cpu * 0.05)
		own = cpu * 0.05;
	if (own < 1e7)
		own = 1e7;
	b->measured = cost / own;
	b->per_hit_ns = per_hit;
	b->cost_ns += cost;
	b->own_ns += own;
	if (m->hits_window) {
		double rate = (double)m->hits_window / (double)m->window_ns; /* hits per ns, all probes live */

		f = rate * (double)m->cycle_ns * per_hit / own;
		if (m->window_ns < m->cycle_ns) {
			double extra = (double)m->hits / rate - (double)m->window_ns;

			if (extra < 0)
				extra = 0;
			b->extra_ns = b->extra_known ? 0.5 * b->extra_ns + 0.5 * extra : extra;
			b->extra_known = true;
		}
	} else {
		/* nothing while the gate was open: scale what the attached time cost */
		double att = (double)m->window_ns + (m->window_ns < m->cycle_ns ? b->extra_ns : 0);

		f = att > 0 ? b->measured * (double)m->cycle_ns / att : 0;
	}
	b->last_overhead = f;
	want = f > 0 ? b->budget / f : 1.0;
	if (want > 1.0)
		want = 1.0;
	/* react at once to more load, slowly to less */
	b->allow = want < b->allow ? want : 0.5 * b->allow + 0.5 * want;
	b->cycles++;
	plan(b);
}

uint64_t budget_window_ns(const struct budget_ctl *b)
{
	return (uint64_t)((double)b->cycle_ns * b->duty);
}

double budget_expected_overhead(const struct budget_ctl *b)
{
	double att;

	if (b->duty >= 1.0)
		return b->last_overhead;
	att = ((double)budget_window_ns(b) + b->extra_ns) / (double)b->cycle_ns;
	return b->last_overhead * (att < 1 ? att : 1);
}

double budget_measured_overhead(const struct budget_ctl *b)
{
	return b->own_ns > 0 ? b->cost_ns / b->own_ns : 0;
}

double budget_sample_factor(const struct budget_ctl *b)
{
	return b->duty > 0 ? 1.0 / b->duty : 1.0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

void budget_calib_summary(double *v, size_t n, double *min, double *median, double *max)
{
	if (!n) {
		*min = *median = *max = 0;
		return;
	}
	qsort(v, n, sizeof(*v), cmp_double);
	*min = v[0];
	*max = v[n - 1];
	*median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int budget_windows_init(struct budget_windows *ws, size_t cap)
{
	memset(ws, 0, sizeof(*ws));
	ws->w = calloc(cap ? cap : 1, sizeof(*ws->w));
	if (!ws->w)
		return -ENOMEM;
	ws->cap = cap ? cap : 1;
	return 0;
}

void budget_windows_free(struct budget_windows *ws)
{
	free(ws->w);
	memset(ws, 0, sizeof(*ws));
}

static struct budget_window *at(const struct budget_windows *ws, size_t i)
{
	return &ws->w[(ws->head + i) % ws->cap];
}

void budget_windows_add(struct budget_windows *ws, uint64_t open_ns, uint64_t close_ns, double weight)
{
	if (!ws->cap)
		return;
	if (ws->n == ws->cap) { /* drop the oldest */
		ws->head = (ws->head + 1) % ws->cap;
		ws->n--;
	}
	*at(ws, ws->n++) = (struct budget_window){ open_ns, close_ns, weight > 0 ? weight : 1.0 };
}

void budget_windows_close(struct budget_windows *ws, uint64_t close_ns)
{
	struct budget_window *w;

	if (!ws->n)
		return;
	w = at(ws, ws->n - 1);
	if (close_ns < w->close_ns)
		w->close_ns = close_ns > w->open_ns ? close_ns : w->open_ns;
}

double budget_windows_weight(const struct budget_windows *ws, uint64_t ts, uint64_t slack_ns, double fallback)
{
	size_t lo = 0, hi = ws->n;

	/* the last window that opened at or before ts */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (at(ws, mid)->open_ns <= ts)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return fallback;
	{
		const struct budget_window *w = at(ws, lo - 1);

		if (w->close_ns == UINT64_MAX || ts < w->close_ns + slack_ns)
			return w->weight;
	}
	return fallback;
}
