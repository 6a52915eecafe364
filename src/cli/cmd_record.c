// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* kapimon record: every apiserver request as a JSON line. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

#include "assemble/stats.h"
#include "capture/capture.h"
#include "capture/follow.h"
#include "capture/sampler.h"
#include "cli/cli.h"
#include "cli/cli_capture.h"
#include "output/audit_sink.h"
#include "output/jsonl_sink.h"
#include "pipeline/pipeline.h"
#include "plan/plan.h"
#include "sampling/budget.h"
#include "input/raw_events.h"
#include "util/log.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: kapimon record [--pid N | --exe NAME] [-o FILE|-] [--format flows|audit] [--duration S]\n"
		"                      [--stats-interval S]"
		"                      [--no-h1] [--no-h2] [--no-etcd] [--etcd-link-hold MS]\n"
		"                      [--budget PCT [--budget-period S] [--hit-cost-us US]]\n\n"
		"Record every request the kube-apiserver serves as one JSON line (kind \"request\"),\n"
		"written when the request ends. Without --pid every kube-apiserver on the host is followed:\n"
		"attached when found (also in other mount/PID namespaces), detached when it exits, a new one\n"
		"(a restart) attached within 2 s; records carry \"apiserver_pid\". Prints a line containing\n"
		"'attached' on stderr each time an apiserver's probes are live.\n"
		"SIGINT/SIGTERM: requests still running are written with \"ongoing\":true, probes are\n"
		"detached, exit 0. A second Ctrl-C quits at once. With --pid (or --budget), if the process\n"
		"exits kapimon writes what it has and exits 1.\n\n"
		"Options:\n"
		"  --pid N             watch only this process\n"
		"  --exe NAME          without --pid: follow processes whose executable is NAME\n"
		"                      (default kube-apiserver; NAME-<suffix> matches too)\n"
		"  -o, --output FILE   write records to FILE ('-' = stdout, the default)\n"
		"  --format F          flows (default: the records of docs/records.md) or audit: one\n"
		"                      audit.k8s.io/v1 Event line per finished request (level Metadata, stage\n"
		"                      ResponseComplete; no user yet; no etcd or stats lines)\n"
		"  --duration S        stop after S seconds\n"
		"  --stats-interval S  write a {\"kind\":\"stats\"} line every S seconds (default 10, 0 = off)\n"
		"  --no-h1, --no-h2    do not probe the HTTP/1.x or HTTP/2 server\n"
		"  --no-etcd           do not record etcd calls (kind \"etcd\"; 2 fewer uprobe hits per call, 3 per Range)\n"
		"  --budget PCT        overhead budget, e.g. 1%%: attach all uprobes (request and etcd) only part\n"
		"                      of each cycle, so their measured cost stays under PCT of the apiserver's\n"
		"                      CPU; records carry \"sample_factor\" (cycle / window); one apiserver\n"
		"                      (--pid, or the only one running)\n"
		"  --budget-period S   length of one cycle (default 10; longer cycles are multiples)\n"
		"  --hit-cost-us US    per-hit cost to assume instead of calibrating at start\n"
		"  --etcd-link-hold MS how long an etcd call waits for its apiserver request to end so it can\n"
		"                      be linked (default 2000)\n");
}

/* --raw-events (hidden, for replay benchmarks): every event as consumed, then the pipeline */
struct raw_dump {
	FILE *f;
	int err;
	struct pipeline *pl;
};

static void feed_and_dump(void *ctx, const void *data, size_t size)
{
	struct raw_dump *rd = ctx;

	if (!rd->err && raw_events_write(rd->f, data, size))
		rd->err = errno ? errno : EIO;
	pipeline_feed(rd->pl, data, size);
}

/* The stats record: the pipeline's and the BPF side's counters, the apiservers attached, and the duty
 * cycle in budget mode. */
static void write_stats(struct follow *fw, struct pipeline *pl, const struct sampler *sm, struct jsonl_sink *js,
			struct record_stats *s)
{
	struct capture_stats cs;

	follow_read_stats(fw, &cs);
	pipeline_fill_stats(pl, cs.hits, cs.counters, cli_now_ns(CLOCK_REALTIME), s);
	follow_fill_stats(fw, s);
	if (sm)
		sampler_fill_stats(sm, s);
	if (js) /* NULL: --format audit has no stats lines */
		jsonl_sink_stats(js, s);
}

/* An apiserver exited: its requests still open are written as ongoing. */
static void on_gone(void *ctx, pid_t pid)
{
	pipeline_source_gone(ctx, (uint32_t)pid, cli_now_ns(CLOCK_MONOTONIC));
}

