// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* kapimon record: every apiserver request as a JSON line. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "assemble/assembler.h"
#include "assemble/conntrack.h"
#include "assemble/etcd_assembler.h"
#include "assemble/record_json.h"
#include "assemble/stats.h"
#include "capture/capture.h"
#include "capture/sampler.h"
#include "resolve/procnet.h"
#include "sampling/budget.h"
#include "cli/cli.h"
#include "cli/cli_capture.h"
#include "input/raw_events.h"
#include "output/json_writer.h"
#include "util/log.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: kapimon record [--pid N] [-o FILE|-] [--duration S] [--stats-interval S]\n"
		"                      [--no-h1] [--no-h2] [--no-etcd] [--etcd-link-hold MS]\n"
		"                      [--budget PCT [--budget-period S] [--hit-cost-us US]]\n\n"
		"Record every request the kube-apiserver serves as one JSON line (kind \"request\"),\n"
		"written when the request ends. Without --pid the local kube-apiserver is found.\n"
		"Prints a line containing 'attached' on stderr when every probe is live.\n"
		"SIGINT/SIGTERM: requests still running are written with \"ongoing\":true, probes are\n"
		"detached, exit 0. A second Ctrl-C quits at once. If the process exits, kapimon writes\n"
		"what it has and exits 1.\n\n"
		"Options:\n"
		"  --pid N             process to watch (default: the only running kube-apiserver)\n"
		"  -o, --output FILE   write records to FILE ('-' = stdout, the default)\n"
		"  --duration S        stop after S seconds\n"
		"  --stats-interval S  write a {\"kind\":\"stats\"} line every S seconds (default 10, 0 = off)\n"
		"  --no-h1, --no-h2    do not probe the HTTP/1.x or HTTP/2 server\n"
		"  --no-etcd           do not record etcd calls (kind \"etcd\"; 2 fewer uprobe hits per call)\n"
		"  --budget PCT        overhead budget, e.g. 1%%: attach all uprobes (request and etcd) only part\n"
		"                      of each cycle, so their measured cost stays under PCT of the apiserver's\n"
		"                      CPU; records carry \"sample_factor\" (cycle / window)\n"
		"  --budget-period S   length of one cycle (default 10; longer cycles are multiples)\n"
		"  --hit-cost-us US    per-hit cost to assume instead of calibrating at start\n"
		"  --etcd-link-hold MS how long an etcd call waits for its apiserver request to end so it can\n"
		"                      be linked (default 2000)\n");
}

struct rec_ctx {
	struct assembler *as;
	struct etcd_assembler *es; /* NULL with --no-etcd */
	struct sampler *sm;
	struct conntrack *ct;
	uint64_t etcd_records;
	struct json_writer w;
	FILE *out;
	uint64_t records;
	FILE *raw; /* --raw-events (hidden, for replay benchmarks) */
	int raw_err;
};

static void on_record(const struct request_record *r, void *ctx)
{
	struct rec_ctx *rc = ctx;
	struct request_record rr;

	if (rc->ct && !r->local_port && r->client[0]) {
		rr = *r;
		rr.local_port = ct_local_port(rc->ct, r->client);
		r = &rr;
	}
	record_json_request(&rc->w, r);
	fputc('\n', rc->out);
	rc->records++;
	if (rc->es && !r->ongoing)
		etcd_asm_request_done(rc->es, r->link_ctx, r->start_mono_ns, r->start_mono_ns + r->latency_ns, r->id);
}

static void on_etcd_record(const struct etcd_record *r, void *ctx)
{
	struct rec_ctx *rc = ctx;

	record_json_etcd(&rc->w, r);
	fputc('\n', rc->out);
	rc->etcd_records++;
}

static void on_conn(const struct kp_conn_event *ev, bool seeded, void *ctx)
{
	struct rec_ctx *rc = ctx;
	char peer[80];

	procnet_format_addr(ev->family, ev->peer_addr, ev->peer_port, peer, sizeof(peer));
	if (ev->established)
		ct_open(rc->ct, peer, ev->local_port, ev->hdr.ts_ns, seeded);
	else
		ct_close(rc->ct, peer, ev->hdr.ts_ns);
}

static void on_raw(const void *data, size_t size, void *ctx)
{
	struct rec_ctx *rc = ctx;

	if (!rc->raw_err && raw_events_write(rc->raw, data, size))
		rc->raw_err = errno ? errno : EIO;
}

static void on_grpc_start(const struct kp_grpc_start *ev, void *ctx)
{
	etcd_asm_start(((struct rec_ctx *)ctx)->es, ev);
}

static void on_grpc_end(const struct kp_grpc_end *ev, void *ctx)
{
	etcd_asm_end(((struct rec_ctx *)ctx)->es, ev);
}

static void on_watch_resp(const struct kp_watch_resp *ev, void *ctx)
{
	etcd_asm_watch_resp(((struct rec_ctx *)ctx)->es, ev);
}

