// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "etcd/etcd_request.h"

#include <stdio.h>
#include <string.h>

#include "etcd/etcd_key.h"
#include "util/strbuf.h"

#define M(m, o, n) { .method = m, .name = n, .len = sizeof(m) - 1, .name_len = sizeof(n) - 1, .op = o }
#define MS(m, o, n) { .method = m, .name = n, .len = sizeof(m) - 1, .name_len = sizeof(n) - 1, .op = o, .stream = true }
_Static_assert(sizeof(((struct etcd_record *)0)->method) >= ETCD_METHOD_CAP, "etcd_record.method holds a table method");
_Static_assert(sizeof(((struct etcd_record *)0)->op) == sizeof(((struct etcd_req_summary *)0)->op_name),
	       "etcd_record.op holds an op name");
_Static_assert(sizeof(((struct etcd_method *)0)->name) == sizeof(((struct etcd_req_summary *)0)->op_name),
	       "etcd_method.name is an op name");

/* Service methods of etcdserverpb (api/etcdserverpb/rpc.proto); MS: the client streams. */
static const struct etcd_method methods[] = {
	M("/etcdserverpb.KV/Range", ETCD_OP_RANGE, "range"),
	M("/etcdserverpb.KV/Put", ETCD_OP_PUT, "put"),
	M("/etcdserverpb.KV/DeleteRange", ETCD_OP_DELETE_RANGE, "delete_range"),
	M("/etcdserverpb.KV/Txn", ETCD_OP_TXN, "txn"),
	M("/etcdserverpb.KV/Compact", ETCD_OP_COMPACT, "compact"),
	MS("/etcdserverpb.Watch/Watch", ETCD_OP_WATCH, "watch"),
	M("/etcdserverpb.Lease/LeaseGrant", ETCD_OP_LEASE_GRANT, "lease_grant"),
	M("/etcdserverpb.Lease/LeaseRevoke", ETCD_OP_LEASE_REVOKE, "lease_revoke"),
	MS("/etcdserverpb.Lease/LeaseKeepAlive", ETCD_OP_LEASE_KEEPALIVE, "lease_keepalive"),
	M("/etcdserverpb.Lease/LeaseTimeToLive", ETCD_OP_LEASE_TIMETOLIVE, "lease_timetolive"),
	M("/etcdserverpb.Lease/LeaseLeases", ETCD_OP_LEASE_LEASES, "lease_leases"),
	M("/etcdserverpb.Cluster/MemberAdd", ETCD_OP_OTHER, "member_add"),
	M("/etcdserverpb.Cluster/MemberRemove", ETCD_OP_OTHER, "member_remove"),
	M("/etcdserverpb.Cluster/MemberUpdate", ETCD_OP_OTHER, "member_update"),
	M("/etcdserverpb.Cluster/MemberList", ETCD_OP_OTHER, "member_list"),
	M("/etcdserverpb.Cluster/MemberPromote", ETCD_OP_OTHER, "member_promote"),
	M("/etcdserverpb.Maintenance/Alarm", ETCD_OP_OTHER, "alarm"),
	M("/etcdserverpb.Maintenance/Status", ETCD_OP_OTHER, "status"),
	M("/etcdserverpb.Maintenance/Defragment", ETCD_OP_OTHER, "defragment"),
	M("/etcdserverpb.Maintenance/Hash", ETCD_OP_OTHER, "hash"),
	M("/etcdserverpb.Maintenance/HashKV", ETCD_OP_OTHER, "hash_kv"),
	MS("/etcdserverpb.Maintenance/Snapshot", ETCD_OP_OTHER, "snapshot"),
	M("/etcdserverpb.Maintenance/MoveLeader", ETCD_OP_OTHER, "move_leader"),
	M("/etcdserverpb.Maintenance/Downgrade", ETCD_OP_OTHER, "downgrade"),
	M("/etcdserverpb.Auth/AuthEnable", ETCD_OP_OTHER, "auth_enable"),
	M("/etcdserverpb.Auth/AuthDisable", ETCD_OP_OTHER, "auth_disable"),
	M("/etcdserverpb.Auth/AuthStatus", ETCD_OP_OTHER, "auth_status"),
	M("/etcdserverpb.Auth/Authenticate", ETCD_OP_OTHER, "authenticate"),
	M("/etcdserverpb.Auth/UserAdd", ETCD_OP_OTHER, "user_add"),
	M("/etcdserverpb.Auth/UserGet", ETCD_OP_OTHER, "user_get"),
	M("/etcdserverpb.Auth/UserList", ETCD_OP_OTHER, "user_list"),
	M("/etcdserverpb.Auth/UserDelete", ETCD_OP_OTHER, "user_delete"),
	M("/etcdserverpb.Auth/UserChangePassword", ETCD_OP_OTHER, "user_change_password"),
	M("/etcdserverpb.Auth/UserGrantRole", ETCD_OP_OTHER, "user_grant_role"),
	M("/etcdserverpb.Auth/UserRevokeRole", ETCD_OP_OTHER, "user_revoke_role"),
	M("/etcdserverpb.Auth/RoleAdd", ETCD_OP_OTHER, "role_add"),
	M("/etcdserverpb.Auth/RoleGet", ETCD_OP_OTHER, "role_get"),
	M("/etcdserverpb.Auth/RoleList", ETCD_OP_OTHER, "role_list"),
	M("/etcdserverpb.Auth/RoleDelete", ETCD_OP_OTHER, "role_delete"),
	M("/etcdserverpb.Auth/RoleGrantPermission", ETCD_OP_OTHER, "role_grant_permission"),
	M("/etcdserverpb.Auth/RoleRevokePermission", ETCD_OP_OTHER, "role_revoke_permission"),
};

