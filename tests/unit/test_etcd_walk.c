// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The BPF probe's etcd request walk (bpf/etcd_walk.h), compiled here with a reader that stands in for
 * bpf_probe_read_user: every read is checked against the message's value bytes (PutRequest.value,
 * Compare.value), which no read may touch, and against the message's bounds. The prefix the walk allows
 * is then decoded as the etcd assembler does (etcd_decode_prefix): the record's fields survive the cut.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <linux/types.h>

#include "etcd/etcd_request.h"
#include "kapimon/events.h"

/* ---- the reader: bounds and value bytes checked ---- */
static const uint8_t *g_msg;
static size_t g_len;
static size_t g_val[16][2]; /* value content ranges [start, end) */
static int g_nval, g_reads, g_value_reads, g_oob_reads;

static int mock_read(void *dst, size_t n, const void *src)
{
	const uint8_t *s = src;

	g_reads++;
	if (s < g_msg || s + n > g_msg + g_len) {
		g_oob_reads++;
		return -1;
	}
	for (int i = 0; i < g_nval; i++)
		if ((size_t)(s - g_msg) < g_val[i][1] && (size_t)(s - g_msg) + n > g_val[i][0])
			g_value_reads++;
	memcpy(dst, src, n);
	return 0;
}

#define EW_READ(dst, n, src) mock_read(dst, n, src)
#include "../../bpf/etcd_walk.h"

/* ---- an encoder that remembers where values are ---- */
struct enc {
	uint8_t b[8192];
	size_t n;
	size_t val[16][2];
	int nval;
};

#define M(name) struct enc name = { .n = 0 }

static void e_varint(struct enc *e, uint64_t v)
{
	do {
		uint8_t c = v & 0x7f;

		v >>= 7;
		e->b[e->n++] = c | (v ? 0x80 : 0);
	} while (v);
}

static void e_uint(struct enc *e, uint32_t field, uint64_t v)
{
	e_varint(e, (uint64_t)field << 3);
	e_varint(e, v);
}

static void e_bytes(struct enc *e, uint32_t field, const void *p, size_t len)
{
	e_varint(e, (uint64_t)field << 3 | 2);
	e_varint(e, len);
	memcpy(e->b + e->n, p, len);
	e->n += len;
}

static void e_str(struct enc *e, uint32_t field, const char *s)
{
	e_bytes(e, field, s, strlen(s));
}

/* a value field: its content is recorded as untouchable */
static void e_value(struct enc *e, uint32_t field, const void *p, size_t len)
{
	e_varint(e, (uint64_t)field << 3 | 2);
	e_varint(e, len);
	e->val[e->nval][0] = e->n;
	e->val[e->nval][1] = e->n + len;
	e->nval++;
	memcpy(e->b + e->n, p, len);
	e->n += len;
}

/* a nested message: its value ranges move with it */
static void e_msg(struct enc *e, uint32_t field, const struct enc *m)
{
	e_varint(e, (uint64_t)field << 3 | 2);
	e_varint(e, m->n);
	for (int i = 0; i < m->nval; i++) {
		e->val[e->nval][0] = e->n + m->val[i][0];
		e->val[e->nval][1] = e->n + m->val[i][1];
		e->nval++;
	}
	memcpy(e->b + e->n, m->b, m->n);
	e->n += m->n;
}

#define CAP (KP_GRPC_PAYLOAD_MAX - 1)

struct walked {
	uint64_t stop;  /* what the walk returned */
	size_t copied;  /* what the probe copies: min(stop, CAP) */
	uint64_t flags;
	struct etcd_req_summary sum;
	int rc;
};

/* Walk e as the probe does for method, check every read (strict: the value bytes too), decode the
 * prefix. */
static struct walked walk_(const char *method, const struct enc *e, bool strict)
{
	union {
		__u64 w[KP_GRPC_METHOD_MAX / 8];
		char c[KP_GRPC_METHOD_MAX];
	} m;
	volatile __u64 scratch[EW_SCRATCH];
	struct walked r;
	size_t mlen = strlen(method);

