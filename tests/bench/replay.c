// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Replay benchmark: feeds recorded ring-buffer events (src/input/raw_events.h, written by
 * `kapimon record --raw-events FILE`) through kapimon's userspace path, without BPF or root:
 *   record: assemble -> etcd join -> JSON lines (as `kapimon record`)
 *   top:    assemble -> aggregate (+ etcd aggregate, one snapshot query per second of event time)
 * Deterministic (no clock reads inside replay_run): run under
 *   valgrind --tool=callgrind --toggle-collect=replay_run build/bench/replay record FILE
 * and divide the instructions by the requests printed. scripts/bench-replay.sh does that.
 *
 * Timers are driven by the events' own timestamps: etcd link expiry every 100 ms, connection expiry
 * and the record flush every second, top's snapshot every second, as the live loops do.
 *
 * The events go through pipeline_feed() and the JSON-lines or aggregate sink, exactly as `record` and
 * `top` run them; top's per-second work is cmd_top.c's refresh: pipeline tick, advance, anomaly
 * detector (and the live cause while an event is alerted), the in-flight snapshot of the pending
 * requests, and the queries of the default view.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aggregate/agg_sink.h"
#include "aggregate/aggregate.h"
#include "aggregate/etcd_agg.h"
#include "aggregate/live_cause.h"
#include "aggregate/top_view.h"
#include "agg_dump.h"
#include "input/raw_events.h"
#include "output/jsonl_sink.h"
#include "pipeline/pipeline.h"

#define WALL_BASE 1764460800000000000ULL /* 2025-11-30T00:00:00Z: fixed, so output is reproducible */
#define TICK_NS 100000000ULL
#define SEC_NS 1000000000ULL
#define LINK_HOLD_NS 2000000000ULL
#define TOP_ROWS 1000
#define TOP_EROWS 200

enum mode { M_RECORD, M_TOP };

struct replay {
	enum mode mode;
	bool no_etcd;
	int64_t mono_to_wall;
	/* record */
	FILE *out;
	/* top */
	struct agg *agg;
	struct etcd_agg *ea;
	struct agg_row *rows;
	struct etcd_agg_row *erows;
	uint64_t snapshots, causes;
	FILE *dump; /* top -o: every snapshot's query results (tests/bench/agg_dump.h), NULL = none */
	/* event counts */
	uint64_t events, bad;
	struct pipeline *pl;
	struct jsonl_sink js;
	struct agg_sink ags;
};

static void top_snapshot(struct replay *rp, uint64_t now_wall)
{
	struct agg_row total;
	struct etcd_agg_row etotal;
	struct online_result anom;
	double span;
	size_t n;

	agg_advance(rp->agg, now_wall);
	if (rp->ea)
		etcd_agg_advance(rp->ea, now_wall);
	agg_update_anomaly(rp->agg, &anom, NULL);
	if (anom.warm && agg_anomaly_event_step(rp->agg) != UINT64_MAX) {
		struct live_cause c;

		if (live_cause_compute(rp->agg, agg_anomaly_event_step(rp->agg), anom.baseline, &c) == 0)
			rp->causes++;
	}
	agg_sink_inflight_snapshot(&rp->ags, rp->pl);
	n = agg_query(rp->agg, AGG_BY_KEY, 1, AGG_SORT_RATE, rp->rows, TOP_ROWS, &span);
	agg_query(rp->agg, AGG_TOTAL, 1, AGG_SORT_RATE, &total, 1, NULL);
	if (rp->ea) {
		for (size_t i = 0; i < n && i < TOP_ROWS; i++)
			etcd_agg_linked(rp->ea, AGG_BY_KEY, rp->rows[i].index, 1);
		etcd_agg_linked(rp->ea, AGG_TOTAL, 1, 1);
		etcd_agg_query(rp->ea, 1, rp->erows, TOP_EROWS, &etotal, NULL);
	}
	if (rp->dump)
		agg_dump(rp->dump, rp->agg, rp->ea, rp->snapshots);
	rp->snapshots++;
}

/* ---- common ---- */

