// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "plan/plan.h"

#include <errno.h>
#include <string.h>

#include "goelf/resolve.h"
#include "plan/authn_params.h"
#include "output/json_writer.h"

const char *const plan_prog_names[PLAN__NPROGS] = {
	[PLAN_PROG_NONE] = "none",
	[PLAN_PROG_H2X_HEADERS] = "h2x_process_headers",
	[PLAN_PROG_H2B_HEADERS] = "h2b_process_headers",
	[PLAN_PROG_H2X_DONE] = "h2x_handler_done",
	[PLAN_PROG_H2B_DONE] = "h2b_handler_done",
	[PLAN_PROG_H1_SERVE_CALL] = "h1_serve_call",
	[PLAN_PROG_H1_READ_REQUEST_RET] = "h1_read_request_ret",
	[PLAN_PROG_H1_FINISH] = "h1_finish_request",
	[PLAN_PROG_GRPC_WRITE_HTTP2CLIENT] = "grpc_write_http2client",
	[PLAN_PROG_GRPC_WRITE_CLIENTSTREAM] = "grpc_write_clientstream",
	[PLAN_PROG_GRPC_FINISH] = "grpc_finish",
	[PLAN_PROG_ETCD_WATCH] = "etcd_watch_dispatch",
	[PLAN_PROG_ETCD_RANGE] = "etcd_range_resp",
	[PLAN_PROG_AUTHN_OK] = "authn_ok",
	[PLAN_PROG_AUTHN_OK_ENTRY] = "authn_ok_entry",
	[PLAN_PROG_AUTHN_FAIL] = "authn_fail",
	[PLAN_PROG_APF_REJECT] = "apf_add_reject",
	[PLAN_PROG_APF_TOO_MANY] = "apf_too_many",
	[PLAN_PROG_APF_DIGEST] = "apf_digest",
};

#define PLAN_MAX_ALTS 2

/* Which program reads each target, per "A|B" alternative of its function (NONE: that alternative has
 * no program, the target does not resolve with it). One table: version knowledge as data. */
static const enum plan_prog target_prog[PT__COUNT][PLAN_MAX_ALTS] = {
	[PT_H2X_PROCESS_HEADERS] = { PLAN_PROG_H2X_HEADERS },
	[PT_H2X_HANDLER_DONE] = { PLAN_PROG_H2X_DONE },
	/* net/http's bundled http2* (<= Go 1.26) and net/http/internal/http2 (>= 1.27): same layout */
	[PT_H2B_PROCESS_HEADERS] = { PLAN_PROG_H2B_HEADERS, PLAN_PROG_H2B_HEADERS },
	[PT_H2B_HANDLER_DONE] = { PLAN_PROG_H2B_DONE, PLAN_PROG_H2B_DONE },
	[PT_H1_SERVE_CALL] = { PLAN_PROG_H1_SERVE_CALL },
	[PT_H1_READ_REQUEST] = { PLAN_PROG_H1_READ_REQUEST_RET },
	[PT_H1_FINISH_REQUEST] = { PLAN_PROG_H1_FINISH },
	[PT_GRPC_WRITE] = { PLAN_PROG_GRPC_WRITE_HTTP2CLIENT, PLAN_PROG_GRPC_WRITE_CLIENTSTREAM },
	[PT_GRPC_FINISH] = { PLAN_PROG_GRPC_FINISH },
	[PT_ETCD_WATCH_DISPATCH] = { PLAN_PROG_ETCD_WATCH, PLAN_PROG_ETCD_WATCH },
	[PT_ETCD_RANGE_UNMARSHAL] = { PLAN_PROG_ETCD_RANGE, PLAN_PROG_ETCD_RANGE },
	[PT_AUTHN_OK] = { PLAN_PROG_AUTHN_OK },
	[PT_AUTHN_OK_ENTRY] = { PLAN_PROG_AUTHN_OK_ENTRY },
	[PT_AUTHN_FAIL] = { PLAN_PROG_AUTHN_FAIL },
	[PT_APF_ADD_REJECT] = { PLAN_PROG_APF_REJECT },
	[PT_APF_TOO_MANY] = { PLAN_PROG_APF_TOO_MANY },
	[PT_APF_DIGEST] = { PLAN_PROG_APF_DIGEST },
};