	memset(&m, 0xa5, sizeof(m)); /* bytes past the name are garbage in the ring buffer too */
	memcpy(m.c, method, mlen);
	g_msg = e->b;
	g_len = e->n;
	g_nval = e->nval;
	memcpy(g_val, e->val, sizeof(g_val));
	g_reads = g_value_reads = g_oob_reads = 0;
	r.stop = ew_walk(e->b, e->n, ew_method_msg(m.w, (__u32)mlen), CAP, scratch);
	r.flags = scratch[EW_S_FLAGS];
	assert_int_equal(g_oob_reads, 0);
	assert_true(r.stop <= e->n);
	r.copied = r.stop < CAP ? r.stop : CAP;
	if (strict) {
		assert_int_equal(g_value_reads, 0);
		/* the copied prefix holds no value byte */
		for (int i = 0; i < e->nval; i++)
			assert_true(r.copied <= e->val[i][0]);
	}
	r.rc = etcd_decode_prefix(method, mlen, e->b, r.copied, r.copied < e->n, &r.sum, NULL);
	return r;
}

static struct walked walk(const char *method, const struct enc *e)
{
	return walk_(method, e, true);
}

static void assert_key(const struct etcd_req_summary *s, const char *key)
{
	assert_true(s->has_key);
	assert_int_equal(s->key_len, strlen(key));
	assert_memory_equal(s->key, key, s->key_len);
}

static const char secret[] = "k8s\0\x0a\x0fSECRET-VALUE\xff\x00 with \x80 bytes";

static void test_put(void **state)
{
	M(m);
	struct walked w;

	e_str(&m, 1, "/registry/secrets/default/s1");
	e_value(&m, 2, secret, sizeof(secret));
	e_uint(&m, 3, 0x1234); /* lease: after the value, not copied */
	w = walk("/etcdserverpb.KV/Put", &m);
	assert_int_equal(w.flags, EW_F_VALUE);
	assert_int_equal(w.stop, 2 + strlen("/registry/secrets/default/s1")); /* right before the value's tag */
	assert_int_equal(w.rc, 0);
	assert_string_equal(w.sum.op_name, "put");
	assert_key(&w.sum, "/registry/secrets/default/s1");
	assert_false(w.sum.key_truncated);
	assert_int_equal(w.sum.lease_id, 0);
	assert_true(w.sum.cut);
	/* two reads: the key's tag and length, the value's tag and its length's first byte */
	assert_int_equal(g_reads, 2);
}

/* The apiserver's create (compare mod_revision == 0, then put) and update (then put, else get). */
static void build_txn(struct enc *txn, const char *key, bool update, size_t value_len)
{
	M(cmp);
	M(put);
	M(op1);
	M(rng);
	M(op2);
	static uint8_t val[4096];

	memset(val, 'V', sizeof(val));
	e_uint(&cmp, 2, 2); /* target MOD (result EQUAL = 0 is not on the wire) */
	e_str(&cmp, 3, key);
	e_uint(&cmp, 6, update ? 12345 : 0); /* oneof: on the wire even when 0 */
	e_str(&put, 1, key);
	e_value(&put, 2, val, value_len);
	e_msg(&op1, 2, &put);
	e_msg(txn, 1, &cmp);
	e_msg(txn, 2, &op1);
	if (update) {
		e_str(&rng, 1, key);
		e_msg(&op2, 1, &rng);
		e_msg(txn, 3, &op2);
	}
}

