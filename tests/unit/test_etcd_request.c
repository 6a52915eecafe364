// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* etcd v3 request decoding from wire bytes built field by field (api/etcdserverpb/rpc.proto numbers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "assemble/record_json.h"
#include "etcd/etcd_key.h"
#include "etcd/etcd_request.h"
#include "util/strbuf.h"

/* ---- a tiny encoder: enough to build messages in the tests ---- */
struct enc {
	uint8_t b[4096];
	size_t n;
};

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
	e_varint(e, (uint64_t)field << 3 | 0);
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

static void e_msg(struct enc *e, uint32_t field, const struct enc *m)
{
	e_bytes(e, field, m->b, m->n);
}

#define M(name) struct enc name = { .n = 0 }

static int decode(const char *method, const struct enc *e, struct etcd_req_summary *s, struct etcd_decode_counters *c)
{
	return etcd_decode_request(method, strlen(method), e->b, e->n, s, c);
}

static void assert_key(const struct etcd_req_summary *s, const char *key)
{
	assert_true(s->has_key);
	assert_int_equal(s->key_len, strlen(key));
	assert_memory_equal(s->key, key, s->key_len);
}

static void test_method_table(void **state)
{
	static const struct {
		const char *m;
		enum etcd_op op;
		const char *name;
	} t[] = {
		{ "/etcdserverpb.KV/Range", ETCD_OP_RANGE, "range" },
		{ "/etcdserverpb.KV/Put", ETCD_OP_PUT, "put" },
		{ "/etcdserverpb.KV/DeleteRange", ETCD_OP_DELETE_RANGE, "delete_range" },
		{ "/etcdserverpb.KV/Txn", ETCD_OP_TXN, "txn" },
		{ "/etcdserverpb.KV/Compact", ETCD_OP_COMPACT, "compact" },
		{ "/etcdserverpb.Watch/Watch", ETCD_OP_WATCH, "watch" },
		{ "/etcdserverpb.Lease/LeaseGrant", ETCD_OP_LEASE_GRANT, "lease_grant" },
		{ "/etcdserverpb.Lease/LeaseRevoke", ETCD_OP_LEASE_REVOKE, "lease_revoke" },
		{ "/etcdserverpb.Lease/LeaseKeepAlive", ETCD_OP_LEASE_KEEPALIVE, "lease_keepalive" },
		{ "/etcdserverpb.Lease/LeaseTimeToLive", ETCD_OP_LEASE_TIMETOLIVE, "lease_timetolive" },
		{ "/etcdserverpb.Lease/LeaseLeases", ETCD_OP_LEASE_LEASES, "lease_leases" },
		{ "/etcdserverpb.Maintenance/Status", ETCD_OP_OTHER, "status" },
		{ "/etcdserverpb.Cluster/MemberList", ETCD_OP_OTHER, "member_list" },
		{ "/etcdserverpb.Auth/Authenticate", ETCD_OP_OTHER, "authenticate" },
		{ "/etcdserverpb.Auth/RoleRevokePermission", ETCD_OP_OTHER, "role_revoke_permission" },
		{ "/etcdserverpb.KV/range", ETCD_OP_UNKNOWN, "unknown" },
		{ "/etcdserverpb.KV/Range/", ETCD_OP_UNKNOWN, "unknown" },
		{ "etcdserverpb.KV/Range", ETCD_OP_UNKNOWN, "unknown" },
		{ "", ETCD_OP_UNKNOWN, "unknown" },
		{ "/grpc.health.v1.Health/Check", ETCD_OP_UNKNOWN, "unknown" },
	};
	char name[24];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(etcd_method_op(t[i].m, strlen(t[i].m), name, sizeof(name)), t[i].op);
		assert_string_equal(name, t[i].name);
	}
	/* the length bounds the method */
	assert_int_equal(etcd_method_op("/etcdserverpb.KV/PutXYZ", 20, name, sizeof(name)), ETCD_OP_PUT);
	assert_int_equal(etcd_method_op(NULL, 0, name, sizeof(name)), ETCD_OP_UNKNOWN);
	/* the table's entries: client streams flagged (the assembler counts their messages, not calls) */
	{
		static const char *streams[] = { "/etcdserverpb.Watch/Watch", "/etcdserverpb.Lease/LeaseKeepAlive",
						 "/etcdserverpb.Maintenance/Snapshot" };
		static const char *unary[] = { "/etcdserverpb.KV/Range", "/etcdserverpb.KV/Txn",
					       "/etcdserverpb.Lease/LeaseGrant", "/etcdserverpb.Auth/RoleRevokePermission" };

		for (size_t i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
			const struct etcd_method *m = etcd_method_find(streams[i], strlen(streams[i]));

			assert_non_null(m);
			assert_true(m->stream);
			assert_string_equal(m->method, streams[i]);
		}
		for (size_t i = 0; i < sizeof(unary) / sizeof(unary[0]); i++) {
			const struct etcd_method *m = etcd_method_find(unary[i], strlen(unary[i]));

			assert_non_null(m);
			assert_false(m->stream);
			assert_int_equal(m->len, strlen(unary[i]));
		}
		assert_null(etcd_method_find("/etcdserverpb.Watch/Watc", 24));
		assert_null(etcd_method_find("/etcdserverpb.Watch/WatchX", 26));
		assert_null(etcd_method_find(NULL, 0));
	}
}

