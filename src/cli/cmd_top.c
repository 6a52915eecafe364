// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kapimon top: live view of the kube-apiserver's requests (who floods it, with what, how slow),
 * full-screen with ncurses, or plain-text / JSON snapshots in batch mode. docs/top.md.
 */
#include <curses.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregate/agg_sink.h"
#include "aggregate/aggregate.h"
#include "aggregate/anomaly_line.h"
#include "aggregate/live_anomaly.h"
#include "aggregate/live_cause.h"
#include "aggregate/etcd_agg.h"
#include "aggregate/top_view.h"
#include "assemble/kp_contract.h"
#include "assemble/record_json.h"
#include "capture/capture.h"
#include "capture/follow.h"
#include "capture/sampler.h"
#include "pipeline/pipeline.h"
#include "plan/plan.h"
#include "sampling/budget.h"
#include "cli/cli.h"
#include "cli/cli_capture.h"
#include "cli/cli_detector.h"
#include "output/json_writer.h"
#include "output/prometheus.h"
#include "util/log.h"
#include "util/numfmt.h"

#define STEP_NS 1000000000ULL
#define REFRESH_GRACE_NS 50000000ULL /* wait for requests that ended just before a step boundary */
#define KEY_POLL_MS 100               /* interactive: longest wait between key checks */
#define MAX_ROWS 1000
#define ETCD_MAX_ROWS 200
#define ETCD_LINK_HOLD_NS 2000000000ULL /* as record's --etcd-link-hold default */
#define HOUSEKEEP_NS 100000000ULL       /* etcd link hold expiry and closed connections, every 100 ms */
#define CONN_GRACE_NS 10000000000ULL
#define TOP_RING_BYTES (4u << 20)
#define FOLLOW_CHECK_MS 250             /* apiservers that exited or started: looked for 4 times a second */
#define PENDING_CLOSED_GRACE_NS 5000000000ULL /* < CONN_GRACE_NS: a request still pending 5 s after its
					       * connection closed has lost its end */

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: kapimon [-j] top [--pid N | --exe NAME] [--interval S] [--sort KEY]\n"
		"                        [--by all|agent|verb-resource|resource|namespace|client]\n"
		"                        [--filter SUBSTR] [--reverse] [-n N] [--batch] [--iterations N]\n"
		"                        [--prometheus-file PATH] [--no-h1] [--no-h2] [--no-etcd]\n"
		"                        [--budget PCT [--budget-period S] [--hit-cost-us US]]\n\n"
		"Live view of the requests the kube-apiserver serves: request rate, errors, latency, bytes and\n"
		"in-flight requests per user agent / verb / resource (or per agent, verb+resource, resource,\n"
		"namespace or client), refreshed every interval over the last interval, with the etcd calls\n"
		"the requests cause (ETCD/S), the bytes and key-values etcd returned for them (ETCDB/S,\n"
		"EKEYS/S: expensive LISTs stand out; --sort etcd-bytes or etcd-keys) and a\n"
		"panel of etcd calls per (op, resource). Full screen on a terminal; with --batch (or when stdout\n"
		"is not a terminal) a plain-text snapshot per interval, with -j one JSON object per interval.\n"
		"Without --pid every kube-apiserver on the host is followed (a header line says which are\n"
		"attached): attached when found, also in other mount/PID namespaces, detached when it exits, a\n"
		"new one (a restart) attached within 2 s. With --pid, top exits 1 when that process exits.\n\n"
		"Keys: q quit, / filter (type a substring, Enter applies, empty clears, Esc cancels), r reverse the\n"
		"order, s cycle sort, b cycle grouping, e show/hide the etcd panel, p pause/resume the display,\n"
		"? or h help.\n\n"
		"Options:\n"
		"  --pid N                 watch only this process\n"
		"  --exe NAME              without --pid: follow processes whose executable is NAME\n"
		"                          (default kube-apiserver; NAME-<suffix> matches too)\n"
		"  --interval S            refresh and rate window in seconds (default 1)\n"
		"  --sort KEY              rate (default), errors, p99, bytes, etcd-bytes (etcd response bytes of\n"
		"                          the rows' requests) or etcd-keys (key-values etcd returned to them)\n"
		"  --by GROUPING           all = user agent+verb+resource (default), agent, verb-resource,\n"
		"                          resource, namespace, client, user (authenticated user), priority-level (APF)\n"
		"  --filter SUBSTR         show only rows whose key (any key column) contains SUBSTR\n"
		"  --reverse               reverse the order (smallest first)\n"
		"  -n N                    rows to show (default: what fits the screen; 20 in batch mode)\n"
		"  --batch                 plain-text snapshots instead of the full-screen view\n"
		"  --iterations N          stop after N refreshes\n"
		"  --prometheus-file PATH  rewrite PATH atomically every interval with Prometheus text metrics\n"
		"                          (node-exporter textfile collector); no port is opened\n"
		"  --no-h1, --no-h2        do not probe the HTTP/1.x or HTTP/2 server\n"
		"  --no-etcd               do not probe etcd calls (2 fewer uprobe hits per call, 3 per Range;\n"
		"                          no ETCD/S, ETCDB/S, EKEYS/S, no panel)\n"
		"  --budget PCT            overhead budget, e.g. 1%%: attach all uprobes (request and etcd) only\n"
		"                          part of each cycle, so their measured cost stays under PCT of the\n"
		"                          apiserver's CPU; counts are weighted by cycle / window (as record);\n"
		"                          one apiserver (--pid, or the only one running)\n"
		"  --budget-period S       length of one cycle (default 10; longer cycles are multiples)\n"
		"  --hit-cost-us US        per-hit cost to assume instead of calibrating at start\n");
	cli_detector_live_usage(out, 26);
}

#define KEYS_LINE "q quit  / filter  r reverse  s sort  b grouping  e etcd panel  p pause  ? help"

struct top {
	/* capture -> pipeline -> the aggregate sink */
	struct pipeline *pl;
	struct agg_sink sink;
	struct agg *agg;
	struct etcd_agg *ea;       /* NULL with --no-etcd */
	struct sampler sm;
	struct follow *fw;         /* the apiserver(s) attached */
	int64_t mono_to_wall;
	const char *exe_name;      /* followed executables (no --pid) */
	/* view */
	unsigned interval;
	enum agg_sort sort;
	unsigned by;          /* index into top_groupings */
	char filter[TOP_FILTER_LEN]; /* --filter, key / ("" = none) */
	bool reverse;         /* --reverse, key r */
	bool help;            /* key ? / h: the help overlay is shown */
	bool editing;         /* key /: typing a filter into edit[] */
	char edit[TOP_FILTER_LEN];
	size_t edit_len;
	size_t nrows_max;     /* -n, 0 = fit the screen */
	bool batch, json, paused, curses;
	bool etcd_panel;      /* full screen: show the etcd panel (key e) */
	const char *prom_path;
	struct prom_etcd_row prom_etcd[PROM_MAX_ETCD]; /* cumulative, for the Prometheus file (kept by the sink) */
	int prom_err;         /* last errno reported for the prometheus file (report changes once) */
	/* last snapshot */
	uint64_t ts_ns;
	double span_s;       /* seconds the rows' rates are over (a grouping switched to counts from then) */
	double total_span_s; /* the total's */
	struct agg_row total;
	struct agg_row *rows; /* rows_cap (every row a table can have), allocated once */
	size_t rows_cap;
	size_t nrows, nrows_all; /* after the filter */
	size_t nrows_hidden;     /* rows with data the filter hides */
	struct capture_stats cs;
	double hits_per_request;
	size_t pending;
	struct live_anomaly la;  /* the detector's verdict (la.view) and the cause of an event (la.cause, la.cause_on) */
	bool have_snapshot;
	/* etcd part of the last snapshot */
	double *row_etcd;              /* rows_cap: linked etcd calls per second of rows[i] */
	double total_etcd;             /* the same for the total row */
	struct etcd_agg_row etotal;
	struct etcd_agg_row *erows;    /* ETCD_MAX_ROWS */
	size_t nerows, nerows_all;
	double etcd_hits_per_call;
	/* connections: stats at this and the previous snapshot */
	struct ct_stats conn, conn_prev;
	uint64_t conn_ts, conn_prev_ts; /* wall ns */
	struct conn_agg *ca;            /* connections per client IP / etcd endpoint */
	struct conn_agg_row *crows;     /* conn_agg_cap + 2 */
	size_t ncrows;
};

/* An apiserver exited: its requests still open leave the in-flight counts. */
static void on_gone(void *ctx, pid_t pid)
{
	pipeline_source_gone(ctx, (uint32_t)pid, cli_now_ns(CLOCK_MONOTONIC));
}

/* ---- formatting ---------------------------------------------------------------------------------- */

/* Copy for a terminal: bytes outside printable ASCII (escape sequences from the wire!) become '?';
 * cut to width w (a cut is marked with '~'). */
