// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Record JSON mapping: output is parsed back with the strict parser (src/input/json.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "assemble/record_json.h"
#include "input/json.h"

enum kind { K_REQ, K_ETCD, K_STATS, K_CONN };

static char *render(enum kind k, const void *rec)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json_writer w;

	jw_init(&w, f, false);
	if (k == K_REQ)
		record_json_request(&w, rec);
	else if (k == K_ETCD)
		record_json_etcd(&w, rec);
	else if (k == K_CONN)
		record_json_conn(&w, rec);
	else
		record_json_stats(&w, rec);
	fclose(f);
	return buf;
}

struct parsed {
	struct json_doc d;
	char *text;
};

static void parse(struct parsed *p, enum kind k, const void *rec)
{
	struct json_error err;

	memset(p, 0, sizeof(*p));
	p->text = render(k, rec);
	assert_null(strchr(p->text, '\n')); /* one line; the caller ends it */
	if (json_parse(&p->d, p->text, strlen(p->text), &err) != 0) {
		print_error("invalid JSON (%s) at %zu: %s\n", err.msg, err.offset, p->text);
		fail();
	}
	assert_int_equal(p->d.toks[0].type, JSON_OBJECT);
}

static void done(struct parsed *p)
{
	json_doc_free(&p->d);
	free(p->text);
}

static bool has(const struct parsed *p, const char *k)
{
	return json_obj_get(&p->d, 0, k) >= 0;
}

static const char *str(const struct parsed *p, const char *k, char *buf, size_t cap)
{
	int t = json_obj_get(&p->d, 0, k);

	assert_true(t >= 0);
	assert_true(json_str(&p->d, t, buf, cap) >= 0);
	return buf;
}

static double num(const struct parsed *p, const char *k)
{
	double v;
	int t = json_obj_get(&p->d, 0, k);

	assert_true(t >= 0);
	assert_true(json_num(&p->d, t, &v));
	return v;
}

static void assert_str(const struct parsed *p, const char *k, const char *want)
{
	char b[2048];

	assert_string_equal(str(p, k, b, sizeof(b)), want);
}

static void test_ts_roundtrip(void **state)
{
	static const struct {
		uint64_t ns;
		const char *s;
	} t[] = {
		{ 0, "1970-01-01T00:00:00.000000000Z" },
		{ 1, "1970-01-01T00:00:00.000000001Z" },
		{ 951782400123456789ULL, "2000-02-29T00:00:00.123456789Z" },
		{ 1795273445123456789ULL, "2026-11-21T15:04:05.123456789Z" },
		{ 4102444799999999999ULL, "2099-12-31T23:59:59.999999999Z" },
		{ UINT64_MAX, "2554-07-21T23:34:33.709551615Z" },
	};
	char buf[RECORD_TS_LEN];
	uint64_t ns;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		record_ts_format(t[i].ns, buf, sizeof(buf));
		assert_string_equal(buf, t[i].s);
		assert_int_equal(record_ts_parse(buf, strlen(buf), &ns), 0);
		assert_true(ns == t[i].ns);
	}
	/* every second of a leap year's end and a pseudo-random walk round-trips */
	for (uint64_t v = 1703980800ULL * 1000000000ULL, i = 0; i < 200000; i++, v += 7919ULL * 1000000123ULL) {
		record_ts_format(v, buf, sizeof(buf));
		assert_int_equal(record_ts_parse(buf, strlen(buf), &ns), 0);
		assert_true(ns == v);
	}
}