static void test_range(void **state)
{
	/* the apiserver's list: key=/registry/pods/default/ range_end=/registry/pods/default0 limit=500 */
	static const uint8_t wire[] = {
		0x0a, 0x17, '/', 'r', 'e', 'g', 'i', 's', 't', 'r', 'y', '/', 'p', 'o', 'd', 's', '/', 'd', 'e', 'f', 'a', 'u', 'l', 't', '/',
		0x12, 0x17, '/', 'r', 'e', 'g', 'i', 's', 't', 'r', 'y', '/', 'p', 'o', 'd', 's', '/', 'd', 'e', 'f', 'a', 'u', 'l', 't', '0',
		0x18, 0xf4, 0x03,       /* limit 500 */
		0x20, 0xe8, 0x07,       /* revision 1000 */
		0x38, 0x01,             /* serializable (ignored) */
		0x48, 0x01,             /* count_only */
		0x40, 0x01,             /* keys_only */
		0x50, 0x05,             /* min_mod_revision (ignored) */
	};
	struct etcd_req_summary s;
	struct etcd_decode_counters c = { 0 };

	assert_int_equal(etcd_decode_request("/etcdserverpb.KV/Range", 22, wire, sizeof(wire), &s, &c), 0);
	assert_int_equal(s.op, ETCD_OP_RANGE);
	assert_string_equal(s.op_name, "range");
	assert_key(&s, "/registry/pods/default/");
	assert_int_equal(s.range_end_len, 23);
	assert_memory_equal(s.range_end, "/registry/pods/default0", 23);
	assert_int_equal(s.limit, 500);
	assert_int_equal(s.revision, 1000);
	assert_true(s.count_only);
	assert_true(s.keys_only);
	assert_false(s.partial);
	assert_int_equal(c.decoded, 1);
	assert_int_equal(c.errors, 0);

	/* an empty RangeRequest: no key, limit absent */
	assert_int_equal(etcd_decode_request("/etcdserverpb.KV/Range", 22, NULL, 0, &s, &c), 0);
	assert_false(s.has_key);
	assert_int_equal(s.limit, -1);
}

static void test_binary_key_and_truncation(void **state)
{
	M(m);
	uint8_t key[ETCD_KEY_MAX + 100];
	struct etcd_req_summary s;

	e_bytes(&m, 1, "a\0b\xff", 4);
	e_bytes(&m, 2, "\0", 1); /* range_end "\0": every key >= key */
	assert_int_equal(decode("/etcdserverpb.KV/Range", &m, &s, NULL), 0);
	assert_int_equal(s.key_len, 4);
	assert_memory_equal(s.key, "a\0b\xff", 4);
	assert_int_equal(s.range_end_len, 1);
	assert_int_equal(s.range_end[0], 0);

	memset(key, 'k', sizeof(key));
	m.n = 0;
	e_bytes(&m, 1, key, sizeof(key));
	assert_int_equal(decode("/etcdserverpb.KV/Put", &m, &s, NULL), 0);
	assert_true(s.key_truncated);
	assert_int_equal(s.key_len, ETCD_KEY_MAX - 1);
}

static void test_put_delete(void **state)
{
	M(m);
	struct etcd_req_summary s;

	e_str(&m, 1, "/registry/leases/kube-node-lease/node-1");
	e_str(&m, 2, "k8s\0SECRET-VALUE-BYTES");
	e_uint(&m, 3, 7587869178291847000ULL);
	e_uint(&m, 4, 1); /* prev_kv */
	assert_int_equal(decode("/etcdserverpb.KV/Put", &m, &s, NULL), 0);
	assert_key(&s, "/registry/leases/kube-node-lease/node-1");
	assert_int_equal(s.lease_id, 7587869178291847000LL);
	assert_int_equal(s.range_end_len, 0);
	/* the value is never copied anywhere in the summary */
	assert_null(memmem(&s, sizeof(s), "SECRET", 6));

	m.n = 0;
	e_str(&m, 1, "/registry/events/default/");
	e_str(&m, 2, "/registry/events/default0");
	e_uint(&m, 3, 1);
	assert_int_equal(decode("/etcdserverpb.KV/DeleteRange", &m, &s, NULL), 0);
	assert_string_equal(s.op_name, "delete_range");
	assert_key(&s, "/registry/events/default/");
	assert_int_equal(s.range_end_len, 25);
}

