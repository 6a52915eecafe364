// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kapimon agent: always on. Follows every kube-apiserver on the host (or one --pid) and feeds the
 * pipeline's records to the sinks asked for: Prometheus metrics served at --metrics (output/prom_sink,
 * output/metrics_http), OpenTelemetry traces to --otlp (output/otlp_export, one exporter per apiserver:
 * its pid is a resource attribute), JSON-lines flows in --flows DIR (output/rotate), and the anomaly
 * detector with its live cause (aggregate/live_anomaly: a stderr line, a flows line and metrics per
 * event). A front end: it chooses sinks and does no joining or analysis of its own.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "capture/capture.h"
#include "capture/follow.h"
#include "aggregate/live_anomaly.h"
#include "capture/sampler.h"
#include "cli/cli.h"
#include "cli/cli_capture.h"
#include "cli/cli_detector.h"
#include "output/anomaly_out.h"
#include "output/audit_sink.h"
#include "output/jsonl_sink.h"
#include "output/metrics_http.h"
#include "output/otlp_export.h"
#include "output/otlp_metrics.h"
#include "output/prom_sink.h"
#include "output/rotate.h"
#include "pipeline/pipeline.h"
#include "plan/plan.h"
#include "resolve/probe_targets.h"
#include "sampling/budget.h"
#include "util/log.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: kapimon agent [--pid N | --exe NAME] [--metrics ADDR:PORT]\n"
		"                     [--otlp URL [--otlp-sample PPM] [--otlp-queue SPANS]]\n"
		"                     [--flows DIR [--flows-format flows|audit] [--rotate-mb N] [--keep N]]\n"
		"                     [--no-etcd] [--budget PCT] [--threshold X] [--season auto|N|0] [--no-anomalies]\n\n"
		"Always-on capture for the backends SREs run. Without --pid every kube-apiserver on the host is\n"
		"followed (attached when found, also in containers; a restart is re-attached); a line containing\n"
		"'attached' is printed on stderr for each. SIGTERM/SIGINT: flush and stop (exit 0); SIGHUP:\n"
		"reopen the flows file.\n\n"
		"Options:\n"
		"  --pid N             watch only this process (exit 1 when it exits)\n"
		"  --exe NAME          follow processes whose executable is NAME (default kube-apiserver)\n"
		"  --metrics ADDR:PORT serve Prometheus metrics at http://ADDR:PORT/metrics (docs/metrics.md);\n"
		"                      ':PORT' = 127.0.0.1; there is no authentication: another address is warned about\n"
		"  --otlp URL          export traces over OTLP/HTTP protobuf to URL/v1/traces (docs/otlp.md):\n"
		"                      a SERVER span per request, a CLIENT span per etcd call, linked\n"
		"  --otlp-sample PPM   traces kept per million (default 1000000 = all)\n"
		"  --otlp-queue SPANS  bound of the span queue per apiserver (default 8192); when the receiver is\n"
		"                      slow or down, spans beyond it are dropped and counted (kapimon_otlp_* metrics)\n"
		"  --flows DIR         write the records (`kapimon record` lines) to DIR/flows.jsonl, mode 0600\n"
		"  --flows-format F    flows (default) or audit: DIR/audit.log of audit.k8s.io/v1 Event lines\n"
		"                      (as `kapimon record --format audit`)\n"
		"  --rotate-mb N       rotate the flows file at N MiB (default 100)\n"
		"  --keep N            rotated flows files kept (default 5)\n"
		"  --no-etcd           do not capture etcd calls\n"
		"  --budget PCT        overhead budget (as `kapimon record`; one apiserver)\n"
		"  --no-anomalies      do not run the anomaly detector (as top's: the total request rate; each\n"
		"                      event's start, cause and end as a stderr line, a {\"kind\":\"anomaly\"} flows\n"
		"                      line and kapimon_anomaly_* metrics; docs/agent.md)\n");
	cli_detector_live_usage(out, 22);
}