static int replay_setup(struct replay *rp, enum mode mode, bool no_etcd, FILE *out, uint64_t first_ts)
{
	struct pipeline_opts po = { 0 };
	struct pipeline_sink sink;

	memset(rp, 0, sizeof(*rp));
	rp->mode = mode;
	rp->no_etcd = no_etcd;
	rp->mono_to_wall = (int64_t)(WALL_BASE - first_ts);
	po.mono_to_wall_ns = rp->mono_to_wall;
	po.etcd = !no_etcd;
	po.etcd_link_hold_ns = LINK_HOLD_NS;
	rp->pl = pipeline_new(&po);
	if (!rp->pl)
		return -1;
	if (mode == M_RECORD) {
		rp->out = out;
		jsonl_sink_init(&rp->js, out);
		sink = jsonl_sink_iface(&rp->js);
	} else {
		struct agg_params ap;

		agg_params_for_window(&ap, 1);
		ap.tables = top_view_tables(0); /* what top counts for its default view */
		rp->agg = agg_new(&ap, WALL_BASE);
		rp->rows = calloc(TOP_ROWS, sizeof(*rp->rows));
		rp->erows = calloc(TOP_EROWS, sizeof(*rp->erows));
		if (!no_etcd) {
			struct etcd_agg_params ep;

			etcd_agg_params_default(&ep);
			ep.step_ns = ap.step_ns;
			ep.nsteps = 2;
			ep.link_tables = AGG__NTABLES;
			ep.link_rows = ap.max_keys + 1;
			rp->ea = etcd_agg_new(&ep, WALL_BASE);
			if (!rp->ea || !rp->agg)
				return -1;
			agg_set_evict_hook(rp->agg, etcd_agg_evict_hook, rp->ea);
		}
		if (!rp->agg || !rp->rows || !rp->erows)
			return -1;
		rp->dump = out;
		agg_sink_init(&rp->ags, rp->agg, rp->ea);
		sink = agg_sink_iface(&rp->ags);
	}
	return pipeline_add_sink(rp->pl, &sink);
}

static void replay_teardown(struct replay *rp)
{
	pipeline_free(rp->pl);
	agg_free(rp->agg);
	etcd_agg_free(rp->ea);
	free(rp->rows);
	free(rp->erows);
}

static void feed(struct replay *rp, const void *data, size_t size)
{
	rp->events++;
	if (pipeline_feed(rp->pl, data, size))
		rp->bad++;
}

static void tick(struct replay *rp, uint64_t now)
{
	pipeline_tick(rp->pl, now);
}

static void flush_all(struct replay *rp, uint64_t now)
{
	pipeline_flush(rp->pl, now);
}

static const struct asm_stats *req_stats(const struct replay *rp)
{
	return pipeline_asm_stats(rp->pl);
}

static const struct etcd_asm_stats *etcd_stats(const struct replay *rp)
{
	return pipeline_etcd_stats(rp->pl);
}

static uint64_t n_records(const struct replay *rp)
{
	return pipeline_get_stats(rp->pl)->requests;
}

static uint64_t n_etcd_records(const struct replay *rp)
{
	return pipeline_get_stats(rp->pl)->etcd_records;
}

/* The ring an event type is written to, in the order the live loop reads them (capture.c adds the
 * request ring, then etcd's, then the connections'). */
static int ring_of(uint32_t type)
{
	switch (type) {
	case KP_EV_GRPC_START:
	case KP_EV_GRPC_END:
	case KP_EV_GRPC_STREAM:
	case KP_EV_WATCH_RESP:
		return 1;
	case KP_EV_CONN:
		return 2;
	default:
		return 0;
	}
}

/*
 * The measured part: every event, plus the timer work the live loop would do meanwhile. A recording
 * holds the events in the order they were read: each pass of the live loop over the rings reads the
 * request ring, then etcd's, then the connections'. An event of an earlier ring than the one before it
 * begins the next pass: there the live loop would have called pipeline_rings_read (held requests get
 * their etcd cost and go) and, when due, its housekeeping and refresh.
 */
__attribute__((noinline)) void replay_run(struct replay *rp, const struct raw_events *ev)
{
	uint64_t now = 0, next_tick = 0, next_sec = 0;
	int ring = 0;

	for (size_t i = 0; i < ev->n; i++) {
		const struct kp_event_hdr *h = (const void *)(ev->data + ev->off[i]);
		int r = ev->size[i] >= sizeof(*h) ? ring_of(h->type) : ring;

		if (r < ring) {
			pipeline_rings_read(rp->pl);
			if (now >= next_tick) {
				tick(rp, now);
				next_tick = now + TICK_NS;
			}
			if (now >= next_sec) {
				if (rp->mode == M_RECORD)
					fflush(rp->out);
				else
					top_snapshot(rp, now + (uint64_t)rp->mono_to_wall);
				next_sec = now + SEC_NS;
			}
		}
		ring = r;
		if (ev->size[i] >= sizeof(*h) && h->ts_ns > now) {
			now = h->ts_ns;
			if (!next_tick) {
				next_tick = now + TICK_NS;
				next_sec = now + SEC_NS;
			}
		}
		feed(rp, h, ev->size[i]);
	}
	/* end of recording: what record does at exit */
	pipeline_rings_read(rp->pl);
	flush_all(rp, now);
	if (rp->mode == M_RECORD)
		fflush(rp->out);
	else if (rp->dump)
		top_snapshot(rp, now + (uint64_t)rp->mono_to_wall);
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: replay record|top [--no-etcd] [--repeat N] [-o FILE] EVENTS-FILE\n"
		   "Feeds raw ring-buffer events through kapimon's userspace path; prints requests replayed\n"
		   "and, outside valgrind, CPU ns per request (best of N). -o: record's JSON lines (default /dev/null);\n"
		   "top's query results at every snapshot (tests/bench/agg_dump.h: compare two builds byte for byte).\n");
}