/* the apiserver's GuaranteedUpdate: if mod_revision(key) == N then put(key) else get(key) */
static void build_update_txn(struct enc *txn, const char *key)
{
	M(cmp);
	M(put);
	M(op1);
	M(rng);
	M(op2);

	e_uint(&cmp, 1, 0);  /* result EQUAL (zero: normally not on the wire, harmless) */
	e_uint(&cmp, 2, 2);  /* target MOD */
	e_str(&cmp, 3, key);
	e_uint(&cmp, 6, 12345); /* mod_revision */
	e_str(&put, 1, key);
	e_str(&put, 2, "value");
	e_msg(&op1, 2, &put); /* request_put */
	e_str(&rng, 1, key);
	e_msg(&op2, 1, &rng); /* request_range */
	e_msg(txn, 1, &cmp);
	e_msg(txn, 2, &op1);
	e_msg(txn, 3, &op2);
}

static void test_txn(void **state)
{
	M(txn);
	struct etcd_req_summary s;

	build_update_txn(&txn, "/registry/deployments/default/web");
	assert_int_equal(decode("/etcdserverpb.KV/Txn", &txn, &s, NULL), 0);
	assert_string_equal(s.op_name, "txn");
	assert_key(&s, "/registry/deployments/default/web");
	assert_int_equal(s.n_compare, 1);
	assert_int_equal(s.n_success, 1);
	assert_int_equal(s.n_failure, 1);

	/* no compare: the key of the first success op; compare with range_end (field 64) */
	{
		M(t);
		M(op);
		M(del);
		M(op2);
		M(put);

		e_str(&del, 1, "/registry/a/first");
		e_msg(&op, 3, &del);
		e_str(&put, 1, "/registry/b/second");
		e_msg(&op2, 2, &put);
		e_msg(&t, 2, &op);
		e_msg(&t, 2, &op2);
		assert_int_equal(decode("/etcdserverpb.KV/Txn", &t, &s, NULL), 0);
		assert_key(&s, "/registry/a/first");
		assert_int_equal(s.n_success, 2);
		assert_int_equal(s.n_compare, 0);
	}
	{
		M(t);
		M(cmp);
		M(op);
		M(put);

		/* failure listed before compare on the wire: the compare still wins */
		e_str(&put, 1, "/registry/x/fail");
		e_msg(&op, 2, &put);
		e_msg(&t, 3, &op);
		e_str(&cmp, 3, "/registry/x/");
		e_str(&cmp, 64, "/registry/x0");
		e_msg(&t, 1, &cmp);
		assert_int_equal(decode("/etcdserverpb.KV/Txn", &t, &s, NULL), 0);
		assert_key(&s, "/registry/x/");
		assert_int_equal(s.range_end_len, 12);
	}
	{
		/* only a failure op, which is a nested txn whose first op is a range with a limit */
		M(t);
		M(inner);
		M(op);
		M(rng);
		M(iop);

		e_str(&rng, 1, "/registry/nested");
		e_uint(&rng, 3, 10);
		e_msg(&iop, 1, &rng);
		e_msg(&inner, 2, &iop);
		e_msg(&op, 4, &inner);
		e_msg(&t, 3, &op);
		assert_int_equal(decode("/etcdserverpb.KV/Txn", &t, &s, NULL), 0);
		assert_key(&s, "/registry/nested");
		assert_int_equal(s.limit, 10);
	}
	/* an empty txn */
	assert_int_equal(etcd_decode_request("/etcdserverpb.KV/Txn", 20, (const uint8_t *)"", 0, &s, NULL), 0);
	assert_false(s.has_key);
}

static void test_txn_depth(void **state)
{
	/* txn -> op.request_txn -> txn ... 40 deep: refused at the depth limit, counted */
	struct enc a = { .n = 0 }, b;
	struct etcd_req_summary s;
	struct etcd_decode_counters c = { 0 };

	for (int i = 0; i < 40; i++) {
		M(op);
		e_msg(&op, 4, &a);
		b.n = 0;
		e_msg(&b, 2, &op);
		a = b;
	}
	assert_int_equal(decode("/etcdserverpb.KV/Txn", &a, &s, &c), PB_EDEPTH);
	assert_true(s.partial);
	assert_int_equal(c.errors, 1);
	assert_int_equal(c.by_error[-PB_EDEPTH], 1);
}