/* The generic request starts the k8s-authn starts replace (their fallbacks go with them). */
static const enum probe_id authn_replaces[] = { PT_H2X_PROCESS_HEADERS, PT_H2B_PROCESS_HEADERS, PT_H1_SERVE_CALL };

/* The apiserver's outermost context filter: its context's parent is the key the ends carry. */
#define AUTHN_RECV_TS_FILTER "k8s.io/apiserver/pkg/endpoints/filters.withRequestReceivedTimestampWithClock.func1"

static bool replaced_by_authn(const struct plan *p, enum probe_id t)
{
	if (!p->authn_starts)
		return false;
	for (size_t i = 0; i < sizeof(authn_replaces) / sizeof(authn_replaces[0]); i++)
		if (authn_replaces[i] == t)
			return true;
	return false;
}

static bool prog_starts(enum plan_prog p)
{
	return p == PLAN_PROG_H2X_HEADERS || p == PLAN_PROG_H2B_HEADERS || p == PLAN_PROG_H1_SERVE_CALL ||
	       p == PLAN_PROG_H1_READ_REQUEST_RET || p == PLAN_PROG_GRPC_WRITE_HTTP2CLIENT ||
	       p == PLAN_PROG_GRPC_WRITE_CLIENTSTREAM || p == PLAN_PROG_AUTHN_OK || p == PLAN_PROG_AUTHN_OK_ENTRY ||
	       p == PLAN_PROG_AUTHN_FAIL;
}

enum plan_prog plan_target_prog(enum probe_id t, int alt)
{
	return (unsigned)t < PT__COUNT && alt >= 0 && alt < PLAN_MAX_ALTS ? target_prog[t][alt] : PLAN_PROG_NONE;
}

static void appendf(char *buf, size_t len, const char *fmt, const char *a, const char *b)
{
	size_t n = strlen(buf);

	if (n < len)
		snprintf(buf + n, len - n, fmt, n ? "; " : "", a, b);
}

/* The group's struct offsets usable? (per offsets group: [0] h2 x/net, [1] bundled, [2] h1, [3] grpc) */
static bool offsets_ok(const struct kapimon_offsets *o, int g)
{
	switch (g) {
	case PG_H2X: return o->h2_ok[0];
	case PG_H2B: return o->h2_ok[1];
	case PG_H1: return o->h1_ok;
	case PG_GRPC: return o->grpc_ok;
	default: return false;
	}
}

bool plan_range_offsets_ok(const struct kapimon_offsets *o)
{
	return o->grpc.range_resp_kvs != KP_OFF_UNKNOWN && o->grpc.range_resp_more != KP_OFF_UNKNOWN &&
	       o->grpc.range_resp_count != KP_OFF_UNKNOWN;
}

bool plan_resp_size_ok(const struct kapimon_offsets *o)
{
	return o->grpc.cs_attempt != KP_OFF_UNKNOWN && o->grpc.attempt_parser != KP_OFF_UNKNOWN &&
	       o->grpc.parser_header != KP_OFF_UNKNOWN;
}

static const char *off_option(const struct plan_opts *o, enum probe_group g)
{
	switch (g) {
	case PG_H2X:
	case PG_H2B: return o->no_h2 ? "--no-h2" : NULL;
	case PG_H1: return o->no_h1 ? "--no-h1" : NULL;
	case PG_GRPC:
	case PG_ETCD_WATCH:
	case PG_ETCD_RANGE: return o->no_etcd ? "--no-etcd" : NULL;
	/* authn starts cover both protocols: only with both servers' ends */
	case PG_AUTHN: return o->no_h1 ? "--no-h1" : o->no_h2 ? "--no-h2" : o->no_authn ? "no authn starts" : NULL;
	default: return NULL;
	}
}