/* OTLP: one exporter per apiserver process (the resource carries its pid) */
#define AGENT_MAX_EXPORTERS 16
struct otlp_sink {
	struct otlp_exporter_config cfg;
	struct otlp_exporter *ex[AGENT_MAX_EXPORTERS];
	uint32_t pid[AGENT_MAX_EXPORTERS];
	size_t n;
	uint64_t no_exporter; /* records of an apiserver beyond AGENT_MAX_EXPORTERS, or whose exporter failed */
	struct otlp_metrics gone; /* counters of closed exporters */
	uint64_t warned_dropped, warned_failed, warned_ns; /* the last stderr line about lost spans */
};

static struct otlp_exporter *otlp_for(struct otlp_sink *o, uint32_t pid)
{
	char err[256];

	for (size_t i = 0; i < o->n; i++)
		if (o->pid[i] == pid)
			return o->ex[i];
	if (o->n == AGENT_MAX_EXPORTERS)
		return NULL;
	o->cfg.resource.pid = pid;
	o->ex[o->n] = otlp_exporter_new(&o->cfg, err, sizeof(err));
	if (!o->ex[o->n]) {
		p_warn("otlp: %s", err);
		return NULL;
	}
	o->pid[o->n] = pid;
	return o->ex[o->n++];
}

static void otlp_on_request(void *ctx, const struct request_record *r)
{
	/* ongoing records come only from the final flush: their span ends there and says so
	 * (kapimon.ongoing), and the etcd calls already sent under it keep their parent */
	struct otlp_exporter *ex = otlp_for(ctx, r->apiserver_pid);

	if (ex)
		otlp_exporter_add_request(ex, r);
	else
		((struct otlp_sink *)ctx)->no_exporter++;
}

static void otlp_on_etcd(void *ctx, const struct etcd_record *e)
{
	struct otlp_exporter *ex = otlp_for(ctx, e->apiserver_pid);

	if (ex)
		otlp_exporter_add_etcd(ex, e);
	else
		((struct otlp_sink *)ctx)->no_exporter++;
}

static void otlp_totals(struct otlp_sink *o, struct otlp_metrics *t)
{
	*t = o->gone;
	for (size_t i = 0; i < o->n; i++) {
		struct otlp_exporter_stats s;

		otlp_exporter_stats(o->ex[i], &s);
		otlp_metrics_add(t, &s);
	}
	t->exporters = (uint32_t)o->n;
	t->no_exporter = o->no_exporter;
}

/* Lost spans on stderr too, at most one line per 10 s while it goes on. */
static void otlp_warn_losses(struct otlp_sink *o, uint64_t now_ns)
{
	struct otlp_metrics t;
	uint64_t d, f;

	if (now_ns - o->warned_ns < 10000000000ULL)
		return;
	otlp_totals(o, &t);
	d = t.st.dropped + t.no_exporter - o->warned_dropped;
	f = t.st.failed - o->warned_failed;
	if (!d && !f)
		return;
	p_warn("otlp: %llu spans dropped (queue full) and %llu failed (not delivered) since the last report; "
	       "queue %llu/%llu spans, totals: dropped %llu, failed %llu, sent %llu",
	       (unsigned long long)d, (unsigned long long)f, (unsigned long long)t.st.queue_len,
	       (unsigned long long)t.st.queue_capacity, (unsigned long long)(t.st.dropped + t.no_exporter),
	       (unsigned long long)t.st.failed, (unsigned long long)t.st.sent);
	o->warned_dropped += d;
	o->warned_failed += f;
	o->warned_ns = now_ns;
}

/* An exporter is closing: keep its counters (its queue is gone). */
static void otlp_keep_closed(struct otlp_sink *o, const struct otlp_exporter_stats *s)
{
	struct otlp_exporter_stats c = *s;

	c.queue_len = c.queue_capacity = 0;
	otlp_metrics_add(&o->gone, &c);
}

static volatile sig_atomic_t reopen;
static void on_hup(int sig)
{
	(void)sig;
	reopen = 1;
}