static void test_lease_compact_watch(void **state)
{
	M(m);
	struct etcd_req_summary s;

	e_uint(&m, 1, 15);
	e_uint(&m, 2, 0x1234);
	assert_int_equal(decode("/etcdserverpb.Lease/LeaseGrant", &m, &s, NULL), 0);
	assert_int_equal(s.ttl, 15);
	assert_int_equal(s.lease_id, 0x1234);
	assert_false(s.has_key);

	m.n = 0;
	e_uint(&m, 1, 0x5678);
	assert_int_equal(decode("/etcdserverpb.Lease/LeaseKeepAlive", &m, &s, NULL), 0);
	assert_int_equal(s.lease_id, 0x5678);
	assert_int_equal(decode("/etcdserverpb.Lease/LeaseRevoke", &m, &s, NULL), 0);
	assert_int_equal(s.lease_id, 0x5678);
	e_uint(&m, 2, 1); /* keys=true */
	assert_int_equal(decode("/etcdserverpb.Lease/LeaseTimeToLive", &m, &s, NULL), 0);
	assert_int_equal(s.lease_id, 0x5678);

	m.n = 0;
	e_uint(&m, 1, 99999);
	e_uint(&m, 2, 1);
	assert_int_equal(decode("/etcdserverpb.KV/Compact", &m, &s, NULL), 0);
	assert_int_equal(s.revision, 99999);

	{
		M(w);
		M(create);

		e_str(&create, 1, "/registry/configmaps/");
		e_str(&create, 2, "/registry/configmaps0");
		e_uint(&create, 3, 500);
		e_uint(&create, 4, 1);
		e_uint(&create, 6, 1);
		e_msg(&w, 1, &create);
		assert_int_equal(decode("/etcdserverpb.Watch/Watch", &w, &s, NULL), 0);
		assert_string_equal(s.op_name, "watch");
		assert_key(&s, "/registry/configmaps/");
		assert_int_equal(s.revision, 500);

		w.n = 0;
		create.n = 0;
		e_uint(&create, 1, 3);
		e_msg(&w, 2, &create);
		assert_int_equal(decode("/etcdserverpb.Watch/Watch", &w, &s, NULL), 0);
		assert_int_equal(s.op, ETCD_OP_WATCH_CANCEL);
		assert_string_equal(s.op_name, "watch_cancel");
		w.n = 0;
		create.n = 0;
		e_msg(&w, 3, &create);
		assert_int_equal(decode("/etcdserverpb.Watch/Watch", &w, &s, NULL), 0);
		assert_string_equal(s.op_name, "watch_progress");
	}
}

static void test_auth_not_decoded(void **state)
{
	M(m);
	struct etcd_req_summary s;

	e_str(&m, 1, "root");
	e_str(&m, 2, "hunter2-password");
	assert_int_equal(decode("/etcdserverpb.Auth/Authenticate", &m, &s, NULL), 0);
	assert_string_equal(s.op_name, "authenticate");
	assert_false(s.has_key);
	assert_null(memmem(&s, sizeof(s), "hunter2", 7));
	assert_null(memmem(&s, sizeof(s), "root", 4));
}

struct err_case {
	const char *method;
	const char *bytes;
	size_t len;
	int rc;
	const char *partial_key; /* key decoded before the error, or NULL */
};

#define EC(m, b, rc, k) { m, b, sizeof(b) - 1, rc, k }

static const struct err_case errs[] = {
	EC("/etcdserverpb.KV/Range", "\x0a\x03/ab\x12\x09/ab", PB_ETRUNC, "/ab"), /* cut capture keeps the key */
	EC("/etcdserverpb.KV/Range", "\x0b", PB_EWIRETYPE, NULL),
	EC("/etcdserverpb.KV/Range", "\x08\x01", PB_EWRONGTYPE, NULL),        /* key as varint */
	EC("/etcdserverpb.KV/Range", "\x1a\x01x", PB_EWRONGTYPE, NULL),       /* limit as bytes */
	EC("/etcdserverpb.KV/Put", "\x0a\x01k\x18\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", PB_EVARINT, "k"),
	EC("/etcdserverpb.KV/Txn", "\x0a\x02\x1a\x05", PB_ETRUNC, NULL),      /* compare key length past its message */
	EC("/etcdserverpb.KV/Txn", "\x12\x02\x08\x01", PB_EWRONGTYPE, NULL),  /* request_range as varint */
	EC("/etcdserverpb.Lease/LeaseGrant", "\x0a\x00", PB_EWRONGTYPE, NULL),
	EC("/etcdserverpb.Watch/Watch", "\x0a\x03\x0a\x05x", PB_ETRUNC, NULL),
	EC("/etcdserverpb.KV/Range", "\x00\x00", PB_EFIELD, NULL),
};

static void test_errors_counted(void **state)
{
	struct etcd_decode_counters c = { 0 };
	struct etcd_req_summary s;

	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		int rc = etcd_decode_request(errs[i].method, strlen(errs[i].method), (const uint8_t *)errs[i].bytes,
					     errs[i].len, &s, &c);

		if (rc != errs[i].rc)
			print_error("case %zu: rc %d\n", i, rc);
		assert_int_equal(rc, errs[i].rc);
		assert_true(s.partial);
		if (errs[i].partial_key)
			assert_key(&s, errs[i].partial_key);
	}
	assert_int_equal(c.errors, sizeof(errs) / sizeof(errs[0]));
	assert_int_equal(c.by_error[-PB_ETRUNC], 3);
	assert_int_equal(c.by_error[-PB_EWRONGTYPE], 4);
	assert_int_equal(c.decoded, 0);
	assert_int_equal(etcd_decode_request("/x/Y", 4, (const uint8_t *)"", 0, &s, &c), 1);
	assert_int_equal(c.unknown_method, 1);
}