int main(int argc, char **argv)
{
	enum mode mode;
	bool no_etcd = false;
	long repeat = 1;
	const char *outpath = "/dev/null", *path = NULL;
	struct raw_events ev;
	char err[256];
	uint64_t first_ts = 0, best = UINT64_MAX;
	struct replay rp;
	FILE *out;

	if (argc < 3) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "record"))
		mode = M_RECORD;
	else if (!strcmp(argv[1], "top"))
		mode = M_TOP;
	else {
		usage(stderr);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--no-etcd"))
			no_etcd = true;
		else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
			repeat = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "-o") && i + 1 < argc)
			outpath = argv[++i];
		else if (argv[i][0] != '-' && !path)
			path = argv[i];
		else {
			usage(stderr);
			return 2;
		}
	}
	if (!path || repeat < 1) {
		usage(stderr);
		return 2;
	}
	if (raw_events_load(path, &ev, err, sizeof(err))) {
		fprintf(stderr, "replay: %s\n", err);
		return 1;
	}
	for (size_t i = 0; i < ev.n && !first_ts; i++)
		if (ev.size[i] >= sizeof(struct kp_event_hdr))
			first_ts = ((const struct kp_event_hdr *)(ev.data + ev.off[i]))->ts_ns;
	out = fopen(outpath, "w");
	if (!out) {
		fprintf(stderr, "replay: %s: %s\n", outpath, strerror(errno));
		return 1;
	}
	setvbuf(out, NULL, _IOFBF, 1 << 20); /* as record */
	for (long r = 0; r < repeat; r++) {
		struct timespec c0, c1;
		uint64_t t;

		if (r && fseek(out, 0, SEEK_SET) == 0 && strcmp(outpath, "/dev/null"))
			(void)!ftruncate(fileno(out), 0);
		if (replay_setup(&rp, mode, no_etcd, strcmp(outpath, "/dev/null") || mode == M_RECORD ? out : NULL, first_ts)) {
			fprintf(stderr, "replay: out of memory\n");
			return 1;
		}
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
		replay_run(&rp, &ev);
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
		t = (uint64_t)(c1.tv_sec - c0.tv_sec) * SEC_NS + (uint64_t)c1.tv_nsec - (uint64_t)c0.tv_nsec;
		if (t < best)
			best = t;
		if (r + 1 < repeat)
			replay_teardown(&rp);
	}
	{
		const struct asm_stats *as = req_stats(&rp);
		const struct etcd_asm_stats *es = etcd_stats(&rp);

		printf("replay %s%s: %zu events (%llu bad), %llu requests, %llu etcd calls "
		       "(%llu linked), %llu stream messages, %llu records, %llu etcd records, %llu snapshots (%llu with a "
		       "live cause)\n",
		       mode == M_RECORD ? "record" : "top", no_etcd ? " --no-etcd" : "", ev.n, (unsigned long long)rp.bad,
		       (unsigned long long)as->finished,
		       (unsigned long long)(es ? es->calls : 0), (unsigned long long)(es ? es->linked : 0),
		       (unsigned long long)(es ? es->stream_messages : 0), (unsigned long long)n_records(&rp),
		       (unsigned long long)n_etcd_records(&rp), (unsigned long long)rp.snapshots,
		       (unsigned long long)rp.causes);
		printf("requests %llu\n", (unsigned long long)as->finished);
		if (as->finished)
			printf("cpu_ns_per_request %.0f (best of %ld)\n", (double)best / (double)as->finished, repeat);
	}
	replay_teardown(&rp);
	fclose(out);
	raw_events_free(&ev);
	return 0;
}