static void on_start(const struct kp_req_start *ev, void *ctx)
{
	asm_start(((struct rec_ctx *)ctx)->as, ev);
}

static void on_end(const struct kp_req_end *ev, void *ctx)
{
	asm_end(((struct rec_ctx *)ctx)->as, ev);
}

static void fill_stats(struct capture *cap, struct rec_ctx *rc, struct record_stats *s)
{
	struct capture_stats cs;
	const struct asm_stats *as = asm_get_stats(rc->as);

	capture_read_stats(cap, &cs);
	memset(s, 0, sizeof(*s));
	s->ts_ns = cli_now_ns(CLOCK_REALTIME);
	s->records = rc->records;
	s->etcd_records = rc->etcd_records;
	if (rc->es)
		s->decode_errors = etcd_asm_get_stats(rc->es)->decode.errors;
	kp_stats_fill(s, cs.hits, cs.counters); /* every BPF counter and probe hit count, by name */
	s->bad_events = cs.bad_events;
	s->unmatched_ends = as->unmatched_end;
	s->pending = asm_pending(rc->as);
	s->hits_per_request = cli_hits_per_request(&cs, as);
	if (rc->es) {
		const struct etcd_asm_stats *es = etcd_asm_get_stats(rc->es);
		uint64_t msgs = es->calls + es->stream_messages + es->unmatched_end;

		s->has_etcd = true;
		s->etcd_calls = es->calls;
		s->etcd_linked = es->linked;
		s->etcd_streams = es->streams_opened;
		s->etcd_stream_msgs = es->stream_messages;
		s->etcd_stopped_at_value = es->stopped_at_value;
		s->etcd_copy_gave_up = es->copy_gave_up;
		{
			const struct etcd_watch_res *wr;
			size_t nw = etcd_asm_watch_by_resource(rc->es, &wr);

			s->etcd_watch_responses = es->watch_responses;
			s->etcd_watch_events = es->watch_events;
			s->etcd_watch_keys_truncated = es->watch_keys_truncated;
			s->n_watch_res = nw < 64 ? nw : 64;
			for (size_t i = 0; i < s->n_watch_res; i++) {
				s->watch_res_names[i] = wr[i].resource;
				s->watch_res_events[i] = wr[i].events;
			}
		}
		s->etcd_hits_per_call = msgs ? (double)(cs.hits[KP_PROBE_GRPC_WRITE] + cs.hits[KP_PROBE_GRPC_FINISH]) /
						       (double)msgs : 0;
	}
	if (rc->ct) {
		const struct ct_stats *c = ct_get_stats(rc->ct);

		s->has_conns = true;
		s->conns_opened = c->opened;
		s->conns_closed = c->closed;
		s->conns_active = c->active;
		s->conns_seeded = c->seeded;
	}
	if (rc->sm)
		sampler_fill_stats(rc->sm, s);
}