static void test_txn_create_update(void **state)
{
	for (int update = 0; update < 2; update++) {
		static const size_t lens[] = { 0, 1, 127, 128, 3000 };

		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			M(t);
			struct walked w;

			build_txn(&t, "/registry/secrets/kube-system/bootstrap-token-abcdef", update, lens[i]);
			w = walk("/etcdserverpb.KV/Txn", &t);
			assert_int_equal(w.flags, EW_F_VALUE);
			assert_true(w.copied < t.n);
			assert_int_equal(w.rc, 0);
			assert_string_equal(w.sum.op_name, "txn");
			assert_key(&w.sum, "/registry/secrets/kube-system/bootstrap-token-abcdef");
			assert_int_equal(w.sum.n_compare, 1);
			assert_int_equal(w.sum.n_success, 1); /* the success op is cut inside its put */
			assert_int_equal(w.sum.n_failure, 0); /* after the cut: unknown */
			assert_false(w.sum.partial);
		}
	}
}

static void test_txn_delete_whole(void **state)
{
	/* compare, then delete_range, else range: no value anywhere, copied whole */
	M(t);
	M(cmp);
	M(del);
	M(op1);
	M(rng);
	M(op2);
	struct walked w;

	e_uint(&cmp, 2, 2);
	e_str(&cmp, 3, "/registry/pods/default/web-1");
	e_uint(&cmp, 6, 777);
	e_str(&del, 1, "/registry/pods/default/web-1");
	e_msg(&op1, 3, &del);
	e_str(&rng, 1, "/registry/pods/default/web-1");
	e_msg(&op2, 1, &rng);
	e_msg(&t, 1, &cmp);
	e_msg(&t, 2, &op1);
	e_msg(&t, 3, &op2);
	w = walk("/etcdserverpb.KV/Txn", &t);
	assert_int_equal(w.flags, 0);
	assert_int_equal(w.stop, t.n);
	assert_int_equal(w.rc, 0);
	assert_false(w.sum.cut);
	assert_key(&w.sum, "/registry/pods/default/web-1");
	assert_int_equal(w.sum.n_compare, 1);
	assert_int_equal(w.sum.n_success, 1);
	assert_int_equal(w.sum.n_failure, 1);
}

static void test_compare_value(void **state)
{
	/* compare target VALUE: the walk stops before Compare.value; the compare's key survives */
	M(t);
	M(cmp);
	M(put);
	M(op);
	struct walked w;

	e_uint(&cmp, 2, 3); /* target VALUE */
	e_str(&cmp, 3, "/registry/configmaps/default/c");
	e_value(&cmp, 7, secret, sizeof(secret));
	e_str(&cmp, 64, "/registry/configmaps/default/d"); /* range_end after the value: lost */
	e_str(&put, 1, "/registry/configmaps/default/c");
	e_value(&put, 2, "new", 3);
	e_msg(&op, 2, &put);
	e_msg(&t, 1, &cmp);
	e_msg(&t, 2, &op);
	w = walk("/etcdserverpb.KV/Txn", &t);
	assert_int_equal(w.flags, EW_F_VALUE);
	assert_int_equal(w.rc, 0);
	assert_key(&w.sum, "/registry/configmaps/default/c");
	assert_int_equal(w.sum.range_end_len, 0);

	/* a compare with a range_end (field 64, two-byte tag) and no value: kept */
	{
		M(t2);
		M(c2);

		e_uint(&c2, 2, 2);
		e_str(&c2, 3, "/registry/x/");
		e_uint(&c2, 6, 5);
		e_str(&c2, 64, "/registry/x0");
		e_msg(&t2, 1, &c2);
		w = walk("/etcdserverpb.KV/Txn", &t2);
		assert_int_equal(w.flags, 0);
		assert_int_equal(w.stop, t2.n);
		assert_int_equal(w.sum.range_end_len, 12);
	}
}