int cmd_record(int argc, char **argv)
{
	enum { OPT_PID = 256, OPT_EXE, OPT_DURATION, OPT_STATS, OPT_NO_H1, OPT_NO_H2, OPT_NO_ETCD, OPT_LINK_HOLD, OPT_BUDGET, OPT_BUDGET_PERIOD, OPT_HIT_COST, OPT_RAW, OPT_FORMAT };
	static const struct option longopts[] = {
		CLI_COMMON_LONG,
		{ "pid", required_argument, NULL, OPT_PID },
		{ "exe", required_argument, NULL, OPT_EXE },
		{ "output", required_argument, NULL, 'o' },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "stats-interval", required_argument, NULL, OPT_STATS },
		{ "no-h1", no_argument, NULL, OPT_NO_H1 },
		{ "no-h2", no_argument, NULL, OPT_NO_H2 },
		{ "no-etcd", no_argument, NULL, OPT_NO_ETCD },
		{ "etcd-link-hold", required_argument, NULL, OPT_LINK_HOLD },
		{ "budget", required_argument, NULL, OPT_BUDGET },
		{ "budget-period", required_argument, NULL, OPT_BUDGET_PERIOD },
		{ "hit-cost-us", required_argument, NULL, OPT_HIT_COST },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "raw-events", required_argument, NULL, OPT_RAW }, /* hidden: docs/capture-testing.md */
		{ 0 },
	};
	struct capture_opts co = { 0 };
	struct follow_opts fo = { 0 };
	struct follow *fw = NULL;
	struct pipeline_opts po = { 0 };
	struct pipeline *pl = NULL;
	struct jsonl_sink js;
	struct audit_sink as;
	bool audit = false;
	uint64_t seed = 0;
	FILE *out = NULL;
	const char *outpath = "-", *rawpath = NULL;
	struct raw_dump rd = { 0 };
	long pid = 0, duration = 0, stats_every = 10, link_hold_ms = 2000, budget_period = 10;
	double budget = 0, hit_cost_us = 0;
	struct sampler sm = { 0 };
	uint64_t t0, last_stats, last_tick = 0, last_flush = 0;
	int c, ret = 1;
	bool target_gone = false;

	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT "o:", longopts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(stdout); return 0;
		case 'o': outpath = optarg; break;
		case OPT_EXE: fo.exe_name = optarg; break;
		case OPT_PID:
			if (!cli_parse_long(optarg, 1, 1 << 30, &pid))
				return cli_usage_error("record", "--pid needs a process id, got '%s'", optarg);
			break;
		case OPT_DURATION:
			if (!cli_parse_long(optarg, 1, 1L << 31, &duration))
				return cli_usage_error("record", "--duration needs seconds > 0, got '%s'", optarg);
			break;
		case OPT_STATS:
			if (!cli_parse_long(optarg, 0, 1L << 31, &stats_every))
				return cli_usage_error("record", "--stats-interval needs seconds >= 0, got '%s'", optarg);
			break;
		case OPT_NO_H1: co.no_h1 = true; break;
		case OPT_NO_H2: co.no_h2 = true; break;
		case OPT_NO_ETCD: co.no_etcd = true; break;
		case OPT_BUDGET:
			if (!budget_parse(optarg, &budget))
				return cli_usage_error("record", "--budget needs a percentage in (0, 100], e.g. 1%%, got '%s'", optarg);
			break;
		case OPT_BUDGET_PERIOD:
			if (!cli_parse_long(optarg, 1, 3600, &budget_period))
				return cli_usage_error("record", "--budget-period needs seconds in [1, 3600], got '%s'", optarg);
			break;
		case OPT_HIT_COST:
			if (!cli_parse_double(optarg, &hit_cost_us) || hit_cost_us <= 0)
				return cli_usage_error("record", "--hit-cost-us needs microseconds > 0, got '%s'", optarg);
			break;
		case OPT_RAW: rawpath = optarg; break;
		case OPT_FORMAT:
			if (strcmp(optarg, "flows") && strcmp(optarg, "audit"))
				return cli_usage_error("record", "--format is flows or audit, got '%s'", optarg);
			audit = !strcmp(optarg, "audit");
			break;
		case OPT_LINK_HOLD:
			if (!cli_parse_long(optarg, 0, 3600000, &link_hold_ms))
				return cli_usage_error("record", "--etcd-link-hold needs milliseconds, got '%s'", optarg);
			break;
		default:
			if (!cli_common_opt(c))
				return cli_usage_error("record", "invalid option");
		}
	}
	if (optind < argc)
		return cli_usage_error("record", "unexpected argument '%s'", argv[optind]);
	if (co.no_h1 && co.no_h2)
		return cli_usage_error("record", "--no-h1 and --no-h2 leave nothing to record");
	if (pid && fo.exe_name)
		return cli_usage_error("record", "--exe follows processes by name; --pid watches one: not both");
	/* budget mode drives one apiserver's probes: the only one running, as before follow */
	if (budget > 0 && !pid && cli_find_apiserver(&pid))
		return 1;
	fo.pid = (pid_t)pid;

	out = strcmp(outpath, "-") ? fopen(outpath, "w") : stdout;
	if (!out) {
		p_err("cannot open %s: %s", outpath, strerror(errno));
		return 1;
	}
	setvbuf(out, NULL, _IOFBF, 1 << 16); /* 64 KiB: stays in cache (1 MiB: each record lands on cold lines) */
	/* front end: capture -> pipeline -> one sink, the JSON-lines writer */
	jsonl_sink_init(&js, out);
	po.mono_to_wall_ns = cli_mono_to_wall();
	po.etcd = !co.no_etcd;
	po.etcd_link_hold_ns = (uint64_t)link_hold_ms * 1000000ULL;
	pl = pipeline_new(&po);
	if (!pl) {
		p_err("out of memory");
		goto out;
	}
	{
		struct pipeline_sink sink = jsonl_sink_iface(&js);

		if (audit) { /* auditIDs: derived from request ids and a per-run random seed */
			if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
				seed = cli_now_ns(CLOCK_REALTIME) ^ ((uint64_t)getpid() << 32);
			audit_sink_init(&as, out, seed);
			sink = audit_sink_iface(&as);
		}
		pipeline_add_sink(pl, &sink);
	}
	co.on_event = pipeline_feed_cb;
	co.ctx = pl;
	if (rawpath) {
		rd.f = fopen(rawpath, "w");
		if (!rd.f || raw_events_write_header(rd.f)) {
			p_err("cannot write %s: %s", rawpath, strerror(errno));
			goto out;
		}
		rd.pl = pl;
		co.on_event = feed_and_dump;
		co.ctx = &rd;
	}
	fo.co = co;
	fo.on_gone = on_gone;
	fo.ctx = pl;

	cli_signals_install(true);
	if (follow_open(&fw, &fo))
		goto out;
	if (sampler_init(&sm, follow_capture(fw, 0), fo.pid, budget, hit_cost_us * 1000.0,
			 (uint64_t)budget_period * 1000000000ULL))
		goto out;
	if (sm.enabled) /* each record weighs what the window its start fell in stands for */
		pipeline_set_weigher(pl, sampler_weight, &sm);
	if (kp_verbosity >= 2)
		for (size_t i = 0; i < follow_count(fw); i++)
			plan_print(capture_plan(follow_capture(fw, i)), stderr, "kapimon: ");
	follow_announce(fw, budget > 0 ? " (budget mode: duty cycle follows the measured load)" : "");

	t0 = last_stats = cli_now_ns(CLOCK_MONOTONIC);
	while (!cli_exiting) {
		uint64_t now;
		/* a wake-up a second when the rings stay below their wake-up mark (as top): each costs kapimon
		 * ~40 us of cold caches and syscalls (docs/capture-testing.md, fifth pass); stdout still gets its
		 * records within about a second */
		int err = follow_poll(fw, sampler_timeout_ms(&sm, cli_now_ns(CLOCK_MONOTONIC), 1000));

		if (err < 0 && err != -EINTR) {
			p_err("ring buffer poll: %s", strerror(-err));
			goto out;
		}
		pipeline_rings_read(pl);
		now = cli_now_ns(CLOCK_MONOTONIC);
		/* housekeeping scans whole tables: a few times a second, never per poll */
		if (now - last_tick >= 100000000ULL) {
			pipeline_tick(pl, now);
			last_tick = now;
		}
		/* apiservers that exited (their requests still open are written as ongoing) and new ones */
		follow_check(fw, now);
		if (follow_target_gone(fw)) {
			/* --pid: the apiserver is gone (restart, crash): its probes went with it */
			p_warn("pid %d exited: stopping (requests still open are written as ongoing)", fo.pid);
			target_gone = true;
			break;
		}
		sampler_tick(&sm, now);
		if (duration && now - t0 >= (uint64_t)duration * 1000000000ULL)
			break;
		if (stats_every && now - last_stats >= (uint64_t)stats_every * 1000000000ULL) {
			struct record_stats s;

			write_stats(fw, pl, &sm, audit ? NULL : &js, &s);
			fflush(out);
			last_stats = now;
		}
		/* readers tail the file: never hold records back for more than about a second */
		if (out == stdout || now - last_flush >= 1000000000ULL) {
			fflush(out);
			last_flush = now;
		}
	}
	sampler_stop(&sm, cli_now_ns(CLOCK_MONOTONIC));
	follow_drain(fw);
	pipeline_flush(pl, cli_now_ns(CLOCK_MONOTONIC));
	{
		struct record_stats s;

		write_stats(fw, pl, &sm, audit ? NULL : &js, &s);
		fprintf(stderr,
			"kapimon: %llu request records, %llu etcd records, %llu ring-buffer drops, %llu unmatched ends, "
			"%.2f uprobe hits/request, %.2f per etcd call\n",
			(unsigned long long)s.records, (unsigned long long)s.etcd_records, (unsigned long long)s.ringbuf_drops,
			(unsigned long long)s.unmatched_ends, s.hits_per_request, s.etcd_hits_per_call);
	}
	ret = target_gone ? 1 : 0;
out:
	follow_close(fw);
	sampler_free(&sm);
	if (out && fflush(out)) {
		p_err("writing %s: %s", outpath, strerror(errno));
		ret = 1;
	}
	if (out && out != stdout)
		fclose(out);
	pipeline_free(pl);
	if (rd.f && (fclose(rd.f) || rd.err)) {
		p_err("writing %s: %s", rawpath, strerror(rd.err ? rd.err : errno));
		ret = 1;
	}
	return ret;
}
