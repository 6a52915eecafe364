// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Memory bound of top's aggregation under a cardinality burst: 1,000,000 distinct user agents (and
 * 65,536 client addresses) through agg_add with top's parameters, the etcd aggregation wired as top
 * wires it, every grouping and sort queried and the Prometheus text rendered once per step, as top
 * does per refresh. The process's peak RSS (VmHWM) must stay <= 64 MB; it is printed. A flooder that
 * starts after the burst shows with its exact rate in the next refresh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "aggregate/aggregate.h"
#include "aggregate/etcd_agg.h"
#include "output/prometheus.h"

#define S 1000000000ULL
#define T0 (1700000000ULL * S)
#define MB (1024.0 * 1024.0)

static long status_kb(const char *field)
{
	char line[256];
	long v = -1;
	size_t n = strlen(field);
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

static void mk(struct request_record *r, const char *ua, const char *client, uint64_t end_ns, uint64_t lat)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->user_agent, sizeof(r->user_agent), "%s", ua);
	snprintf(r->ri.verb, sizeof(r->ri.verb), "list");
	snprintf(r->ri.resource, sizeof(r->ri.resource), "configmaps");
	snprintf(r->method, sizeof(r->method), "GET");
	snprintf(r->client, sizeof(r->client), "%s", client);
	r->ri.is_resource_request = true;
	r->status = 200;
	r->latency_ns = lat;
	r->start_ns = end_ns - lat;
	r->bytes_out = 2000;
	r->sample_factor = 1.0;
}

static void test_million_agents(void **state)
{
	enum { NOISE = 1000000, STEPS = 50, FLOOD = 47, MAX_ROWS = 1000 };
	struct agg_params p;
	struct etcd_agg_params ep;
	struct agg *a;
	struct etcd_agg *ea;
	static struct agg_row rows[MAX_ROWS];
	struct request_record r;
	char ua[REC_UA_LEN], client[64];
	FILE *devnull = fopen("/dev/null", "w");
	uint64_t id = 1;
	long hwm0 = status_kb("VmHWM"), hwm, rss;
	uint32_t noise = 0;

	assert_non_null(devnull);
	/* as cmd_top: --interval 1 */
	agg_params_for_window(&p, 1);
	a = agg_new(&p, T0);
	etcd_agg_params_default(&ep);
	ep.step_ns = p.step_ns;
	ep.nsteps = 2;
	ep.link_tables = AGG__NTABLES;
	ep.link_rows = p.max_keys + 1;
	ea = etcd_agg_new(&ep, T0);
	assert_non_null(a);
	assert_non_null(ea);
	agg_set_evict_hook(a, etcd_agg_evict_hook, ea);
	for (uint32_t s = 0; s < STEPS + 2; s++) {
		uint32_t n = s < STEPS ? NOISE / STEPS : 20000; /* the burst goes on while the flood runs */

		for (uint32_t i = 0; i < n; i++, noise++) {
			uint32_t rows_of[AGG__NTABLES];

			snprintf(ua, sizeof(ua), "cardinality-burst/%07u (linux/amd64) kubernetes/%08x", noise,
				 noise * 2654435761u);
			snprintf(client, sizeof(client), "10.%u.%u.%u:%u", noise >> 16 & 255, noise >> 8 & 255, noise & 255,
				 30000 + noise % 30000);
			mk(&r, ua, client, T0 + s * S + (uint64_t)i * (S / n), 2000000);
			r.id = id++;
			agg_add_rows(a, &r, rows_of);
			etcd_agg_request(ea, r.id, r.start_ns + r.latency_ns, rows_of);
		}
		if (s >= STEPS) {
			for (uint32_t i = 0; i < FLOOD; i++) {
				mk(&r, "new-flooder/1.0", "192.168.1.1:5555", T0 + s * S + (uint64_t)i * (S / FLOOD),
				   30000000);
				agg_add(a, &r);
			}
		}
		/* refresh at the next step's boundary, as top */
		agg_advance(a, T0 + (s + 1) * S);
		etcd_agg_advance(ea, T0 + (s + 1) * S);
		for (int t = 0; t < AGG_TOTAL; t++)
			for (int so = 0; so < AGG__NSORT; so++)
				agg_query(a, (enum agg_table)t, 1, (enum agg_sort)so, rows, MAX_ROWS, NULL);
		assert_int_equal(prom_render(devnull, a, NULL), 0);
		if (s >= STEPS) {
			size_t nr = agg_query(a, AGG_BY_AGENT, 1, AGG_SORT_RATE, rows, MAX_ROWS, NULL);
			const struct agg_row *f = NULL;

			for (size_t i = 0; i < nr && i < MAX_ROWS; i++)
				if (!strcmp(rows[i].key->user_agent, "new-flooder/1.0"))
					f = &rows[i];
			/* within one refresh of its start: the flooder's row, its exact rate, its latency */
			assert_non_null(f);
			print_message("refresh %u after the flood started: flooder %.1f/s (error bound %.2f/s), row %zu of %zu, p50 %.1f ms\n",
				      s - STEPS + 1, f->rate, f->rate_err, (size_t)(f - rows) + 1, nr, f->p50_ns / 1e6);
			assert_true(fabs(f->rate - FLOOD) <= 0.1 * FLOOD);
			assert_true(fabs(f->p50_ns - 30e6) / 30e6 <= LH_REL_ERR);
			assert_true(f == &rows[0] || rows[0].other); /* the top row, after "(other)" */
		}
	}
	hwm = status_kb("VmHWM");
	rss = status_kb("VmRSS");
	print_message("%u distinct user agents: evicted %llu (agent), %llu (all); VmHWM %.1f MB (%.1f MB at start), VmRSS %.1f MB\n",
		      noise, (unsigned long long)agg_get_stats(a)->evicted[AGG_BY_AGENT],
		      (unsigned long long)agg_get_stats(a)->evicted[AGG_BY_KEY], hwm / 1024.0, hwm0 / 1024.0, rss / 1024.0);
	assert_true(noise >= 1000000);
	assert_true(agg_table_size(a, AGG_BY_AGENT) <= p.max_keys + 1);
	etcd_agg_free(ea);
	agg_free(a);
	/* under valgrind (make unit-test-valgrind) the process's memory is valgrind's as much as ours:
	 * the bound is checked in the normal run */
	if (getenv("KAPIMON_UNDER_VALGRIND"))
		printf("memory bound not checked under valgrind\n");
	else
		assert_true(hwm > 0 && hwm * 1024.0 <= 64 * MB);
	fclose(devnull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_million_agents),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
