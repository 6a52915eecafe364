// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* kapimon's own labelled anomaly corpus (see series_corpus.h). */
#include "series_corpus.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const sc_families[] = {
	"season_gauss", "heavy_tail", "two_level", "weekly", "random_walk", "level_shift",
	"trend_change", "bursty_counts", "missing", "apiserver", "recorded", NULL,
};

const char *const sc_recorded_csv[SC_RECORDED_FILES] = {
	"tests/unit/data/recorded-apiserver.csv",
	"tests/unit/data/recorded-spaced-floods.csv",
};

struct rng {
	uint64_t s;
};

static double ur(struct rng *r)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return ((double)(r->s >> 11) + 0.5) / 9007199254740992.0;
}

static double gauss(struct rng *r)
{
	return sqrt(-2 * log(ur(r))) * cos(2 * M_PI * ur(r));
}

/* Student t with 3 degrees of freedom */
static double t3(struct rng *r)
{
	double c = 0;

	for (int i = 0; i < 3; i++) {
		double g = gauss(r);

		c += g * g;
	}
	return gauss(r) / sqrt(c / 3);
}

static double poisson(struct rng *r, double lambda)
{
	if (lambda > 50)
		return fmax(0, round(lambda + sqrt(lambda) * gauss(r)));
	double l = exp(-lambda), p = 1;
	int k = 0;

	do {
		k++;
		p *= ur(r);
	} while (p > l);
	return k - 1;
}

static size_t urange(struct rng *r, size_t lo, size_t hi)
{
	return lo + (size_t)(ur(r) * (double)(hi - lo + 1)) % (hi - lo + 1);
}

static void label(struct sc_series *s, size_t onset, size_t len)
{
	size_t end = onset + len + 10;

	if (s->nev >= SC_MAX_EVENTS || onset >= s->n)
		return;
	s->ev_onset[s->nev] = onset;
	s->ev_start[s->nev] = onset;
	s->ev_end[s->nev] = end < s->n ? end : s->n;
	s->nev++;
}

/* k events at spread-out onsets after `from`, each at least `gap` apart; returns the onsets */
static size_t onsets(struct rng *r, size_t n, size_t from, size_t k, size_t *out)
{
	size_t span = (n - from) / k;

	for (size_t i = 0; i < k; i++)
		out[i] = from + i * span + urange(r, span / 5, span / 2);
	return k;
}

/* sc_recorded_csv[seed - 1]: time,value,event (# comments), recorded on the testbed; event
 * windows are the runs of event = 1 (plus the 10 steps after, like the generated ones). Read relative
 * to the working directory (the repository root: tests/run-unit.sh, make). */
static int load_recorded(struct sc_series *s, unsigned seed)
{
	FILE *f = seed >= 1 && seed <= SC_RECORDED_FILES ? fopen(sc_recorded_csv[seed - 1], "r") : NULL;
	char line[256];
	size_t cap = 256;
	int prev = 0;
	size_t start = 0;

	if (!f)
		return -1;
	s->counts = 1;
	s->x = malloc(cap * sizeof(double));
	if (!s->x) {
		fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		long long t;
		double v;
		int ev;

		if (line[0] == '#' || sscanf(line, "%lld,%lf,%d", &t, &v, &ev) != 3)
			continue;
		if (s->n == cap) {
			double *nx = realloc(s->x, 2 * cap * sizeof(double));

			if (!nx) {
				fclose(f);
				return -1;
			}
			s->x = nx;
			cap *= 2;
		}
		if (ev && !prev)
			start = s->n;
		if (!ev && prev)
			label(s, start, s->n - start);
		prev = ev;
		s->x[s->n++] = v;
	}
	if (prev)
		label(s, start, s->n - start);
	fclose(f);
	return s->n ? 0 : -1;
}