static void test_ts_parse_forms(void **state)
{
	static const struct {
		const char *s;
		int rc;
		uint64_t ns;
	} t[] = {
		{ "2026-11-21T15:04:05Z", 0, 1795273445000000000ULL },
		{ "2026-11-21t15:04:05.5z", 0, 1795273445500000000ULL },
		{ "2026-11-21T17:04:05.123+02:00", 0, 1795273445123000000ULL },
		{ "2026-11-21T10:04:05-05:00", 0, 1795273445000000000ULL },
		{ "2024-02-29T00:00:00Z", 0, 1709164800000000000ULL },
		{ "2023-02-29T00:00:00Z", -1, 0 },
		{ "2026-13-01T00:00:00Z", -1, 0 },
		{ "2026-00-01T00:00:00Z", -1, 0 },
		{ "2026-01-32T00:00:00Z", -1, 0 },
		{ "2026-01-01T24:00:00Z", -1, 0 },
		{ "2026-01-01T00:60:00Z", -1, 0 },
		{ "2016-12-31T23:59:60Z", -1, 0 }, /* leap second: not representable */
		{ "2026-01-01T00:00:00.Z", -1, 0 },
		{ "2026-01-01T00:00:00.1234567891Z", -1, 0 },
		{ "2026-01-01T00:00:00", -1, 0 },
		{ "2026-01-01 00:00:00Z", -1, 0 },
		{ "2026-01-01T00:00:00Zjunk", -1, 0 },
		{ "2026-01-01T00:00:00+2:00", -1, 0 },
		{ "2026-01-01T00:00:00+24:00", -1, 0 },
		{ "1969-12-31T23:59:59Z", -1, 0 },
		{ "1970-01-01T00:30:00+01:00", -1, 0 }, /* before the epoch in UTC */
		{ "2554-07-21T23:34:33.709551616Z", -1, 0 },
		{ "9999-12-31T23:59:59Z", -1, 0 },
		{ "", -1, 0 },
	};
	uint64_t ns;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = record_ts_parse(t[i].s, strlen(t[i].s), &ns);

		if (rc != t[i].rc)
			print_error("case %zu '%s': rc %d\n", i, t[i].s, rc);
		assert_int_equal(rc, t[i].rc);
		if (rc == 0)
			assert_true(ns == t[i].ns);
	}
	assert_int_equal(record_ts_parse(NULL, 30, &ns), -1);
}

static void fill_request(struct request_record *r)
{
	request_record_init(r);
	r->id = 42;
	r->start_ns = 1795273445123456789ULL;
	r->latency_ns = 1500000;
	r->proto = REC_PROTO_H2;
	strcpy(r->method, "GET");
	strcpy(r->path, "/api/v1/namespaces/default/pods?watch=1");
	strcpy(r->user_agent, "kubectl/v1.30.0 (linux/amd64)");
	strcpy(r->client, "10.0.0.5:51234");
	r->local_port = 6443;
	r->status = 200;
	r->bytes_in = 0;
	r->bytes_out = 1234;
	r->stream_id = 7;
	strcpy(r->ri.verb, "watch");
	strcpy(r->ri.version, "v1");
	strcpy(r->ri.resource, "pods");
	strcpy(r->ri.namespace_, "default");
}

static void test_request_fields(void **state)
{
	struct request_record r;
	struct parsed p;
	char b[64];
	uint64_t ns;

	fill_request(&r);
	parse(&p, K_REQ, &r);
	assert_str(&p, "kind", "request");
	assert_str(&p, "ts", "2026-11-21T15:04:05.123456789Z");
	str(&p, "ts", b, sizeof(b));
	assert_int_equal(record_ts_parse(b, strlen(b), &ns), 0);
	assert_true(ns == r.start_ns);
	assert_true(num(&p, "latency_ns") == 1500000);
	assert_str(&p, "method", "GET");
	assert_str(&p, "path", "/api/v1/namespaces/default/pods?watch=1");
	assert_str(&p, "verb", "watch");
	assert_str(&p, "group", "");
	assert_str(&p, "version", "v1");
	assert_str(&p, "resource", "pods");
	assert_str(&p, "subresource", "");
	assert_str(&p, "namespace", "default");
	assert_str(&p, "name", "");
	assert_str(&p, "user_agent", "kubectl/v1.30.0 (linux/amd64)");
	assert_str(&p, "client", "10.0.0.5:51234");
	assert_true(num(&p, "local_port") == 6443);
	assert_true(num(&p, "status") == 200);
	assert_str(&p, "proto", "h2");
	assert_true(num(&p, "bytes_in") == 0);
	assert_true(num(&p, "bytes_out") == 1234);
	assert_true(num(&p, "stream_id") == 7);
	assert_true(num(&p, "id") == 42);
	assert_false(has(&p, "ongoing"));
	assert_false(has(&p, "sample_factor"));
	done(&p);
}