/* Add the sites of one resolved target. */
static int add_sites(struct plan *p, enum probe_group g, const struct resolved_target *r)
{
	const struct probe_target *t = r->target;
	enum plan_prog prog = plan_target_prog(t->id, r->alt);

	if (prog == PLAN_PROG_NONE)
		return -ENOTSUP;
	if (p->nsites + r->nsites > PLAN_MAX_SITES)
		return -E2BIG;
	for (size_t i = 0; i < r->nsites; i++) {
		struct plan_site *s = &p->sites[p->nsites++];

		s->group = g;
		s->target = t->id;
		s->prog = prog;
		s->alt = r->alt;
		s->vaddr = r->site_vaddr[i];
		s->off = r->site_off[i];
		s->cheap = r->cheap;
		s->starts = prog_starts(s->prog);
	}
	return 0;
}

/* Resolve every target of group g (a fallback stands in for its primary); all or nothing. */
static void plan_group(const struct go_binary *b, struct plan *p, enum probe_group g)
{
	struct plan_group *pg = &p->groups[g];
	static struct resolved_target r; /* ~1.6 KB: off the stack (plan_build is not reentrant anyway) */
	uint32_t save = p->nsites;
	bool ok = true;

	for (int i = 0; i < PT__COUNT; i++) {
		const struct probe_target *t = &probe_targets[i];
		int err;

		if (t->group != g || t->fallback || replaced_by_authn(p, t->id))
			continue;
		err = goelf_resolve_target(b, t, &r);
		if (err) {
			appendf(pg->missing, sizeof(pg->missing), "%s%s: %s", t->func, r.reason);
			appendf(p->unresolved, sizeof(p->unresolved), "%s%s: %s", t->func, r.reason);
			/* a fallback target for this one? */
			for (int k = 0; k < PT__COUNT && err; k++) {
				const struct probe_target *f = &probe_targets[k];

				if (!f->fallback || f->primary != t->id)
					continue;
				err = goelf_resolve_target(b, f, &r);
				if (err) {
					appendf(pg->missing, sizeof(pg->missing), "%s%s: %s", f->func, r.reason);
					appendf(p->unresolved, sizeof(p->unresolved), "%s%s: %s", f->func, r.reason);
				} else {
					pg->fallback = true;
				}
			}
		}
		if (!err)
			err = add_sites(p, g, &r);
		if (err == -E2BIG)
			appendf(pg->missing, sizeof(pg->missing), "%s%s: %s", t->func, "too many probe sites in total");
		if (err == -ENOTSUP) {
			char why[64];

			snprintf(why, sizeof(why), "alternative %d has no BPF program", r.alt);
			appendf(pg->missing, sizeof(pg->missing), "%s%s: %s", t->func, why);
			appendf(p->unresolved, sizeof(p->unresolved), "%s%s: %s", t->func, why);
		}
		if (err)
			ok = false;
	}
	if (!ok) {
		p->nsites = save;
		return;
	}
	pg->ok = true;
	pg->missing[0] = '\0';
	pg->first_site = save;
	pg->nsites = p->nsites - save;
}

/* Why the k8s-authn starts cannot be used for b (why = "" when they can; p->authn filled then). */
static void authn_check(const struct go_binary *b, struct plan *p, const struct go_func *f, char *why, size_t len)
{
	int major = 0, minor = -1, patch = 0;

	/* the ends stay in the HTTP groups: if one of them may be disabled by the check of unverified offsets,
	 * its requests must not start elsewhere (the generic starts keep start and end in one group) */
	for (int g = PG_H2X; g <= PG_H1; g++)
		if (p->offsets.unverified[g]) {
			snprintf(why, len, "the %s offsets are unverified (generic starts keep a request's start and end "
				 "in one group)", probe_group_name(g));
			return;
		}
	if (!gobin_find_func(b, AUTHN_RECV_TS_FILTER)) {
		snprintf(why, len, "no received-timestamp filter (%s)", AUTHN_RECV_TS_FILTER);
		return;
	}
	if (!gobin_go_version_num(b, &major, &minor, &patch) || major != 1) {
		snprintf(why, len, "Go version unknown");
		return;
	}
	if (authn_params_fill(minor, f ? f->name : NULL, &p->authn, why, len))
		return;
	/* at the call site: req (func(w http.ResponseWriter, req *http.Request): after w's two words) in its
	 * spill slot above the return address; at the entry fallback: in RCX */
	if (!p->groups[PG_AUTHN].fallback) {
		int64_t frame = gobin_frame_size(b, f);

		if (frame <= 0 || frame + 8 + 16 >= KP_OFF_UNKNOWN) {
			snprintf(why, len, "no standard prologue in %s (frame size unknown)", f ? f->name : "?");
			return;
		}
		p->authn.req_spill = (kp_off_t)(frame + 8 + 16);
	}
	why[0] = '\0';
}

