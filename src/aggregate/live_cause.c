// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "aggregate/live_cause.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analysis/drilldown.h"
#include "analysis/strmap.h"

static int add_leaf(struct dd_table *t, const char *ua, const char *verb, const char *res, double real, double pred)
{
	const char *v[3] = { ua, verb, res };

	return dd_table_add(t, v, NULL, real, pred) < 0 ? -1 : 0;
}

/* "verb\0resource" into buf; returns its length */
static size_t vr_key(char *buf, size_t cap, const char *verb, const char *res)
{
	int n = snprintf(buf, cap, "%s%c%s", verb, '\0', res);

	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* terminal-safe copy: control characters become '?' */
static void safe_copy(char *dst, size_t cap, const char *src)
{
	size_t i = 0;

	for (; src[i] && i + 1 < cap; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? '?' : src[i];
	dst[i] = '\0';
}

int live_cause_compute(struct agg *a, uint64_t since, double expected_rate, struct live_cause *out)
{
	static char *const dims[3] = { "user_agent", "verb", "resource" };
	uint64_t cur = agg_current_step(a), oldest = agg_oldest_step(a), b0;
	double step_s = (double)agg_get_params(a)->step_ns / 1e9, base_tot = 0, real_tot = 0, *base = NULL;
	size_t nk = agg_table_size(a, AGG_BY_KEY), nvr = agg_table_size(a, AGG_BY_VERB_RESOURCE);
	struct dd_table t;
	struct dd_params p;
	struct dd_cause *causes = NULL;
	struct dd_summary sum;
	long nc;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	out->since_step = since;
	if (since >= cur || since <= oldest)
		return -1;
	b0 = since > oldest + LC_BASELINE_STEPS ? since - LC_BASELINE_STEPS : oldest;
	out->seconds = (double)(cur - since) * step_s;
	out->expected = expected_rate * out->seconds;
	if (dd_table_init(&t, 3, dims))
		return -1;
	/* leaves: named agents' rows, then per (verb, resource) what no named row holds */
	base = calloc(nk + nvr + 1, sizeof(double));
	if (!base)
		goto out;
	{
		double *vr_real = calloc(nvr + 1, sizeof(double)), *vr_base = calloc(nvr + 1, sizeof(double));
		size_t *vr_row = calloc(nvr + 1, sizeof(size_t)), n = 0;
		struct strmap vr_ids; /* (verb, resource) -> its row: one lookup per named row, not a scan */
		char vk_buf[sizeof(((struct agg_key_text *)0)->verb) + sizeof(((struct agg_key_text *)0)->resource) + 1];

		strmap_init(&vr_ids);
		if (!vr_real || !vr_base || !vr_row)
			goto vr_out;
		for (size_t j = 0; j < nvr; j++) {
			bool other;
			const struct agg_key *vk = agg_table_entry(a, AGG_BY_VERB_RESOURCE, j, NULL, NULL, &other);
			long id;

			vr_real[j] = agg_entry_requests(a, AGG_BY_VERB_RESOURCE, j, since, cur);
			vr_base[j] = agg_entry_requests(a, AGG_BY_VERB_RESOURCE, j, b0, since);
			if (other)
				continue;
			id = strmap_intern(&vr_ids, vk_buf, vr_key(vk_buf, sizeof(vk_buf), vk->verb, vk->resource));
			if (id < 0)
				goto vr_out;
			vr_row[id] = j;
		}
		for (size_t i = 0; i < nk; i++) {
			bool other;
			const struct agg_key *k = agg_table_entry(a, AGG_BY_KEY, i, NULL, NULL, &other);
			double r = agg_entry_requests(a, AGG_BY_KEY, i, since, cur), b = agg_entry_requests(a, AGG_BY_KEY, i, b0, since);

			if (other || (r <= 0 && b <= 0))
				continue;
			/* take the named row out of its (verb, resource) remainder */
			{
				long id = strmap_find(&vr_ids, vk_buf, vr_key(vk_buf, sizeof(vk_buf), k->verb, k->resource));

				if (id >= 0) {
					vr_real[vr_row[id]] -= r;
					vr_base[vr_row[id]] -= b;
				}
			}
			if (add_leaf(&t, k->user_agent, k->verb, k->resource, r, 0))
				goto vr_out;
			base[n++] = b;
			real_tot += r;
			base_tot += b;
		}
		for (size_t j = 0; j < nvr; j++) {
			bool other;
			const struct agg_key *vk = agg_table_entry(a, AGG_BY_VERB_RESOURCE, j, NULL, NULL, &other);
			double r = vr_real[j] > 0.5 ? vr_real[j] : 0, b = vr_base[j] > 0.5 ? vr_base[j] : 0;

			if (other || (r <= 0 && b <= 0))
				continue;
			if (add_leaf(&t, LC_OTHER_AGENTS, vk->verb, vk->resource, r, 0))
				goto vr_out;
			base[n++] = b;
			real_tot += r;
			base_tot += b;
		}
		ret = 0;
vr_out:
		strmap_free(&vr_ids);
		free(vr_row);
		free(vr_real);
		free(vr_base);
		if (ret)
			goto out;
		ret = -1;
	}
	out->real = real_tot;
	out->direction = real_tot >= out->expected ? 1 : -1;
	if (t.n == 0 || !(out->expected >= 0)) {
		ret = 0;
		goto out;
	}
	/* predict: baseline shares, scaled to the detector's expectation (or to the baseline's own rate
	 * when the detector has none) */
	{
		double scale = base_tot > 0 ? (out->expected > 0 ? out->expected / base_tot
								 : out->seconds / ((double)(since - b0) * step_s))
					    : 0;

		for (size_t i = 0; i < t.n; i++)
			t.pred[i] = base[i] * scale;
	}
	dd_params_default(&p);
	p.counts = true;
	p.max_causes = 1;
	nc = dd_run(&t, &p, &causes, &sum);
	if (nc < 0)
		goto out;
	ret = 0;
	if (nc == 0)
		goto out;
	out->valid = true;
	out->cause_real = causes[0].real;
	out->cause_expected = causes[0].pred;
	{
		double excess = out->real - out->expected;

		out->share = fabs(excess) > 0 ? (causes[0].real - causes[0].pred) / excess : 0;
		if (out->share < 0)
			out->share = 0;
		if (out->share > 1)
			out->share = 1;
	}
	{
		size_t o = 0;

		for (int j = 0; j < causes[0].depth && j < 3; j++) {
			const char *val = dd_value(&t, causes[0].dims[j], causes[0].codes[j]);
			char esc[REC_UA_LEN];

			snprintf(out->names[j], sizeof(out->names[j]), "%s", dims[causes[0].dims[j]]);
			snprintf(out->values[j], sizeof(out->values[j]), "%s", val);
			safe_copy(esc, sizeof(esc), val);
			o += (size_t)snprintf(out->attrs + o, o < sizeof(out->attrs) ? sizeof(out->attrs) - o : 0, "%s%s=%s",
					      j ? ", " : "", dims[causes[0].dims[j]], esc);
			if (o >= sizeof(out->attrs))
				o = sizeof(out->attrs) - 1;
		}
		out->nattrs = (size_t)causes[0].depth < 3 ? (size_t)causes[0].depth : 3;
	}
out:
	free(causes);
	free(base);
	dd_table_free(&t);
	return ret;
}

static void hms(uint64_t wall_ns, char *buf, size_t cap)
{
	time_t tt = (time_t)(wall_ns / 1000000000ULL);
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, cap, "%H:%M:%S", &tm);
}

void live_cause_format_span(const struct live_cause *c, uint64_t since_wall_ns, uint64_t end_wall_ns, char *buf,
			    size_t cap)
{
	char when[64], until[16];
	double s = c->seconds > 0 ? c->seconds : 1;

	hms(since_wall_ns, when, sizeof(when));
	if (end_wall_ns) {
		hms(end_wall_ns, until, sizeof(until));
		snprintf(when + strlen(when), sizeof(when) - strlen(when), " until %s (%.0f s)", until,
			 end_wall_ns > since_wall_ns ? (double)(end_wall_ns - since_wall_ns) / 1e9 : 0);
	}
	if (!c->valid) {
		snprintf(buf, cap, "anomaly since %s: requests %+.0f/s (%.0f vs %.0f expected) -- cause: not found%s", when,
			 (c->real - c->expected) / s, c->real / s, c->expected / s, end_wall_ns ? "" : " yet");
		return;
	}
	snprintf(buf, cap, "anomaly since %s: requests %+.0f/s (%.0f vs %.0f expected) -- cause: %s (%.0f%% of the %s)", when,
		 (c->real - c->expected) / s, c->real / s, c->expected / s, c->attrs, 100 * c->share,
		 c->direction > 0 ? "excess" : "drop");
}

void live_cause_format(const struct live_cause *c, uint64_t since_wall_ns, char *buf, size_t cap)
{
	live_cause_format_span(c, since_wall_ns, 0, buf, cap);
}