static void test_request_presence(void **state)
{
	struct request_record r;
	struct parsed p;

	fill_request(&r);
	r.proto = REC_PROTO_H1;
	r.local_port = 0;
	r.bytes_in = -1;
	r.bytes_out = -1;
	r.ongoing = true;
	r.sample_factor = 4.0;
	parse(&p, K_REQ, &r);
	assert_str(&p, "proto", "h1");
	assert_false(has(&p, "stream_id"));
	assert_false(has(&p, "local_port"));
	assert_false(has(&p, "bytes_in"));
	assert_false(has(&p, "bytes_out"));
	assert_int_equal(p.d.toks[json_obj_get(&p.d, 0, "ongoing")].type, JSON_TRUE);
	assert_true(num(&p, "sample_factor") == 4.0);
	done(&p);

	r.proto = REC_PROTO_UNKNOWN;
	r.sample_factor = 0.25;
	parse(&p, K_REQ, &r);
	assert_false(has(&p, "proto"));
	assert_true(num(&p, "sample_factor") == 0.25);
	/* the etcd cost is absent unless known ... */
	assert_false(has(&p, "etcd_calls"));
	assert_false(has(&p, "etcd_resp_bytes"));
	assert_false(has(&p, "etcd_kvs"));
	done(&p);
	/* ... and written, zeros included, when it is */
	r.has_etcd_cost = true;
	r.etcd_calls = 0;
	r.etcd_resp_bytes = 0;
	r.etcd_kvs = 0;
	parse(&p, K_REQ, &r);
	assert_true(num(&p, "etcd_calls") == 0);
	assert_true(num(&p, "etcd_kvs") == 0);
	done(&p);
	r.etcd_calls = 3;
	r.etcd_resp_bytes = 123456789012ULL;
	r.etcd_kvs = 500;
	parse(&p, K_REQ, &r);
	assert_true(num(&p, "etcd_calls") == 3);
	assert_true(num(&p, "etcd_resp_bytes") == 123456789012.0);
	assert_true(num(&p, "etcd_kvs") == 500);
	done(&p);
}

/* API Priority and Fairness fields: each only when known */
static void test_request_apf(void **state)
{
	struct request_record r;
	struct parsed p;

	fill_request(&r);
	memset(&r.apf, 0, sizeof(r.apf));
	parse(&p, K_REQ, &r);
	assert_false(has(&p, "priority_level"));
	assert_false(has(&p, "flow_schema"));
	assert_false(has(&p, "priority_level_uid"));
	assert_false(has(&p, "flow_schema_uid"));
	assert_false(has(&p, "apf_reject_reason"));
	done(&p);

	snprintf(r.apf.priority_level_uid, sizeof(r.apf.priority_level_uid), "cdd47590-6639-4f81-ae93-cd3845744465");
	snprintf(r.apf.flow_schema_uid, sizeof(r.apf.flow_schema_uid), "54fe1c2b-a80b-463c-9ab9-deb25dcc1764");
	parse(&p, K_REQ, &r);
	assert_str(&p, "priority_level_uid", "cdd47590-6639-4f81-ae93-cd3845744465");
	assert_str(&p, "flow_schema_uid", "54fe1c2b-a80b-463c-9ab9-deb25dcc1764");
	assert_false(has(&p, "priority_level"));
	done(&p);

	memset(&r.apf, 0, sizeof(r.apf));
	snprintf(r.apf.priority_level, sizeof(r.apf.priority_level), "workload-low");
	snprintf(r.apf.flow_schema, sizeof(r.apf.flow_schema), "q\"uote\n");
	snprintf(r.apf.reject_reason, sizeof(r.apf.reject_reason), "queue-full");
	parse(&p, K_REQ, &r);
	assert_str(&p, "priority_level", "workload-low");
	assert_str(&p, "flow_schema", "q\"uote\n"); /* escaped and read back */
	assert_str(&p, "apf_reject_reason", "queue-full");
	assert_false(has(&p, "priority_level_uid"));
	done(&p);
}

