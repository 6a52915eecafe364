// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The BPF<->userspace contract: every probe id and counter id up to __COUNT has a name and reaches
 * the stats record; every truncation bit the BPF side sets is visible in the request record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "assemble/etcd_assembler.h"
#include "assemble/kp_contract.h"
#include "assemble/path_sanitize.h"
#include "assemble/record_json.h"
#include "assemble/request_fill.h"

static char *render_stats(const struct record_stats *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json_writer w;

	jw_init(&w, f, false);
	record_json_stats(&w, s);
	fclose(f);
	return buf;
}

static char *render_req(const struct request_record *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json_writer w;

	jw_init(&w, f, false);
	record_json_request(&w, r);
	fclose(f);
	return buf;
}

static void test_probe_names_complete_and_unique(void **state)
{
	for (int i = 0; i < KP_PROBE__COUNT; i++) {
		const struct kp_probe_desc *d = &kp_probe_desc[i];

		assert_non_null(d->name);
		assert_true(d->name[0]);
		assert_non_null(d->programs);
		assert_true(d->kind == KP_KIND_UPROBE || d->kind == KP_KIND_TRACEPOINT);
		assert_ptr_equal(kp_probe_name(i), d->name);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(d->name, kp_probe_desc[j].name);
	}
	assert_null(kp_probe_name(KP_PROBE__COUNT));
	assert_null(kp_probe_name(-1));
}

static void test_counter_names_complete_and_unique(void **state)
{
	for (int i = 0; i < KP_CNT__COUNT; i++) {
		const struct kp_counter_desc *d = &kp_counter_desc[i];

		assert_non_null(d->name);
		assert_non_null(d->meaning);
		assert_true(d->stats_off + sizeof(uint64_t) <= sizeof(struct record_stats));
		for (int j = 0; j < i; j++) {
			assert_string_not_equal(d->name, kp_counter_desc[j].name);
			assert_int_not_equal(d->stats_off, kp_counter_desc[j].stats_off);
		}
	}
}

/* Each probe's and counter's value must come out of the stats JSON under its name: a counter added
 * to the enum without a table entry (or with a field nobody writes) fails here. */
static void test_every_counter_reaches_stats_json(void **state)
{
	uint64_t hits[KP_PROBE__COUNT], counters[KP_CNT__COUNT];
	struct record_stats s;
	char want[96], *json;

	memset(&s, 0, sizeof(s));
	for (int i = 0; i < KP_PROBE__COUNT; i++)
		hits[i] = 1000003 + (uint64_t)i * 7919;
	for (int i = 0; i < KP_CNT__COUNT; i++)
		counters[i] = 2000029 + (uint64_t)i * 104729;
	kp_stats_fill(&s, hits, counters);
	assert_int_equal(s.nprobes, KP_PROBE__COUNT);
	json = render_stats(&s);
	for (int i = 0; i < KP_PROBE__COUNT; i++) {
		snprintf(want, sizeof(want), "\"%s\":%llu", kp_probe_desc[i].name, (unsigned long long)hits[i]);
		if (!strstr(json, want))
			fail_msg("probe %d (%s): %s not in %s", i, kp_probe_desc[i].name, want, json);
	}
	for (int i = 0; i < KP_CNT__COUNT; i++) {
		snprintf(want, sizeof(want), "\"%s\":%llu", kp_counter_desc[i].name, (unsigned long long)counters[i]);
		if (!strstr(json, want))
			fail_msg("counter %d (%s): %s not in %s", i, kp_counter_desc[i].name, want, json);
	}
	free(json);
}

static void test_request_path_hits(void **state)
{
	uint64_t hits[KP_PROBE__COUNT] = { 0 };

	for (int i = 0; i < KP_PROBE__COUNT; i++)
		hits[i] = 1ULL << i;
	/* h2 start/end, h1 start/end, the authn starts and the APF rejection probes (on the request's path,
	 * 429s only): never etcd, calibration or the tracepoint */
	assert_int_equal(kp_request_path_hits(hits), (1 << KP_PROBE_H2_HEADERS) | (1 << KP_PROBE_H2_DONE) |
							     (1 << KP_PROBE_H1_START) | (1 << KP_PROBE_H1_DONE) |
							     (1 << KP_PROBE_AUTHN_OK) | (1 << KP_PROBE_AUTHN_FAIL) |
							     (1 << KP_PROBE_APF_REJECT) | (1 << KP_PROBE_APF_TOO_MANY));
}