/* k8s-authn: the key and user knowledge for this binary; the group is dropped when it is missing. */
static void plan_authn(const struct go_binary *b, struct plan *p)
{
	struct plan_group *pg = &p->groups[PG_AUTHN];
	char why[256] = "";

	if (!pg->ok)
		return;
	authn_check(b, p, gobin_find_func(b, probe_targets[PT_AUTHN_OK].func), why, sizeof(why));
	if (!why[0]) {
		p->authn_starts = true;
		return;
	}
	memset(&p->authn, 0, sizeof(p->authn));
	pg->ok = false;
	p->nsites = pg->first_site; /* its sites are the first ones added */
	pg->nsites = 0;
	snprintf(pg->missing, sizeof(pg->missing), "%s", why);
}

/* Which attached HTTP groups read the APF response headers at their end program (their header map's
 * offset is known), or why none does. */
static void apf_served(struct plan *p)
{
	static const struct {
		enum probe_group g;
		int h2; /* index into offsets.h2, or -1 for HTTP/1 */
	} http[] = { { PG_H2X, 0 }, { PG_H2B, 1 }, { PG_H1, -1 } };
	size_t n = 0, len = sizeof(p->apf_served);
	char off[128] = "";

	for (size_t i = 0; i < sizeof(http) / sizeof(http[0]); i++) {
		const struct plan_group *pg = &p->groups[http[i].g];
		kp_off_t o = http[i].h2 >= 0 ? p->offsets.h2[http[i].h2].rws_handler_header :
					      p->offsets.h1.response_handler_header;

		if (!pg->ok)
			continue;
		if (o == KP_OFF_UNKNOWN) {
			size_t k = strlen(off);

			snprintf(off + k, sizeof(off) - k, "%s%s", k ? ", " : "", probe_group_name(http[i].g));
			continue;
		}
		n += snprintf(p->apf_served + n, n < len ? len - n : 0, "%s%s", n ? ", " : "",
			      probe_group_name(http[i].g));
	}
	p->apf_served_ok = n > 0;
	if (!n)
		snprintf(p->apf_served, len, "off: no HTTP group with a known handler header map offset%s%s%s",
			 *off ? " (unknown for " : "", off, *off ? ")" : "");
	else if (*off && n < len)
		snprintf(p->apf_served + n, len - n, " (not %s: handler header map offset unknown)", off);
}