static void test_hostile_strings(void **state)
{
	static const char *uas[] = {
		"evil\"},{\"kind\":\"injected",
		"back\\slash\\",
		"ctl\x01\x02\x1b[31m\x7f\r\n",
		"bad utf8 \xc0\xaf \xff\xfe \xed\xa0\x80 \xe2\x82",
		"\xf0\x9f\x98\x80 ok",
	};
	struct request_record r;
	struct parsed p;
	char b[REC_UA_LEN * 2];

	for (size_t i = 0; i < sizeof(uas) / sizeof(uas[0]); i++) {
		fill_request(&r);
		snprintf(r.user_agent, sizeof(r.user_agent), "%s", uas[i]);
		parse(&p, K_REQ, &r);
		assert_int_equal(p.d.toks[0].count, 21); /* no member injected */
		str(&p, "user_agent", b, sizeof(b));
		if (i < 3 || i == 4)
			assert_string_equal(b, uas[i]); /* exact round trip of quotes, backslashes, control bytes */
		else
			assert_non_null(strstr(b, "\xef\xbf\xbd")); /* U+FFFD for invalid bytes */
		for (const char *c = p.text; *c; c++)
			assert_true((unsigned char)*c >= 0x20 && *c != 0x7f); /* nothing raw in the output */
		done(&p);
	}
	/* a UA filling the whole buffer without a NUL does not overrun */
	fill_request(&r);
	memset(r.user_agent, 'u', sizeof(r.user_agent));
	parse(&p, K_REQ, &r);
	assert_int_equal(strlen(str(&p, "user_agent", b, sizeof(b))), REC_UA_LEN);
	done(&p);
}

static void test_path_secrets_never_leave(void **state)
{
	struct request_record r;
	struct parsed p;

	fill_request(&r);
	/* a producer that forgot to sanitise */
	strcpy(r.path, "/api/v1/pods?access_token=SECRETVALUE&Password=hunter2&x=\x01");
	parse(&p, K_REQ, &r);
	assert_null(strstr(p.text, "SECRETVALUE"));
	assert_null(strstr(p.text, "hunter2"));
	assert_str(&p, "path", "/api/v1/pods?access_token=REDACTED&Password=REDACTED&x=%01");
	done(&p);
}

