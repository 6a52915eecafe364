// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "output/audit_sink.h"

#include <string.h>

#include "assemble/record_json.h"
#include "util/hash.h"

void audit_id(uint64_t seed, uint64_t id, char out[AUDIT_ID_LEN])
{
	static const char hex[] = "0123456789abcdef";
	uint64_t st = seed ^ hash_mix64(id + 0x9e3779b97f4a7c15ULL);
	uint64_t hi = hash_splitmix64(&st), lo = hash_splitmix64(&st);
	unsigned char b[16];
	char *p = out;

	for (int i = 0; i < 8; i++) {
		b[i] = (unsigned char)(hi >> (56 - 8 * i));
		b[8 + i] = (unsigned char)(lo >> (56 - 8 * i));
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 (random) */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[b[i] >> 4];
		*p++ = hex[b[i] & 15];
	}
	*p = '\0';
}

void audit_micro_ts(uint64_t ns, char *buf, size_t cap)
{
	char t[RECORD_TS_LEN + 8];
	size_t n;

	record_ts_format(ns, t, sizeof(t));
	n = strlen(t);
	/* "...SS.nnnnnnnnnZ" -> "...SS.nnnnnnZ": MicroTime truncates to the microsecond */
	if (n >= 11 && t[n - 1] == 'Z' && t[n - 11] == '.') {
		t[n - 4] = 'Z';
		t[n - 3] = '\0';
	}
	snprintf(buf, cap, "%s", t);
}

/* "ip:port" / "[v6]:port" -> the ip, as the apiserver writes sourceIPs */
static size_t client_ip(const char *c, const char **start)
{
	const char *colon;

	*start = c;
	if (c[0] == '[') {
		const char *e = strchr(c, ']');

		if (e) {
			*start = c + 1;
			return (size_t)(e - c - 1);
		}
		return strlen(c);
	}
	colon = strrchr(c, ':');
	if (colon && strchr(c, ':') == colon) /* exactly one colon: host:port */
		return (size_t)(colon - c);
	return strlen(c);
}

static void kv_nonempty(struct json_writer *w, const char *k, const char *v)
{
	if (v[0])
		jw_kv_str(w, k, v);
}

void audit_event_json(struct json_writer *w, const struct request_record *r, uint64_t seed)
{
	const struct k8s_request_info *ri = &r->ri;
	char id[AUDIT_ID_LEN], ts[40];

	jw_obj_begin(w);
	JW_KEY(w, "kind");
	jw_str(w, "Event");
	JW_KEY(w, "apiVersion");
	jw_str(w, "audit.k8s.io/v1");
	JW_KEY(w, "level");
	jw_str(w, "Metadata");
	audit_id(seed, r->id, id);
	JW_KEY(w, "auditID");
	jw_str(w, id);
	JW_KEY(w, "stage");
	jw_str(w, "ResponseComplete");
	JW_KEY(w, "requestURI");
	jw_str(w, r->path);
	JW_KEY(w, "verb");
	jw_str(w, ri->verb);
	if (r->has_user) { /* the authenticated user (no uid, no extra: kapimon does not read them) */
		JW_KEY(w, "user");
		jw_obj_begin(w);
		JW_KEY(w, "username");
		jw_str(w, r->user);
		JW_KEY(w, "groups");
		jw_arr_begin(w);
		for (unsigned i = 0; i < r->ngroups && i < REC_GROUPS_MAX; i++)
			jw_strn(w, r->groups[i], strnlen(r->groups[i], sizeof(r->groups[i])));
		jw_arr_end(w);
		jw_obj_end(w);
	}
	JW_KEY(w, "sourceIPs");
	jw_arr_begin(w);
	if (r->client[0]) {
		const char *ip;
		size_t n = client_ip(r->client, &ip);

		jw_strn(w, ip, n);
	}
	jw_arr_end(w);
	if (r->user_agent[0]) {
		JW_KEY(w, "userAgent");
		jw_str(w, r->user_agent);
	}
	if (ri->is_resource_request) {
		JW_KEY(w, "objectRef");
		jw_obj_begin(w);
		kv_nonempty(w, "resource", ri->resource);
		kv_nonempty(w, "namespace", ri->namespace_);
		kv_nonempty(w, "name", ri->name);
		kv_nonempty(w, "apiGroup", ri->group);
		kv_nonempty(w, "apiVersion", ri->version);
		kv_nonempty(w, "subresource", ri->subresource);
		jw_obj_end(w);
	}
	JW_KEY(w, "responseStatus");
	jw_obj_begin(w);
	JW_KEY(w, "metadata");
	jw_obj_begin(w);
	jw_obj_end(w);
	if (r->status > 0)
		jw_kv_int(w, "code", r->status);
	jw_obj_end(w);
	audit_micro_ts(r->start_ns, ts, sizeof(ts));
	JW_KEY(w, "requestReceivedTimestamp");
	jw_str(w, ts);
	audit_micro_ts(r->start_ns + r->latency_ns, ts, sizeof(ts));
	JW_KEY(w, "stageTimestamp");
	jw_str(w, ts);
	jw_obj_end(w);
}

void audit_sink_init(struct audit_sink *a, FILE *out, uint64_t seed)
{
	a->out = out;
	jw_init(&a->w, out, false);
	a->seed = seed;
	a->events = a->skipped_ongoing = 0;
}

static void on_request(void *ctx, const struct request_record *r)
{
	struct audit_sink *a = ctx;

	if (r->ongoing) { /* no ResponseComplete yet: the apiserver would not have audited it either */
		a->skipped_ongoing++;
		return;
	}
	audit_event_json(&a->w, r, a->seed);
	fputc('\n', a->out);
	a->events++;
}

struct pipeline_sink audit_sink_iface(struct audit_sink *a)
{
	return (struct pipeline_sink){ .name = "audit", .request = on_request, .ctx = a };
}

void audit_sink_set_out(struct audit_sink *a, FILE *out)
{
	jw_flush(&a->w);
	a->out = out;
	a->w.out = out;
}