struct agent {
	struct follow *fw;
	struct pipeline *pl;
	struct sampler sm;
	struct prom_sink *ps;
	struct metrics_http *mh;
	struct otlp_sink os;
	bool otlp;
	struct rotate rot;
	struct jsonl_sink js;
	struct audit_sink as; /* --flows-format audit: instead of js */
	bool flows, audit;
	struct live_anomaly *la; /* the anomaly detector (NULL: --no-anomalies) */
};

static void on_gone(void *ctx, pid_t pid)
{
	pipeline_source_gone(ctx, (uint32_t)pid, cli_now_ns(CLOCK_MONOTONIC));
}

static double own_cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return -1;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

/* The detector, once a step is complete: each event's start, cause and end on stderr (journald), in
 * the flows (not the audit format) and, through publish_metrics, in the metrics. */
static void refresh_anomalies(struct agent *a, uint64_t now_wall)
{
	struct anomaly_record ev[LA_MAX_RECORDS];
	size_t n;
	char line[640];

	follow_drain(a->fw);
	n = live_anomaly_sink_refresh(a->la, now_wall, ev);
	for (size_t i = 0; i < n; i++) {
		anomaly_record_format(&ev[i], line, sizeof(line));
		fprintf(stderr, "kapimon: agent: %s\n", line);
		if (a->flows && !a->audit) {
			jsonl_sink_anomaly(&a->js, &ev[i]);
			fflush(a->rot.f); /* rare, and wanted at once by whoever tails the flows */
		}
	}
}

/* Render the metrics and hand them to the HTTP thread (on the capture thread: the sink is not shared). */
static void publish_metrics(struct agent *a)
{
	struct capture_stats cs;
	struct prom_sink_health h = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *out;
	int rc;

	follow_read_stats(a->fw, &cs);
	h.ringbuf_drops = cs.counters[KP_CNT_RB_DROP];
	h.probe_hits = cs.hits;
	h.apiservers_attached = (uint32_t)follow_count(a->fw);
	if (follow_count(a->fw)) {
		const struct plan *p = capture_plan(follow_capture(a->fw, 0));

		for (int g = 0; p && g < PG__COUNT && h.noffsets < PROM_SINK_MAX_OFFSET_GROUPS; g++)
			if (p->groups[g].ok && p->groups[g].offsets_source) {
				h.offsets_group[h.noffsets] = probe_group_name((enum probe_group)g);
				h.offsets_source[h.noffsets++] = p->groups[g].offsets_source;
			}
	}
	h.cpu_seconds = own_cpu_seconds();
	h.budget_duty = a->sm.enabled ? a->sm.b.duty : -1;
	out = open_memstream(&buf, &len);
	if (!out)
		return;
	rc = prom_sink_render(a->ps, &h, out);
	if (a->otlp) {
		struct otlp_metrics t;

		otlp_totals(&a->os, &t);
		rc |= otlp_metrics_render(out, &t);
	}
	if (a->la)
		anomaly_prom_render(a->la, out);
	if (fclose(out) == 0 && !rc)
		metrics_http_publish(a->mh, buf, len);
	free(buf);
}