/* str_copy for a source of known length (n bytes, no NUL among them) */
static void copy_known(char *dst, size_t cap, const char *src, size_t n)
{
	if (!cap)
		return;
	if (n > cap - 1)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

static void set_name(char *dst, size_t n, const char *src)
{
	str_copy(dst, n, src);
}

/* Every byte of op_name (NUL-padded): it is copied whole into records. */
static void op_name_set(struct etcd_req_summary *s, const char *name)
{
	memset(s->op_name, 0, sizeof(s->op_name));
	str_copy(s->op_name, sizeof(s->op_name), name);
}

/* Lengths first: one byte compare an entry. */
const struct etcd_method *etcd_method_find(const char *method, size_t len)
{
	if (!method)
		return NULL;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (methods[i].len == len && mem_eq_short(methods[i].method, method, len))
			return &methods[i];
	return NULL;
}

enum etcd_op etcd_method_op(const char *method, size_t len, char *op_name, size_t op_name_size)
{
	const struct etcd_method *m = etcd_method_find(method, len);

	if (!m) {
		set_name(op_name, op_name_size, "unknown");
		return ETCD_OP_UNKNOWN;
	}
	copy_known(op_name, op_name_size, m->name, m->name_len);
	return m->op;
}

/* A key range seen in the message: views into the input, copied out at the end. */
struct kview {
	bool found;
	const uint8_t *key;
	size_t key_len;
	const uint8_t *end;
	size_t end_len;
	bool key_cut, end_cut; /* the prefix ended inside the key / range_end */
	int64_t limit;
	bool count_only, keys_only;
	int64_t revision;
	int64_t lease;
};

static void kview_init(struct kview *k)
{
	memset(k, 0, sizeof(*k));
	k->limit = -1;
}

static int want(const struct pb_field *f, enum pb_wire wt)
{
	return f->wt == wt ? PB_OK : PB_EWRONGTYPE;
}

#define NEXT_OR_RETURN(r, f, rc)                                                                             \
	do {                                                                                                 \
		rc = pb_next(r, f);                                                                          \
		if (rc <= 0)                                                                                 \
			return rc;                                                                           \
	} while (0)

/*
 * Generic reader for the key-bearing messages. fields: which field number holds what.
 * RangeRequest:       key=1 range_end=2 limit=3 revision=4 keys_only=8 count_only=9
 * PutRequest:         key=1 (value=2 skipped) lease=3
 * DeleteRangeRequest: key=1 range_end=2
 * WatchCreateRequest: key=1 range_end=2 start_revision=3
 * Compare:            key=3 range_end=64
 */
struct kfields {
	uint32_t key, range_end, limit, revision, keys_only, count_only, lease;
};
static const struct kfields F_RANGE = { 1, 2, 3, 4, 8, 9, 0 };
static const struct kfields F_PUT = { 1, 0, 0, 0, 0, 0, 3 };
static const struct kfields F_DELETE = { 1, 2, 0, 0, 0, 0, 0 };
static const struct kfields F_WATCH_CREATE = { 1, 2, 0, 3, 0, 0, 0 };
static const struct kfields F_COMPARE = { 3, 64, 0, 0, 0, 0, 0 };

static int read_keyed(struct pb_reader *r, const struct kfields *fd, struct kview *k)
{
	struct pb_field f;
	int rc;

	k->found = true;
	for (;;) {
		NEXT_OR_RETURN(r, &f, rc);
		if (f.num == fd->key || (fd->range_end && f.num == fd->range_end)) {
			if ((rc = want(&f, PB_WT_LEN)))
				return rc;
			if (f.num == fd->key) {
				k->key = f.data;
				k->key_len = f.len;
				k->key_cut = f.cut;
			} else {
				k->end = f.data;
				k->end_len = f.len;
				k->end_cut = f.cut;
			}
		} else if (fd->limit && f.num == fd->limit) {
			if ((rc = want(&f, PB_WT_VARINT)))
				return rc;
			k->limit = (int64_t)f.u;
		} else if (fd->revision && f.num == fd->revision) {
			if ((rc = want(&f, PB_WT_VARINT)))
				return rc;
			k->revision = (int64_t)f.u;
		} else if (fd->lease && f.num == fd->lease) {
			if ((rc = want(&f, PB_WT_VARINT)))
				return rc;
			k->lease = (int64_t)f.u;
		} else if (fd->keys_only && f.num == fd->keys_only) {
			if ((rc = want(&f, PB_WT_VARINT)))
				return rc;
			k->keys_only = f.u != 0;
		} else if (fd->count_only && f.num == fd->count_only) {
			if ((rc = want(&f, PB_WT_VARINT)))
				return rc;
			k->count_only = f.u != 0;
		}
		/* anything else (PutRequest.value, Compare.value, ...) is skipped unread */
	}
}

static int read_txn(struct pb_reader *r, struct kview *out, struct etcd_req_summary *s);

/* RequestOp: oneof request_range=1 request_put=2 request_delete_range=3 request_txn=4 */
static int read_request_op(struct pb_reader *r, struct kview *k)
{
	struct pb_field f;
	struct pb_reader sub;
	int rc;

	for (;;) {
		NEXT_OR_RETURN(r, &f, rc);
		if (f.num < 1 || f.num > 4)
			continue;
		if ((rc = pb_enter(r, &f, &sub)))
			return rc;
		/* oneof: the last one on the wire wins */
		kview_init(k);
		switch (f.num) {
		case 1: rc = read_keyed(&sub, &F_RANGE, k); break;
		case 2: rc = read_keyed(&sub, &F_PUT, k); break;
		case 3: rc = read_keyed(&sub, &F_DELETE, k); break;
		default: rc = read_txn(&sub, k, NULL); break;
		}
		if (rc < 0)
			return rc;
	}
}

/* TxnRequest: compare=1 success=2 failure=3. The key is the first compare's, else the first success op's,
 * else the first failure op's. s (top level only) gets the counts. */
static int read_txn(struct pb_reader *r, struct kview *out, struct etcd_req_summary *s)
{
	struct kview cmp, succ, fail;
	uint32_t n[4] = { 0 };
	struct pb_field f;
	struct pb_reader sub;
	int rc;

	kview_init(&cmp);
	kview_init(&succ);
	kview_init(&fail);
	for (;;) {
		rc = pb_next(r, &f);
		if (rc <= 0)
			break;
		if (f.num < 1 || f.num > 3)
			continue;
		n[f.num]++;
		if ((rc = pb_enter(r, &f, &sub)))
			break;
		if (n[f.num] != 1)
			continue; /* only the first of each list is decoded; the rest is bounds-checked and skipped */
		if (f.num == 1)
			rc = read_keyed(&sub, &F_COMPARE, &cmp);
		else
			rc = read_request_op(&sub, f.num == 2 ? &succ : &fail);
		if (rc < 0)
			break;
	}
	if (s) {
		s->n_compare = n[1];
		s->n_success = n[2];
		s->n_failure = n[3];
	}
	*out = cmp.found ? cmp : succ.found ? succ : fail;
	if (!cmp.found && !succ.found && !fail.found)
		out->found = false;
	return rc;
}

static size_t copy_bytes(uint8_t *dst, const uint8_t *src, size_t len, bool *truncated)
{
	size_t n = len;

	if (n > ETCD_KEY_MAX - 1) {
		n = ETCD_KEY_MAX - 1;
		*truncated = true;
	}
	if (n)
		memcpy(dst, src, n);
	dst[n] = 0;
	return n;
}

static void apply_kview(const struct kview *k, struct etcd_req_summary *s)
{
	if (!k->found)
		return;
	if (k->key) {
		s->has_key = true;
		s->key_len = copy_bytes(s->key, k->key, k->key_len, &s->key_truncated);
		s->key_truncated |= k->key_cut;
	}
	if (k->end) {
		s->range_end_len = copy_bytes(s->range_end, k->end, k->end_len, &s->range_end_truncated);
		s->range_end_truncated |= k->end_cut;
	}
	s->limit = k->limit;
	s->count_only = k->count_only;
	s->keys_only = k->keys_only;
}

/* Messages with only int64 fields: LeaseGrant TTL=1 ID=2; LeaseRevoke/KeepAlive/TimeToLive ID=1;
 * Compaction revision=1. */
static int read_ints(struct pb_reader *r, int64_t *f1, int64_t *f2)
{
	struct pb_field f;
	int rc;

	for (;;) {
		NEXT_OR_RETURN(r, &f, rc);
		if ((f.num == 1 && f1) || (f.num == 2 && f2)) {
			if ((rc = want(&f, PB_WT_VARINT)))
				return rc;
			*(f.num == 1 ? f1 : f2) = (int64_t)f.u;
		}
	}
}

/* WatchRequest: oneof create_request=1 cancel_request=2 progress_request=3 */
static int read_watch(struct pb_reader *r, struct kview *k, struct etcd_req_summary *s)
{
	struct pb_field f;
	struct pb_reader sub;
	int rc;

	for (;;) {
		NEXT_OR_RETURN(r, &f, rc);
		if (f.num < 1 || f.num > 3)
			continue;
		if ((rc = pb_enter(r, &f, &sub)))
			return rc;
		kview_init(k);
		if (f.num == 1) {
			s->op = ETCD_OP_WATCH;
			op_name_set(s, "watch");
			if ((rc = read_keyed(&sub, &F_WATCH_CREATE, k)) < 0)
				return rc;
		} else if (f.num == 2) {
			s->op = ETCD_OP_WATCH_CANCEL;
			op_name_set(s, "watch_cancel");
		} else {
			s->op = ETCD_OP_WATCH_PROGRESS;
			op_name_set(s, "watch_progress");
		}
	}
}

/* Every field but the key range's. */
static void summary_init(struct etcd_req_summary *s)
{
	s->op = ETCD_OP_UNKNOWN;
	s->op_name[0] = 0;
	s->limit = -1;
	s->count_only = false;
	s->keys_only = false;
	s->revision = 0;
	s->lease_id = 0;
	s->ttl = 0;
	s->n_compare = s->n_success = s->n_failure = 0;
	s->partial = false;
	s->cut = false;
}

/* The decode proper, for method m (NULL: unknown): out's fields but the key range (not even initialised),
 * which is left in *k (views into msg). *mp gets the
 * method's table entry (NULL when unknown). */
static int decode(const struct etcd_method *m, const uint8_t *msg, size_t len, bool cut, struct etcd_req_summary *out,
		  struct kview *k, struct etcd_decode_counters *c)
{
	struct pb_reader r;
	int rc = 0;

	summary_init(out);
	kview_init(k);
	if (!m) {
		op_name_set(out, "unknown");
		if (c)
			c->unknown_method++;
		return 1;
	}
	out->op = m->op;
	memcpy(out->op_name, m->name, sizeof(out->op_name));
	if (cut)
		pb_init_prefix(&r, msg, msg ? len : 0);
	else
		pb_init(&r, msg, msg ? len : 0);
	out->cut = cut;
	switch (out->op) {
	case ETCD_OP_RANGE: rc = read_keyed(&r, &F_RANGE, k); break;
	case ETCD_OP_PUT: rc = read_keyed(&r, &F_PUT, k); break;
	case ETCD_OP_DELETE_RANGE: rc = read_keyed(&r, &F_DELETE, k); break;
	case ETCD_OP_TXN: rc = read_txn(&r, k, out); break;
	case ETCD_OP_WATCH: rc = read_watch(&r, k, out); break;
	case ETCD_OP_COMPACT: rc = read_ints(&r, &out->revision, NULL); break;
	case ETCD_OP_LEASE_GRANT: rc = read_ints(&r, &out->ttl, &out->lease_id); break;
	case ETCD_OP_LEASE_REVOKE:
	case ETCD_OP_LEASE_KEEPALIVE:
	case ETCD_OP_LEASE_TIMETOLIVE: rc = read_ints(&r, &out->lease_id, NULL); break;
	default: break; /* LeaseLeases (empty), Cluster, Maintenance, Auth: never decoded (auth carries passwords) */
	}
	if (k->found && k->revision)
		out->revision = k->revision;
	if (k->found && k->lease)
		out->lease_id = k->lease;
	if (rc < 0) {
		out->partial = true;
		if (c) {
			c->errors++;
			if (-rc < PB_NERR)
				c->by_error[-rc]++;
		}
		return rc;
	}
	if (c)
		c->decoded++;
	return 0;
}

int etcd_decode_request(const char *method, size_t method_len, const uint8_t *msg, size_t len,
			struct etcd_req_summary *out, struct etcd_decode_counters *c)
{
	return etcd_decode_prefix(method, method_len, msg, len, false, out, c);
}

int etcd_decode_prefix(const char *method, size_t method_len, const uint8_t *msg, size_t len, bool cut,
		       struct etcd_req_summary *out, struct etcd_decode_counters *c)
{
	struct kview k;
	int rc;

	/* every byte: callers may keep or scan the whole summary, and no stale stack bytes (from anywhere)
	 * are to be found in it (the record path, etcd_decode_to_record, needs no such clearing) */
	memset(out, 0, sizeof(*out));
	rc = decode(etcd_method_find(method, method_len), msg, len, cut, out, &k, c);
	apply_kview(&k, out);
	return rc;
}

int etcd_grpc_unframe(const uint8_t *buf, size_t len, const uint8_t **msg, size_t *msg_len, bool *cut,
		      struct etcd_decode_counters *c)
{
	uint32_t n;

	*msg = NULL;
	*msg_len = 0;
	*cut = false;
	if (!buf || len < 5 || buf[0] > 1) {
		if (c)
			c->bad_frame++;
		return -1;
	}
	if (buf[0] == 1) {
		if (c)
			c->compressed++;
		return -1;
	}
	n = (uint32_t)buf[1] << 24 | (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 8 | buf[4];
	*msg = buf + 5;
	if (n > len - 5) {
		*cut = true;
		*msg_len = len - 5;
	} else {
		*msg_len = n;
	}
	return 0;
}

/* The resource a key names depends only on its first two segments under the storage prefix
 * (etcd_key_parse): the bytes before the key's fourth '/' (its head). The previous key's answer is reused
 * when its head is the same, as it is for the calls made for one resource (~600 instructions each). */
#define RES_MEMO_HEAD 160
static _Thread_local struct {
	bool valid;
	bool slash3; /* head holds three '/': a key that goes on past it with a '/' has the same head */
	uint16_t len;
	uint16_t resource_len;
	uint16_t dot; /* the resource's first '.' (its group's start - 1), resource_len when none */
	char head[RES_MEMO_HEAD];
	char resource[REC_FIELD_LEN];
} res_memo;

static size_t key_head(const uint8_t *key, size_t len)
{
	const uint8_t *p = key, *end = key + len;

	for (int n = 1;; n++) {
		const uint8_t *slash = p < end ? memchr(p, '/', (size_t)(end - p)) : NULL;

		if (!slash)
			return len;
		if (n == 4)
			return (size_t)(slash - key);
		p = slash + 1;
	}
}

/* key_head(key, len) == res_memo.len and the bytes before it are the memo's, without looking for the
 * key's slashes: the memo's head is the key's when the key starts with it and ends there or goes on with
 * the head's fourth '/'. */
static bool memo_hit(const uint8_t *key, size_t len)
{
	size_t h = res_memo.len;

	return res_memo.valid && len >= h && (len == h || (res_memo.slash3 && key[h] == '/')) &&
	       mem_eq_short(res_memo.head, (const char *)key, h);
}

/* The key's resource into resource (cap bytes, REC_FIELD_LEN): returns its length; *dot gets the position
 * of its first '.' (the length when there is none). */
static size_t key_resource(bool has_key, const uint8_t *key, size_t key_len, const uint8_t *end, size_t end_len,
			   char *resource, size_t cap, size_t *dot)
{
	struct etcd_key_info ki;
	const char *d;
	size_t h, n = 0;

	_Static_assert(sizeof(res_memo.resource) == REC_FIELD_LEN, "the memo's resource fits a record's");
	resource[0] = 0;
	*dot = 0;
	if (!has_key)
		return 0;
	if (cap == sizeof(res_memo.resource) && memo_hit(key, key_len)) {
		n = res_memo.resource_len;
		if (n < 32)
			memcpy(resource, res_memo.resource, 32); /* fixed size: no call (the NUL is among them) */
		else
			memcpy(resource, res_memo.resource, n + 1);
		*dot = res_memo.dot;
		return n;
	}
	if (etcd_key_parse(key, key_len, end, end_len, NULL, &ki) == 0)
		n = etcd_key_resource_string(&ki, resource, cap);
	d = memchr(resource, '.', n);
	*dot = d ? (size_t)(d - resource) : n;
	h = key_head(key, key_len);
	if (h <= sizeof(res_memo.head) && cap == sizeof(res_memo.resource)) {
		memcpy(res_memo.head, key, h);
		res_memo.len = (uint16_t)h;
		res_memo.slash3 = h < key_len; /* the fourth '/' is at h */
		memcpy(res_memo.resource, resource, n + 1);
		res_memo.resource_len = (uint16_t)n;
		res_memo.dot = (uint16_t)*dot;
		res_memo.valid = true;
	}
	return n;
}

/* The record's key range and its flags; key and end are copied in, cut to the record's buffers (inline
 * copies: keys are mostly a few dozen bytes). Inlined: its two callers pass most arguments as constants
 * or from one struct. */
static inline __attribute__((always_inline)) void fill_range(struct etcd_record *rec, const uint8_t *key,
							     size_t key_len, const uint8_t *end, size_t end_len,
							     bool truncated, int64_t limit, bool count_only,
							     bool keys_only)
{
	size_t n;

	n = key_len < sizeof(rec->key) - 1 ? key_len : sizeof(rec->key) - 1;
	mem_copy_short(rec->key, (const char *)key, n);
	rec->key[n] = 0;
	rec->key_len = (uint16_t)n;
	n = end_len < sizeof(rec->range_end) - 1 ? end_len : sizeof(rec->range_end) - 1;
	mem_copy_short(rec->range_end, (const char *)end, n);
	rec->range_end[n] = 0;
	rec->range_end_len = (uint16_t)n;
	rec->key_truncated = truncated;
	rec->limit = limit;
	rec->count_only = count_only;
	rec->keys_only = keys_only;
}

/* fill_range, then the resource the key names. Returns the resource's length; *dot gets its first '.'
 * (the length when none). */
static inline __attribute__((always_inline)) size_t fill_record(struct etcd_record *rec, bool has_key,
							       const uint8_t *key, size_t key_len,
							       const uint8_t *end, size_t end_len, bool truncated,
							       int64_t limit, bool count_only, bool keys_only,
							       size_t *dot)
{
	fill_range(rec, key, key_len, end, end_len, truncated, limit, count_only, keys_only);
	return key_resource(has_key, (const uint8_t *)rec->key, rec->key_len, (const uint8_t *)rec->range_end,
			    rec->range_end_len, rec->resource, sizeof(rec->resource), dot);
}

void etcd_summary_to_record(const struct etcd_req_summary *s, const char *method, struct etcd_record *rec)
{
	size_t dot;

	str_copy(rec->method, sizeof(rec->method), method ? method : "");
	str_copy(rec->op, sizeof(rec->op), s->op_name);
	fill_record(rec, s->has_key, s->key, s->key_len, s->range_end, s->range_end_len,
		    s->key_truncated || s->range_end_truncated, s->limit, s->count_only, s->keys_only, &dot);
}

/*
 * The last message etcd_decode_to_record decoded and, when it came twice in a row, what it gave, so that
 * the same message again (the same list or get made over and over: a client's polling, a controller's
 * relists) is not decoded again: its bytes are compared, the key range is copied from the message at the
 * offsets the decode found, the rest from here. A message seen once keeps only its bytes: most messages
 * are not repeated, and keeping all a decode gave costs more than that. A repeated message costs less
 * than half its decode; one unlike the last, a few dozen instructions more (the compare and the copy).
 * Only messages decoded without error are kept: a value-free prefix (the probe's copy stops before
 * values), never a message of a method not decoded (msg_memo_keep).
 */
#define MSG_MEMO_MAX 256
static _Thread_local struct {
	const struct etcd_method *m; /* NULL: empty */
	uint16_t len;
	bool cut;
	bool known; /* the fields below are what msg gave (else only msg is) */
	enum etcd_op op;
	bool has_key, has_end, trunc, count_only, keys_only;
	uint16_t key_off, key_len, end_off, end_len; /* in msg, cut to ETCD_KEY_MAX - 1 bytes */
	uint16_t resource_len, group_len;
	int64_t limit;
	char op_name[24];
	uint8_t msg[MSG_MEMO_MAX];
	char resource[REC_FIELD_LEN]; /* the record's resource and group (split) */
	char group[REC_FIELD_LEN];
} msg_memo;

/* msg is the memo's message. Its last 8 bytes first: two messages of one length mostly differ there (the
 * object's name, the range's end), not in the fields' tags and the keys' common head. */
static bool msg_memo_same(const struct etcd_method *m, const uint8_t *msg, size_t len, bool cut)
{
	uint64_t x, y;

	if (!m || msg_memo.m != m || msg_memo.len != len || msg_memo.cut != cut)
		return false;
	if (len >= 8) {
		memcpy(&x, msg_memo.msg + len - 8, 8);
		memcpy(&y, msg + len - 8, 8);
		if (x != y)
			return false;
	}
	return !memcmp(msg_memo.msg, msg, len); /* messages are longer than mem_eq_short's strings: AVX2 */
}

/* msg (decoded without error) becomes the memo's message, what it gave unknown. Never the message of a
 * method that is not decoded (Auth carries passwords; Cluster, Maintenance): nothing to save there, and
 * its bytes are not to outlive the call. */
static void msg_memo_keep(const struct etcd_method *m, const uint8_t *msg, size_t len, bool cut)
{
	msg_memo.m = NULL;
	if (!m || m->op == ETCD_OP_OTHER || !msg || len > sizeof(msg_memo.msg))
		return;
	mem_copy_short((char *)msg_memo.msg, (const char *)msg, len);
	msg_memo.len = (uint16_t)len;
	msg_memo.cut = cut;
	msg_memo.known = false;
	msg_memo.m = m;
}

/* A string of n bytes and its NUL into dst (both buffers REC_FIELD_LEN): the short ones by a fixed-size
 * copy, inline. */
static inline void field_copy(char *dst, const char *src, size_t n)
{
	if (n < 32)
		memcpy(dst, src, 32);
	else
		memcpy(dst, src, n + 1);
}

/* rec was decoded (s: its summary) from msg, the memo's message (key and end: its key range's views into
 * msg, trunc: cut); its resource and group are resource_len and group_len bytes long. */
static void msg_memo_store(const uint8_t *msg, const struct etcd_req_summary *s, const struct etcd_record *rec,
			   const uint8_t *key, const uint8_t *end, bool trunc, size_t resource_len, size_t group_len)
{
	_Static_assert(sizeof(msg_memo.op_name) == sizeof(rec->op), "the memo's op name is a record's");
	_Static_assert(MSG_MEMO_MAX <= UINT16_MAX && sizeof(msg_memo.resource) == sizeof(rec->resource) &&
			       sizeof(msg_memo.group) == sizeof(rec->group),
		       "the memo holds a record's resource and group");
	msg_memo.op = s->op;
	memcpy(msg_memo.op_name, s->op_name, sizeof(msg_memo.op_name));
	msg_memo.has_key = key != NULL;
	msg_memo.key_off = key ? (uint16_t)(key - msg) : 0;
	msg_memo.key_len = rec->key_len;
	msg_memo.has_end = end != NULL;
	msg_memo.end_off = end ? (uint16_t)(end - msg) : 0;
	msg_memo.end_len = rec->range_end_len;
	msg_memo.trunc = trunc;
	msg_memo.limit = rec->limit;
	msg_memo.count_only = rec->count_only;
	msg_memo.keys_only = rec->keys_only;
	msg_memo.resource_len = (uint16_t)resource_len;
	field_copy(msg_memo.resource, rec->resource, resource_len);
	msg_memo.group_len = (uint16_t)group_len;
	field_copy(msg_memo.group, rec->group, group_len);
	msg_memo.known = true;
}

/* The record msg_memo's message gave, from msg (the same bytes). */
static void msg_memo_fill(const uint8_t *msg, struct etcd_record *rec)
{
	memcpy(rec->method, msg_memo.m->method, sizeof(msg_memo.m->method));
	memcpy(rec->op, msg_memo.op_name, sizeof(rec->op));
	fill_range(rec, msg_memo.has_key ? msg + msg_memo.key_off : NULL, msg_memo.key_len,
		   msg_memo.has_end ? msg + msg_memo.end_off : NULL, msg_memo.end_len, msg_memo.trunc, msg_memo.limit,
		   msg_memo.count_only, msg_memo.keys_only);
	field_copy(rec->resource, msg_memo.resource, msg_memo.resource_len);
	if (msg_memo.group_len)
		field_copy(rec->group, msg_memo.group, msg_memo.group_len);
}

int etcd_decode_to_record(const struct etcd_method *m, const char *method, size_t method_len, const uint8_t *msg,
			  size_t len, bool cut, struct etcd_record *rec, enum etcd_op *op, struct etcd_decode_counters *c)
{
	struct etcd_req_summary s; /* its fixed fields only: the key range stays a view into msg */
	struct kview k;
	int rc;
	const uint8_t *key = NULL, *end = NULL;
	size_t key_len = 0, end_len = 0, rlen, dot;
	bool trunc = false, same = msg_memo_same(m, msg, len, cut);

	if (same && msg_memo.known) {
		msg_memo_fill(msg, rec);
		if (c)
			c->decoded++;
		if (op)
			*op = msg_memo.op;
		return 0;
	}
	rc = decode(m, msg, len, cut, &s, &k, c);
	if (m)
		memcpy(rec->method, m->method, sizeof(m->method));
	else
		str_copyn(rec->method, sizeof(rec->method), method ? method : "", method ? method_len : 0);
	memcpy(rec->op, s.op_name, sizeof(rec->op)); /* NUL-padded by decode() */
	if (k.found) {
		/* as apply_kview then etcd_summary_to_record: cut to ETCD_KEY_MAX - 1 bytes, then to the record's */
		key = k.key;
		key_len = key ? k.key_len : 0;
		end = k.end;
		end_len = end ? k.end_len : 0;
		trunc = (key && (k.key_len > ETCD_KEY_MAX - 1 || k.key_cut)) ||
			(end && (k.end_len > ETCD_KEY_MAX - 1 || k.end_cut));
		if (key_len > ETCD_KEY_MAX - 1)
			key_len = ETCD_KEY_MAX - 1;
		if (end_len > ETCD_KEY_MAX - 1)
			end_len = ETCD_KEY_MAX - 1;
		s.limit = k.limit;
		s.count_only = k.count_only;
		s.keys_only = k.keys_only;
	}
	rlen = fill_record(rec, key != NULL, key, key_len, end, end_len, trunc, s.limit, s.count_only, s.keys_only,
			   &dot);
	/* "leases.coordination.k8s.io" -> resource "leases", group "coordination.k8s.io" (as in requests) */
	if (dot < rlen) {
		copy_known(rec->group, sizeof(rec->group), rec->resource + dot + 1, rlen - dot - 1);
		rec->resource[dot] = 0;
	}
	if (op)
		*op = s.op;
	if (rc == 0 && same)
		msg_memo_store(msg, &s, rec, key, end, trunc, dot < rlen ? dot : rlen, dot < rlen ? rlen - dot - 1 : 0);
	else if (rc == 0)
		msg_memo_keep(m, msg, len, cut);
	return rc;
}