static void tcopy(char *dst, size_t cap, int width, const char *src)
{
	size_t n = 0, w = width > 0 ? (size_t)width : 0;

	if (w > cap - 1)
		w = cap - 1;

	for (; *src && n < w; src++)
		dst[n++] = (*src >= 0x20 && *src < 0x7f) ? *src : '?';
	if (*src && n)
		dst[n - 1] = '~';
	dst[n] = '\0';
}

/* A line built by appends (the rows: printf's "%-*s" and " %*s" without printf); cut at its size. */
struct linebuf {
	char *p;
	size_t n, cap;
};

static void lb_bytes(struct linebuf *l, const char *s, size_t n)
{
	if (n > l->cap - 1 - l->n)
		n = l->cap - 1 - l->n;
	memcpy(l->p + l->n, s, n);
	l->n += n;
	l->p[l->n] = '\0';
}

static void lb_fill(struct linebuf *l, size_t n)
{
	if (n > l->cap - 1 - l->n)
		n = l->cap - 1 - l->n;
	memset(l->p + l->n, ' ', n);
	l->n += n;
	l->p[l->n] = '\0';
}

/* "%-*s" (left-justified in w; as printf, a negative w is its absolute value) */
static void lb_left(struct linebuf *l, const char *s, int w)
{
	size_t n = strlen(s), aw = w < 0 ? (size_t)-(long)w : (size_t)w;

	lb_bytes(l, s, n);
	if (aw > n)
		lb_fill(l, aw - n);
}

/* " %*s" (a space, right-justified in w; a negative w left-justifies, as printf's) */
static void lb_right(struct linebuf *l, const char *s, int w)
{
	size_t n = strlen(s);

	if (w < 0) {
		lb_fill(l, 1);
		lb_left(l, s, w);
		return;
	}
	lb_fill(l, 1 + ((size_t)w > n ? (size_t)w - n : 0));
	lb_bytes(l, s, n);
}

/* "%s" */
static void lb_str(struct linebuf *l, const char *s)
{
	lb_bytes(l, s, strlen(s));
}

/* "%.<decimals>f" */
static void lb_num(struct linebuf *l, double v, unsigned decimals)
{
	char t[64];
	size_t n = fmt_fixed(t, sizeof(t), v, decimals);

	lb_bytes(l, t, n < sizeof(t) ? n : sizeof(t) - 1);
}

/* "%llu" */
static void lb_u64(struct linebuf *l, uint64_t v)
{
	char t[24];

	lb_bytes(l, t, fmt_u64(t, sizeof(t), v));
}

/* " %*.<decimals>f" */
static void lb_fixed(struct linebuf *l, double v, unsigned decimals, int w)
{
	char t[64];

	fmt_fixed(t, sizeof(t), v, decimals);
	lb_right(l, t, w);
}

/* A number (util/numfmt.h: snprintf's bytes, a refresh formats dozens) and a unit suffix. */
static void fmt_unit(char *b, size_t cap, double v, unsigned decimals, const char *unit)
{
	struct linebuf l = { b, fmt_fixed(b, cap, v, decimals), cap };

	if (l.n < cap)
		lb_str(&l, unit);
}

static void fmt_dur(char *b, size_t cap, double ns)
{
	struct linebuf l = { b, 0, cap };

	if (isnan(ns))
		lb_str(&l, "-");
	else if (ns < 1e6)
		fmt_unit(b, cap, ns / 1e3, 0, "us");
	else if (ns < 1e7)
		fmt_unit(b, cap, ns / 1e6, 2, "ms");
	else if (ns < 1e9)
		fmt_unit(b, cap, ns / 1e6, 1, "ms");
	else
		fmt_unit(b, cap, ns / 1e9, 2, "s");
}

static void fmt_si(char *b, size_t cap, double v)
{
	if (v < 1e3)
		fmt_fixed(b, cap, v, 0);
	else if (v < 1e6)
		fmt_unit(b, cap, v / 1e3, 1, "K");
	else if (v < 1e9)
		fmt_unit(b, cap, v / 1e6, 1, "M");
	else
		fmt_unit(b, cap, v / 1e9, 1, "G");
}

static void fmt_rate(char *b, size_t cap, double v)
{
	fmt_fixed(b, cap, v, v < 100 ? 1 : 0);
}

enum line_kind { L_HEADER, L_ALERT, L_COLS, L_ROW, L_OTHER };
typedef void (*emit_fn)(enum line_kind k, const char *line, void *ctx);

#define NUMW 54  /* " REQ/S ERR% P50 P99 BYTES/S INFLIGHT" */
#define ETCDW 24 /* " ETCD/S ETCDB/S EKEYS/S" */
#define ENUMW 54 /* etcd panel: " CALLS/S ERR% P50 P99 LINKED% REQ-B/S" */

/* Connections opened and closed per second between the last two snapshots. */
static void conn_rates(const struct top *t, double *opened, double *closed)
{
	double dt = t->conn_ts > t->conn_prev_ts ? (double)(t->conn_ts - t->conn_prev_ts) / 1e9 : 0;

	*opened = dt > 0 ? (double)(t->conn.opened - t->conn_prev.opened) / dt : 0;
	*closed = dt > 0 ? (double)(t->conn.closed - t->conn_prev.closed) / dt : 0;
}

/* "etcd ... connections ..." (header line 3) */
static void fmt_etcd_line(const struct top *t, char *line, size_t cap)
{
	struct linebuf l = { line, 0, cap };
	char a[32];
	double op, cl;

	line[0] = '\0';
	if (t->ea) {
		const struct etcd_agg_row *e = &t->etotal;

		lb_str(&l, "etcd calls ");
		fmt_rate(a, sizeof(a), e->rate);
		lb_str(&l, a);
		lb_str(&l, "/s  linked to requests ");
		lb_num(&l, e->calls > 0 ? e->linked / e->calls * 100 : 0, 1);
		lb_str(&l, "% (");
		fmt_rate(a, sizeof(a), e->linked_rate);
		lb_str(&l, a);
		lb_str(&l, "/s)  errors ");
		lb_num(&l, e->err_pct, 1);
		lb_str(&l, "%  p50 ");
		fmt_dur(a, sizeof(a), e->p50_ns);
		lb_str(&l, a);
		lb_str(&l, "  p99 ");
		fmt_dur(a, sizeof(a), e->p99_ns);
		lb_str(&l, a);
	} else {
		lb_str(&l, "etcd: not probed (--no-etcd)");
	}
	conn_rates(t, &op, &cl);
	lb_str(&l, "  connections ");
	lb_u64(&l, t->conn.active);
	lb_str(&l, " active, ");
	lb_num(&l, op, 1);
	lb_str(&l, " opened/s, ");
	lb_num(&l, cl, 1);
	lb_str(&l, " closed/s");
}

static void emit_etcd_panel(const struct top *t, int width, size_t maxrows, emit_fn emit, void *ctx)
{
	char line[1024], a[64], b[64], c[64], d[64];
	const struct etcd_agg_stats *st = etcd_agg_get_stats(t->ea);
	int wop = 14, wres = width - ENUMW - wop - 1;
	struct linebuf l = { line, 0, sizeof(line) };

	emit(L_HEADER, "", ctx);
	lb_str(&l, "etcd calls by op and resource  window ");
	lb_u64(&l, t->interval);
	lb_str(&l, "s  rows ");
	lb_u64(&l, t->nerows < maxrows ? t->nerows : maxrows);
	lb_str(&l, " of ");
	lb_u64(&l, t->nerows_all);
	if (st->overflow || st->cell_overflow) {
		lb_str(&l, "  (over the key limit: ");
		lb_u64(&l, st->overflow);
		lb_str(&l, " calls in \"(other)\"; ");
		lb_u64(&l, st->cell_overflow);
		lb_str(&l, " latencies not in quantiles)");
	}
	emit(st->overflow || st->cell_overflow ? L_ALERT : L_HEADER, line, ctx);
	l.n = 0;
	lb_left(&l, "OP", wop);
	lb_fill(&l, 1);
	lb_left(&l, "RESOURCE", wres);
	lb_right(&l, "CALLS/S", 9);
	lb_right(&l, "ERR%", 6);
	lb_right(&l, "P50", 8);
	lb_right(&l, "P99", 8);
	lb_right(&l, "LINKED%", 8);
	lb_right(&l, "REQ-B/S", 9);
	emit(L_COLS, line, ctx);
	for (size_t i = 0; i < t->nerows && i < maxrows; i++) {
		const struct etcd_agg_row *r = &t->erows[i];
		char f1[ETCD_AGG_OP_LEN], f2[AGG_RESOURCE_LEN];

		tcopy(f1, sizeof(f1), wop, r->key->op);
		tcopy(f2, sizeof(f2), wres, r->key->resource[0] ? r->key->resource : "-");
		fmt_rate(a, sizeof(a), r->rate);
		fmt_dur(b, sizeof(b), r->p50_ns);
		fmt_dur(c, sizeof(c), r->p99_ns);
		fmt_si(d, sizeof(d), r->req_bytes_rate);
		{
			struct linebuf lb = { line, 0, sizeof(line) };

			line[0] = '\0';
			lb_left(&lb, f1, wop);
			lb_fill(&lb, 1);
			lb_left(&lb, f2, wres);
			lb_right(&lb, a, 9);
			lb_fixed(&lb, r->err_pct, 1, 6);
			lb_right(&lb, b, 8);
			lb_right(&lb, c, 8);
			lb_fixed(&lb, r->calls > 0 ? r->linked / r->calls * 100 : 0, 1, 8);
			lb_right(&lb, d, 9);
		}
		emit(r->other ? L_OTHER : L_ROW, line, ctx);
	}
}

