// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "assemble/record_json.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "assemble/path_sanitize.h"

/* days since 1970-01-01 <-> civil date (proleptic Gregorian; H. Hinnant's algorithms) */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static char *put_dec(char *p, unsigned v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

#define TS_SECS_LEN 19 /* "2026-11-21T15:04:05" */
static _Thread_local uint64_t ts_last_secs;
static _Thread_local char ts_last[TS_SECS_LEN];

void record_ts_format(uint64_t ns, char *buf, size_t cap)
{
	uint64_t secs = ns / 1000000000ULL, frac = ns % 1000000000ULL;
	uint64_t days = secs / 86400, sod = secs % 86400;
	int64_t y = 0;
	unsigned m = 0, d = 0;
	char *p = buf;

	if (secs != ts_last_secs || !ts_last[0] || cap < RECORD_TS_LEN)
		civil_from_days((int64_t)days, &y, &m, &d);
	if (cap < RECORD_TS_LEN || y > 9999) { /* cut output, or years past the 4-digit form (never cached) */
		snprintf(buf, cap, "%04lld-%02u-%02uT%02u:%02u:%02u.%09lluZ", (long long)y, m, d, (unsigned)(sod / 3600),
			 (unsigned)(sod / 60 % 60), (unsigned)(sod % 60), (unsigned long long)frac);
		return;
	}
	/* per record: digits by hand (snprintf is ~3,500 instructions); the date and time of day are the
	 * previous call's most of the time */
	if (secs != ts_last_secs || !ts_last[0]) {
		p = put_dec(p, (unsigned)y, 4);
		*p++ = '-';
		p = put_dec(p, m, 2);
		*p++ = '-';
		p = put_dec(p, d, 2);
		*p++ = 'T';
		p = put_dec(p, (unsigned)(sod / 3600), 2);
		*p++ = ':';
		p = put_dec(p, (unsigned)(sod / 60 % 60), 2);
		*p++ = ':';
		p = put_dec(p, (unsigned)(sod % 60), 2);
		memcpy(ts_last, buf, TS_SECS_LEN);
		ts_last_secs = secs;
	} else {
		memcpy(p, ts_last, TS_SECS_LEN);
		p += TS_SECS_LEN;
	}
	*p++ = '.';
	p = put_dec(p, (unsigned)frac, 9);
	*p++ = 'Z';
	*p = '\0';
}

static int digits(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return 0;
}

int record_ts_parse(const char *s, size_t len, uint64_t *ns)
{
	unsigned Y, M, D, h, mi, sec, oh = 0, om = 0, frac = 0, mdays;
	static const unsigned dim[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	size_t i = 19, nd = 0;
	int64_t secs, off = 0;
	bool leap;

	if (!s || len < 20)
		return -1;
	if (digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' || digits(s + 8, 2, &D) ||
	    (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) ||
	    s[16] != ':' || digits(s + 17, 2, &sec))
		return -1;
	if (s[i] == '.') {
		i++;
		while (i < len && s[i] >= '0' && s[i] <= '9' && nd < 9) {
			frac = frac * 10 + (unsigned)(s[i] - '0');
			i++;
			nd++;
		}
		if (nd == 0)
			return -1;
		for (size_t k = nd; k < 9; k++)
			frac *= 10;
	}
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':' && !digits(s + i + 1, 2, &oh) &&
		   !digits(s + i + 4, 2, &om)) {
		if (oh > 23 || om > 59)
			return -1;
		off = (s[i] == '-' ? -1 : 1) * (int64_t)(oh * 3600 + om * 60);
		i += 6;
	} else {
		return -1;
	}
	if (i != len)
		return -1;
	leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
	if (M < 1 || M > 12)
		return -1;
	mdays = dim[M - 1] + (M == 2 && leap);
	if (D < 1 || D > mdays || h > 23 || mi > 59 || sec > 59)
		return -1;
	secs = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec - off;
	/* uint64 ns reaches 2554-07-21T23:34:33.709551615Z */
	if (secs < 0 || (uint64_t)secs > UINT64_MAX / 1000000000ULL ||
	    (uint64_t)secs * 1000000000ULL > UINT64_MAX - frac)
		return -1;
	*ns = (uint64_t)secs * 1000000000ULL + frac;
	return 0;
}

/* keys are literals (JW_KEY: no escape scan per key and record) */
#define KV_STR(w, key, v) (JW_KEY(w, key), jw_str(w, v))
#define KV_STRN(w, key, v, n) (JW_KEY(w, key), jw_strn(w, v, n))
#define KV_INT(w, key, v) (JW_KEY(w, key), jw_int(w, v))
#define KV_UINT(w, key, v) (JW_KEY(w, key), jw_uint(w, v))
#define KV_DOUBLE(w, key, v) (JW_KEY(w, key), jw_double(w, v))
#define KV_BOOL(w, key, v) (JW_KEY(w, key), jw_bool(w, v))

static void kv_ts(struct json_writer *w, uint64_t ns)
{
	char ts[RECORD_TS_LEN + 8];

	record_ts_format(ns, ts, sizeof(ts));
	JW_KEY(w, "ts");
	jw_strn_noscan(w, ts, strlen(ts));
}

static const char *proto_name(enum rec_proto p)
{
	return p == REC_PROTO_H1 ? "h1" : p == REC_PROTO_H2 ? "h2" : NULL;
}

/* bounded strlen: fields may be filled by code that forgot the NUL */
static size_t fld_len(const char *s, size_t cap)
{
	const char *z = memchr(s, 0, cap);

	return z ? (size_t)(z - s) : cap;
}

#define KV_FIELD(w, key, arr) KV_STRN(w, key, arr, fld_len(arr, sizeof(arr)))

const char *rec_trunc_name(unsigned bit)
{
	switch (bit) {
	case REC_TRUNC_METHOD: return "method";
	case REC_TRUNC_PATH: return "path";
	case REC_TRUNC_USER_AGENT: return "user_agent";
	case REC_TRUNC_CLIENT: return "client";
	case REC_TRUNC_USER: return "user";
	case REC_TRUNC_GROUPS: return "groups";
	case REC_TRUNC_PRIORITY_LEVEL: return "priority_level";
	case REC_TRUNC_FLOW_SCHEMA: return "flow_schema";
	default: return NULL;
	}
}

/* "truncated": [names of the cut fields], only when something was cut */
static void kv_truncated(struct json_writer *w, unsigned bits)
{
	if (!(bits & REC_TRUNC__ALL))
		return;
	jw_key(w, "truncated");
	jw_arr_begin(w);
	for (unsigned b = 1; b & REC_TRUNC__ALL; b <<= 1)
		if (bits & b)
			jw_str(w, rec_trunc_name(b));
	jw_arr_end(w);
}

void record_json_request(struct json_writer *w, const struct request_record *r)
{
	char path[REC_PATH_LEN * 4];
	const char *proto = proto_name(r->proto);

	path_sanitize(r->path, fld_len(r->path, sizeof(r->path)), path, sizeof(path));
	jw_obj_begin(w);
	KV_STR(w, "kind", "request");
	kv_ts(w, r->start_ns);
	KV_UINT(w, "latency_ns", r->latency_ns);
	KV_FIELD(w, "method", r->method);
	KV_STR(w, "path", path);
	KV_FIELD(w, "verb", r->ri.verb);
	KV_FIELD(w, "group", r->ri.group);
	KV_FIELD(w, "version", r->ri.version);
	KV_FIELD(w, "resource", r->ri.resource);
	KV_FIELD(w, "subresource", r->ri.subresource);
	KV_FIELD(w, "namespace", r->ri.namespace_);
	KV_FIELD(w, "name", r->ri.name);
	KV_FIELD(w, "user_agent", r->user_agent);
	KV_FIELD(w, "client", r->client);
	if (r->has_user) {
		KV_FIELD(w, "user", r->user);
		jw_key(w, "groups");
		jw_arr_begin(w);
		for (unsigned i = 0; i < r->ngroups && i < REC_GROUPS_MAX; i++)
			jw_strn(w, r->groups[i], fld_len(r->groups[i], sizeof(r->groups[i])));
		jw_arr_end(w);
	}
	if (r->local_port)
		KV_UINT(w, "local_port", r->local_port);
	if (r->apiserver_pid)
		KV_UINT(w, "apiserver_pid", r->apiserver_pid);
	KV_INT(w, "status", r->status);
	if (proto)
		KV_STR(w, "proto", proto);
	if (r->bytes_in >= 0)
		KV_INT(w, "bytes_in", r->bytes_in);
	if (r->bytes_out >= 0)
		KV_INT(w, "bytes_out", r->bytes_out);
	if (r->proto == REC_PROTO_H2)
		KV_UINT(w, "stream_id", r->stream_id);
	KV_UINT(w, "id", r->id);
	if (r->has_etcd_cost) {
		KV_UINT(w, "etcd_calls", r->etcd_calls);
		KV_UINT(w, "etcd_resp_bytes", r->etcd_resp_bytes);
		KV_UINT(w, "etcd_kvs", r->etcd_kvs);
	}
	/* API Priority and Fairness (each only when known) */
	if (r->apf.priority_level[0])
		KV_FIELD(w, "priority_level", r->apf.priority_level);
	if (r->apf.flow_schema[0])
		KV_FIELD(w, "flow_schema", r->apf.flow_schema);
	if (r->apf.priority_level_uid[0])
		KV_FIELD(w, "priority_level_uid", r->apf.priority_level_uid);
	if (r->apf.flow_schema_uid[0])
		KV_FIELD(w, "flow_schema_uid", r->apf.flow_schema_uid);
	if (r->apf.reject_reason[0])
		KV_FIELD(w, "apf_reject_reason", r->apf.reject_reason);
	kv_truncated(w, r->truncated);
	if (r->ongoing)
		KV_BOOL(w, "ongoing", true);
	if (r->sample_factor != 1.0)
		KV_DOUBLE(w, "sample_factor", r->sample_factor);
	jw_obj_end(w);
}

static size_t bin_len(const char *s, uint16_t len, size_t cap)
{
	if (len)
		return len < cap ? len : cap;
	return fld_len(s, cap);
}

void record_json_etcd(struct json_writer *w, const struct etcd_record *r)
{
	size_t rel = bin_len(r->range_end, r->range_end_len, sizeof(r->range_end));

	jw_obj_begin(w);
	KV_STR(w, "kind", "etcd");
	kv_ts(w, r->start_ns);
	KV_UINT(w, "latency_ns", r->latency_ns);
	KV_FIELD(w, "method", r->method);
	KV_FIELD(w, "op", r->op);
	KV_STRN(w, "key", r->key, bin_len(r->key, r->key_len, sizeof(r->key)));
	KV_FIELD(w, "resource", r->resource);
	if (r->group[0])
		KV_STR(w, "group", r->group);
	if (rel)
		KV_STRN(w, "range_end", r->range_end, rel);
	if (r->limit > 0)
		KV_INT(w, "limit", r->limit);
	if (r->count_only)
		KV_BOOL(w, "count_only", true);
	if (r->keys_only)
		KV_BOOL(w, "keys_only", true);
	if (r->key_truncated)
		KV_BOOL(w, "key_truncated", true);
	kv_truncated(w, r->truncated);
	if (r->grpc_status >= 0)
		KV_INT(w, "grpc_status", r->grpc_status);
	if (r->resp_size >= 0)
		KV_INT(w, "resp_size", r->resp_size);
	if (r->kvs >= 0)
		KV_INT(w, "kvs", r->kvs);
	if (r->count >= 0)
		KV_INT(w, "count", r->count);
	if (r->more)
		KV_BOOL(w, "more", true);
	if (r->req_size >= 0)
		KV_INT(w, "req_size", r->req_size);
	if (r->stream)
		KV_BOOL(w, "stream", true);
	if (r->request_id)
		KV_UINT(w, "request_id", r->request_id);
	if (r->apiserver_pid)
		KV_UINT(w, "apiserver_pid", r->apiserver_pid);
	if (r->sample_factor != 1.0)
		KV_DOUBLE(w, "sample_factor", r->sample_factor);
	jw_obj_end(w);
}

void record_json_conn(struct json_writer *w, const struct conn_record *r)
{
	bool close = r->event == REC_CONN_CLOSE;

	jw_obj_begin(w);
	KV_STR(w, "kind", "conn");
	kv_ts(w, r->ts_ns);
	KV_STR(w, "event", close ? "close" : "open");
	KV_STR(w, "dir", r->dir == REC_CONN_ETCD ? "etcd" : "client");
	KV_FIELD(w, "peer", r->peer);
	KV_FIELD(w, "local", r->local);
	if (r->seeded)
		KV_BOOL(w, "before_attach", true);
	if (close && r->duration_ns)
		KV_UINT(w, "duration_ns", r->duration_ns);
	if (close && r->bytes_in >= 0)
		KV_INT(w, "bytes_in", r->bytes_in);
	if (close && r->bytes_out >= 0)
		KV_INT(w, "bytes_out", r->bytes_out);
	if (r->retransmits >= 0)
		KV_INT(w, "retransmits", r->retransmits);
	if (close) {
		KV_UINT(w, "resets_sent", r->resets_sent);
		KV_UINT(w, "resets_received", r->resets_received);
	}
	if (r->group_open || r->event == REC_CONN_OPEN)
		KV_UINT(w, "open", r->group_open);
	jw_obj_end(w);
}

void record_json_stats(struct json_writer *w, const struct record_stats *s)
{
	char name[32];

	jw_obj_begin(w);
	jw_kv_str(w, "kind", "stats");
	kv_ts(w, s->ts_ns);
	jw_kv_uint(w, "records", s->records);
	jw_kv_uint(w, "etcd_records", s->etcd_records);
	jw_kv_uint(w, "ringbuf_drops", s->ringbuf_drops);
	if (s->nrings) {
		jw_key(w, "ring_drops");
		jw_obj_begin(w);
		for (uint32_t i = 0; i < s->nrings && i < RECORD_STATS_MAX_RINGS; i++) {
			snprintf(name, sizeof(name), "ring%u", i);
			jw_kv_uint(w, s->ring_names[i] ? s->ring_names[i] : name, s->ring_drops[i]);
		}
		jw_obj_end(w);
	}
	jw_kv_uint(w, "read_errors", s->read_errors);
	jw_kv_uint(w, "h2_headers_no_method", s->h2_no_method);
	jw_kv_uint(w, "conn_bpf_table_full", s->conns_bpf_table_full);
	jw_kv_uint(w, "bad_events", s->bad_events);
	jw_kv_uint(w, "decode_errors", s->decode_errors);
	jw_kv_uint(w, "unmatched_ends", s->unmatched_ends);
	jw_kv_uint(w, "pending", s->pending);
	jw_key(w, "probe_hits");
	jw_obj_begin(w);
	for (uint32_t i = 0; i < s->nprobes && i < RECORD_STATS_MAX_PROBES; i++) {
		snprintf(name, sizeof(name), "probe%u", i);
		jw_kv_uint(w, s->probe_names[i] ? s->probe_names[i] : name, s->probe_hits[i]);
	}
	jw_obj_end(w);
	jw_kv_double(w, "hits_per_request", s->hits_per_request);
	if (s->authn_starts || s->authn_no_user || s->authn_no_recv_ts) {
		jw_key(w, "authn");
		jw_obj_begin(w);
		jw_kv_uint(w, "starts", s->authn_starts);
		jw_kv_uint(w, "no_user", s->authn_no_user);
		jw_kv_uint(w, "no_received_ts", s->authn_no_recv_ts);
		jw_obj_end(w);
	}
	if (s->has_etcd) {
		jw_key(w, "etcd");
		jw_obj_begin(w);
		jw_kv_uint(w, "calls", s->etcd_calls);
		jw_kv_uint(w, "linked", s->etcd_linked);
		jw_kv_double(w, "linked_ratio", s->etcd_calls ? (double)s->etcd_linked / (double)s->etcd_calls : 0);
		jw_kv_uint(w, "streams", s->etcd_streams);
		jw_kv_uint(w, "stream_messages", s->etcd_stream_msgs);
		jw_kv_double(w, "hits_per_call", s->etcd_hits_per_call);
		jw_kv_uint(w, "watch_responses", s->etcd_watch_responses);
		jw_kv_uint(w, "watch_events", s->etcd_watch_events);
		jw_kv_uint(w, "watch_keys_truncated", s->etcd_watch_keys_truncated);
		jw_kv_uint(w, "copy_stopped_at_value", s->etcd_stopped_at_value);
		jw_kv_uint(w, "copy_gave_up", s->etcd_copy_gave_up);
		jw_kv_uint(w, "no_resp_size", s->etcd_no_resp_size);
		jw_kv_uint(w, "range_no_kvs", s->etcd_range_no_kvs);
		jw_kv_uint(w, "held_narrow", s->etcd_held_narrow);
		jw_kv_uint(w, "cost_early", s->etcd_cost_early);
		jw_key(w, "watch_events_by_resource");
		jw_obj_begin(w);
		for (size_t i = 0; i < s->n_watch_res && i < 64; i++)
			jw_kv_uint(w, s->watch_res_names[i] ? s->watch_res_names[i] : "?", s->watch_res_events[i]);
		jw_obj_end(w);
		jw_obj_end(w);
	}
	if (s->has_apf) {
		jw_key(w, "apf");
		jw_obj_begin(w);
		jw_kv_uint(w, "rejects", s->apf_rejects);
		jw_kv_uint(w, "too_many_requests", s->apf_too_many);
		jw_kv_uint(w, "attributed", s->apf_attributed);
		jw_kv_uint(w, "unpaired", s->apf_unpaired);
		jw_kv_uint(w, "expired", s->apf_expired);
		jw_kv_uint(w, "objects_learned", s->apf_objects);
		jw_kv_uint(w, "named", s->apf_named);
		jw_obj_end(w);
	}
	if (s->has_conns) {
		jw_key(w, "connections");
		jw_obj_begin(w);
		jw_kv_uint(w, "opened", s->conns_opened);
		jw_kv_uint(w, "closed", s->conns_closed);
		jw_kv_uint(w, "active", s->conns_active);
		jw_kv_uint(w, "before_attach", s->conns_seeded);
		jw_kv_uint(w, "etcd_opened", s->conns_etcd_opened);
		jw_kv_uint(w, "etcd_closed", s->conns_etcd_closed);
		jw_kv_uint(w, "etcd_active", s->conns_etcd_active);
		jw_kv_uint(w, "retransmits", s->conns_retransmits);
		jw_kv_uint(w, "resets_sent", s->conns_resets_sent);
		jw_kv_uint(w, "resets_received", s->conns_resets_received);
		jw_kv_uint(w, "untracked", s->conns_untracked);
		jw_obj_end(w);
	}
	if (s->budget > 0) {
		jw_key(w, "budget");
		jw_obj_begin(w);
		jw_kv_double(w, "budget", s->budget);
		jw_kv_double(w, "duty", s->duty);
		jw_kv_double(w, "sample_factor", s->sample_factor);
		jw_kv_double(w, "hit_cost_ns", s->hit_cost_ns);
		jw_kv_double(w, "per_hit_ns", s->per_hit_ns);
		jw_kv_double(w, "estimated_overhead", s->est_overhead);
		jw_kv_double(w, "measured_overhead", s->measured_overhead);
		jw_kv_double(w, "cycle_s", s->cycle_s);
		jw_kv_uint(w, "cycles", s->cycles);
		jw_kv_uint(w, "late_windows", s->late_windows);
		jw_kv_double(w, "attach_ms_max", s->attach_ms_max);
		jw_kv_double(w, "detach_ms_max", s->detach_ms_max);
		jw_kv_uint(w, "span_start_ns", s->span_start_ns);
		if (s->span_end_ns)
			jw_kv_uint(w, "span_end_ns", s->span_end_ns);
		jw_obj_end(w);
	}
	if (s->has_apiservers) {
		jw_key(w, "apiservers");
		jw_obj_begin(w);
		jw_kv_bool(w, "follow", s->follow);
		jw_key(w, "attached");
		jw_arr_begin(w);
		for (uint32_t i = 0; i < s->nattached && i < RECORD_STATS_MAX_SOURCES; i++)
			jw_uint(w, s->attached_pids[i]);
		jw_arr_end(w);
		jw_kv_uint(w, "attaches", s->attaches);
		jw_kv_uint(w, "exits", s->exits);
		jw_obj_end(w);
	}
	jw_obj_end(w);
}