int sc_generate(const char *family, unsigned seed, struct sc_series *s)
{
	struct rng r = { 0x9e3779b97f4a7c15ULL ^ ((uint64_t)seed * 0x100000001b3ULL) };
	size_t on[SC_MAX_EVENTS], k;
	double *x;
	int fam = -1;

	for (int i = 0; sc_families[i]; i++)
		if (!strcmp(family, sc_families[i]))
			fam = i;
	if (fam < 0)
		return -1;
	for (const char *c = family; *c; c++)
		r.s = (r.s ^ (uint64_t)(unsigned char)*c) * 0x100000001b3ULL;
	for (int i = 0; i < 10; i++)
		ur(&r);
	memset(s, 0, sizeof(*s));
	s->family = sc_families[fam];
	if (fam == 10)
		return load_recorded(s, seed);
	s->seed = seed;
	s->n = fam == 3 ? 168 * 14 : 4000;
	s->x = x = malloc(s->n * sizeof(double));
	if (!x)
		return -1;

	switch (fam) {
	case 0: /* season_gauss */
	case 8: { /* missing */
		static const int periods[] = { 48, 96, 144 };
		int P = periods[seed % 3];
		double sig = 2;

		for (size_t i = 0; i < s->n; i++)
			x[i] = 100 + 20 * sin(2 * M_PI * (double)i / P) + 6 * sin(4 * M_PI * (double)i / P + 1) +
			       sig * gauss(&r);
		k = onsets(&r, s->n, 800, 5, on);
		for (size_t e = 0; e < k; e++) {
			size_t len = e % 3 == 2 ? urange(&r, 3, 8) : 1;
			double mag = (ur(&r) * 7 + 8) * sig * (e % 2 ? -1 : 1);

			for (size_t i = on[e]; i < on[e] + len && i < s->n; i++)
				x[i] += mag;
			label(s, on[e], len);
		}
		if (fam == 8)
			for (int g = 0; g < 3; g++) {
				size_t a = urange(&r, 300, s->n - 200), len = urange(&r, 20, 100);

				for (size_t i = a; i < a + len && i < s->n; i++)
					x[i] = NAN;
			}
		break;
	}
	case 1: /* heavy_tail */
		for (size_t i = 0; i < s->n; i++)
			x[i] = 50 + t3(&r);
		k = onsets(&r, s->n, 600, 5, on);
		for (size_t e = 0; e < k; e++) {
			size_t len = urange(&r, 1, 3);
			double mag = (ur(&r) * 30 + 30) * (e % 2 ? -1 : 1);

			for (size_t i = on[e]; i < on[e] + len; i++)
				x[i] += mag;
			label(s, on[e], len);
		}
		break;
	case 2: { /* two_level */
		int st = 0;

		for (size_t i = 0; i < s->n; i++) {
			if (ur(&r) < 0.05)
				st = !st;
			x[i] = st ? 35 : 20;
		}
		k = onsets(&r, s->n, 600, 4, on);
		for (size_t e = 0; e < k; e++) {
			size_t len = urange(&r, 5, 20);
			double v = e % 2 ? 0 : 80;

			for (size_t i = on[e]; i < on[e] + len; i++)
				x[i] = v;
			label(s, on[e], len);
		}
		break;
	}
	case 3: /* weekly: hourly points, two weeks warm-up */
		for (size_t i = 0; i < s->n; i++) {
			size_t h = i % 24, day = (i / 24) % 7;
			double lv = 100 * (1 + 0.5 * sin(2 * M_PI * ((double)h - 6) / 24)) * (day >= 5 ? 0.6 : 1.0);

			x[i] = lv * (1 + 0.04 * gauss(&r));
		}
		k = onsets(&r, s->n, 168 * 4, 4, on);
		for (size_t e = 0; e < k; e++) {
			size_t len = e % 2 ? 6 : 2;
			double f = e % 2 ? 0.4 : 1.8;

			for (size_t i = on[e]; i < on[e] + len; i++)
				x[i] *= f;
			label(s, on[e], len);
		}
		break;
	case 4: { /* random_walk */
		double lv = 100;

		for (size_t i = 0; i < s->n; i++) {
			lv += 0.3 * gauss(&r);
			x[i] = lv + gauss(&r);
		}
		k = onsets(&r, s->n, 600, 5, on);
		for (size_t e = 0; e < k; e++) {
			x[on[e]] += (ur(&r) * 4 + 8) * (e % 2 ? -1 : 1);
			label(s, on[e], 1);
		}
		break;
	}
	case 5: { /* level_shift */
		double lv = 100;

		k = onsets(&r, s->n, 600, 4, on);
		for (size_t i = 0, e = 0; i < s->n; i++) {
			if (e < k && i == on[e]) {
				lv += (ur(&r) * 4 + 6) * (e % 2 ? -1 : 1);
				label(s, on[e], 20);
				e++;
			}
			x[i] = lv + gauss(&r);
		}
		break;
	}
	case 6: { /* trend_change: flat, then a ramp of 0.05 sigma/step, then flat again */
		double lv = 100, slope = 0;

		k = onsets(&r, s->n, 800, 3, on);
		for (size_t i = 0, e = 0; i < s->n; i++) {
			if (e < k && i == on[e]) {
				slope = slope == 0 ? (e % 2 ? -0.08 : 0.08) : 0;
				if (slope != 0)
					label(s, on[e], 100);
				e++;
			}
			lv += slope;
			x[i] = lv + gauss(&r);
		}
		break;
	}
	case 7: { /* bursty_counts */
		size_t next_burst = urange(&r, 50, 250);

		s->counts = 1;
		k = onsets(&r, s->n, 800, 3, on);
		for (size_t i = 0; i < s->n; i++) {
			double lam = 20;

			if (i >= next_burst) {
				lam = 60;
				if (i >= next_burst + 3)
					next_burst = i + urange(&r, 100, 300);
			}
			x[i] = poisson(&r, lam);
		}
		for (size_t e = 0; e < k; e++) {
			size_t len = urange(&r, 20, 60);

			for (size_t i = on[e]; i < on[e] + len; i++)
				x[i] = poisson(&r, 200);
			label(s, on[e], len);
		}
		break;
	}
	case 9: { /* apiserver requests/s */
		s->counts = 1;
		k = onsets(&r, s->n, 900, 2, on);
		for (size_t i = 0; i < s->n; i++) {
			double lam = 40 + (i % 10 == 0 ? 15 : 0) + (i % 60 < 2 ? 30 : 0);

			for (size_t e = 0; e < k; e++)
				if (i >= on[e] && i < on[e] + (e ? 30 : 60))
					lam += e ? 80 : 150;
			x[i] = poisson(&r, lam);
		}
		for (size_t e = 0; e < k; e++)
			label(s, on[e], e ? 30 : 60);
		break;
	}
	}
	return 0;
}

void sc_free(struct sc_series *s)
{
	free(s->x);
	s->x = NULL;
}

void sc_score_series(const struct sc_series *s, const int8_t *flag, struct sc_score *sc)
{
	sc->points += s->n;
	sc->events += s->nev;
	for (size_t e = 0; e < s->nev; e++)
		for (size_t i = s->ev_start[e]; i < s->ev_end[e]; i++)
			if (flag[i]) {
				sc->detected++;
				sc->delay_sum += (double)i - (double)s->ev_onset[e];
				break;
			}
	for (size_t i = 0; i < s->n; i++) {
		bool in = false;

		for (size_t e = 0; e < s->nev && !in; e++)
			in = i >= s->ev_start[e] && i < s->ev_end[e];
		if (!in) {
			sc->normal_points++;
			if (flag[i])
				sc->false_alarms++;
		}
	}
}