/* The window of the connection panel's rates: the last refresh interval. */
static double conn_window_s(const struct top *t)
{
	return t->conn_ts > t->conn_prev_ts ? (double)(t->conn_ts - t->conn_prev_ts) / 1e9 : 0;
}

static bool by_client(const struct top *t)
{
	return !strcmp(agg_table_name(top_groupings[t->by].table), "client");
}

/* With --by client: the kernel's view of each client's connections (tracepoints: opens, closes,
 * retransmits, resets), clients first, then the apiserver's connections to etcd. */
static void emit_conn_panel(const struct top *t, int width, size_t maxrows, emit_fn emit, void *ctx)
{
	char line[1024], a[32], b[32], c[32], d[32];
	double dt = conn_window_s(t);
	int wg = width - 70;

	if (wg < 16)
		wg = 16;
	if (wg > 47)
		wg = 47;
	emit(L_HEADER, "", ctx);
	snprintf(line, sizeof(line), "connections by client  window %.0fs  rows %zu of %zu", dt,
		 t->ncrows < maxrows ? t->ncrows : maxrows, t->ncrows);
	emit(L_HEADER, line, ctx);
	snprintf(line, sizeof(line), "%-6s %-*s %9s %9s %6s %9s %7s %9s %9s", "DIR", wg, "CLIENT", "OPENED/S", "CLOSED/S",
		 "OPEN", "RETRANS/S", "RESETS", "LIFETIME", "BYTES-IN");
	emit(L_COLS, line, ctx);
	for (size_t i = 0; i < t->ncrows && i < maxrows; i++) {
		const struct conn_agg_row *r = &t->crows[i];
		char g[REC_ADDR_LEN];

		tcopy(g, sizeof(g), wg, r->group);
		fmt_rate(a, sizeof(a), dt > 0 ? (double)r->w_opened / dt : 0);
		fmt_rate(b, sizeof(b), dt > 0 ? (double)r->w_closed / dt : 0);
		fmt_rate(c, sizeof(c), dt > 0 ? (double)r->w_retrans / dt : 0);
		fmt_dur(d, sizeof(d), r->lifetimes ? (double)r->lifetime_ns / (double)r->lifetimes : 0);
		snprintf(line, sizeof(line), "%-6s %-*s %9s %9s %6u %9s %7llu %9s %9llu", r->dir == REC_CONN_ETCD ? "etcd" : "client",
			 wg, g, a, b, r->open, c, (unsigned long long)(r->resets_sent + r->resets_received),
			 r->lifetimes ? d : "-", (unsigned long long)r->bytes_in);
		emit(r->other ? L_OTHER : L_ROW, line, ctx);
	}
}