static void test_unframe_and_record(void **state)
{
	M(m);
	uint8_t frame[256];
	const uint8_t *msg;
	size_t len;
	bool cut;
	struct etcd_decode_counters c = { 0 };
	struct etcd_req_summary s;
	struct etcd_record rec;

	e_str(&m, 1, "/registry/deployments/default/web");
	frame[0] = 0;
	frame[1] = frame[2] = frame[3] = 0;
	frame[4] = (uint8_t)m.n;
	memcpy(frame + 5, m.b, m.n);
	assert_int_equal(etcd_grpc_unframe(frame, 5 + m.n, &msg, &len, &cut, &c), 0);
	assert_int_equal(len, m.n);
	assert_false(cut);
	assert_int_equal(etcd_grpc_unframe(frame, 10, &msg, &len, &cut, &c), 0);
	assert_true(cut);
	assert_int_equal(len, 5);
	frame[0] = 1;
	assert_int_equal(etcd_grpc_unframe(frame, 5 + m.n, &msg, &len, &cut, &c), -1);
	assert_int_equal(c.compressed, 1);
	assert_int_equal(etcd_grpc_unframe(frame, 4, &msg, &len, &cut, &c), -1);
	frame[0] = 7;
	assert_int_equal(etcd_grpc_unframe(frame, 5 + m.n, &msg, &len, &cut, &c), -1);
	assert_int_equal(c.bad_frame, 2);

	assert_int_equal(decode("/etcdserverpb.KV/Range", &m, &s, NULL), 0);
	etcd_record_init(&rec);
	etcd_summary_to_record(&s, "/etcdserverpb.KV/Range", &rec);
	assert_string_equal(rec.method, "/etcdserverpb.KV/Range");
	assert_string_equal(rec.op, "range");
	assert_string_equal(rec.key, "/registry/deployments/default/web");
	assert_int_equal(rec.key_len, 33);
	assert_string_equal(rec.resource, "deployments.apps");
	assert_int_equal(rec.limit, -1);
}

/* The probe copies a prefix that ends before the first value field (bpf/etcd_walk.h): decoded with
 * etcd_decode_prefix, the record's fields are all there and nothing is an error. */
static int decode_cut(const char *method, const struct enc *e, size_t n, struct etcd_req_summary *s,
		      struct etcd_decode_counters *c)
{
	return etcd_decode_prefix(method, strlen(method), e->b, n, n < e->n, s, c);
}

