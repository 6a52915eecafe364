// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "etcd/etcd_request.h"

#include <stdio.h>
#include <string.h>

#include "etcd/etcd_key.h"
#include "util/strbuf.h"

struct method_entry {
	const char *method;
	enum etcd_op op;
	const char *name;
};

/* Service methods of etcdserverpb (api/etcdserverpb/rpc.proto). */
static const struct method_entry methods[] = {
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
	{ "/etcdserverpb.Cluster/MemberAdd", ETCD_OP_OTHER, "member_add" },
	{ "/etcdserverpb.Cluster/MemberRemove", ETCD_OP_OTHER, "member_remove" },
	{ "/etcdserverpb.Cluster/MemberUpdate", ETCD_OP_OTHER, "member_update" },
	{ "/etcdserverpb.Cluster/MemberList", ETCD_OP_OTHER, "member_list" },
	{ "/etcdserverpb.Cluster/MemberPromote", ETCD_OP_OTHER, "member_promote" },
	{ "/etcdserverpb.Maintenance/Alarm", ETCD_OP_OTHER, "alarm" },
	{ "/etcdserverpb.Maintenance/Status", ETCD_OP_OTHER, "status" },
	{ "/etcdserverpb.Maintenance/Defragment", ETCD_OP_OTHER, "defragment" },
	{ "/etcdserverpb.Maintenance/Hash", ETCD_OP_OTHER, "hash" },
	{ "/etcdserverpb.Maintenance/HashKV", ETCD_OP_OTHER, "hash_kv" },
	{ "/etcdserverpb.Maintenance/Snapshot", ETCD_OP_OTHER, "snapshot" },
	{ "/etcdserverpb.Maintenance/MoveLeader", ETCD_OP_OTHER, "move_leader" },
	{ "/etcdserverpb.Maintenance/Downgrade", ETCD_OP_OTHER, "downgrade" },
	{ "/etcdserverpb.Auth/AuthEnable", ETCD_OP_OTHER, "auth_enable" },
	{ "/etcdserverpb.Auth/AuthDisable", ETCD_OP_OTHER, "auth_disable" },
	{ "/etcdserverpb.Auth/AuthStatus", ETCD_OP_OTHER, "auth_status" },
	{ "/etcdserverpb.Auth/Authenticate", ETCD_OP_OTHER, "authenticate" },
	{ "/etcdserverpb.Auth/UserAdd", ETCD_OP_OTHER, "user_add" },
	{ "/etcdserverpb.Auth/UserGet", ETCD_OP_OTHER, "user_get" },
	{ "/etcdserverpb.Auth/UserList", ETCD_OP_OTHER, "user_list" },
	{ "/etcdserverpb.Auth/UserDelete", ETCD_OP_OTHER, "user_delete" },
	{ "/etcdserverpb.Auth/UserChangePassword", ETCD_OP_OTHER, "user_change_password" },
	{ "/etcdserverpb.Auth/UserGrantRole", ETCD_OP_OTHER, "user_grant_role" },
	{ "/etcdserverpb.Auth/UserRevokeRole", ETCD_OP_OTHER, "user_revoke_role" },
	{ "/etcdserverpb.Auth/RoleAdd", ETCD_OP_OTHER, "role_add" },
	{ "/etcdserverpb.Auth/RoleGet", ETCD_OP_OTHER, "role_get" },
	{ "/etcdserverpb.Auth/RoleList", ETCD_OP_OTHER, "role_list" },
	{ "/etcdserverpb.Auth/RoleDelete", ETCD_OP_OTHER, "role_delete" },
	{ "/etcdserverpb.Auth/RoleGrantPermission", ETCD_OP_OTHER, "role_grant_permission" },
	{ "/etcdserverpb.Auth/RoleRevokePermission", ETCD_OP_OTHER, "role_revoke_permission" },
};

static void set_name(char *dst, size_t n, const char *src)
{
	str_copy(dst, n, src);
}

enum etcd_op etcd_method_op(const char *method, size_t len, char *op_name, size_t op_name_size)
{
	if (method) {
		for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
			if (strlen(methods[i].method) == len && memcmp(methods[i].method, method, len) == 0) {
				set_name(op_name, op_name_size, methods[i].name);
				return methods[i].op;
			}
		}
	}
	set_name(op_name, op_name_size, "unknown");
	return ETCD_OP_UNKNOWN;
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
	if (k->revision)
		s->revision = k->revision;
	if (k->lease)
		s->lease_id = k->lease;
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
			set_name(s->op_name, sizeof(s->op_name), "watch");
			if ((rc = read_keyed(&sub, &F_WATCH_CREATE, k)) < 0)
				return rc;
		} else if (f.num == 2) {
			s->op = ETCD_OP_WATCH_CANCEL;
			set_name(s->op_name, sizeof(s->op_name), "watch_cancel");
		} else {
			s->op = ETCD_OP_WATCH_PROGRESS;
			set_name(s->op_name, sizeof(s->op_name), "watch_progress");
		}
	}
}