static void emit_view(const struct top *t, int width, size_t maxrows, emit_fn emit, void *ctx)
{
	char line[1024], a[64], b[64], c[64], d[64], e[128];
	const struct top_grouping *g = &top_groupings[t->by];
	enum agg_table tab = g->table;
	const struct agg_stats *st = agg_get_stats(t->agg);
	uint64_t overflow = 0;
	int numw = NUMW + (t->ea ? ETCDW : 0), textw, w1 = 0, w2 = 0, w3 = 0;
	char ts[RECORD_TS_LEN];
	struct linebuf l = { line, 0, sizeof(line) };

	if (width > (int)sizeof(line) - 1)
		width = sizeof(line) - 1;
	if (width < numw + 20)
		width = numw + 20;
	record_ts_format(t->ts_ns, ts, sizeof(ts));
	{
		const char *desc = t->fw ? follow_describe(t->fw) : "";

		/* one apiserver: "pid N go...: ..."; several: "2 apiservers: pid A ...; pid B ..." */
		lb_str(&l, "kapimon top - ");
		lb_bytes(&l, ts, strnlen(ts, 19));
		lb_str(&l, "  ");
		lb_str(&l, !strncmp(desc, "pid ", 4) ? "apiserver " : "");
		lb_str(&l, desc);
		lb_str(&l, t->paused ? "  [PAUSED]" : "");
	}
	emit(L_HEADER, line, ctx);
	if (t->fw && follow_following(t->fw)) {
		int n = snprintf(line, sizeof(line), "following every %s: %zu attached (", t->exe_name,
				 follow_count(t->fw));

		for (size_t i = 0; i < follow_count(t->fw) && n < (int)sizeof(line); i++)
			n += snprintf(line + n, sizeof(line) - n, "%spid %d", i ? ", " : "", (int)follow_pid(t->fw, i));
		if (n < (int)sizeof(line))
			snprintf(line + n, sizeof(line) - n, "), %llu attached so far, %llu exited",
				 (unsigned long long)follow_attaches(t->fw), (unsigned long long)follow_exits(t->fw));
		emit(follow_count(t->fw) ? L_HEADER : L_ALERT, line, ctx);
	}
	fmt_rate(a, sizeof(a), t->total.rate);
	fmt_dur(b, sizeof(b), t->total.p50_ns);
	fmt_dur(c, sizeof(c), t->total.p99_ns);
	fmt_si(d, sizeof(d), t->total.bytes_rate);
	l.n = 0;
	lb_str(&l, "requests ");
	lb_str(&l, a);
	lb_str(&l, "/s  errors ");
	lb_num(&l, t->total.err_pct, 1);
	lb_str(&l, "% (4xx ");
	lb_num(&l, t->total_span_s > 0 ? t->total.e4xx / t->total_span_s : 0, 1);
	lb_str(&l, "/s, 429 ");
	lb_num(&l, t->total_span_s > 0 ? t->total.e429 / t->total_span_s : 0, 1);
	lb_str(&l, "/s, 5xx ");
	lb_num(&l, t->total_span_s > 0 ? t->total.e5xx / t->total_span_s : 0, 1);
	lb_str(&l, "/s)  p50 ");
	lb_str(&l, b);
	lb_str(&l, "  p99 ");
	lb_str(&l, c);
	lb_str(&l, "  out ");
	lb_str(&l, d);
	lb_str(&l, "B/s  in flight ");
	lb_u64(&l, t->pending);
	emit(L_HEADER, line, ctx);
	fmt_etcd_line(t, line, sizeof(line));
	emit(L_HEADER, line, ctx);
	anomaly_format(&t->la.view, e, sizeof(e));
	l.n = 0;
	lb_str(&l, "ring-buffer drops ");
	lb_u64(&l, t->cs.counters[KP_CNT_RB_DROP]);
	lb_str(&l, "  uprobe hits/request ");
	lb_num(&l, t->hits_per_request, 2);
	if (t->ea) {
		lb_str(&l, ", per etcd call ");
		lb_num(&l, t->etcd_hits_per_call, 2);
	}
	if (t->sm.enabled) {
		snprintf(a, sizeof(a), "%.2g", t->sm.b.budget * 100);
		lb_str(&l, "  budget ");
		lb_str(&l, a);
		lb_str(&l, "%: duty ");
		lb_num(&l, t->sm.b.duty, 3);
		lb_str(&l, ", sample factor ");
		lb_num(&l, sampler_factor(&t->sm), 2);
	}
	lb_str(&l, "  ");
	lb_str(&l, e);
	emit(t->la.view.flag > 0 || t->cs.counters[KP_CNT_RB_DROP] ? L_ALERT : L_HEADER, line, ctx);
	if (t->la.cause_on) {
		live_cause_format(&t->la.cause, t->la.cause.since_step * STEP_NS, line, sizeof(line));
		emit(L_ALERT, line, ctx);
	}
	overflow = st->evicted[tab];
	l.n = 0;
	lb_str(&l, "by ");
	lb_str(&l, agg_table_name(tab));
	lb_str(&l, "  sort ");
	lb_str(&l, agg_sort_name(t->sort));
	lb_str(&l, "  window ");
	lb_u64(&l, t->interval);
	lb_str(&l, "s  rows ");
	lb_u64(&l, t->nrows < maxrows ? t->nrows : maxrows);
	lb_str(&l, " of ");
	lb_u64(&l, t->nrows_all);
	if (t->span_s + 0.05 < t->total_span_s) { /* switched to: it has counted for less than the window */
		lb_str(&l, "  (counting since the switch: ");
		lb_num(&l, t->span_s, 1);
		lb_str(&l, "s)");
	}
	if (overflow) { /* heavy hitters: keys not shown had at most this many requests in the window */
		lb_str(&l, "  (top ");
		lb_u64(&l, agg_get_params(t->agg)->max_keys);
		lb_str(&l, " keys kept: ");
		lb_u64(&l, overflow);
		lb_str(&l, " evicted to \"(other)\", others <= ");
		lb_num(&l, t->span_s > 0 ? agg_untracked_bound(t->agg, tab, t->interval) / t->span_s : 0, 1);
		lb_str(&l, "/s)");
	}
	if (st->cell_overflow) {
		lb_str(&l, "  (");
		lb_u64(&l, st->cell_overflow);
		lb_str(&l, " latencies not in quantiles)");
	}
	if (t->reverse)
		lb_str(&l, "  reversed");
	emit(st->cell_overflow ? L_ALERT : L_HEADER, line, ctx);
	if (t->filter[0]) {
		char f[TOP_FILTER_LEN];

		tcopy(f, sizeof(f), TOP_FILTER_LEN - 1, t->filter);
		snprintf(line, sizeof(line), "filter \"%s\" on: %zu rows hidden (/ then Enter on an empty line clears)", f,
			 t->nrows_hidden);
		emit(L_ALERT, line, ctx);
	}
	emit(L_HEADER, "", ctx);

	textw = width - numw;
	l.n = 0;
	switch (g->ncols) {
	case 4: /* user agent, verb, resource[/subresource] */
		w2 = 10;
		w1 = (textw - w2 - 2) * 4 / 10;
		w3 = textw - w1 - w2 - 2;
		lb_left(&l, g->cols[0].header, w1);
		lb_fill(&l, 1);
		lb_left(&l, g->cols[1].header, w2);
		lb_fill(&l, 1);
		lb_left(&l, g->cols[2].header, w3);
		break;
	case 2: /* verb, resource */
		w2 = 10;
		w3 = textw - w2 - 1;
		lb_left(&l, g->cols[0].header, w2);
		lb_fill(&l, 1);
		lb_left(&l, g->cols[1].header, w3);
		break;
	default:
		w1 = textw;
		lb_left(&l, g->cols[0].header, w1);
		break;
	}
	lb_right(&l, "REQ/S", 9);
	if (t->ea) {
		lb_right(&l, "ETCD/S", 7);
		lb_right(&l, "ETCDB/S", 7);
		lb_right(&l, "EKEYS/S", 7);
	}
	lb_right(&l, "ERR%", 6);
	lb_right(&l, "P50", 8);
	lb_right(&l, "P99", 8);
	lb_right(&l, "BYTES/S", 9);
	lb_right(&l, "INFLIGHT", 8);
	emit(L_COLS, line, ctx);

	for (size_t i = 0; i < t->nrows && i < maxrows; i++) {
		const struct agg_row *r = &t->rows[i];
		char f1[REC_UA_LEN], f2[REC_VERB_LEN + 1], f3[AGG_RESOURCE_LEN + REC_FIELD_LEN + 2];
		char res[AGG_RESOURCE_LEN + REC_FIELD_LEN + 2];

		const char *v[TOP_MAX_COLS];

		struct linebuf lb = { line, 0, sizeof(line) }, rl = { res, 0, sizeof(res) };

		line[0] = '\0';
		top_key_values(g, r, v);
		switch (g->ncols) {
		case 4:
			lb_str(&rl, v[2]);
			if (v[3][0]) {
				lb_str(&rl, "/");
				lb_str(&rl, v[3]);
			}
			tcopy(f1, sizeof(f1), w1, v[0]);
			tcopy(f2, sizeof(f2), w2, v[1]);
			tcopy(f3, sizeof(f3), w3, res);
			lb_left(&lb, f1, w1);
			lb_fill(&lb, 1);
			lb_left(&lb, f2, w2);
			lb_fill(&lb, 1);
			lb_left(&lb, f3, w3);
			break;
		case 2:
			tcopy(f2, sizeof(f2), w2, v[0]);
			tcopy(f3, sizeof(f3), w3, v[1]);
			lb_left(&lb, f2, w2);
			lb_fill(&lb, 1);
			lb_left(&lb, f3, w3);
			break;
		default:
			tcopy(f1, sizeof(f1), w1, v[0]);
			lb_left(&lb, f1, w1);
			break;
		}
		fmt_rate(a, sizeof(a), r->rate);
		lb_right(&lb, a, 9);
		if (t->ea) {
			fmt_rate(a, sizeof(a), t->row_etcd[i]);
			fmt_si(b, sizeof(b), r->etcd_bytes_rate);
			fmt_rate(c, sizeof(c), r->etcd_kvs_rate);
			lb_right(&lb, a, 7);
			lb_right(&lb, b, 7);
			lb_right(&lb, c, 7);
		}
		fmt_dur(b, sizeof(b), r->p50_ns);
		fmt_dur(c, sizeof(c), r->p99_ns);
		fmt_si(d, sizeof(d), r->bytes_rate);
		lb_fixed(&lb, r->err_pct, 1, 6);
		lb_right(&lb, b, 8);
		lb_right(&lb, c, 8);
		lb_right(&lb, d, 9);
		if (r->inflight >= 0) {
			char n[24];

			fmt_u64(n, sizeof(n), (uint64_t)r->inflight);
			lb_right(&lb, n, 8);
		} else {
			snprintf(line + lb.n, sizeof(line) - lb.n, " %8lld", (long long)r->inflight);
		}
		emit(r->other ? L_OTHER : L_ROW, line, ctx);
	}
}

/* ---- outputs ------------------------------------------------------------------------------------- */

static void emit_text(enum line_kind k, const char *line, void *ctx)
{
	fputs(line, stdout);
	fputc('\n', stdout);
}

static void emit_curses(enum line_kind k, const char *line, void *ctx)
{
	int *y = ctx;
	attr_t attr = k == L_COLS ? A_REVERSE : k == L_ALERT ? A_BOLD : k == L_OTHER ? A_DIM : A_NORMAL;

	if (*y >= LINES)
		return;
	attron(attr);
	mvaddnstr(*y, 0, line, COLS);
	if (k == L_COLS)
		for (int x = (int)strlen(line); x < COLS; x++)
			mvaddch(*y, x, ' ');
	attroff(attr);
	(*y)++;
}

static const char *const help_lines[] = {
	"kapimon top - keys",
	"",
	"  q        quit",
	"  /        filter: type a substring of the row key (any key column), Enter applies,",
	"           Enter on an empty line clears, Esc cancels",
	"  r        reverse the order (smallest first)",
	"  s        next sort: rate, errors, p99, bytes, etcd-bytes, etcd-keys (etcd: what its",
	"           calls returned for the rows' requests)",
	"  b        next grouping: all, agent, verb-resource, resource, namespace, client, user,",
	"           priority-level",
	"  e        show / hide the etcd panel",
	"  p        pause / resume the display",
	"  ? or h   this help (any key closes it)",
};

/* The last line: the filter being typed, or the main keys. */
static void draw_footer(const struct top *t)
{
	char line[TOP_FILTER_LEN + 64];

	if (t->editing)
		snprintf(line, sizeof(line), "filter: %s_   (Enter applies, empty clears, Esc cancels)", t->edit);
	else
		snprintf(line, sizeof(line), "%s", KEYS_LINE);
	move(LINES - 1, 0);
	clrtoeol();
	attron(A_REVERSE);
	mvaddnstr(LINES - 1, 0, line, COLS);
	attroff(A_REVERSE);
}

static void draw_curses(const struct top *t)
{
	int y = 0;
	size_t avail = LINES > 9 ? (size_t)LINES - 9 : 1, fit = avail;
	bool panel = t->ea && t->etcd_panel && t->have_snapshot;

	if (panel) {
		/* keep room for the etcd panel (blank, title, column header, rows): up to a third of the
		 * lines, at least 3 rows; it also gets whatever the main table leaves */
		size_t want = avail / 3 > 3 ? avail / 3 : 3;

		if (t->nerows < want)
			want = t->nerows;
		fit = avail > want + 3 ? avail - want - 3 : 1;
	}
	erase();
	if (t->help) {
		for (size_t i = 0; i < sizeof(help_lines) / sizeof(help_lines[0]) && (int)i < LINES - 1; i++)
			mvaddnstr((int)i, 0, help_lines[i], COLS);
		draw_footer(t);
		refresh();
		return;
	}
	emit_view(t, COLS, t->nrows_max && t->nrows_max < fit ? t->nrows_max : fit, emit_curses, &y);
	if (!t->have_snapshot && y < LINES)
		mvaddstr(y, 0, "(collecting the first interval...)");
	if (panel && y + 4 <= LINES)
		emit_etcd_panel(t, COLS, (size_t)(LINES - y - 4), emit_curses, &y);
	if (t->ca && by_client(t) && t->have_snapshot && y + 4 <= LINES)
		emit_conn_panel(t, COLS, (size_t)(LINES - y - 4), emit_curses, &y);
	draw_footer(t);
	refresh();
}