static void test_prefix_cut_at_value(void **state)
{
	struct etcd_decode_counters c = { 0 };
	struct etcd_req_summary s;

	{
		/* put: key, then the value: cut right before the value's tag */
		M(m);
		size_t cut;

		e_str(&m, 1, "/registry/secrets/default/s");
		cut = m.n;
		e_str(&m, 2, "SECRET-VALUE");
		e_uint(&m, 3, 99);
		assert_int_equal(decode_cut("/etcdserverpb.KV/Put", &m, cut, &s, &c), 0);
		assert_key(&s, "/registry/secrets/default/s");
		assert_true(s.cut);
		assert_false(s.partial);
		assert_false(s.key_truncated);
		assert_int_equal(s.lease_id, 0); /* after the cut */
	}
	{
		/* the apiserver's update txn, cut before the success op's put value: the compare key, the success
		 * op (cut) counted, the failure op unknown */
		M(t);
		size_t cut;

		build_update_txn(&t, "/registry/secrets/default/s");
		/* find the value's tag: "value" is the first occurrence of the string after the put's key */
		cut = (size_t)((const uint8_t *)memmem(t.b, t.n, "value", 5) - t.b) - 2;
		assert_int_equal(t.b[cut], 0x12); /* field 2, LEN */
		assert_int_equal(decode_cut("/etcdserverpb.KV/Txn", &t, cut, &s, &c), 0);
		assert_key(&s, "/registry/secrets/default/s");
		assert_int_equal(s.n_compare, 1);
		assert_int_equal(s.n_success, 1);
		assert_int_equal(s.n_failure, 0);
		assert_true(s.cut);
		assert_null(memmem(&s, sizeof(s), "value", 5));
	}
	{
		/* a txn without compares: the key comes from the cut success op's put */
		M(t);
		M(op);
		M(put);
		size_t cut;

		e_str(&put, 1, "/registry/configmaps/ns/cm");
		e_str(&put, 2, "DATA");
		e_msg(&op, 2, &put);
		e_msg(&t, 2, &op);
		cut = t.n - 6; /* before the value's tag and length and its 4 bytes */
		assert_int_equal(decode_cut("/etcdserverpb.KV/Txn", &t, cut, &s, &c), 0);
		assert_key(&s, "/registry/configmaps/ns/cm");
		assert_int_equal(s.n_success, 1);
	}
	{
		/* cut by the copy bound inside the key: the key is kept, marked truncated */
		M(m);

		e_str(&m, 1, "/registry/pods/default/a-long-name");
		e_str(&m, 2, "/registry/pods/default/b");
		assert_int_equal(decode_cut("/etcdserverpb.KV/Range", &m, 20, &s, &c), 0);
		assert_true(s.has_key);
		assert_int_equal(s.key_len, 18);
		assert_true(s.key_truncated);
		assert_int_equal(s.range_end_len, 0);
		/* cut inside range_end */
		assert_int_equal(decode_cut("/etcdserverpb.KV/Range", &m, m.n - 3, &s, &c), 0);
		assert_false(s.key_truncated);
		assert_true(s.range_end_truncated);
		assert_int_equal(s.range_end_len, 21);
		/* cut inside the limit's varint: the limit is dropped */
		m.n = 0;
		e_str(&m, 1, "/k");
		e_uint(&m, 3, 500);
		assert_int_equal(decode_cut("/etcdserverpb.KV/Range", &m, m.n - 1, &s, &c), 0);
		assert_int_equal(s.limit, -1);
		assert_key(&s, "/k");
	}
	{
		/* nothing copied (a method the probe does not walk, or a walk that gave up at once) */
		M(m);

		e_str(&m, 1, "/k");
		assert_int_equal(decode_cut("/etcdserverpb.KV/Range", &m, 0, &s, &c), 0);
		assert_false(s.has_key);
		assert_true(s.cut);
	}
	assert_int_equal(c.errors, 0);
	/* a malformed field before the cut is still an error */
	{
		static const uint8_t bad[] = { 0x0a, 0x02, 0x18, 0x01, 0x12, 0x09, 0x0a }; /* compare key as a varint */

		assert_int_equal(etcd_decode_prefix("/etcdserverpb.KV/Txn", 20, bad, sizeof(bad), true, &s, &c),
				 PB_EWRONGTYPE);
		assert_int_equal(c.errors, 1);
	}
}

/* The record's resource is what etcd_key_parse says for its key, whatever keys came before (the
 * previous key's answer is reused when the first two segments match): keys of every shape, in an
 * order that makes neighbours share, or almost share, their heads. */
static void test_resource_of_every_key(void **state)
{
	static const char *keys[] = {
		"/registry/configmaps/ns/a", "/registry/configmaps/ns/b", "/registry/configmaps/ns", "/registry/configmaps/ns/",
		"/registry/configmaps/", "/registry/configmaps", "/registry/configmapsx/ns/a", "/registry/configmap/ns/a",
		"/registry/deployments/ns/d", "/registry/apps/deployments/ns/d", "/registry/apps/deployments/ns",
		"/registry/apps/deployments", "/registry/apps/", "/registry/example.com/widgets/ns/w",
		"/registry/example.com/widgets", "/registry/example.com/", "/registry/example.com",
		"/registry/leases/kube-node-lease/n1", "/registry/leases.coordination.k8s.io/x/y",
		"/registry/", "/registry", "/other/pods/ns/p", "/registry/pods/ns/p", "/registry/pods/ns/p/extra/parts",
		"/registry/minions/n1", "/registry/services/endpoints/ns/s", "/registry/services/specs/ns/s",
		"", "/", "//", "///", "////", "/registry//", "/registry///x",
	};
	const size_t nk = sizeof(keys) / sizeof(keys[0]);
	unsigned seed = 7;

	for (int iter = 0; iter < 4000; iter++) {
		const char *k = keys[iter < (int)nk ? (size_t)iter : (size_t)rand_r(&seed) % nk];
		struct etcd_req_summary sum;
		struct etcd_key_info ki;
		struct etcd_record rec;
		char want[REC_FIELD_LEN] = "";

		memset(&sum, 0, sizeof(sum));
		str_copy(sum.op_name, sizeof(sum.op_name), "range");
		sum.key_len = strlen(k);
		memcpy(sum.key, k, sum.key_len);
		sum.has_key = iter % 17 != 5;
		if (iter % 3 == 0) { /* a prefix range */
			memcpy(sum.range_end, k, sum.key_len);
			sum.range_end_len = sum.key_len;
			if (sum.range_end_len)
				sum.range_end[sum.range_end_len - 1]++;
		}
		if (sum.has_key &&
		    etcd_key_parse(sum.key, sum.key_len, sum.range_end, sum.range_end_len, NULL, &ki) == 0)
			etcd_key_resource_string(&ki, want, sizeof(want));
		etcd_record_init(&rec);
		etcd_summary_to_record(&sum, "/etcdserverpb.KV/Range", &rec);
		assert_string_equal(rec.resource, want);
	}
}