static void test_etcd(void **state)
{
	struct etcd_record e;
	struct parsed p;
	char b[1024];
	int t;
	long n;

	etcd_record_init(&e);
	e.start_ns = 1795273445000000001ULL;
	e.latency_ns = 800000;
	strcpy(e.method, "/etcdserverpb.KV/Range");
	strcpy(e.op, "range");
	strcpy(e.key, "/registry/pods/");
	memcpy(e.range_end, "/registry/pods0", 16);
	strcpy(e.resource, "pods");
	parse(&p, K_ETCD, &e);
	assert_str(&p, "kind", "etcd");
	assert_str(&p, "ts", "2026-11-21T15:04:05.000000001Z");
	assert_true(num(&p, "latency_ns") == 800000);
	assert_str(&p, "method", "/etcdserverpb.KV/Range");
	assert_str(&p, "op", "range");
	assert_str(&p, "key", "/registry/pods/");
	assert_str(&p, "range_end", "/registry/pods0");
	assert_str(&p, "resource", "pods");
	assert_false(has(&p, "limit"));
	assert_false(has(&p, "count_only"));
	assert_false(has(&p, "keys_only"));
	assert_false(has(&p, "grpc_status"));
	assert_false(has(&p, "resp_size"));
	assert_false(has(&p, "kvs"));
	assert_false(has(&p, "count"));
	assert_false(has(&p, "more"));
	assert_false(has(&p, "request_id"));
	assert_false(has(&p, "sample_factor"));
	assert_false(has(&p, "key_truncated"));
	done(&p);

	e.limit = 500;
	e.count_only = true;
	e.keys_only = true;
	e.grpc_status = 0;
	e.resp_size = 4096;
	e.kvs = 0; /* a Range that found nothing */
	e.count = 7;
	e.more = true;
	e.request_id = 42;
	e.sample_factor = 2;
	/* binary key with a NUL and invalid UTF-8; range_end "\0" */
	memcpy(e.key, "/registry/x\0y\xff", 14);
	e.key_len = 14;
	e.range_end[0] = 0;
	e.range_end_len = 1;
	parse(&p, K_ETCD, &e);
	assert_true(num(&p, "limit") == 500);
	assert_int_equal(p.d.toks[json_obj_get(&p.d, 0, "count_only")].type, JSON_TRUE);
	assert_int_equal(p.d.toks[json_obj_get(&p.d, 0, "keys_only")].type, JSON_TRUE);
	assert_true(num(&p, "grpc_status") == 0);
	assert_true(num(&p, "resp_size") == 4096);
	assert_true(num(&p, "kvs") == 0);
	assert_true(num(&p, "count") == 7);
	assert_int_equal(p.d.toks[json_obj_get(&p.d, 0, "more")].type, JSON_TRUE);
	assert_true(num(&p, "request_id") == 42);
	assert_true(num(&p, "sample_factor") == 2);
	t = json_obj_get(&p.d, 0, "key");
	n = json_str(&p.d, t, b, sizeof(b));
	assert_int_equal(n, 16); /* NUL kept, 0xff -> U+FFFD (3 bytes) */
	assert_memory_equal(b, "/registry/x\0y\xef\xbf\xbd", 16);
	n = json_str(&p.d, json_obj_get(&p.d, 0, "range_end"), b, sizeof(b));
	assert_int_equal(n, 1);
	assert_int_equal(b[0], 0);
	done(&p);
}

/* "kind":"conn": opens and closes, fields present only when known (docs/records.md). */
static void test_conn(void **state)
{
	struct conn_record r;
	char *t;

	memset(&r, 0, sizeof(r));
	r.ts_ns = 1764489600123456789ULL;
	r.event = REC_CONN_CLOSE;
	r.dir = REC_CONN_CLIENT;
	snprintf(r.peer, sizeof(r.peer), "10.0.0.2:40000");
	snprintf(r.local, sizeof(r.local), "10.0.0.1:6443");
	r.duration_ns = 1500;
	r.bytes_in = 700;
	r.bytes_out = 2200;
	r.retransmits = 4;
	r.resets_received = 1;
	r.group_open = 2;
	t = render(K_CONN, &r);
	assert_string_equal(t, "{\"kind\":\"conn\",\"ts\":\"2025-11-30T08:00:00.123456789Z\",\"event\":\"close\",\"dir\":\"client\","
			       "\"peer\":\"10.0.0.2:40000\",\"local\":\"10.0.0.1:6443\",\"duration_ns\":1500,\"bytes_in\":700,"
			       "\"bytes_out\":2200,\"retransmits\":4,\"resets_sent\":0,\"resets_received\":1,\"open\":2}");
	free(t);
	/* an etcd connection open before kapimon: no retransmit count, no duration; "open" always on opens */
	r.event = REC_CONN_OPEN;
	r.dir = REC_CONN_ETCD;
	r.seeded = true;
	r.retransmits = -1;
	r.group_open = 1;
	t = render(K_CONN, &r);
	assert_string_equal(t, "{\"kind\":\"conn\",\"ts\":\"2025-11-30T08:00:00.123456789Z\",\"event\":\"open\",\"dir\":\"etcd\","
			       "\"peer\":\"10.0.0.2:40000\",\"local\":\"10.0.0.1:6443\",\"before_attach\":true,\"open\":1}");
	free(t);
}