/* g: the grouping of the row (NULL for the total row: no key) */
static void json_row(struct json_writer *w, const struct top_grouping *g, const struct agg_row *r, double span,
		     const double *etcd_per_s)
{
	jw_obj_begin(w);
	if (g) { /* the key as the screen shows it ("(other)" row: "(other)", then "") */
		const char *v[TOP_MAX_COLS];

		for (size_t i = 0, n = top_key_values(g, r, v); i < n; i++)
			jw_kv_str(w, g->cols[i].json, v[i]);
	}
	if (r->other)
		jw_kv_bool(w, "other", true);
	jw_kv_double(w, "req_per_s", r->rate);
	if (g)
		jw_kv_double(w, "req_per_s_err", r->rate_err);
	if (etcd_per_s) {
		jw_kv_double(w, "etcd_per_s", *etcd_per_s);
		jw_kv_double(w, "etcd_bytes_per_s", r->etcd_bytes_rate);
		jw_kv_double(w, "etcd_keys_per_s", r->etcd_kvs_rate);
	}
	jw_kv_double(w, "err_pct", r->err_pct);
	jw_kv_double(w, "e4xx_per_s", span > 0 ? r->e4xx / span : 0);
	jw_kv_double(w, "e429_per_s", span > 0 ? r->e429 / span : 0);
	jw_kv_double(w, "e5xx_per_s", span > 0 ? r->e5xx / span : 0);
	jw_kv_double(w, "p50_ms", r->p50_ns / 1e6);
	jw_kv_double(w, "p90_ms", r->p90_ns / 1e6);
	jw_kv_double(w, "p99_ms", r->p99_ns / 1e6);
	jw_kv_double(w, "bytes_per_s", r->bytes_rate);
	jw_kv_int(w, "inflight", r->inflight);
	jw_obj_end(w);
}

static void json_conns_budget(struct json_writer *w, const struct top *t)
{
	double op, cl;

	conn_rates(t, &op, &cl);
	jw_key(w, "connections");
	jw_obj_begin(w);
	jw_kv_uint(w, "active", t->conn.active);
	jw_kv_double(w, "opened_per_s", op);
	jw_kv_double(w, "closed_per_s", cl);
	jw_kv_uint(w, "opened", t->conn.opened);
	jw_kv_uint(w, "closed", t->conn.closed);
	jw_kv_uint(w, "seeded", t->conn.seeded);
	jw_kv_uint(w, "retransmits", t->conn.retransmits);
	jw_kv_uint(w, "resets_sent", t->conn.resets_sent);
	jw_kv_uint(w, "resets_received", t->conn.resets_received);
	jw_kv_uint(w, "etcd_active", t->conn.etcd_active);
	jw_kv_uint(w, "etcd_opened", t->conn.etcd_opened);
	jw_kv_uint(w, "etcd_closed", t->conn.etcd_closed);
	jw_obj_end(w);
	jw_key(w, "budget");
	if (!t->sm.enabled) {
		jw_null(w);
		return;
	}
	jw_obj_begin(w);
	jw_kv_double(w, "budget_pct", t->sm.b.budget * 100);
	jw_kv_double(w, "duty", t->sm.b.duty);
	jw_kv_double(w, "sample_factor", sampler_factor(&t->sm));
	jw_kv_double(w, "hit_cost_us", t->sm.b.hit_cost_ns / 1000);
	jw_kv_double(w, "overhead_full_pct", t->sm.b.last_overhead * 100);
	jw_kv_double(w, "overhead_expected_pct", budget_expected_overhead(&t->sm.b) * 100);
	jw_kv_uint(w, "cycles", t->sm.b.cycles);
	jw_obj_end(w);
}