/* etcd_decode_to_record (the assembler's one pass) fills a record exactly as etcd_decode_prefix then
 * etcd_summary_to_record and the resource/group split do: the same return code, counters and fields, for
 * messages of every op cut at every length, bytes flipped at random, unknown and odd methods, keys past
 * the buffers, in an order that exercises the resource memo; and again for the same message (the message
 * memo's answer: the bytes are those of another buffer). */
static void decode_to_record_once(const char *method, size_t mlen, const uint8_t *msg, size_t len, bool cut,
				  const struct etcd_record *want, int rc1, enum etcd_op want_op,
				  const struct etcd_decode_counters *c1)
{
	struct etcd_decode_counters c2 = { 0 };
	struct etcd_record got;
	enum etcd_op op = ETCD_OP_OTHER;
	int rc2;

	etcd_record_init(&got);
	memset(got.method, 'x', sizeof(got.method) - 1); /* stale bytes behind the strings' first bytes */
	memset(got.key, 'x', sizeof(got.key) - 1);
	memset(got.resource, 'x', sizeof(got.resource) - 1);
	etcd_record_init_fast(&got);
	rc2 = etcd_decode_to_record(etcd_method_find(method, mlen), method, mlen, msg, len, cut, &got, &op, &c2);
	assert_int_equal(rc2, rc1);
	assert_int_equal(op, want_op);
	assert_memory_equal(&c2, c1, sizeof(*c1));
	assert_string_equal(got.method, want->method);
	assert_string_equal(got.op, want->op);
	assert_int_equal(got.key_len, want->key_len);
	assert_memory_equal(got.key, want->key, want->key_len + 1);
	assert_int_equal(got.range_end_len, want->range_end_len);
	assert_memory_equal(got.range_end, want->range_end, want->range_end_len + 1);
	assert_int_equal(got.key_truncated, want->key_truncated);
	assert_int_equal(got.limit, want->limit);
	assert_int_equal(got.count_only, want->count_only);
	assert_int_equal(got.keys_only, want->keys_only);
	assert_string_equal(got.resource, want->resource);
	assert_string_equal(got.group, want->group);
}

static void expect_same_record(const char *method, size_t mlen, const uint8_t *msg, size_t len, bool cut)
{
	struct etcd_decode_counters c1 = { 0 };
	struct etcd_req_summary sum;
	struct etcd_record want;
	char mstr[128];
	uint8_t copy[4096];
	int rc1;
	char *dot;

	assert_true(mlen < sizeof(mstr));
	memcpy(mstr, method, mlen);
	mstr[mlen] = 0;
	rc1 = etcd_decode_prefix(mstr, mlen, msg, len, cut, &sum, &c1);
	etcd_record_init(&want);
	etcd_summary_to_record(&sum, mstr, &want);
	dot = strchr(want.resource, '.');
	if (dot) {
		str_copy(want.group, sizeof(want.group), dot + 1);
		*dot = 0;
	}
	decode_to_record_once(method, mlen, msg, len, cut, &want, rc1, sum.op, &c1);
	assert_true(len <= sizeof(copy));
	if (len)
		memcpy(copy, msg, len);
	decode_to_record_once(method, mlen, msg ? copy : NULL, len, cut, &want, rc1, sum.op, &c1);
}