static void summary_init(struct etcd_req_summary *s)
{
	memset(s, 0, sizeof(*s));
	s->limit = -1;
}

int etcd_decode_request(const char *method, size_t method_len, const uint8_t *msg, size_t len,
			struct etcd_req_summary *out, struct etcd_decode_counters *c)
{
	return etcd_decode_prefix(method, method_len, msg, len, false, out, c);
}

int etcd_decode_prefix(const char *method, size_t method_len, const uint8_t *msg, size_t len, bool cut,
		       struct etcd_req_summary *out, struct etcd_decode_counters *c)
{
	struct pb_reader r;
	struct kview k;
	int rc = 0;

	summary_init(out);
	out->op = etcd_method_op(method, method_len, out->op_name, sizeof(out->op_name));
	if (out->op == ETCD_OP_UNKNOWN) {
		if (c)
			c->unknown_method++;
		return 1;
	}
	if (cut)
		pb_init_prefix(&r, msg, msg ? len : 0);
	else
		pb_init(&r, msg, msg ? len : 0);
	out->cut = cut;
	kview_init(&k);
	switch (out->op) {
	case ETCD_OP_RANGE: rc = read_keyed(&r, &F_RANGE, &k); break;
	case ETCD_OP_PUT: rc = read_keyed(&r, &F_PUT, &k); break;
	case ETCD_OP_DELETE_RANGE: rc = read_keyed(&r, &F_DELETE, &k); break;
	case ETCD_OP_TXN: rc = read_txn(&r, &k, out); break;
	case ETCD_OP_WATCH: rc = read_watch(&r, &k, out); break;
	case ETCD_OP_COMPACT: rc = read_ints(&r, &out->revision, NULL); break;
	case ETCD_OP_LEASE_GRANT: rc = read_ints(&r, &out->ttl, &out->lease_id); break;
	case ETCD_OP_LEASE_REVOKE:
	case ETCD_OP_LEASE_KEEPALIVE:
	case ETCD_OP_LEASE_TIMETOLIVE: rc = read_ints(&r, &out->lease_id, NULL); break;
	default: break; /* LeaseLeases (empty), Cluster, Maintenance, Auth: never decoded (auth carries passwords) */
	}
	apply_kview(&k, out);
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
 * (etcd_key_parse): the bytes before the key's fourth '/'. The previous key's answer is reused when
 * those bytes are the same, as they are for the calls made for one resource (~600 instructions each). */
#define RES_MEMO_HEAD 160
static _Thread_local struct {
	bool valid;
	uint16_t len;
	char head[RES_MEMO_HEAD];
	char resource[REC_FIELD_LEN];
} res_memo;

static size_t key_head(const uint8_t *key, size_t len)
{
	unsigned slashes = 0;

	for (size_t i = 0; i < len; i++)
		if (key[i] == '/' && ++slashes == 4)
			return i;
	return len;
}

static void key_resource(const struct etcd_req_summary *s, char *resource, size_t cap)
{
	struct etcd_key_info ki;
	size_t h;

	resource[0] = 0;
	if (!s->has_key)
		return;
	h = key_head(s->key, s->key_len);
	if (res_memo.valid && res_memo.len == h && !memcmp(res_memo.head, s->key, h)) {
		str_copy(resource, cap, res_memo.resource);
		return;
	}
	if (etcd_key_parse(s->key, s->key_len, s->range_end, s->range_end_len, NULL, &ki) == 0)
		etcd_key_resource_string(&ki, resource, cap);
	if (h <= sizeof(res_memo.head)) {
		memcpy(res_memo.head, s->key, h);
		res_memo.len = (uint16_t)h;
		str_copy(res_memo.resource, sizeof(res_memo.resource), resource);
		res_memo.valid = true;
	}
}

void etcd_summary_to_record(const struct etcd_req_summary *s, const char *method, struct etcd_record *rec)
{
	size_t n;

	str_copy(rec->method, sizeof(rec->method), method ? method : "");
	str_copy(rec->op, sizeof(rec->op), s->op_name);
	n = s->key_len < sizeof(rec->key) - 1 ? s->key_len : sizeof(rec->key) - 1;
	memcpy(rec->key, s->key, n);
	rec->key[n] = 0;
	rec->key_len = (uint16_t)n;
	n = s->range_end_len < sizeof(rec->range_end) - 1 ? s->range_end_len : sizeof(rec->range_end) - 1;
	memcpy(rec->range_end, s->range_end, n);
	rec->range_end[n] = 0;
	rec->range_end_len = (uint16_t)n;
	rec->key_truncated = s->key_truncated || s->range_end_truncated;
	rec->limit = s->limit;
	rec->count_only = s->count_only;
	rec->keys_only = s->keys_only;
	key_resource(s, rec->resource, sizeof(rec->resource));
}