int plan_build(const struct go_binary *b, const struct plan_opts *o, struct plan *p)
{
	char err[256] = "";
	bool http_offsets;

	memset(p, 0, sizeof(*p));
	p->opts = *o;
	snprintf(p->go_version, sizeof(p->go_version), "%s", gobin_go_version(b) ? gobin_go_version(b) : "go?");
	http_offsets = kapimon_offsets_select(b, &p->offsets, err, sizeof(err)) == 0;
	/* k8s-authn first: when it attaches, the HTTP groups leave out their generic starts */
	for (int k = 0; k < PG__COUNT; k++) {
		int g = k == 0 ? PG_AUTHN : k <= PG_AUTHN ? k - 1 : k;
		struct plan_group *pg = &p->groups[g];
		const struct probe_group_def *d = &probe_groups[g];
		const char *opt = off_option(o, g);

		pg->offsets_source = p->offsets.group_source[d->offsets];
		pg->offsets_basis = p->offsets.basis[d->offsets];
		if (opt) {
			snprintf(pg->missing, sizeof(pg->missing), "off (%s)", opt);
			continue;
		}
		pg->wanted = true;
		if (d->requires >= 0 && !p->groups[d->requires].ok) {
			snprintf(pg->missing, sizeof(pg->missing), "needs group %s", probe_group_name(d->requires));
			continue;
		}
		if (g == PG_ETCD_RANGE && !plan_range_offsets_ok(&p->offsets)) {
			snprintf(pg->missing, sizeof(pg->missing), "no etcdserverpb.RangeResponse offsets: etcd records have "
				 "no kvs/count/more");
			continue;
		}
		if (!offsets_ok(&p->offsets, d->offsets)) {
			snprintf(pg->missing, sizeof(pg->missing), "no usable struct offsets for %s (%s)",
				 probe_group_name(d->offsets), pg->offsets_source ? pg->offsets_source : "none known");
			continue;
		}
		plan_group(b, p, g);
		if (g == PG_AUTHN)
			plan_authn(b, p);
	}
	for (uint32_t i = 0; i < p->nsites; i++)
		p->expensive += !p->sites[i].cheap;
	apf_served(p);
	for (int g = 0; g < PG__COUNT; g++)
		p->ok |= probe_groups[g].http && p->groups[g].ok;
	if (!p->ok) {
		size_t n = 0;

		n += snprintf(p->error + n, sizeof(p->error) - n, "%s: no HTTP server probe group can attach",
			      p->go_version);
		if (!http_offsets)
			n += snprintf(p->error + n, n < sizeof(p->error) ? sizeof(p->error) - n : 0, ": %s", err);
		for (int g = 0; g < PG__COUNT && n < sizeof(p->error); g++)
			if (probe_groups[g].http && p->groups[g].wanted)
				n += snprintf(p->error + n, sizeof(p->error) - n, "%s %s: %s", n ? ";" : "",
					      probe_group_name(g), p->groups[g].missing);
		return -ENOENT;
	}
	return 0;
}

size_t plan_summary(const struct plan *p, char *buf, size_t len)
{
	size_t n = 0;
	bool first = true;

	n += snprintf(buf, len, "%s: %u uprobes (", p->go_version, p->nsites);
	/* the groups with struct offsets of their own (etcd-watch rides on grpc's) */
	for (int g = 0; g < PG__COUNT && n < len; g++) {
		if (!p->groups[g].ok || probe_groups[g].offsets != g)
			continue;
		n += snprintf(buf + n, len - n, "%s%s offsets %s", first ? "" : ", ", probe_groups[g].label,
			      p->groups[g].offsets_source ? p->groups[g].offsets_source : "?");
		first = false;
	}
	if (n < len)
		n += snprintf(buf + n, len - n, "%s%s)", p->authn_starts ? ", starts after authn" : "",
			      p->groups[PG_GRPC].ok ? "" : ", no etcd");
	return n < len ? n : (len ? len - 1 : 0);
}

const char *plan_site_func(const struct plan_site *s, char *buf, size_t len)
{
	const char *p = probe_targets[s->target].func;

	for (int i = 0; i < s->alt && p; i++) {
		p = strchr(p, '|');
		p = p ? p + 1 : NULL;
	}
	if (!p)
		p = probe_targets[s->target].func;
	snprintf(buf, len, "%.*s", (int)strcspn(p, "|"), p);
	return buf;
}

static const char *group_state(const struct plan_group *g)
{
	return g->ok ? "attach" : g->wanted ? "missing" : "off";
}

