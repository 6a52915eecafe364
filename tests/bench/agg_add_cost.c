/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Instructions per agg_add (docs/top.md "Cost per record"): 200 000 records of 200 user agents, nsteps 3.
 *   cc -O2 -Isrc -Iinclude tests/bench/agg_add_cost.c build/libkapimon.a -lm -o /tmp/agg_add_cost
 *   valgrind --tool=callgrind /tmp/agg_add_cost   (Collected / 200 000) */
#include <stdio.h>
#include <string.h>
#include "aggregate/aggregate.h"
int main(void)
{
	struct agg_params p; struct request_record r; struct agg *a;
	agg_params_default(&p); p.nsteps = 3; p.detector_window = 0;
	a = agg_new(&p, 1000000000ULL);
	memset(&r, 0, sizeof(r));
	r.ri.is_resource_request = true; strcpy(r.ri.verb, "list"); strcpy(r.ri.resource, "pods");
	strcpy(r.ri.namespace_, "default"); strcpy(r.method, "GET"); strcpy(r.client, "10.0.0.1:4000");
	r.status = 200; r.latency_ns = 1000000; r.sample_factor = 1;
	for (int i = 0; i < 200000; i++) {
		snprintf(r.user_agent, sizeof(r.user_agent), "agent-%d", i % 200);
		r.start_ns = 1000000000ULL + (uint64_t)i * 10000;
		agg_add(a, &r);
	}
	agg_free(a);
	return 0;
}