/* "conn_rows": the connection panel's rows (every grouping). */
static void json_conn_rows(struct json_writer *w, const struct top *t, size_t maxrows)
{
	double dt = conn_window_s(t);

	if (!t->ca)
		return;
	jw_kv_uint(w, "conn_rows_total", t->ncrows);
	jw_key(w, "conn_rows");
	jw_arr_begin(w);
	for (size_t i = 0; i < t->ncrows && i < maxrows; i++) {
		const struct conn_agg_row *r = &t->crows[i];

		jw_obj_begin(w);
		jw_kv_str(w, "dir", r->dir == REC_CONN_ETCD ? "etcd" : "client");
		jw_kv_str(w, r->dir == REC_CONN_ETCD ? "endpoint" : "client", r->group);
		if (r->other)
			jw_kv_bool(w, "other", true);
		jw_kv_double(w, "opened_per_s", dt > 0 ? (double)r->w_opened / dt : 0);
		jw_kv_double(w, "closed_per_s", dt > 0 ? (double)r->w_closed / dt : 0);
		jw_kv_double(w, "retransmits_per_s", dt > 0 ? (double)r->w_retrans / dt : 0);
		jw_kv_uint(w, "open", r->open);
		jw_kv_uint(w, "opened", r->opened);
		jw_kv_uint(w, "closed", r->closed);
		jw_kv_uint(w, "retransmits", r->retrans);
		jw_kv_uint(w, "resets_sent", r->resets_sent);
		jw_kv_uint(w, "resets_received", r->resets_received);
		jw_kv_uint(w, "bytes_in", r->bytes_in);
		jw_kv_uint(w, "bytes_out", r->bytes_out);
		if (r->lifetimes)
			jw_kv_double(w, "lifetime_avg_s", (double)r->lifetime_ns / (double)r->lifetimes / 1e9);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

static void json_etcd_row(struct json_writer *w, const struct etcd_agg_row *r)
{
	jw_obj_begin(w);
	if (r->key) {
		jw_kv_str(w, "op", r->key->op);
		jw_kv_str(w, "resource", r->key->resource);
	}
	if (r->other)
		jw_kv_bool(w, "other", true);
	jw_kv_double(w, "calls_per_s", r->rate);
	jw_kv_double(w, "linked_per_s", r->linked_rate);
	jw_kv_double(w, "err_pct", r->err_pct);
	jw_kv_double(w, "p50_ms", r->p50_ns / 1e6);
	jw_kv_double(w, "p90_ms", r->p90_ns / 1e6);
	jw_kv_double(w, "p99_ms", r->p99_ns / 1e6);
	jw_kv_double(w, "req_bytes_per_s", r->req_bytes_rate);
	jw_obj_end(w);
}

static void json_etcd(struct json_writer *w, const struct top *t, size_t maxrows)
{
	const struct etcd_agg_stats *st;
	const struct etcd_asm_stats *as;

	jw_key(w, "etcd");
	if (!t->ea) {
		jw_null(w);
		return;
	}
	st = etcd_agg_get_stats(t->ea);
	as = pipeline_etcd_stats(t->pl);
	jw_obj_begin(w);
	jw_key(w, "total");
	json_etcd_row(w, &t->etotal);
	jw_kv_double(w, "linked_pct", t->etotal.calls > 0 ? t->etotal.linked / t->etotal.calls * 100 : 0);
	jw_kv_double(w, "hits_per_call", t->etcd_hits_per_call);
	jw_key(w, "stats");
	jw_obj_begin(w);
	jw_kv_uint(w, "calls", st->records);
	jw_kv_uint(w, "linked", st->linked);
	jw_kv_uint(w, "attributed", st->attributed);
	jw_kv_uint(w, "unattributed", st->unattributed);
	jw_kv_uint(w, "stream_messages", st->streams);
	jw_kv_uint(w, "deferred", st->deferred);
	jw_kv_uint(w, "late", st->late);
	jw_kv_uint(w, "overflow", st->overflow);
	jw_kv_uint(w, "quantile_overflow", st->cell_overflow);
	jw_kv_uint(w, "decode_errors", as->decode.errors);
	jw_kv_uint(w, "unmatched_ends", as->unmatched_end);
	jw_kv_uint(w, "pending_full", as->pending_full);
	jw_kv_uint(w, "hold_full", as->hold_full);
	jw_obj_end(w);
	jw_kv_uint(w, "rows_total", t->nerows_all);
	jw_key(w, "rows");
	jw_arr_begin(w);
	for (size_t i = 0; i < t->nerows && i < maxrows; i++)
		json_etcd_row(w, &t->erows[i]);
	jw_arr_end(w);
	jw_obj_end(w);
}

static void print_json(const struct top *t, size_t maxrows)
{
	struct json_writer w;
	const struct top_grouping *g = &top_groupings[t->by];
	enum agg_table tab = g->table;
	const struct agg_stats *st = agg_get_stats(t->agg);
	char ts[RECORD_TS_LEN];

	record_ts_format(t->ts_ns, ts, sizeof(ts));
	jw_init(&w, stdout, g_opts.pretty);
	jw_obj_begin(&w);
	jw_kv_str(&w, "kind", "top");
	jw_kv_str(&w, "ts", ts);
	jw_kv_int(&w, "pid", follow_count(t->fw) ? follow_pid(t->fw, 0) : 0);
	jw_kv_str(&w, "probes", follow_describe(t->fw));
	jw_key(&w, "apiservers");
	jw_obj_begin(&w);
	jw_kv_bool(&w, "follow", follow_following(t->fw));
	jw_key(&w, "attached");
	jw_arr_begin(&w);
	for (size_t i = 0; i < follow_count(t->fw); i++)
		jw_int(&w, follow_pid(t->fw, i));
	jw_arr_end(&w);
	jw_kv_uint(&w, "attaches", follow_attaches(t->fw));
	jw_kv_uint(&w, "exits", follow_exits(t->fw));
	jw_obj_end(&w);
	jw_kv_uint(&w, "interval_s", t->interval);
	jw_kv_double(&w, "span_s", t->span_s);
	jw_kv_str(&w, "by", agg_table_name(tab));
	jw_kv_str(&w, "sort", agg_sort_name(t->sort));
	jw_kv_bool(&w, "reverse", t->reverse);
	jw_kv_str(&w, "filter", t->filter);
	jw_kv_uint(&w, "rows_hidden", t->nrows_hidden);
	jw_key(&w, "total");
	json_row(&w, NULL, &t->total, t->total_span_s, t->ea ? &t->total_etcd : NULL);
	jw_kv_uint(&w, "inflight_total", t->pending);
	jw_key(&w, "capture");
	jw_obj_begin(&w);
	jw_kv_uint(&w, "ringbuf_drops", t->cs.counters[KP_CNT_RB_DROP]);
	jw_kv_double(&w, "hits_per_request", t->hits_per_request);
	jw_kv_uint(&w, "unmatched_ends", pipeline_asm_stats(t->pl)->unmatched_end);
	jw_kv_uint(&w, "starts_replaced", pipeline_asm_stats(t->pl)->replaced);
	jw_kv_uint(&w, "pending_expired", pipeline_asm_stats(t->pl)->expired);
	jw_obj_end(&w);
	jw_key(&w, "aggregate");
	jw_obj_begin(&w);
	jw_kv_uint(&w, "records", st->records);
	jw_kv_uint(&w, "late", st->late);
	jw_kv_uint(&w, "quantile_overflow", st->cell_overflow);
	jw_kv_uint(&w, "max_keys", agg_get_params(t->agg)->max_keys);
	jw_kv_double(&w, "untracked_max_per_s",
		     t->span_s > 0 ? agg_untracked_bound(t->agg, tab, t->interval) / t->span_s : 0);
	jw_key(&w, "evicted");
	jw_obj_begin(&w);
	for (int i = 0; i < AGG_TOTAL; i++)
		jw_kv_uint(&w, agg_table_name(i), st->evicted[i]);
	jw_obj_end(&w);
	jw_obj_end(&w);
	jw_key(&w, "anomaly");
	jw_obj_begin(&w);
	jw_kv_str(&w, "state", anomaly_state_name(t->la.view.state));
	jw_kv_bool(&w, "warm", t->la.view.state != AL_LEARNING);
	jw_kv_int(&w, "flag", t->la.view.flag);
	jw_kv_double(&w, "rate", t->la.view.rate);
	jw_kv_double(&w, "score", t->la.view.score);
	jw_kv_double(&w, "baseline", t->la.view.baseline);
	if (t->la.cause_on) {
		char line[640];

		jw_key(&w, "cause");
		jw_obj_begin(&w);
		live_cause_format(&t->la.cause, t->la.cause.since_step * STEP_NS, line, sizeof(line));
		jw_kv_str(&w, "line", line);
		jw_kv_uint(&w, "since_ns", t->la.cause.since_step * STEP_NS);
		jw_kv_double(&w, "seconds", t->la.cause.seconds);
		jw_kv_double(&w, "real_per_s", t->la.cause.seconds > 0 ? t->la.cause.real / t->la.cause.seconds : 0);
		jw_kv_double(&w, "expected_per_s", t->la.cause.seconds > 0 ? t->la.cause.expected / t->la.cause.seconds : 0);
		jw_kv_bool(&w, "found", t->la.cause.valid);
		if (t->la.cause.valid) {
			jw_key(&w, "attrs");
			jw_obj_begin(&w);
			for (size_t i = 0; i < t->la.cause.nattrs; i++)
				jw_kv_str(&w, t->la.cause.names[i], t->la.cause.values[i]);
			jw_obj_end(&w);
			jw_kv_double(&w, "share", t->la.cause.share);
		}
		jw_obj_end(&w);
	}
	jw_obj_end(&w);
	json_conns_budget(&w, t);
	json_conn_rows(&w, t, maxrows);
	json_etcd(&w, t, maxrows);
	jw_kv_uint(&w, "rows_total", t->nrows_all);
	jw_key(&w, "rows");
	jw_arr_begin(&w);
	for (size_t i = 0; i < t->nrows && i < maxrows; i++)
		json_row(&w, g, &t->rows[i], t->span_s, t->ea ? &t->row_etcd[i] : NULL);
	jw_arr_end(&w);
	jw_obj_end(&w);
	fputc('\n', stdout);
}

/* ---- refresh ------------------------------------------------------------------------------------- */

static void query(struct top *t)
{
	const struct top_grouping *g = &top_groupings[t->by];
	enum agg_table tab = g->table;

	/* every row (rows_cap is the table's size), then the filter and the order of the view */
	t->nrows = agg_query(t->agg, tab, t->interval, t->sort, t->rows, t->rows_cap, &t->span_s);
	if (t->nrows > t->rows_cap)
		t->nrows = t->rows_cap;
	t->nrows_all = top_view_apply(g, t->rows, t->nrows, t->filter, t->reverse);
	t->nrows_hidden = t->nrows - t->nrows_all;
	t->nrows = t->nrows_all;
	if (!agg_query(t->agg, AGG_TOTAL, t->interval, AGG_SORT_RATE, &t->total, 1, &t->total_span_s))
		memset(&t->total, 0, sizeof(t->total));
	if (t->ea) {
		for (size_t i = 0; i < t->nrows; i++)
			t->row_etcd[i] = t->span_s > 0 ? etcd_agg_linked(t->ea, tab, t->rows[i].index, t->interval) / t->span_s : 0;
		t->total_etcd = t->total_span_s > 0 ? etcd_agg_linked(t->ea, AGG_TOTAL, 1, t->interval) / t->total_span_s : 0;
		t->nerows_all = etcd_agg_query(t->ea, t->interval, t->erows, ETCD_MAX_ROWS, &t->etotal, NULL);
		t->nerows = t->nerows_all < ETCD_MAX_ROWS ? t->nerows_all : ETCD_MAX_ROWS;
	}
}

static void write_prometheus(struct top *t)
{
	struct prom_health h = { 0 };
	int err;

	h.ringbuf_drops = t->cs.counters[KP_CNT_RB_DROP];
	h.hits_per_request = t->hits_per_request;
	h.nprobes = 4; /* the request-path probes */
	for (uint32_t i = 0; i < h.nprobes; i++) {
		h.probe_names[i] = kp_probe_name((int)i);
		h.probe_hits[i] = t->cs.hits[i];
	}
	h.netcd = t->sink.nprom_etcd;
	h.etcd = t->prom_etcd;
	err = prom_write_file(t->prom_path, t->agg, &h);
	if (err && err != t->prom_err)
		p_warn("writing %s: %s", t->prom_path, strerror(-err));
	t->prom_err = err;
}

static void refresh_snapshot(struct top *t, uint64_t now_wall)
{
	follow_drain(t->fw);
	pipeline_tick(t->pl, now_wall - (uint64_t)t->mono_to_wall);
	agg_advance(t->agg, now_wall);
	if (t->ea)
		etcd_agg_advance(t->ea, now_wall);
	{ /* the detector, its verdict and the cause of an alerted event (shared with the agent) */
		struct anomaly_record ev[LA_MAX_RECORDS];

		live_anomaly_update(&t->la, now_wall, ev);
	}
	follow_read_stats(t->fw, &t->cs);
	t->hits_per_request = pipeline_hits_per_request(t->pl, t->cs.hits);
	t->etcd_hits_per_call = pipeline_etcd_hits_per_call(t->pl, t->cs.hits);
	t->conn_prev = t->conn;
	t->conn_prev_ts = t->conn_ts;
	t->conn = *pipeline_conn_stats(t->pl);
	t->conn_ts = now_wall;
	if (t->ca) {
		t->ncrows = conn_agg_rows(t->ca, t->crows, conn_agg_cap(t->ca) + 2);
		if (t->ncrows > conn_agg_cap(t->ca) + 2)
			t->ncrows = conn_agg_cap(t->ca) + 2;
		conn_agg_window_reset(t->ca);
	}
	t->pending = pipeline_pending(t->pl);
	agg_sink_inflight_snapshot(&t->sink, t->pl); /* in flight per row: the pending tables now (never leaks) */
	t->ts_ns = now_wall;
	query(t);
	t->have_snapshot = true;
	if (t->prom_path)
		write_prometheus(t);
}

static void show(struct top *t)
{
	size_t maxrows = t->nrows_max ? t->nrows_max : 20;

	if (t->curses) {
		draw_curses(t);
	} else if (t->json) {
		print_json(t, maxrows);
		fflush(stdout);
	} else {
		emit_view(t, 160, maxrows, emit_text, NULL);
		if (t->ea)
			emit_etcd_panel(t, 160, t->nrows_max ? t->nrows_max : 10, emit_text, NULL);
		if (t->ca && by_client(t))
			emit_conn_panel(t, 160, maxrows, emit_text, NULL);
		fputc('\n', stdout);
		fflush(stdout);
	}
}

/* Interactive keys; returns false to quit. */
static bool handle_keys(struct top *t)
{
	int ch;

	while ((ch = getch()) != ERR) {
		if (t->editing) { /* typing a filter: printable ASCII only (it is shown on the terminal) */
			if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
				memcpy(t->filter, t->edit, t->edit_len + 1);
				t->editing = false;
			} else if (ch == 27) {
				t->editing = false;
			} else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
				if (t->edit_len)
					t->edit[--t->edit_len] = '\0';
			} else if (ch >= 0x20 && ch < 0x7f && t->edit_len + 1 < sizeof(t->edit)) {
				t->edit[t->edit_len++] = (char)ch;
				t->edit[t->edit_len] = '\0';
			}
		} else if (t->help && ch != KEY_RESIZE) {
			t->help = false;
			if (ch == 'q' || ch == 'Q')
				return false;
		} else switch (ch) {
		case 'q': case 'Q': return false;
		case 's':
			t->sort = (t->sort + 1) % AGG__NSORT;
			if (!t->ea && (t->sort == AGG_SORT_ETCD_BYTES || t->sort == AGG_SORT_ETCD_KEYS))
				t->sort = AGG_SORT_RATE; /* --no-etcd: nothing to sort by */
			break;
		case 'b': /* the grouping counts from now on (top counts only the groupings it shows) */
			t->by = (t->by + 1) % top_ngroupings;
			agg_enable_tables(t->agg, AGG_TABLE_BIT(top_groupings[t->by].table),
					  cli_now_ns(CLOCK_MONOTONIC) + t->mono_to_wall);
			break;
		case 'r': t->reverse = !t->reverse; break;
		case '?': case 'h': t->help = true; break;
		case '/':
			t->editing = true;
			t->edit_len = strlen(t->filter);
			memcpy(t->edit, t->filter, t->edit_len + 1);
			break;
		case 'p': t->paused = !t->paused; break;
		case 'e': t->etcd_panel = !t->etcd_panel; break;
		case KEY_RESIZE: break;
		default: continue;
		}
		if (t->have_snapshot && !t->paused && !t->editing)
			query(t); /* new sort / grouping / filter / order at once, same window */
		draw_curses(t);
	}
	return true;
}