void plan_print(const struct plan *p, FILE *out, const char *indent)
{
	char line[1024];

	plan_summary(p, line, sizeof(line));
	fprintf(out, "%splan: %s\n", indent, p->ok ? line : p->error);
	for (int g = 0; g < PG__COUNT; g++) {
		const struct plan_group *pg = &p->groups[g];

		fprintf(out, "%s  %-11s %-8s", indent, probe_group_name(g), group_state(pg));
		if (pg->ok) {
			fprintf(out, " %u site%s, offsets %s%s%s%s\n", pg->nsites, pg->nsites == 1 ? "" : "s",
				pg->offsets_source ? pg->offsets_source : "?", *pg->offsets_basis ? " (" : "",
				pg->offsets_basis, *pg->offsets_basis ? ")" : "");
			for (uint32_t i = pg->first_site; i < pg->first_site + pg->nsites; i++) {
				const struct plan_site *s = &p->sites[i];
				char fn[256];

				fprintf(out, "%s      %-23s at 0x%llx (%s)%s  %s\n", indent, plan_prog_names[s->prog],
					(unsigned long long)s->off,
					s->cheap ? "emulated" : "single-stepped", probe_targets[s->target].fallback ? " fallback" : "",
					plan_site_func(s, fn, sizeof(fn)));
			}
		} else {
			fprintf(out, " %s\n", pg->missing);
		}
	}
	if (p->groups[PG_GRPC].ok && !plan_resp_size_ok(&p->offsets))
		fprintf(out, "%s  etcd response size: grpc parser offsets unknown for this grpc version: only Range "
			"calls get resp_size (from etcd-range)\n", indent);
	if (p->authn_starts)
		fprintf(out, "%s  request starts: after authentication (k8s-authn: user, groups), not at the HTTP servers' "
			"header decoding\n", indent);
	fprintf(out, "%s  apf classification of served requests (response headers): %s\n", indent, p->apf_served);
	if (p->expensive)
		fprintf(out, "%s  %u site%s single-stepped by the kernel (~15x the cost of an emulated one)\n", indent,
			p->expensive, p->expensive == 1 ? " is" : "s are");
}

void plan_json(const struct plan *p, struct json_writer *w)
{
	char line[1024];

	plan_summary(p, line, sizeof(line));
	jw_obj_begin(w);
	jw_kv_bool(w, "ok", p->ok);
	jw_key(w, "summary");
	if (p->ok)
		jw_str(w, line);
	else
		jw_null(w);
	if (!p->ok)
		jw_kv_str(w, "error", p->error);
	jw_kv_str(w, "go_version", p->go_version);
	jw_kv_uint(w, "uprobes", p->nsites);
	jw_kv_uint(w, "single_stepped", p->expensive);
	jw_kv_bool(w, "etcd_resp_size", p->groups[PG_GRPC].ok && plan_resp_size_ok(&p->offsets));
	jw_kv_bool(w, "authn_starts", p->authn_starts);
	jw_key(w, "apf_served");
	jw_obj_begin(w);
	jw_kv_bool(w, "ok", p->apf_served_ok);
	jw_kv_str(w, p->apf_served_ok ? "groups" : "missing", p->apf_served);
	jw_obj_end(w);
	jw_key(w, "groups");
	jw_obj_begin(w);
	for (int g = 0; g < PG__COUNT; g++) {
		const struct plan_group *pg = &p->groups[g];

		jw_key(w, probe_group_name(g));
		jw_obj_begin(w);
		jw_kv_str(w, "state", group_state(pg));
		jw_key(w, "offsets");
		if (pg->offsets_source)
			jw_str(w, pg->offsets_source);
		else
			jw_null(w);
		if (*pg->offsets_basis)
			jw_kv_str(w, "offsets_basis", pg->offsets_basis);
		if (!pg->ok)
			jw_kv_str(w, "missing", pg->missing);
		jw_kv_bool(w, "fallback", pg->fallback);
		jw_key(w, "sites");
		jw_arr_begin(w);
		for (uint32_t i = pg->first_site; pg->ok && i < pg->first_site + pg->nsites; i++) {
			const struct plan_site *s = &p->sites[i];
			char fn[256];

			jw_obj_begin(w);
			jw_kv_str(w, "func", plan_site_func(s, fn, sizeof(fn)));
			jw_kv_str(w, "program", plan_prog_names[s->prog]);
			jw_kv_uint(w, "vaddr", s->vaddr);
			jw_kv_uint(w, "offset", s->off);
			jw_kv_bool(w, "cheap", s->cheap);
			jw_obj_end(w);
		}
		jw_arr_end(w);
		jw_obj_end(w);
	}
	jw_obj_end(w);
	jw_obj_end(w);
}