static void test_range_watch_lease_whole(void **state)
{
	struct walked w;

	{
		M(m);

		e_str(&m, 1, "/registry/pods/");
		e_str(&m, 2, "/registry/pods0");
		e_uint(&m, 3, 500);
		e_uint(&m, 4, 123456789);
		e_uint(&m, 8, 1);
		e_uint(&m, 9, 1);
		e_uint(&m, 12, 3);
		w = walk("/etcdserverpb.KV/Range", &m);
		assert_int_equal(w.flags, 0);
		assert_int_equal(w.stop, m.n);
		assert_int_equal(w.rc, 0);
		assert_key(&w.sum, "/registry/pods/");
		assert_int_equal(w.sum.limit, 500);
		assert_int_equal(w.sum.revision, 123456789);
		assert_true(w.sum.count_only && w.sum.keys_only);
	}
	{
		M(m);
		M(c);
		uint8_t filters[] = { 0, 1 };

		e_str(&c, 1, "/registry/configmaps/");
		e_str(&c, 2, "/registry/configmaps0");
		e_uint(&c, 3, 42);
		e_uint(&c, 4, 1);
		e_bytes(&c, 5, filters, sizeof(filters)); /* packed enums */
		e_uint(&c, 6, 1);
		e_msg(&m, 1, &c);
		w = walk("/etcdserverpb.Watch/Watch", &m);
		assert_int_equal(w.flags, 0);
		assert_int_equal(w.stop, m.n);
		assert_key(&w.sum, "/registry/configmaps/");
		assert_int_equal(w.sum.revision, 42);
	}
	{
		M(m);

		e_uint(&m, 1, 15);
		e_uint(&m, 2, 0x7fffffffffffffffULL);
		w = walk("/etcdserverpb.Lease/LeaseGrant", &m);
		assert_int_equal(w.stop, m.n);
		assert_int_equal(w.sum.ttl, 15);
		assert_int_equal(w.sum.lease_id, 0x7fffffffffffffffLL);
		w = walk("/etcdserverpb.KV/Compact", &m);
		assert_int_equal(w.stop, m.n);
	}
}

static void test_not_walked(void **state)
{
	/* Auth carries passwords, Cluster/Maintenance nothing a record needs: nothing is read or copied */
	static const char *const methods[] = { "/etcdserverpb.Auth/Authenticate", "/etcdserverpb.Auth/UserAdd",
					       "/etcdserverpb.Cluster/MemberList", "/etcdserverpb.KV/Pu",
					       "/etcdserverpb.KV/Putt", "/etcdserverpb.kv/Put", "",
					       "/etcdserverpb.Lease/LeaseTimeToLiveXXXXXXXXX" };
	M(m);

	e_str(&m, 1, "root");
	e_value(&m, 2, "hunter2", 7);
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		struct walked w = walk(methods[i], &m);

		assert_int_equal(w.stop, 0);
		assert_int_equal(g_reads, 0);
		assert_int_equal(w.flags, 0);
	}
}

static void test_copy_bound(void **state)
{
	/* a key longer than the copy bound: the walk stops looking at the bound, before the value's tag */
	M(m);
	char key[700];
	struct walked w;

	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = 0;
	memcpy(key, "/registry/", 10);
	e_str(&m, 1, key);
	e_value(&m, 2, secret, sizeof(secret));
	w = walk("/etcdserverpb.KV/Put", &m);
	assert_int_equal(w.flags, 0);
	assert_true(w.stop >= CAP);
	assert_int_equal(w.copied, CAP);
	assert_int_equal(w.rc, 0);
	assert_true(w.sum.key_truncated);
	assert_int_equal(w.sum.key_len, CAP - 3); /* tag and a 2-byte length */
	assert_int_equal(g_reads, 2);             /* the key's header only */
}