static void test_stats(void **state)
{
	struct record_stats s;
	struct parsed p;
	int t;

	memset(&s, 0, sizeof(s));
	s.ts_ns = 1795273445000000000ULL;
	s.records = 100;
	s.etcd_records = 250;
	s.ringbuf_drops = 3;
	s.nrings = 2;
	s.ring_names[0] = "events";
	s.ring_drops[0] = 1;
	s.ring_drops[1] = 2;
	s.decode_errors = 5;
	s.nprobes = 3;
	s.probe_names[0] = "h2_headers";
	s.probe_names[1] = "h2_done";
	s.probe_hits[0] = 120;
	s.probe_hits[1] = 118;
	s.probe_hits[2] = 9;
	s.hits_per_request = 2.38;
	parse(&p, K_STATS, &s);
	assert_str(&p, "kind", "stats");
	assert_str(&p, "ts", "2026-11-21T15:04:05.000000000Z");
	assert_true(num(&p, "records") == 100);
	assert_true(num(&p, "etcd_records") == 250);
	assert_true(num(&p, "ringbuf_drops") == 3);
	assert_true(num(&p, "decode_errors") == 5);
	assert_true(num(&p, "hits_per_request") == 2.38);
	t = json_obj_get(&p.d, 0, "ring_drops");
	assert_int_equal(p.d.toks[t].count, 2);
	assert_true(json_obj_get(&p.d, t, "events") >= 0);
	assert_true(json_obj_get(&p.d, t, "ring1") >= 0);
	t = json_obj_get(&p.d, 0, "probe_hits");
	assert_int_equal(p.d.toks[t].count, 3);
	assert_true(json_obj_get(&p.d, t, "h2_done") >= 0);
	assert_true(json_obj_get(&p.d, t, "probe2") >= 0);
	done(&p);

	s.nrings = 0;
	s.nprobes = 99; /* clamped */
	parse(&p, K_STATS, &s);
	assert_false(has(&p, "ring_drops"));
	assert_int_equal(p.d.toks[json_obj_get(&p.d, 0, "probe_hits")].count, RECORD_STATS_MAX_PROBES);
	done(&p);
}

/* The hand-written timestamp digits agree with the snprintf form over the whole uint64 range. */
static void test_ts_format_digits(void **state)
{
	uint64_t v = 0, seed = 88172645463325252ULL;

	for (int i = 0; i < 200000; i++) {
		char a[RECORD_TS_LEN], b[64];
		uint64_t secs, frac, days, sod;
		long long y;
		unsigned m, d;

		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		v = i < 1000 ? (uint64_t)i * 999999937ULL : i == 1000 ? UINT64_MAX : seed >> (seed % 40);
		record_ts_format(v, a, sizeof(a));
		/* reference: the civil date from record_ts_parse's inverse, printed by snprintf */
		secs = v / 1000000000ULL, frac = v % 1000000000ULL, days = secs / 86400, sod = secs % 86400;
		{
			int64_t z = (int64_t)days + 719468, era = z / 146097;
			unsigned doe = (unsigned)(z - era * 146097), yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
			unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;

			d = doy - (153 * mp + 2) / 5 + 1;
			m = mp < 10 ? mp + 3 : mp - 9;
			y = (long long)yoe + era * 400 + (m <= 2);
		}
		snprintf(b, sizeof(b), "%04lld-%02u-%02uT%02u:%02u:%02u.%09lluZ", y, m, d, (unsigned)(sod / 3600),
			 (unsigned)(sod / 60 % 60), (unsigned)(sod % 60), (unsigned long long)frac);
		assert_string_equal(a, b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ts_format_digits),
		cmocka_unit_test(test_ts_roundtrip),
		cmocka_unit_test(test_ts_parse_forms),
		cmocka_unit_test(test_request_fields),
		cmocka_unit_test(test_request_presence),
		cmocka_unit_test(test_request_apf),
		cmocka_unit_test(test_hostile_strings),
		cmocka_unit_test(test_path_secrets_never_leave),
		cmocka_unit_test(test_etcd),
		cmocka_unit_test(test_conn),
		cmocka_unit_test(test_stats),
	};
	return cmocka_run_group_tests_name("record_json", tests, NULL, NULL);
}