int cmd_record(int argc, char **argv)
{
	enum { OPT_PID = 256, OPT_DURATION, OPT_STATS, OPT_NO_H1, OPT_NO_H2, OPT_NO_ETCD, OPT_LINK_HOLD, OPT_BUDGET, OPT_BUDGET_PERIOD, OPT_HIT_COST, OPT_RAW };
	static const struct option longopts[] = {
		CLI_COMMON_LONG,
		{ "pid", required_argument, NULL, OPT_PID },
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
		{ "raw-events", required_argument, NULL, OPT_RAW }, /* hidden: docs/capture-testing.md */
		{ 0 },
	};
	struct capture_opts co = { 0 };
	struct capture *cap = NULL;
	struct rec_ctx rc = { 0 };
	const char *outpath = "-", *rawpath = NULL;
	long pid = 0, duration = 0, stats_every = 10, link_hold_ms = 2000, budget_period = 10;
	double budget = 0, hit_cost_us = 0;
	struct sampler sm = { 0 };
	uint64_t t0, last_stats, last_tick = 0, last_expire = 0, last_flush = 0;
	int c, ret = 1;
	bool target_gone = false;

	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT "o:", longopts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(stdout); return 0;
		case 'o': outpath = optarg; break;
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
	if (cli_find_apiserver(&pid))
		return 1;
	co.pid = (pid_t)pid;

	rc.out = strcmp(outpath, "-") ? fopen(outpath, "w") : stdout;
	if (!rc.out) {
		p_err("cannot open %s: %s", outpath, strerror(errno));
		return 1;
	}
	setvbuf(rc.out, NULL, _IOFBF, 1 << 16); /* 64 KiB: stays in cache (1 MiB: each record lands on cold lines) */
	if (rawpath) {
		rc.raw = fopen(rawpath, "w");
		if (!rc.raw || raw_events_write_header(rc.raw)) {
			p_err("cannot write %s: %s", rawpath, strerror(errno));
			goto out;
		}
		co.on_raw = on_raw;
	}
	jw_init(&rc.w, rc.out, false);
	rc.as = asm_new(0, cli_mono_to_wall(), on_record, &rc);
	if (!rc.as)
		goto out;
	if (!co.no_etcd) {
		rc.es = etcd_asm_new(cli_mono_to_wall(),
				     (uint64_t)link_hold_ms * 1000000ULL, on_etcd_record, &rc);
		if (!rc.es)
			goto out;
		co.on_grpc_start = on_grpc_start;
		co.on_grpc_end = on_grpc_end;
		co.on_watch_resp = on_watch_resp;
	}
	rc.ct = ct_new(0);
	if (!rc.ct)
		goto out;
	co.on_conn = on_conn;
	co.on_req_start = on_start;
	co.on_req_end = on_end;
	co.ctx = &rc;

	cli_signals_install(true);
	if (capture_open(&cap, &co))
		goto out;
	rc.sm = &sm;
	if (sampler_init(&sm, cap, co.pid, budget, hit_cost_us * 1000.0, (uint64_t)budget_period * 1000000000ULL))
		goto out;
	if (sm.enabled) { /* each record weighs what the window its start fell in stands for */
		asm_set_weigher(rc.as, sampler_weight, &sm);
		if (rc.es)
			etcd_asm_set_weigher(rc.es, sampler_weight, &sm);
	}
	fprintf(stderr, "kapimon: attached: %s%s\n", capture_describe(cap),
		budget > 0 ? " (budget mode: duty cycle follows the measured load)" : "");

	t0 = last_stats = cli_now_ns(CLOCK_MONOTONIC);
	while (!cli_exiting) {
		uint64_t now;
		int err = capture_poll(cap, sampler_timeout_ms(&sm, cli_now_ns(CLOCK_MONOTONIC), 200));

		if (err < 0 && err != -EINTR) {
			p_err("ring buffer poll: %s", strerror(-err));
			goto out;
		}
		now = cli_now_ns(CLOCK_MONOTONIC);
		/* housekeeping scans whole tables: a few times a second, never per poll */
		if (now - last_tick >= 100000000ULL) {
			if (rc.es)
				etcd_asm_tick(rc.es, now);
			last_tick = now;
		}
		if (now - last_expire >= 1000000000ULL) {
			ct_expire(rc.ct, now, 10000000000ULL);
			last_expire = now;
			if (kill(co.pid, 0) && errno == ESRCH) {
				/* the apiserver is gone (restart, crash): its probes went with it */
				p_warn("pid %d exited: stopping (requests still open are written as ongoing)", co.pid);
				target_gone = true;
				break;
			}
		}
		sampler_tick(&sm, now);
		if (duration && now - t0 >= (uint64_t)duration * 1000000000ULL)
			break;
		if (stats_every && now - last_stats >= (uint64_t)stats_every * 1000000000ULL) {
			struct record_stats s;

			fill_stats(cap, &rc, &s);
			record_json_stats(&rc.w, &s);
			fputc('\n', rc.out);
			fflush(rc.out);
			last_stats = now;
		}
		/* readers tail the file: never hold records back for more than about a second */
		if (rc.out == stdout || now - last_flush >= 1000000000ULL) {
			fflush(rc.out);
			last_flush = now;
		}
	}
	sampler_stop(&sm, cli_now_ns(CLOCK_MONOTONIC));
	capture_drain(cap);
	asm_flush_ongoing(rc.as, cli_now_ns(CLOCK_MONOTONIC));
	if (rc.es)
		etcd_asm_flush(rc.es);
	{
		struct record_stats s;

		fill_stats(cap, &rc, &s);
		record_json_stats(&rc.w, &s);
		fputc('\n', rc.out);
		fprintf(stderr,
			"kapimon: %llu request records, %llu etcd records, %llu ring-buffer drops, %llu unmatched ends, "
			"%.2f uprobe hits/request, %.2f per etcd call\n",
			(unsigned long long)s.records, (unsigned long long)s.etcd_records, (unsigned long long)s.ringbuf_drops,
			(unsigned long long)s.unmatched_ends, s.hits_per_request, s.etcd_hits_per_call);
	}
	ret = target_gone ? 1 : 0;
out:
	capture_close(cap);
	sampler_free(&sm);
	if (rc.out && fflush(rc.out)) {
		p_err("writing %s: %s", outpath, strerror(errno));
		ret = 1;
	}
	if (rc.out && rc.out != stdout)
		fclose(rc.out);
	if (rc.raw && (fclose(rc.raw) || rc.raw_err)) {
		p_err("writing %s: %s", rawpath, strerror(rc.raw_err ? rc.raw_err : errno));
		ret = 1;
	}
	asm_free(rc.as);
	etcd_asm_free(rc.es);
	ct_free(rc.ct);
	return ret;
}