static bool parse_sort(const char *s, enum agg_sort *out)
{
	for (int i = 0; i < AGG__NSORT; i++)
		if (!strcmp(s, agg_sort_name(i))) {
			*out = i;
			return true;
		}
	return false;
}

static bool parse_by(const char *s, unsigned *out)
{
	int i = top_grouping_find(s);

	if (i < 0)
		return false;
	*out = (unsigned)i;
	return true;
}

int cmd_top(int argc, char **argv)
{
	enum { OPT_PID = 256, OPT_EXE, OPT_INTERVAL, OPT_SORT, OPT_BY, OPT_BATCH, OPT_ITER, OPT_PROM, OPT_NO_H1, OPT_NO_H2,
	       OPT_NO_ETCD, OPT_BUDGET, OPT_BUDGET_PERIOD, OPT_HIT_COST, OPT_FILTER, OPT_REVERSE };
	static const struct option longopts[] = {
		CLI_COMMON_LONG,
		{ "pid", required_argument, NULL, OPT_PID },
		{ "exe", required_argument, NULL, OPT_EXE },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "sort", required_argument, NULL, OPT_SORT },
		{ "by", required_argument, NULL, OPT_BY },
		{ "filter", required_argument, NULL, OPT_FILTER },
		{ "reverse", no_argument, NULL, OPT_REVERSE },
		{ "batch", no_argument, NULL, OPT_BATCH },
		{ "iterations", required_argument, NULL, OPT_ITER },
		{ "prometheus-file", required_argument, NULL, OPT_PROM },
		{ "no-h1", no_argument, NULL, OPT_NO_H1 },
		{ "no-h2", no_argument, NULL, OPT_NO_H2 },
		{ "no-etcd", no_argument, NULL, OPT_NO_ETCD },
		{ "budget", required_argument, NULL, OPT_BUDGET },
		{ "budget-period", required_argument, NULL, OPT_BUDGET_PERIOD },
		{ "hit-cost-us", required_argument, NULL, OPT_HIT_COST },
		CLI_DETECTOR_LIVE_LONG,
		{ 0 },
	};
	struct top t = { .interval = 1, .etcd_panel = true };
	struct capture_opts co = { 0 };
	struct follow_opts fo = { 0 };
	struct agg_params ap;
	struct dc_params dp;
	long pid = 0, interval = 1, iterations = 0, nrows = 0, budget_period = 10;
	double budget = 0, hit_cost_us = 0;
	uint64_t next_refresh, next_housekeep = 0, done = 0;
	int c, ret = 1;

	dc_params_default(&dp);
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT "n:", longopts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(stdout); return 0;
		case OPT_PID:
			if (!cli_parse_long(optarg, 1, 1 << 30, &pid))
				return cli_usage_error("top", "--pid needs a process id, got '%s'", optarg);
			break;
		case OPT_EXE: fo.exe_name = optarg; break;
		case OPT_INTERVAL:
			if (!cli_parse_long(optarg, 1, 3600, &interval))
				return cli_usage_error("top", "--interval needs whole seconds in [1, 3600], got '%s'", optarg);
			break;
		case OPT_SORT:
			if (!parse_sort(optarg, &t.sort))
				return cli_usage_error("top", "--sort takes rate, errors, p99, bytes, etcd-bytes or etcd-keys, got "
						       "'%s'", optarg);
			break;
		case OPT_BY:
			if (!parse_by(optarg, &t.by))
				return cli_usage_error("top", "--by takes %s, got '%s'", top_grouping_names(), optarg);
			break;
		case OPT_FILTER:
			if (strlen(optarg) >= sizeof(t.filter))
				return cli_usage_error("top", "--filter takes at most %zu bytes", sizeof(t.filter) - 1);
			strcpy(t.filter, optarg);
			break;
		case OPT_REVERSE: t.reverse = true; break;
		case 'n':
			if (!cli_parse_long(optarg, 1, MAX_ROWS, &nrows))
				return cli_usage_error("top", "-n needs a row count in [1, %d], got '%s'", MAX_ROWS, optarg);
			break;
		case OPT_BATCH: t.batch = true; break;
		case OPT_ITER:
			if (!cli_parse_long(optarg, 1, 1L << 40, &iterations))
				return cli_usage_error("top", "--iterations needs a count > 0, got '%s'", optarg);
			break;
		case OPT_PROM: t.prom_path = optarg; break;
		case OPT_NO_H1: co.no_h1 = true; break;
		case OPT_NO_H2: co.no_h2 = true; break;
		case OPT_NO_ETCD: co.no_etcd = true; break;
		case OPT_BUDGET:
			if (!budget_parse(optarg, &budget))
				return cli_usage_error("top", "--budget needs a percentage in (0, 100], e.g. 1%%, got '%s'", optarg);
			break;
		case OPT_BUDGET_PERIOD:
			if (!cli_parse_long(optarg, 1, 3600, &budget_period))
				return cli_usage_error("top", "--budget-period needs seconds in [1, 3600], got '%s'", optarg);
			break;
		case OPT_HIT_COST:
			if (!cli_parse_double(optarg, &hit_cost_us) || hit_cost_us <= 0)
				return cli_usage_error("top", "--hit-cost-us needs microseconds > 0, got '%s'", optarg);
			break;
		default: {
			bool handled;
			int rc = cli_detector_opt("top", c, optarg, &dp, &handled);

			if (rc)
				return rc;
			if (!handled && !cli_common_opt(c))
				return cli_usage_error("top", "invalid option");
		}
		}
	}
	if (optind < argc)
		return cli_usage_error("top", "unexpected argument '%s'", argv[optind]);
	if (co.no_h1 && co.no_h2)
		return cli_usage_error("top", "--no-h1 and --no-h2 leave nothing to watch");
	if (co.no_etcd && (t.sort == AGG_SORT_ETCD_BYTES || t.sort == AGG_SORT_ETCD_KEYS))
		return cli_usage_error("top", "--sort %s needs etcd capture (not --no-etcd)", agg_sort_name(t.sort));
	t.json = g_opts.json;
	t.batch = t.batch || t.json || !isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO);
	t.interval = (unsigned)interval;
	t.nrows_max = (size_t)nrows;
	if (pid && fo.exe_name)
		return cli_usage_error("top", "--exe follows processes by name; --pid watches one: not both");
	/* budget mode drives one apiserver's probes: the only one running, as before follow */
	if (budget > 0 && !pid && cli_find_apiserver(&pid))
		return 1;
	fo.pid = (pid_t)pid;
	t.exe_name = fo.exe_name ? fo.exe_name : "kube-apiserver";

	t.mono_to_wall = cli_mono_to_wall();
	agg_params_for_window(&ap, t.interval);
	/* count what is shown (the grouping; key b enables the next when it is switched to), what the live
	 * cause drills into, and what the Prometheus file exports: not all nine groupings per request */
	ap.tables = top_view_tables(t.by) | (t.prom_path ? PROM_TABLES : 0);
	if (live_anomaly_params(&ap, &dp))
		return cli_usage_error("top", "--season: at most %d (seconds), got %d", LA_MAX_SEASON, dp.season);
	t.rows_cap = (size_t)ap.max_keys + 1; /* every row of a table: the filter and --reverse see them all */
	t.rows = calloc(t.rows_cap, sizeof(*t.rows));
	t.row_etcd = calloc(t.rows_cap, sizeof(*t.row_etcd));
	t.erows = calloc(ETCD_MAX_ROWS, sizeof(*t.erows));
	if (!t.rows || !t.row_etcd || !t.erows) {
		p_err("out of memory");
		goto out;
	}
	t.agg = agg_new(&ap, cli_now_ns(CLOCK_MONOTONIC) + t.mono_to_wall);
	if (!t.agg) {
		p_err("out of memory");
		goto out;
	}
	live_anomaly_init(&t.la, t.agg);
	if (!co.no_etcd) {
		struct etcd_agg_params ep;

		etcd_agg_params_default(&ep);
		ep.step_ns = ap.step_ns;
		ep.nsteps = t.interval + 1; /* only the last interval is shown */
		ep.link_tables = AGG__NTABLES;
		ep.link_rows = ap.max_keys + 1;
		t.ea = etcd_agg_new(&ep, cli_now_ns(CLOCK_MONOTONIC) + t.mono_to_wall);
		if (t.ea)
			agg_set_evict_hook(t.agg, etcd_agg_evict_hook, t.ea);
		if (!t.ea) {
			p_err("out of memory");
			goto out;
		}
	}
	/* front end: capture -> pipeline -> one sink, the aggregation */
	{
		struct pipeline_opts po = { .mono_to_wall_ns = t.mono_to_wall, .etcd = !co.no_etcd,
					    .etcd_link_hold_ns = ETCD_LINK_HOLD_NS, .conn_grace_ns = CONN_GRACE_NS,
					    .pending_closed_grace_ns = PENDING_CLOSED_GRACE_NS };
		struct pipeline_sink sink;

		t.pl = pipeline_new(&po);
		if (!t.pl) {
			p_err("out of memory");
			goto out;
		}
		agg_sink_init(&t.sink, t.agg, t.ea);
		t.ca = conn_agg_new(0);
		t.crows = t.ca ? calloc(conn_agg_cap(t.ca) + 2, sizeof(*t.crows)) : NULL;
		if (!t.crows) {
			p_err("out of memory");
			goto out;
		}
		agg_sink_keep_conns(&t.sink, t.ca);
		if (t.prom_path)
			agg_sink_keep_prom_etcd(&t.sink, t.prom_etcd, PROM_MAX_ETCD);
		sink = agg_sink_iface(&t.sink);
		pipeline_add_sink(t.pl, &sink);
	}
	co.on_event = pipeline_feed_cb;
	co.ctx = t.pl;
	/* 4 MiB rings (record keeps 8): each counts 2 x 4 MiB in RSS, and top's reader never stalls long
	 * (a refresh takes milliseconds; drops would be counted in the header) */
	co.ring_bytes = TOP_RING_BYTES;
	fo.co = co;
	fo.on_gone = on_gone;
	fo.ctx = t.pl;

	cli_signals_install(false);
	if (follow_open(&t.fw, &fo))
		goto out;
	if (sampler_init(&t.sm, follow_capture(t.fw, 0), fo.pid, budget, hit_cost_us * 1000.0,
			 (uint64_t)budget_period * STEP_NS))
		goto out;
	if (t.sm.enabled) /* each record weighs what the window its start fell in stands for */
		pipeline_set_weigher(t.pl, sampler_weight, &t.sm);
	/* connection rates of the first snapshot are since now (connections found in /proc are seeded) */
	t.conn = *pipeline_conn_stats(t.pl);
	t.conn_ts = cli_now_ns(CLOCK_MONOTONIC) + t.mono_to_wall;
	if (t.batch && kp_verbosity >= 2)
		for (size_t i = 0; i < follow_count(t.fw); i++)
			plan_print(capture_plan(follow_capture(t.fw, i)), stderr, "kapimon: ");
	if (t.batch)
		follow_announce(t.fw, budget > 0 ? " (budget mode: duty cycle follows the measured load)" : "");

	if (!t.batch) {
		if (!initscr()) {
			p_err("cannot initialise the terminal; use --batch");
			goto out;
		}
		t.curses = true;
		cbreak(); /* keeps ISIG: Ctrl-C still raises SIGINT */
		noecho();
		nodelay(stdscr, TRUE);
		keypad(stdscr, TRUE);
		curs_set(0);
		draw_curses(&t);
	}

	/* refresh just after each interval boundary of the wall clock, so the window is whole steps */
	{
		uint64_t now = cli_now_ns(CLOCK_MONOTONIC) + t.mono_to_wall;

		next_refresh = (now / STEP_NS + t.interval) * STEP_NS + REFRESH_GRACE_NS;
	}
	while (!cli_exiting) {
		uint64_t mono = cli_now_ns(CLOCK_MONOTONIC), now = mono + t.mono_to_wall;
		int timeout_ms, err;

		sampler_tick(&t.sm, mono);
		if (mono >= next_housekeep) {
			pipeline_tick(t.pl, mono);
			next_housekeep = mono + HOUSEKEEP_NS;
		}
		/* apiservers that exited and new ones (every 250 ms) */
		follow_check(t.fw, mono);
		if (follow_target_gone(t.fw)) {
			if (t.curses)
				endwin();
			t.curses = false;
			p_err("pid %d exited: stopping", fo.pid);
			goto out;
		}

		if (now >= next_refresh) {
			refresh_snapshot(&t, now);
			if (!t.paused)
				show(&t);
			done++;
			if (iterations && done >= (uint64_t)iterations)
				break;
			next_refresh += (uint64_t)t.interval * STEP_NS;
			if (next_refresh <= now) /* we fell behind (stopped process): realign */
				next_refresh = (now / STEP_NS + t.interval) * STEP_NS + REFRESH_GRACE_NS;
			continue;
		}
		/* drain the ring buffers until the next refresh is due */
		timeout_ms = (int)((next_refresh - now + 999999) / 1000000);
		if (t.curses && timeout_ms > KEY_POLL_MS)
			timeout_ms = KEY_POLL_MS;
		if (timeout_ms > FOLLOW_CHECK_MS && follow_following(t.fw)) /* --pid: its exit wakes the poll */
			timeout_ms = FOLLOW_CHECK_MS;
		timeout_ms = sampler_timeout_ms(&t.sm, mono, timeout_ms);
		err = follow_poll(t.fw, timeout_ms);
		if (err < 0 && err != -EINTR) {
			p_err("ring buffer poll: %s", strerror(-err));
			goto out;
		}
		pipeline_rings_read(t.pl);
		if (t.curses && !handle_keys(&t))
			break;
	}
	ret = 0;
out:
	if (t.curses)
		endwin();
	sampler_free(&t.sm);
	if (t.fw && ret == 0 && t.batch)
		fprintf(stderr, "kapimon: detached after %llu refreshes\n", (unsigned long long)done);
	follow_close(t.fw);
	agg_free(t.agg);
	etcd_agg_free(t.ea);
	pipeline_free(t.pl);
	conn_agg_free(t.ca);
	free(t.crows);
	free(t.rows);
	free(t.row_etcd);
	free(t.erows);
	return ret;
}