static void test_decode_to_record_same(void **state)
{
	static const char *keys[] = {
		"/registry/configmaps/ns/a", "/registry/configmaps", "/registry/configmaps/ns",
		"/registry/leases.coordination.k8s.io/x/y", "/registry/apps/deployments/ns/d",
		"/registry/example.com/widgets/ns/w", "/registry/leases/kube-node-lease/n1", "/registry//", "", "/",
	};
	static const char *methods[] = {
		"/etcdserverpb.KV/Range", "/etcdserverpb.KV/Put", "/etcdserverpb.KV/DeleteRange", "/etcdserverpb.KV/Txn",
		"/etcdserverpb.Watch/Watch", "/etcdserverpb.KV/Compact", "/etcdserverpb.Lease/LeaseGrant",
		"/etcdserverpb.Auth/Authenticate", "/etcdserverpb.KV/Rang", "/nope", "",
	};
	char longkey[700];
	unsigned seed = 11;

	memset(longkey, 'k', sizeof(longkey) - 1);
	memcpy(longkey, "/registry/pods/ns/", 18);
	longkey[sizeof(longkey) - 1] = 0;
	for (int iter = 0; iter < 600; iter++) {
		const char *k = iter % 50 == 7 ? longkey : keys[(size_t)rand_r(&seed) % (sizeof(keys) / sizeof(keys[0]))];
		const char *method = methods[(size_t)rand_r(&seed) % (sizeof(methods) / sizeof(methods[0]))];
		M(m);
		M(sub);
		M(op);

		/* a message shaped for its method (Txn and Watch nest a key-bearing one), with every field */
		e_str(&sub, 1, k);
		e_str(&sub, 2, iter % 3 ? "/registry/configmaps/ns0" : k);
		e_uint(&sub, 3, (uint64_t)iter % 7);
		e_uint(&sub, 4, 200);
		e_uint(&sub, 8, iter % 2);
		e_uint(&sub, 9, iter % 5 == 0);
		if (strstr(method, "Txn")) {
			e_msg(&op, 1, &sub);
			e_msg(&m, 2, &op);
		} else if (strstr(method, "Watch")) {
			e_msg(&m, 1, &sub);
		} else {
			m = sub;
		}
		if (iter % 4 == 1) { /* a few bytes flipped: malformed varints, lengths, wire types */
			for (int f = 0; f < 3; f++)
				m.b[(size_t)rand_r(&seed) % m.n] ^= (uint8_t)(1u << (rand_r(&seed) % 8));
		}
		/* every length of it, as a prefix (cut) and as a whole message of that length */
		for (size_t n = 0; n <= m.n; n += 1 + (size_t)(iter % 3) * 7) {
			expect_same_record(method, strlen(method), m.b, n, n < m.n);
			expect_same_record(method, strlen(method), m.b, n, false);
		}
		expect_same_record(method, strlen(method), m.n ? m.b : NULL, 0, false);
	}
	/* the same bytes, or the same length, for methods with the same fields (Range, DeleteRange: the same
	 * key range, another op; Watch: a cancel), whole and cut, one after another */
	for (int i = 0; i < 2; i++) {
		static const uint8_t range[] = "\x0a\x03/ab\x12\x03/ac";
		static const uint8_t range2[] = "\x0a\x03/ab\x12\x03/ad\x18\x03"; /* limit 3 */
		static const uint8_t range3[] = "\x0a\x03/ab\x12\x03/ad\x18\x04"; /* the same length: limit 4 */
		static const uint8_t range4[] = "\x0a\x0c/registry/cm\x12\x01/"; /* another resource, */
		static const uint8_t range5[] = "\x0a\x0c/registry/cn\x12\x01/"; /* the same length */
		static const uint8_t cancel[] = "\x12\x02\x08\x05";

		expect_same_record("/etcdserverpb.KV/Range", 22, range, sizeof(range) - 1, false);
		expect_same_record("/etcdserverpb.KV/Range", 22, range2, sizeof(range2) - 1, false);
		expect_same_record("/etcdserverpb.KV/Range", 22, range3, sizeof(range3) - 1, false);
		expect_same_record("/etcdserverpb.KV/Range", 22, range4, sizeof(range4) - 1, false);
		expect_same_record("/etcdserverpb.KV/Range", 22, range5, sizeof(range5) - 1, false);
		expect_same_record("/etcdserverpb.KV/Range", 22, range, sizeof(range) - 1, false);
		expect_same_record("/etcdserverpb.KV/DeleteRange", 28, range, sizeof(range) - 1, false);
		expect_same_record("/etcdserverpb.KV/DeleteRange", 28, range, sizeof(range) - 1, true);
		expect_same_record("/etcdserverpb.KV/Range", 22, range, sizeof(range) - 1, true);
		expect_same_record("/etcdserverpb.KV/Range", 22, range, sizeof(range) - 3, true);
		expect_same_record("/etcdserverpb.KV/Range", 22, range, sizeof(range) - 3, false);
		expect_same_record("/etcdserverpb.Watch/Watch", 25, cancel, sizeof(cancel) - 1, false);
		expect_same_record("/etcdserverpb.Watch/Watch", 25, range, sizeof(range) - 1, false);
	}
	/* a method with a NUL inside (the record's method stops there) and one that is a table method's prefix */
	expect_same_record("/etcdserverpb.KV/Range\0xyz", 26, (const uint8_t *)"\x0a\x01/", 3, false);
	expect_same_record("/etcdserverpb.KV/Range", 17, (const uint8_t *)"\x0a\x01/", 3, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_method_table),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_binary_key_and_truncation),
		cmocka_unit_test(test_put_delete),
		cmocka_unit_test(test_txn),
		cmocka_unit_test(test_txn_depth),
		cmocka_unit_test(test_lease_compact_watch),
		cmocka_unit_test(test_auth_not_decoded),
		cmocka_unit_test(test_errors_counted),
		cmocka_unit_test(test_unframe_and_record),
		cmocka_unit_test(test_prefix_cut_at_value),
		cmocka_unit_test(test_resource_of_every_key),
		cmocka_unit_test(test_decode_to_record_same),
	};
	return cmocka_run_group_tests_name("etcd_request", tests, NULL, NULL);
}