static void fill_ev(struct kp_req_start *ev, const char *path, size_t full_len)
{
	size_t n = full_len > KP_PATH_MAX - 1 ? KP_PATH_MAX - 1 : full_len;

	memset(ev, 0, sizeof(*ev));
	ev->hdr.type = KP_EV_REQ_START;
	ev->proto = KP_PROTO_H2;
	memcpy(ev->method, "GET", 3);
	ev->method_len = 3;
	memcpy(ev->path, path, n); /* what BPF copies: at most KP_PATH_MAX - 1 bytes */
	ev->path_len = (uint16_t)n;
	if (full_len > n)
		ev->truncated |= KP_TRUNC_PATH;
	ev->content_length = -1;
}

/* A 599-byte path (BPF keeps 511 bytes and sets KP_TRUNC_PATH) ends in the documented marker, and the
 * record says which field was cut. */
static void test_cut_path_is_marked(void **state)
{
	char path[600], *json;
	struct kp_req_start ev;
	struct request_record r;
	size_t ml = strlen(PS_TRUNC_MARKER), len;

	memcpy(path, "/api/v1/namespaces/default/configmaps/", 38);
	memset(path + 38, 'a', sizeof(path) - 38);
	path[599] = 0;
	fill_ev(&ev, path, 599);
	request_fill_start(&r, &ev, 0);
	len = strlen(r.path);
	assert_int_equal(len, KP_PATH_MAX - 1); /* the whole 511 bytes: 497 of the path, then the marker */
	assert_memory_equal(r.path, path, len - ml);
	assert_string_equal(r.path + len - ml, PS_TRUNC_MARKER);
	assert_int_equal(r.truncated, REC_TRUNC_PATH);
	json = render_req(&r);
	assert_non_null(strstr(json, "\"truncated\":[\"path\"]"));
	assert_non_null(strstr(json, "aaa" PS_TRUNC_MARKER "\""));
	free(json);
	/* the resource is still classified from the cut path */
	assert_string_equal(r.ri.resource, "configmaps");
}

/* A path that fits is not marked and carries no "truncated" field. */
static void test_uncut_path_is_not_marked(void **state)
{
	struct kp_req_start ev;
	struct request_record r;
	char *json;

	fill_ev(&ev, "/api/v1/pods", 12);
	request_fill_start(&r, &ev, 0);
	assert_string_equal(r.path, "/api/v1/pods");
	assert_int_equal(r.truncated, 0);
	json = render_req(&r);
	assert_null(strstr(json, "truncated"));
	free(json);
}

/* The cut never leaves a partial %XX escape or UTF-8 sequence before the marker. */
static void test_cut_inside_escape(void **state)
{
	char path[700];
	struct kp_req_start ev;
	struct request_record r;
	size_t len, ml = strlen(PS_TRUNC_MARKER);

	memset(path, 'b', sizeof(path));
	path[0] = '/';
	memcpy(path + 495, "%2F", 3); /* the marker leaves room for 497 bytes: "...%2" */
	fill_ev(&ev, path, sizeof(path));
	request_fill_start(&r, &ev, 0);
	len = strlen(r.path);
	assert_string_equal(r.path + len - ml, PS_TRUNC_MARKER);
	assert_int_not_equal(r.path[len - ml - 1], '%');
	assert_int_not_equal(r.path[len - ml - 2], '%');
	memset(path, 'c', sizeof(path));
	path[0] = '/';
	memcpy(path + 496, "\xc3\xa9", 2); /* "é" cut after its lead byte */
	fill_ev(&ev, path, sizeof(path));
	request_fill_start(&r, &ev, 0);
	len = strlen(r.path);
	assert_int_equal((unsigned char)r.path[len - ml - 1], 'c');
}

/* A record buffer filled request after request (request_fill_start_reused) reads as a fresh record for
 * each: nothing of an earlier request (user, more groups, APF names and UIDs, a longer path or user
 * agent) shows through, whatever the order. */