static void test_gives_up(void **state)
{
	struct walked w;

	{
		/* more fields than EW_ITER_MAX: the walk stops where it got to, counted */
		M(t);

		for (int i = 0; i < 40; i++) {
			M(cmp);

			e_uint(&cmp, 2, 2);
			e_str(&cmp, 3, "/k");
			e_msg(&t, 1, &cmp);
		}
		w = walk("/etcdserverpb.KV/Txn", &t);
		assert_int_equal(w.flags, EW_F_GAVE_UP);
		assert_true(w.stop > 0 && w.stop < t.n);
		assert_int_equal(w.rc, 0);
		assert_key(&w.sum, "/k");
	}
	{
		/* a length-delimited field the schema does not know (a future etcd's): it might hold anything */
		M(m);

		e_str(&m, 1, "/registry/a");
		e_value(&m, 14, "opaque", 6);
		w = walk("/etcdserverpb.KV/Range", &m);
		assert_int_equal(w.flags, EW_F_GAVE_UP);
		assert_int_equal(w.stop, 2 + 11);
		assert_key(&w.sum, "/registry/a");
	}
	{
		/* nesting deeper than EW_DEPTH: txn > op > txn > op ... */
		struct enc a = { .n = 0 };

		e_str(&a, 1, "/deep");
		for (int i = 0; i < 6; i++) {
			M(op);
			M(tx);

			e_msg(&op, i == 0 ? 1 : 4, &a);
			e_msg(&tx, 2, &op);
			a = tx;
		}
		w = walk("/etcdserverpb.KV/Txn", &a);
		assert_int_equal(w.flags, EW_F_GAVE_UP);
	}
	{
		/* malformed: a nested length past its parent, a group, field 0, a varint running off the end */
		static const struct {
			const char *b;
			size_t n, stop;
		} bad[] = {
			{ "\x0a\x02\x1a\x05", 4, 2 },     /* compare key longer than the compare: stop inside it */
			{ "\x0b\x00", 2, 0 },             /* group */
			{ "\x00\x00", 2, 0 },             /* field 0 */
			{ "\x08\x01", 2, 0 },             /* compare as a varint */
			{ "\x0a\x03\x10\xff\xff", 5, 2 }, /* a varint running past its message */
			{ "\x0a", 1, 0 },                 /* a lone byte */
			{ "\x82\x80\x01\x00", 4, 0 },     /* a three-byte tag */
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			struct enc m = { .n = bad[i].n };

			memcpy(m.b, bad[i].b, bad[i].n);
			w = walk("/etcdserverpb.KV/Txn", &m);
			assert_int_equal(w.flags, EW_F_GAVE_UP);
			assert_int_equal(w.stop, bad[i].stop);
		}
	}
}

/* Random bytes under every method: the walk terminates, never reads outside the message, and whatever it
 * lets through decodes without crashing (deterministic seed). A malformed message can make the walk misread
 * where a value is (a corrupted length): that is outside what the schema can promise, so only bounds are
 * checked here. */
static void test_random(void **state)
{
	static const char *const methods[] = { "/etcdserverpb.KV/Txn", "/etcdserverpb.KV/Put", "/etcdserverpb.KV/Range",
					       "/etcdserverpb.Watch/Watch" };
	unsigned seed = 12345;

	for (int i = 0; i < 20000; i++) {
		struct enc m = { .n = (size_t)(rand_r(&seed) % 64) };

		for (size_t k = 0; k < m.n; k++)
			m.b[k] = (uint8_t)rand_r(&seed);
		walk_(methods[i % 4], &m, false);
	}
	/* and mutations of a real txn */
	for (int i = 0; i < 20000; i++) {
		M(t);

		build_txn(&t, "/registry/secrets/default/s", i & 1, 40);
		t.b[rand_r(&seed) % t.val[0][0]] = (uint8_t)rand_r(&seed); /* one byte before the value */
		walk_("/etcdserverpb.KV/Txn", &t, false);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put),
		cmocka_unit_test(test_txn_create_update),
		cmocka_unit_test(test_txn_delete_whole),
		cmocka_unit_test(test_compare_value),
		cmocka_unit_test(test_range_watch_lease_whole),
		cmocka_unit_test(test_not_walked),
		cmocka_unit_test(test_copy_bound),
		cmocka_unit_test(test_gives_up),
		cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests_name("etcd_walk", tests, NULL, NULL);
}