int cmd_agent(int argc, char **argv)
{
	enum { O_PID = 256, O_EXE, O_METRICS, O_OTLP, O_OTLP_SAMPLE, O_OTLP_QUEUE, O_FLOWS, O_FLOWS_FORMAT, O_ROTATE, O_KEEP, O_NO_ETCD, O_BUDGET,
	       O_NO_ANOM };
	static const struct option longopts[] = {
		CLI_COMMON_LONG,
		{ "pid", required_argument, NULL, O_PID },
		{ "exe", required_argument, NULL, O_EXE },
		{ "metrics", required_argument, NULL, O_METRICS },
		{ "otlp", required_argument, NULL, O_OTLP },
		{ "otlp-sample", required_argument, NULL, O_OTLP_SAMPLE },
		{ "otlp-queue", required_argument, NULL, O_OTLP_QUEUE },
		{ "flows", required_argument, NULL, O_FLOWS },
		{ "flows-format", required_argument, NULL, O_FLOWS_FORMAT },
		{ "rotate-mb", required_argument, NULL, O_ROTATE },
		{ "keep", required_argument, NULL, O_KEEP },
		{ "no-etcd", no_argument, NULL, O_NO_ETCD },
		{ "budget", required_argument, NULL, O_BUDGET },
		{ "no-anomalies", no_argument, NULL, O_NO_ANOM },
		CLI_DETECTOR_LIVE_LONG,
		{ 0 },
	};
	struct agent a = { 0 };
	struct follow_opts fo = { 0 };
	struct pipeline_opts po = { 0 };
	const char *metrics = NULL, *otlp = NULL, *flows = NULL;
	long pid = 0, rotate_mb = 100, keep = 5, sample = 1000000, otlp_queue = 0;
	double budget = 0;
	uint64_t last_tick = 0, last_sec = 0, next_step = 0;
	char err[256];
	int c, ret = 1;
	bool target_gone = false, anomalies = true;
	struct dc_params dp;

	dc_params_default(&dp);

	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, longopts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(stdout); return 0;
		case O_PID:
			if (!cli_parse_long(optarg, 1, 1 << 30, &pid))
				return cli_usage_error("agent", "--pid needs a process id, got '%s'", optarg);
			break;
		case O_EXE: fo.exe_name = optarg; break;
		case O_METRICS: metrics = optarg; break;
		case O_OTLP: otlp = optarg; break;
		case O_OTLP_SAMPLE:
			if (!cli_parse_long(optarg, 0, 1000000, &sample))
				return cli_usage_error("agent", "--otlp-sample needs 0..1000000 (per million), got '%s'", optarg);
			break;
		case O_OTLP_QUEUE:
			if (!cli_parse_long(optarg, 1, 1 << 20, &otlp_queue))
				return cli_usage_error("agent", "--otlp-queue needs a span count in [1, 1048576], got '%s'", optarg);
			break;
		case O_FLOWS: flows = optarg; break;
		case O_FLOWS_FORMAT:
			if (strcmp(optarg, "flows") && strcmp(optarg, "audit"))
				return cli_usage_error("agent", "--flows-format is flows or audit, got '%s'", optarg);
			a.audit = !strcmp(optarg, "audit");
			break;
		case O_ROTATE:
			if (!cli_parse_long(optarg, 1, 1 << 20, &rotate_mb))
				return cli_usage_error("agent", "--rotate-mb needs MiB in [1, 1048576], got '%s'", optarg);
			break;
		case O_KEEP:
			if (!cli_parse_long(optarg, 0, 100000, &keep))
				return cli_usage_error("agent", "--keep needs a count >= 0, got '%s'", optarg);
			break;
		case O_NO_ETCD: fo.co.no_etcd = true; break;
		case O_NO_ANOM: anomalies = false; break;
		case O_BUDGET:
			if (!budget_parse(optarg, &budget))
				return cli_usage_error("agent", "--budget needs a percentage in (0, 100], e.g. 1%%, got '%s'", optarg);
			break;
		default: {
			bool handled;
			int rc = cli_detector_opt("agent", c, optarg, &dp, &handled);

			if (rc)
				return rc;
			if (!handled && !cli_common_opt(c))
				return cli_usage_error("agent", "invalid option");
		}
		}
	}
	if (optind < argc)
		return cli_usage_error("agent", "unexpected argument '%s'", argv[optind]);
	if (!metrics && !otlp && !flows)
		return cli_usage_error("agent", "nothing to do: give --metrics, --otlp and/or --flows");
	if (a.audit && !flows)
		return cli_usage_error("agent", "--flows-format audit needs --flows DIR");
	if (pid && fo.exe_name)
		return cli_usage_error("agent", "--exe follows processes by name; --pid watches one: not both");
	if (budget > 0 && !pid && cli_find_apiserver(&pid))
		return 1;
	fo.pid = (pid_t)pid;
	if (anomalies) { /* top's detector on top's series: an aggregate of the requests, 1 s steps */
		struct agg_params ap;

		agg_params_for_window(&ap, 1);
		if (live_anomaly_params(&ap, &dp))
			return cli_usage_error("agent", "--season: at most %d (seconds), got %d", LA_MAX_SEASON, dp.season);
	}

	po.mono_to_wall_ns = cli_mono_to_wall();
	po.etcd = !fo.co.no_etcd;
	po.pending_closed_grace_ns = 5000000000ULL;
	a.pl = pipeline_new(&po);
	if (!a.pl) {
		p_err("out of memory");
		goto out;
	}
	if (anomalies) {
		struct agg_params ap;
		struct pipeline_sink s;

		agg_params_for_window(&ap, 1);
		live_anomaly_params(&ap, &dp); /* checked above */
		a.la = live_anomaly_sink_new(&ap, cli_now_ns(CLOCK_MONOTONIC) + po.mono_to_wall_ns);
		if (!a.la) {
			p_err("out of memory");
			goto out;
		}
		s = live_anomaly_sink_iface(a.la);
		pipeline_add_sink(a.pl, &s);
	}
	if (metrics) {
		struct pipeline_sink s;

		a.ps = prom_sink_new(NULL);
		a.mh = a.ps ? metrics_http_start(metrics, err, sizeof(err)) : NULL;
		if (!a.mh) {
			p_err("--metrics %s: %s", metrics, a.ps ? err : "out of memory");
			goto out;
		}
		if (!metrics_http_is_loopback(a.mh))
			p_warn("--metrics %s is not a loopback address: anyone who can reach it reads the metrics (no authentication)",
			       metrics);
		s = prom_sink_iface(a.ps);
		pipeline_add_sink(a.pl, &s);
	}
	if (otlp) {
		struct otlp_exporter *probe;
		struct pipeline_sink s = { .name = "otlp", .request = otlp_on_request, .etcd = otlp_on_etcd, .ctx = &a.os };

		otlp_exporter_config_default(&a.os.cfg);
		a.os.cfg.url = otlp;
		a.os.cfg.sample_per_million = (uint32_t)sample;
		if (otlp_queue) { /* bytes: room for that many of the largest spans, never more than the default */
			a.os.cfg.queue_spans = (uint32_t)otlp_queue;
			if ((size_t)otlp_queue * OTLP_SPAN_MAX < a.os.cfg.queue_bytes)
				a.os.cfg.queue_bytes = (size_t)otlp_queue * OTLP_SPAN_MAX;
		}
		/* check the URL now rather than at the first record */
		probe = otlp_exporter_new(&a.os.cfg, err, sizeof(err));
		if (!probe) {
			p_err("--otlp %s: %s", otlp, err);
			goto out;
		}
		otlp_exporter_close(probe, 0, NULL);
		a.otlp = true;
		pipeline_add_sink(a.pl, &s);
	}
	if (flows) {
		struct pipeline_sink s;

		uint64_t seed = 0;

		if (rotate_open(&a.rot, flows, a.audit ? "audit.log" : "flows.jsonl", (uint64_t)rotate_mb << 20,
				(unsigned)keep, err, sizeof(err))) {
			p_err("--flows: %s", err);
			goto out;
		}
		a.flows = true;
		if (a.audit) { /* auditIDs: derived from request ids and a per-run random seed */
			if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
				seed = cli_now_ns(CLOCK_REALTIME) ^ ((uint64_t)getpid() << 32);
			audit_sink_init(&a.as, a.rot.f, seed);
			s = audit_sink_iface(&a.as);
		} else {
			jsonl_sink_init(&a.js, a.rot.f);
			s = jsonl_sink_iface(&a.js);
		}
		pipeline_add_sink(a.pl, &s);
	}
	fo.co.on_event = pipeline_feed_cb;
	fo.co.ctx = a.pl;
	fo.on_gone = on_gone;
	fo.ctx = a.pl;

	cli_signals_install(true);
	signal(SIGHUP, on_hup);
	if (follow_open(&a.fw, &fo))
		goto out;
	if (sampler_init(&a.sm, follow_capture(a.fw, 0), fo.pid, budget, 0, 10000000000ULL))
		goto out;
	if (a.sm.enabled)
		pipeline_set_weigher(a.pl, sampler_weight, &a.sm);
	follow_announce(a.fw, "");
	if (a.mh)
		fprintf(stderr, "kapimon: agent: metrics at http://%s/metrics (port %u)\n", metrics, metrics_http_port(a.mh));

	/* the detector judges whole steps: refresh just after each second of the wall clock (as top) */
	next_step = ((cli_now_ns(CLOCK_MONOTONIC) + po.mono_to_wall_ns) / 1000000000ULL + 1) * 1000000000ULL + 50000000ULL;
	while (!cli_exiting) {
		uint64_t now, wall = cli_now_ns(CLOCK_MONOTONIC) + po.mono_to_wall_ns;
		int wait_ms = !a.la ? 200 : next_step > wall ? (int)((next_step - wall + 999999) / 1000000) : 0;
		int e = follow_poll(a.fw, sampler_timeout_ms(&a.sm, cli_now_ns(CLOCK_MONOTONIC), wait_ms < 200 ? wait_ms : 200));

		if (e < 0 && e != -EINTR) {
			p_err("ring buffer poll: %s", strerror(-e));
			goto out;
		}
		pipeline_rings_read(a.pl);
		now = cli_now_ns(CLOCK_MONOTONIC);
		if (now - last_tick >= 100000000ULL) {
			pipeline_tick(a.pl, now);
			last_tick = now;
		}
		follow_check(a.fw, now);
		if (follow_target_gone(a.fw)) {
			p_warn("pid %d exited: stopping", fo.pid);
			target_gone = true;
			break;
		}
		sampler_tick(&a.sm, now);
		wall = now + po.mono_to_wall_ns;
		if (a.la && wall >= next_step) {
			refresh_anomalies(&a, wall);
			next_step += 1000000000ULL;
			if (next_step <= wall) /* fell behind (stopped process): realign */
				next_step = (wall / 1000000000ULL + 1) * 1000000000ULL + 50000000ULL;
		}
		if (now - last_sec >= 1000000000ULL) {
			last_sec = now;
			if (a.ps)
				publish_metrics(&a);
			if (a.otlp)
				otlp_warn_losses(&a.os, now);
			if (a.flows) {
				int r = reopen ? (reopen = 0, rotate_reopen(&a.rot)) : rotate_check(&a.rot, cli_now_ns(CLOCK_REALTIME));

				if (r)
					p_warn("flows: %s", strerror(-r));
				if (a.audit)
					audit_sink_set_out(&a.as, a.rot.f);
				else
					jsonl_sink_set_out(&a.js, a.rot.f);
			}
		}
	}
	sampler_stop(&a.sm, cli_now_ns(CLOCK_MONOTONIC));
	follow_drain(a.fw);
	pipeline_flush(a.pl, cli_now_ns(CLOCK_MONOTONIC));
	if (a.ps)
		publish_metrics(&a);
	ret = target_gone ? 1 : 0;
out:
	follow_close(a.fw);
	sampler_free(&a.sm);
	if (a.otlp) {
		struct otlp_metrics t;

		for (size_t i = 0; i < a.os.n; i++) {
			struct otlp_exporter_stats s;

			otlp_exporter_close(a.os.ex[i], 2000, &s);
			otlp_keep_closed(&a.os, &s);
		}
		a.os.n = 0;
		otlp_totals(&a.os, &t);
		fprintf(stderr, "kapimon: agent: otlp spans queued %llu, sent %llu, dropped %llu, failed %llu, rejected %llu\n",
			(unsigned long long)t.st.queued, (unsigned long long)t.st.sent,
			(unsigned long long)(t.st.dropped + t.no_exporter), (unsigned long long)t.st.failed,
			(unsigned long long)t.st.rejected);
	}
	if (a.flows) {
		if (a.rot.f && fflush(a.rot.f)) {
			p_err("writing flows: %s", strerror(errno));
			ret = 1;
		}
		rotate_close(&a.rot);
	}
	metrics_http_stop(a.mh);
	prom_sink_free(a.ps);
	live_anomaly_sink_free(a.la);
	pipeline_free(a.pl);
	return ret;
}