static void test_reused_record_equals_fresh(void **state)
{
	static const struct {
		const char *path, *ua, *user;
		unsigned ngroups;
		const char *pl_uid;
		bool apf_name;
	} reqs[] = {
		{ "/api/v1/namespaces/kube-system/configmaps/a-rather-long-name?resourceVersion=0", "kubectl/v1.20.2 (linux/amd64)",
		  "system:admin", 3, "0b9f4c2e-1111-2222-3333-444455556666", true },
		{ "/healthz", "", NULL, 0, "", false },
		{ "/apis/apps/v1/deployments", "x", "u", 1, "", false },
		{ "/api/v1/pods?watch=1&token=s3cret", "curl/8", "system:serviceaccount:ns:sa", 8, "uid-2", true },
		{ "/api", "k", NULL, 0, "", false },
	};
	struct request_record *reused = calloc(1, sizeof(*reused)), fresh;

	assert_non_null(reused);
	for (int round = 0; round < 2; round++)
		for (size_t k = 0; k < sizeof(reqs) / sizeof(reqs[0]); k++) {
			size_t i = round ? sizeof(reqs) / sizeof(reqs[0]) - 1 - k : k;
			struct kp_req_start ev;
			struct kp_req_end end = { .status = 200, .bytes_out = 10, .bytes_in = -1 };
			char *a, *b;

			fill_ev(&ev, reqs[i].path, strlen(reqs[i].path));
			ev.ua_len = (uint16_t)strlen(reqs[i].ua);
			memcpy(ev.ua, reqs[i].ua, ev.ua_len);
			if (reqs[i].user) {
				ev.authn = KP_AUTHN_OK;
				ev.user_found = 1;
				ev.user_len = (uint16_t)strlen(reqs[i].user);
				memcpy(ev.user, reqs[i].user, ev.user_len);
				ev.ngroups = (uint8_t)reqs[i].ngroups;
				for (unsigned g = 0; g < reqs[i].ngroups; g++)
					ev.group_len[g] = (uint16_t)snprintf(ev.groups[g], sizeof(ev.groups[g]), "group-%u", g);
			}
			end.pl_uid_len = (uint8_t)strlen(reqs[i].pl_uid);
			memcpy(end.pl_uid, reqs[i].pl_uid, end.pl_uid_len);
			request_fill_start_reused(reused, &ev, 0);
			request_fill_end(reused, &end);
			request_fill_start(&fresh, &ev, 0);
			request_fill_end(&fresh, &end);
			a = render_req(reused);
			b = render_req(&fresh);
			assert_string_equal(a, b);
			free(a);
			free(b);
			for (unsigned g = reused->ngroups; g < REC_GROUPS_MAX; g++)
				assert_int_equal(reused->groups[g][0], 0);
			if (reqs[i].apf_name) { /* as the APF join completes a record in place */
				strcpy(reused->apf.priority_level, "workload-low");
				strcpy(reused->apf.reject_reason, "queue-full");
			}
		}
	free(reused);
}

/* Every truncation bit the BPF side sets has a name in the record's "truncated" array. */
static void test_all_trunc_bits_named(void **state)
{
	static const struct {
		unsigned kp, name_bit;
		const char *name;
	} bits[] = {
		{ KP_TRUNC_METHOD, REC_TRUNC_METHOD, "method" },
		{ KP_TRUNC_PATH, REC_TRUNC_PATH, "path" },
		{ KP_TRUNC_UA, REC_TRUNC_USER_AGENT, "user_agent" },
		{ KP_TRUNC_ADDR, REC_TRUNC_CLIENT, "client" },
		{ KP_TRUNC_USER, REC_TRUNC_USER, "user" },
		{ KP_TRUNC_GROUPS, REC_TRUNC_GROUPS, "groups" },
	};
	unsigned all = 0;

	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		struct kp_req_start ev;
		struct request_record r;
		char want[64], *json;

		fill_ev(&ev, "/healthz", 8);
		ev.truncated = (uint8_t)bits[i].kp;
		if (bits[i].kp & (KP_TRUNC_USER | KP_TRUNC_GROUPS)) { /* only authenticated starts carry a user */
			ev.authn = KP_AUTHN_OK;
			ev.user_found = 1;
		}
		request_fill_start(&r, &ev, 0);
		assert_int_equal(r.truncated, bits[i].name_bit);
		assert_string_equal(rec_trunc_name(bits[i].name_bit), bits[i].name);
		json = render_req(&r);
		snprintf(want, sizeof(want), "\"truncated\":[\"%s\"]", bits[i].name);
		assert_non_null(strstr(json, want));
		free(json);
		all |= bits[i].name_bit;
	}
	/* the APF header values of a request's end */
	static const struct {
		unsigned kp, name_bit;
		const char *name;
	} end_bits[] = {
		{ KP_TRUNC_APF_PL, REC_TRUNC_PRIORITY_LEVEL, "priority_level" },
		{ KP_TRUNC_APF_FS, REC_TRUNC_FLOW_SCHEMA, "flow_schema" },
	};
	for (size_t i = 0; i < sizeof(end_bits) / sizeof(end_bits[0]); i++) {
		struct kp_req_start ev;
		struct kp_req_end end = { .status = 200, .bytes_out = -1, .bytes_in = -1 };
		struct request_record r;
		char want[64], *json;

		fill_ev(&ev, "/healthz", 8);
		request_fill_start(&r, &ev, 0);
		end.apf_truncated = (uint8_t)end_bits[i].kp;
		request_fill_end(&r, &end);
		assert_int_equal(r.truncated, end_bits[i].name_bit);
		assert_string_equal(rec_trunc_name(end_bits[i].name_bit), end_bits[i].name);
		json = render_req(&r);
		snprintf(want, sizeof(want), "\"truncated\":[\"%s\"]", end_bits[i].name);
		assert_non_null(strstr(json, want));
		free(json);
		all |= end_bits[i].name_bit;
	}
	assert_int_equal(all, REC_TRUNC__ALL);
}

