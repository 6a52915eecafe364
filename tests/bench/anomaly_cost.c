/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* CPU of the agent's anomaly detector (aggregate/live_anomaly.h in its sink form, docs/agent.md): RATE
 * requests per simulated second from 50 user agents x 4 (verb, resource), fed as the pipeline delivers
 * them, and one refresh per second as the agent does, for STEPS seconds; from step STEPS/2 on, FLOOD
 * more requests a second from one new agent for 60 s (an event: the live cause is drilled down at each
 * refresh). Prints the CPU time (CLOCK_PROCESS_CPUTIME_ID) of the record path and of the refreshes, per
 * simulated second, quiet and during the event.
 *   cc -O2 -Isrc -Iinclude tests/bench/anomaly_cost.c build/libkapimon.a -lm -o /tmp/anomaly_cost
 *   /tmp/anomaly_cost [RATE 200] [STEPS 3600] [FLOOD 2000]
 * (instructions instead of time: valgrind --tool=callgrind --toggle-collect=live_anomaly_sink_refresh ...) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aggregate/live_anomaly.h"

#define S 1000000000ULL
#define T0 (1800000000ULL * S)

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const char *const verbs[4] = { "get", "list", "update", "watch" };
	static const char *const res[4] = { "pods", "configmaps", "coordination.k8s.io/leases", "nodes" };
	int rate = argc > 1 ? atoi(argv[1]) : 200, steps = argc > 2 ? atoi(argv[2]) : 3600,
	    flood = argc > 3 ? atoi(argv[3]) : 2000, f0 = steps / 2, f1 = f0 + 60, events = 0;
	struct agg_params ap;
	struct dc_params dp;
	struct live_anomaly *la;
	struct pipeline_sink sk;
	struct request_record *recs;
	struct anomaly_record ev[LA_MAX_RECORDS];
	double t_rec[2] = { 0 }, t_ref[2] = { 0 };
	int n_steps[2] = { 0 };
	unsigned x = 12345;

	if (rate < 1 || steps < 200 || flood < 0) {
		fprintf(stderr, "usage: anomaly_cost [RATE>=1] [STEPS>=200] [FLOOD>=0]\n");
		return 2;
	}
	recs = calloc((size_t)(rate * 2 + flood), sizeof(*recs));
	agg_params_for_window(&ap, 1);
	dc_params_default(&dp);
	live_anomaly_params(&ap, &dp);
	la = live_anomaly_sink_new(&ap, T0);
	if (!recs || !la)
		return 1;
	sk = live_anomaly_sink_iface(la);
	for (int s = 0; s < steps; s++) {
		int n = rate - rate / 10 + (int)((x = x * 1103515245 + 12345) >> 16) % (rate / 5 + 1), fl = s >= f0 && s < f1;
		double t;

		if (fl)
			n += flood;
		for (int i = 0; i < n; i++) { /* built outside the timed part */
			struct request_record *r = &recs[i];
			bool fr = i >= n - (fl ? flood : 0);

			memset(r, 0, sizeof(*r));
			snprintf(r->user_agent, sizeof(r->user_agent), fr ? "flooder/1.0" : "client-%d/v1.30", i % 50);
			snprintf(r->ri.verb, sizeof(r->ri.verb), "%s", fr ? "list" : verbs[i % 4]);
			snprintf(r->ri.resource, sizeof(r->ri.resource), "%s", fr ? "secrets" : res[(i / 4) % 4]);
			snprintf(r->method, sizeof(r->method), "GET");
			snprintf(r->client, sizeof(r->client), "10.0.%d.%d:40000", i % 50, i % 7);
			r->ri.is_resource_request = true;
			r->status = 200;
			r->latency_ns = 2000000;
			r->start_ns = T0 + (uint64_t)s * S + (uint64_t)i * (S / (uint64_t)(n + 1));
			r->sample_factor = 1;
		}
		t = cpu_now();
		for (int i = 0; i < n; i++)
			sk.request(sk.ctx, &recs[i]);
		t_rec[fl] += cpu_now() - t;
		t = cpu_now();
		for (size_t k = live_anomaly_sink_refresh(la, T0 + (uint64_t)(s + 1) * S + S / 20, ev); k; k--)
			events += ev[k - 1].phase == LA_START;
		t_ref[fl] += cpu_now() - t;
		n_steps[fl]++;
	}
	printf("rate %d/s, %d s, flood +%d/s for 60 s: %d event(s) started\n", rate, steps, flood, events);
	printf("quiet:       records %.1f us/s, refresh %.1f us/s, total %.1f us per second (%.4f%% of a core)\n",
	       1e6 * t_rec[0] / n_steps[0], 1e6 * t_ref[0] / n_steps[0], 1e6 * (t_rec[0] + t_ref[0]) / n_steps[0],
	       100 * (t_rec[0] + t_ref[0]) / n_steps[0]);
	printf("during flood: records %.1f us/s, refresh %.1f us/s (the live cause each second)\n",
	       1e6 * t_rec[1] / n_steps[1], 1e6 * t_ref[1] / n_steps[1]);
	live_anomaly_sink_free(la);
	free(recs);
	return 0;
}
