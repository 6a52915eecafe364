// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Raw event files (input/raw_events.h) and the etcd value redaction they rely on (etcd/etcd_redact.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "etcd/etcd_redact.h"
#include "etcd/etcd_request.h"
#include "input/raw_events.h"
#include "kapimon/events.h"

/* protobuf writer for the tests */
struct pbw {
	uint8_t b[1024];
	size_t n;
};

static void varint(struct pbw *w, uint64_t v)
{
	do {
		w->b[w->n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
}

static void field_bytes(struct pbw *w, uint32_t num, const void *p, size_t len)
{
	varint(w, (uint64_t)num << 3 | 2);
	varint(w, len);
	memcpy(w->b + w->n, p, len);
	w->n += len;
}

static void field_str(struct pbw *w, uint32_t num, const char *s)
{
	field_bytes(w, num, s, strlen(s));
}

static void field_int(struct pbw *w, uint32_t num, uint64_t v)
{
	varint(w, (uint64_t)num << 3);
	varint(w, v);
}

static bool contains(const uint8_t *p, size_t n, const char *needle)
{
	size_t l = strlen(needle);

	for (size_t i = 0; i + l <= n; i++)
		if (!memcmp(p + i, needle, l))
			return true;
	return false;
}

#define PUT "/etcdserverpb.KV/Put"
#define TXN "/etcdserverpb.KV/Txn"

static void test_put_value_zeroed_key_kept(void **state)
{
	struct pbw w = { 0 };
	struct etcd_req_summary before, after;

	field_str(&w, 1, "/registry/secrets/default/s1");
	field_str(&w, 2, "SECRET-VALUE-123");
	field_int(&w, 3, 7);
	assert_int_equal(etcd_decode_request(PUT, strlen(PUT), w.b, w.n, &before, NULL), 0);
	assert_int_equal(etcd_request_redact(PUT, strlen(PUT), w.b, w.n), strlen("SECRET-VALUE-123"));
	assert_false(contains(w.b, w.n, "SECRET"));
	assert_true(contains(w.b, w.n, "/registry/secrets/default/s1"));
	assert_int_equal(etcd_decode_request(PUT, strlen(PUT), w.b, w.n, &after, NULL), 0);
	assert_int_equal(after.key_len, before.key_len);
	assert_memory_equal(after.key, before.key, before.key_len);
	assert_int_equal(after.lease_id, 7);
}

/* Txn: compare values and the values of puts in success/failure ops go; keys stay. */
static void test_txn_nested_values_zeroed(void **state)
{
	struct pbw cmp = { 0 }, put = { 0 }, op = { 0 }, txn = { 0 };
	struct etcd_req_summary before, after;

	field_str(&cmp, 3, "/registry/secrets/ns/a");
	field_str(&cmp, 7, "OLD-SECRET");
	field_str(&put, 1, "/registry/secrets/ns/a");
	field_str(&put, 2, "NEW-SECRET");
	field_bytes(&op, 2, put.b, put.n);
	field_bytes(&txn, 1, cmp.b, cmp.n);
	field_bytes(&txn, 2, op.b, op.n);
	field_bytes(&txn, 3, op.b, op.n);
	assert_int_equal(etcd_decode_request(TXN, strlen(TXN), txn.b, txn.n, &before, NULL), 0);
	etcd_request_redact(TXN, strlen(TXN), txn.b, txn.n);
	assert_false(contains(txn.b, txn.n, "SECRET"));
	assert_true(contains(txn.b, txn.n, "/registry/secrets/ns/a"));
	assert_int_equal(etcd_decode_request(TXN, strlen(TXN), txn.b, txn.n, &after, NULL), 0);
	assert_memory_equal(after.key, before.key, before.key_len);
	assert_int_equal(after.n_success, 1);
	assert_int_equal(after.n_failure, 1);
}

/* Auth messages (passwords) and unknown methods: everything zeroed. A cut message: zeroed from the cut. */
static void test_auth_unknown_and_cut(void **state)
{
	static const char *const methods[] = { "/etcdserverpb.Auth/Authenticate", "/etcdserverpb.Auth/UserAdd", "/x.Y/Z" };
	struct pbw w;

	for (size_t i = 0; i < 3; i++) {
		memset(&w, 0, sizeof(w));
		field_str(&w, 1, "root");
		field_str(&w, 2, "PASSWORD");
		etcd_request_redact(methods[i], strlen(methods[i]), w.b, w.n);
		for (size_t j = 0; j < w.n; j++)
			assert_int_equal(w.b[j], 0);
	}
	memset(&w, 0, sizeof(w));
	field_str(&w, 1, "/registry/secrets/ns/b");
	field_str(&w, 2, "SECRET-THAT-WAS-CUT-BY-THE-CAPTURE");
	w.n -= 10; /* the capture bound cut the value */
	etcd_request_redact(PUT, strlen(PUT), w.b, w.n);
	assert_false(contains(w.b, w.n, "SECRET"));
	assert_true(contains(w.b, w.n, "/registry/secrets/ns/b"));
}

static char *tmpfile_path(void)
{
	static char p[64];
	int fd;

	strcpy(p, "/tmp/kapimon-raw-XXXXXX");
	fd = mkstemp(p);
	assert_true(fd >= 0);
	close(fd);
	return p;
}

/* Written events come back with their sizes and order; string tails and etcd values are scrubbed. */
static void test_write_load_scrubbed(void **state)
{
	struct kp_req_start st;
	struct kp_grpc_start gs;
	struct kp_req_end en = { .hdr = { .type = KP_EV_REQ_END, .ts_ns = 5 }, .conn = 9, .status = 200 };
	struct pbw w = { 0 };
	struct raw_events ev;
	char err[256], *path = tmpfile_path();
	FILE *f = fopen(path, "w");
	const struct kp_req_start *s2;
	const struct kp_grpc_start *g2;

	memset(&st, 'S', sizeof(st)); /* stale ring-buffer bytes everywhere */
	st.hdr.type = KP_EV_REQ_START;
	st.method_len = 3;
	memcpy(st.method, "GET", 3);
	st.path_len = 4;
	memcpy(st.path, "/api", 4);
	st.ua_len = 0;
	st.addr_len = 2;
	memset(&gs, 'G', sizeof(gs));
	gs.hdr = (struct kp_event_hdr){ .type = KP_EV_GRPC_START, .ts_ns = 1, .goid_g = 2 };
	gs.stream = 3;
	gs.truncated = 0;
	gs.method_len = strlen(PUT);
	memcpy(gs.method, PUT, strlen(PUT));
	field_str(&w, 1, "/registry/secrets/ns/c");
	field_str(&w, 2, "SECRET-VALUE");
	memcpy(gs.payload, w.b, w.n);
	gs.payload_copied = (uint16_t)w.n;
	gs.payload_len = (uint32_t)w.n;
	gs.nctx = 2;
	gs.ctx_chain[0] = 0x1000;
	gs.ctx_chain[1] = 0x2000;
	assert_non_null(f);
	assert_int_equal(raw_events_write_header(f), 0);
	assert_int_equal(raw_events_write(f, &st, sizeof(st)), 0);
	assert_int_equal(raw_events_write(f, &gs, sizeof(gs)), 0);
	assert_int_equal(raw_events_write(f, &en, sizeof(en)), 0);
	assert_int_equal(fclose(f), 0);

	assert_int_equal(raw_events_load(path, &ev, err, sizeof(err)), 0);
	assert_int_equal(ev.n, 3);
	assert_int_equal(ev.size[0], sizeof(st));
	assert_int_equal(ev.size[1], sizeof(gs));
	assert_int_equal(ev.size[2], sizeof(en));
	s2 = (const void *)(ev.data + ev.off[0]);
	assert_memory_equal(s2->path, "/api", 4);
	for (size_t i = 4; i < sizeof(s2->path); i++)
		assert_int_equal(s2->path[i], 0);
	for (size_t i = 0; i < sizeof(s2->ua); i++)
		assert_int_equal(s2->ua[i], 0);
	g2 = (const void *)(ev.data + ev.off[1]);
	assert_false(contains(ev.data + ev.off[1], ev.size[1], "SECRET"));
	assert_false(contains(ev.data + ev.off[1], ev.size[1], "GGGG"));
	assert_true(contains(g2->payload, g2->payload_copied, "/registry/secrets/ns/c"));
	assert_memory_equal(ev.data + ev.off[2], &en, sizeof(en));
	raw_events_free(&ev);

	/* gzip-compressed: read transparently */
	{
		FILE *in = fopen(path, "rb");
		char buf[8192];
		size_t n = fread(buf, 1, sizeof(buf), in);
		char gzpath[80];
		gzFile g;

		fclose(in);
		snprintf(gzpath, sizeof(gzpath), "%s.gz", path);
		g = gzopen(gzpath, "wb");
		assert_int_equal(gzwrite(g, buf, (unsigned)n), (int)n);
		gzclose(g);
		assert_int_equal(raw_events_load(gzpath, &ev, err, sizeof(err)), 0);
		assert_int_equal(ev.n, 3);
		raw_events_free(&ev);
		unlink(gzpath);
	}
	unlink(path);
}

static void test_bad_files(void **state)
{
	struct raw_events ev;
	char err[256], *path = tmpfile_path();
	FILE *f = fopen(path, "w");

	fputs("{\"kind\":\"request\"}\n", f);
	fclose(f);
	assert_int_equal(raw_events_load(path, &ev, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a kapimon raw event file"));
	f = fopen(path, "w");
	raw_events_write_header(f);
	fwrite("\x10\x00\x00\x00" "abc", 1, 7, f); /* 16 bytes announced, 3 present */
	fclose(f);
	assert_int_equal(raw_events_load(path, &ev, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "truncated"));
	assert_int_equal(raw_events_load("/nonexistent/raw", &ev, err, sizeof(err)), -1);
	unlink(path);
}

/* Files recorded before the authn fields were appended to request starts (904 bytes: the committed
 * tests/bench corpus) load with those fields zeroed, the rest unchanged. */
static void test_old_request_start(void **state)
{
	struct kp_req_start s, *got;
	struct raw_events ev;
	char err[256], *path = tmpfile_path();
	const uint32_t old = (uint32_t)offsetof(struct kp_req_start, recv_wall);
	uint8_t le[4] = { (uint8_t)old, (uint8_t)(old >> 8), 0, 0 };
	FILE *f = fopen(path, "w");

	(void)state;
	assert_int_equal(old, 904);
	memset(&s, 0x5a, sizeof(s)); /* what follows the old layout must not be read */
	s.hdr.type = KP_EV_REQ_START;
	s.authn = 0; /* the old layout's padding byte, scrubbed to 0 */
	s.conn = 0x1234;
	s.method_len = 3;
	memcpy(s.method, "GET", 3);
	raw_events_write_header(f);
	fwrite(le, 1, 4, f);
	fwrite(&s, 1, old, f);
	fwrite("\x08\x00\x00\x00", 1, 4, f); /* another event after it, still found */
	fwrite("\x07\x00\x00\x00\x01\x00\x00\x00", 1, 8, f);
	fclose(f);
	assert_int_equal(raw_events_load(path, &ev, err, sizeof(err)), 0);
	assert_int_equal(ev.n, 2);
	assert_int_equal(ev.size[0], sizeof(struct kp_req_start));
	got = (struct kp_req_start *)(ev.data + ev.off[0]);
	assert_int_equal(got->conn, 0x1234);
	assert_memory_equal(got->method, "GET", 3);
	assert_int_equal(got->authn, 0);
	assert_int_equal(got->recv_wall, 0);
	assert_int_equal(got->user_len, 0);
	assert_int_equal(got->ngroups, 0);
	assert_int_equal(ev.size[1], 8);
	assert_int_equal(((struct kp_event_hdr *)(ev.data + ev.off[1]))->type, 7);
	raw_events_free(&ev);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_value_zeroed_key_kept),
		cmocka_unit_test(test_txn_nested_values_zeroed),
		cmocka_unit_test(test_auth_unknown_and_cut),
		cmocka_unit_test(test_write_load_scrubbed),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_old_request_start),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