static struct etcd_record etcd_got;
static int etcd_ngot;

static void etcd_cb(const struct etcd_record *r, void *ctx)
{
	etcd_got = *r;
	etcd_ngot++;
}

/* The gRPC start and watch response truncation bits reach the etcd record and the stats. */
static void test_etcd_trunc_bits(void **state)
{
	struct etcd_assembler *a = etcd_asm_new(0, 1000, etcd_cb, NULL);
	static struct kp_grpc_start s;
	struct kp_grpc_end e;
	struct kp_watch_resp w;
	static const char method[] = "/etcdserverpb.KV/Range";
	/* RangeRequest{key: "/registry/pods/a"} cut inside the key: field 1, declared length 40 */
	static const uint8_t msg[] = { 0x0a, 40, '/', 'r', 'e', 'g', 'i', 's', 't', 'r', 'y', '/', 'p', 'o', 'd', 's' };
	struct json_writer jw;
	char *buf = NULL;
	size_t blen = 0;
	FILE *f;

	assert_non_null(a);
	etcd_ngot = 0;
	memset(&s, 0, sizeof(s));
	s.hdr.type = KP_EV_GRPC_START;
	s.hdr.ts_ns = 100;
	s.hdr.goid_g = 7;
	s.method_len = sizeof(method) - 1;
	memcpy(s.method, method, s.method_len);
	memcpy(s.payload, msg, sizeof(msg));
	/* the BPF side says both were cut, even where the lengths alone would not tell */
	s.payload_len = sizeof(msg);
	s.payload_copied = sizeof(msg);
	s.truncated = KP_TRUNC_GRPC_METHOD | KP_TRUNC_GRPC_PAYLOAD;
	etcd_asm_start(a, &s);
	memset(&e, 0, sizeof(e));
	e.hdr.type = KP_EV_GRPC_END;
	e.hdr.ts_ns = 130;
	e.hdr.goid_g = 7;
	etcd_asm_end(a, &e);
	etcd_asm_flush(a);
	assert_int_equal(etcd_ngot, 1);
	assert_int_equal(etcd_got.truncated, REC_TRUNC_METHOD);
	/* a message cut by the capture bound is not a decode error */
	assert_int_equal(etcd_asm_get_stats(a)->decode.errors, 0);
	f = open_memstream(&buf, &blen);
	jw_init(&jw, f, false);
	record_json_etcd(&jw, &etcd_got);
	fclose(f);
	assert_non_null(strstr(buf, "\"truncated\":[\"method\"]"));
	free(buf);

	memset(&w, 0, sizeof(w));
	w.hdr.type = KP_EV_WATCH_RESP;
	w.nevents = 2;
	memcpy(w.key, "/registry/configmaps/default/x", 30);
	w.key_len = 30;
	etcd_asm_watch_resp(a, &w);
	assert_int_equal(etcd_asm_get_stats(a)->watch_keys_truncated, 0);
	w.truncated = KP_TRUNC_WATCH_KEY;
	etcd_asm_watch_resp(a, &w);
	assert_int_equal(etcd_asm_get_stats(a)->watch_keys_truncated, 1);
	assert_int_equal(etcd_asm_get_stats(a)->watch_events, 4);
	etcd_asm_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe_names_complete_and_unique),
		cmocka_unit_test(test_counter_names_complete_and_unique),
		cmocka_unit_test(test_every_counter_reaches_stats_json),
		cmocka_unit_test(test_request_path_hits),
		cmocka_unit_test(test_cut_path_is_marked),
		cmocka_unit_test(test_uncut_path_is_not_marked),
		cmocka_unit_test(test_cut_inside_escape),
		cmocka_unit_test(test_reused_record_equals_fresh),
		cmocka_unit_test(test_all_trunc_bits_named),
		cmocka_unit_test(test_etcd_trunc_bits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
