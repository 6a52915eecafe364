/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * How much of an etcd request message kapimon may copy: the longest prefix that holds no value.
 *
 * The apiserver writes Secret (and every other object's) data into etcd as PutRequest.value, inside
 * TxnRequest.success/failure RequestOps; Compare.value can carry data too. A probe must never copy those
 * bytes, so before copying anything, ew_walk() walks the protobuf wire format of the message in user
 * memory, field by field, following a schema of the etcdserverpb messages (api/etcdserverpb/rpc.proto, etcd
 * 3.4-3.5; below), and returns where the copy must stop:
 *   - before the first value field (PutRequest.value, Compare.value): the field's tag is not copied;
 *   - before any length-delimited field the schema does not know (it might hold anything);
 *   - at the end of the message, or once the copy bound is reached;
 *   - where it gives up: EW_ITER_MAX fields walked, nesting deeper than EW_DEPTH, malformed or unreadable
 *     bytes (EW_F_GAVE_UP: counted in userspace).
 * Everything before the returned offset is either a field header the walk read or the content of a field
 * the schema says is value-free (keys, range ends, integers) or a nested message walked the same way.
 *
 * Reads are small and never stray past the current field: 2 bytes at each field's start (every well-formed
 * field is at least 2 bytes long: a tag and a length or a varint), then a varint's further bytes one at a
 * time, each promised by the previous byte's continuation bit. For a value field that means its tag and the
 * first byte of its length: never a byte of the value. Nothing is read after the walk stops.
 * Methods other than the KV, Watch and Lease ones below (Auth carries passwords; Cluster, Maintenance) are
 * not walked: nothing of them is copied.
 *
 * Shared by bpf/grpc.bpf.c and a userspace unit test (tests/unit/test_etcd_walk.c), which defines
 * EW_READ(dst, len, src) (0 on success) and the __u8/__u32/__u64 types before including this file.
 */
#ifndef KAPIMON_ETCD_WALK_H
#define KAPIMON_ETCD_WALK_H

#ifndef EW_READ
#define EW_READ(dst, len, src) bpf_probe_read_user(dst, len, src)
#endif

#ifdef __clang__
#define EW_UNROLL _Pragma("unroll")
#else
#define EW_UNROLL
#endif

#define EW_ITER_MAX 32  /* fields (and nested-message ends) walked per message; the apiserver's txns need ~16 */
#define EW_DEPTH 8      /* nesting: TxnRequest > RequestOp > PutRequest is 3 */
#define EW_VARINT_MAX 10

/* ew_walk() flags */
#define EW_F_VALUE 1   /* stopped before a value field */
#define EW_F_GAVE_UP 2 /* stopped early for another reason (bounds, unknown bytes field, malformed/unreadable) */

enum ew_msg {
	EW_NONE = 0,     /* not walked: nothing is copied */
	EW_RANGE,        /* RangeRequest */
	EW_PUT,          /* PutRequest */
	EW_DELETE,       /* DeleteRangeRequest */
	EW_TXN,          /* TxnRequest */
	EW_COMPARE,      /* Compare */
	EW_REQOP,        /* RequestOp */
	EW_WATCH,        /* WatchRequest */
	EW_WATCH_CREATE, /* WatchCreateRequest */
	EW_INTS,         /* messages of integers only: Compaction, Lease*, WatchCancel/ProgressRequest */
	EW__N,
};

/* What a field is, per message: unknown fields are skipped when numeric and stop the walk when
 * length-delimited. */
enum ew_act {
	EW_UNKNOWN = 0,
	EW_VALUE = 1, /* a value: stop before it */
	EW_KEEP = 2,  /* value-free: a key, a range end, an integer, packed enums */
	EW_MSG = 16,  /* EW_MSG + enum ew_msg: a nested message, walked */
};

struct ew_schema {
	__u8 act[16]; /* by field number 1..15 */
	__u8 hi_num;  /* one field numbered >= 16 */
	__u8 hi_act;
};

static const struct ew_schema ew_schemas[EW__N] = {
	/* key=1 range_end=2 limit=3 revision=4 sort_order=5 sort_target=6 serializable=7 keys_only=8
	 * count_only=9 min/max_mod_revision=10,11 min/max_create_revision=12,13 */
	[EW_RANGE] = { .act = { [1 ... 13] = EW_KEEP } },
	/* key=1 value=2 lease=3 prev_kv=4 ignore_value=5 ignore_lease=6 */
	[EW_PUT] = { .act = { [1] = EW_KEEP, [2] = EW_VALUE, [3 ... 6] = EW_KEEP } },
	/* key=1 range_end=2 prev_kv=3 */
	[EW_DELETE] = { .act = { [1 ... 3] = EW_KEEP } },
	/* compare=1 success=2 failure=3 */
	[EW_TXN] = { .act = { [1] = EW_MSG + EW_COMPARE, [2] = EW_MSG + EW_REQOP, [3] = EW_MSG + EW_REQOP } },
	/* result=1 target=2 key=3 version=4 create_revision=5 mod_revision=6 value=7 lease=8 range_end=64 */
	[EW_COMPARE] = { .act = { [1 ... 6] = EW_KEEP, [7] = EW_VALUE, [8] = EW_KEEP }, .hi_num = 64, .hi_act = EW_KEEP },
	/* request_range=1 request_put=2 request_delete_range=3 request_txn=4 */
	[EW_REQOP] = { .act = { [1] = EW_MSG + EW_RANGE, [2] = EW_MSG + EW_PUT, [3] = EW_MSG + EW_DELETE,
				[4] = EW_MSG + EW_TXN } },
	/* create_request=1 cancel_request=2 progress_request=3 */
	[EW_WATCH] = { .act = { [1] = EW_MSG + EW_WATCH_CREATE, [2] = EW_MSG + EW_INTS, [3] = EW_MSG + EW_INTS } },
	/* key=1 range_end=2 start_revision=3 progress_notify=4 filters=5 (packed enums) prev_kv=6 watch_id=7
	 * fragment=8 */
	[EW_WATCH_CREATE] = { .act = { [1 ... 8] = EW_KEEP } },
	[EW_INTS] = { .act = { 0 } },
};

#define EW_METHOD_MAX 40 /* longest name below, rounded up to 8 */

struct ew_method {
	char name[EW_METHOD_MAX];
	__u32 len;
	__u32 msg;
};

#define EW_M(s, m) { s, sizeof(s) - 1, m }
/* The request message of each walked method. */
static const struct ew_method ew_methods[] = {
	EW_M("/etcdserverpb.KV/Range", EW_RANGE),
	EW_M("/etcdserverpb.KV/Put", EW_PUT),
	EW_M("/etcdserverpb.KV/DeleteRange", EW_DELETE),
	EW_M("/etcdserverpb.KV/Txn", EW_TXN),
	EW_M("/etcdserverpb.KV/Compact", EW_INTS),
	EW_M("/etcdserverpb.Watch/Watch", EW_WATCH),
	EW_M("/etcdserverpb.Lease/LeaseGrant", EW_INTS),
	EW_M("/etcdserverpb.Lease/LeaseRevoke", EW_INTS),
	EW_M("/etcdserverpb.Lease/LeaseKeepAlive", EW_INTS),
	EW_M("/etcdserverpb.Lease/LeaseTimeToLive", EW_INTS),
	EW_M("/etcdserverpb.Lease/LeaseLeases", EW_INTS),
};
#undef EW_M

/* The message type of method m (len bytes; m is 8-byte aligned and at least EW_METHOD_MAX bytes long,
 * bytes past len are ignored). */
static __always_inline __u32 ew_method_msg(const __u64 *m, __u32 len)
{
	__u64 w[EW_METHOD_MAX / 8];
	__u32 i, j;

	if (len == 0 || len > EW_METHOD_MAX)
		return EW_NONE;
EW_UNROLL
	for (j = 0; j < EW_METHOD_MAX / 8; j++) {
		w[j] = m[j];
		if (len <= 8 * j)
			w[j] = 0;
		else if (len < 8 * j + 8)
			w[j] &= (1ULL << (8 * (len - 8 * j))) - 1; /* little-endian: keep the first len - 8j bytes */
	}
EW_UNROLL
	for (i = 0; i < sizeof(ew_methods) / sizeof(ew_methods[0]); i++) {
		__u64 t[EW_METHOD_MAX / 8];
		int same = ew_methods[i].len == len;

		__builtin_memcpy(t, ew_methods[i].name, sizeof(t));
EW_UNROLL
		for (j = 0; j < EW_METHOD_MAX / 8; j++)
			same &= t[j] == w[j];
		if (same)
			return ew_methods[i].msg;
	}
	return EW_NONE;
}

static __always_inline __u32 ew_action(__u32 msg, __u32 num)
{
	const struct ew_schema *s;
	__u32 k = num;

	if (msg >= EW__N)
		return EW_UNKNOWN;
	s = &ew_schemas[msg];
	if (num >= 16)
		return s->hi_num && num == s->hi_num ? s->hi_act : EW_UNKNOWN;
	/* the verifier wants the index bounded where it is used: keep the mask from being optimised away */
	__asm__ volatile("" : "+r"(k));
	return s->act[k & 15];
}

/* The varint whose first byte (at q) is b0: further bytes are read one at a time, each only after the
 * previous one's continuation bit says it belongs to the varint, and never at or past lim (the end of
 * the enclosing message). *next: the offset after it. */
static __always_inline int ew_varint(const __u8 *base, __u64 q, __u64 lim, __u8 b0, __u64 *v, __u64 *next)
{
	__u64 val = b0 & 0x7f;
	__u8 c = b0;
	int k;

	q++;
	for (k = 1; k < EW_VARINT_MAX && (c & 0x80); k++) {
		if (q >= lim || EW_READ(&c, 1, base + q))
			return -1;
		val |= (__u64)(c & 0x7f) << (7 * k);
		q++;
	}
	if (c & 0x80)
		return -1;
	*v = val;
	*next = q;
	return 0;
}

/* The messages being walked, innermost first, 16 bits each in two words (a shift register: no
 * indexing by depth): end offset << 4 | enum ew_msg.
 * An end at or past EW_END_FAR is stored as EW_END_FAR: the walk never gets there (cap < EW_END_FAR). */
#define EW_END_FAR 0xfff

/*
 * Walk the n-byte message at base (user memory) of type msg; stop at cap (< EW_END_FAR) at the latest.
 * Returns the offset before which everything is value-free (0 for EW_NONE); scratch[EW_S_FLAGS] gets the
 * EW_F_* flags.
 * scratch: EW_SCRATCH words of memory the verifier cannot see through (BPF: part of the ring-buffer event,
 * overwritten afterwards). The walk's state goes through it at every iteration, so the verifier forgets
 * the exact values it would otherwise track along every path (state explosion), and every iteration
 * starts from the same abstract state.
 */
#define EW_SCRATCH 5
enum { EW_S_P, EW_S_LO, EW_S_HI, EW_S_D, EW_S_FLAGS };

static __always_inline __u64 ew_walk(const __u8 *base, __u64 n, __u32 msg, __u64 cap, volatile __u64 *scratch)
{
	int i;

	scratch[EW_S_FLAGS] = 0;
	if (!base || msg == EW_NONE || msg >= EW__N)
		return 0;
	if (n >= 1ULL << 48) {
		scratch[EW_S_FLAGS] = EW_F_GAVE_UP;
		return 0;
	}
	scratch[EW_S_P] = 0;
	scratch[EW_S_LO] = (n < EW_END_FAR ? n : EW_END_FAR) << 4 | msg;
	scratch[EW_S_HI] = 0;
	scratch[EW_S_D] = 0;
	for (i = 0; i < EW_ITER_MAX; i++) {
		__u64 p = scratch[EW_S_P], lo = scratch[EW_S_LO], hi = scratch[EW_S_HI], d = scratch[EW_S_D];
		__u64 end = (lo >> 4) & EW_END_FAR, lim, v = 0, c = 0, np;
		__u32 t = lo & 15, tag, hdr, num, wt, act;
		__u8 b[2];

		if (p >= cap)
			return p; /* nothing past the copy bound is copied: no need to look */
		if (p == end) {
			if (d == 0)
				return p; /* the whole message */
			/* a nested message ends */
			scratch[EW_S_LO] = lo >> 16 | hi << 48;
			scratch[EW_S_HI] = hi >> 16;
			scratch[EW_S_D] = d - 1;
			continue;
		}
		lim = end == EW_END_FAR ? n : end;
		if (p > lim || lim - p < 2 || EW_READ(b, 2, base + p))
			goto give_up;
		if (b[0] < 0x80) {
			tag = b[0];
			hdr = 1;
		} else if (b[1] < 0x80) {
			tag = (b[0] & 0x7f) | ((__u32)b[1] << 7);
			hdr = 2;
		} else {
			goto give_up; /* a field number >= 2048: none in the schemas */
		}
		num = tag >> 3;
		wt = tag & 7;
		if (num == 0)
			goto give_up;
		act = ew_action(t, num);
		if (act == EW_VALUE) {
			scratch[EW_S_FLAGS] = EW_F_VALUE;
			return p;
		}
		if (wt == 2 && act == EW_UNKNOWN)
			goto give_up; /* bytes of unknown meaning: they might be a value */
		if (act >= EW_MSG && wt != 2)
			goto give_up;
		if (wt == 0 || wt == 2) {
			__u8 first = b[1];

			/* a 2-byte tag: the varint's first byte is the field's third (the field has one) */
			if (hdr == 2 && (lim - p < 3 || EW_READ(&first, 1, base + p + 2)))
				goto give_up;
			if (ew_varint(base, p + hdr, lim, first, &v, &c))
				goto give_up;
			if (wt == 0) {
				np = c;
			} else {
				if (c > lim || v > lim - c)
					goto give_up;
				np = c + v;
				if (act >= EW_MSG) {
					if (d + 1 >= EW_DEPTH)
						goto give_up;
					scratch[EW_S_HI] = hi << 16 | lo >> 48;
					scratch[EW_S_LO] = lo << 16 | (np < EW_END_FAR ? np : EW_END_FAR) << 4 |
							   ((act - EW_MSG) & 15);
					scratch[EW_S_D] = d + 1;
					scratch[EW_S_P] = c;
					continue;
				}
			}
		} else if (wt == 1) {
			np = p + hdr + 8;
		} else if (wt == 5) {
			np = p + hdr + 4;
		} else {
			goto give_up; /* groups, reserved wire types */
		}
		if (np > lim)
			goto give_up;
		scratch[EW_S_P] = np;
	}
give_up:
	scratch[EW_S_FLAGS] = EW_F_GAVE_UP;
	return scratch[EW_S_P];
}

#endif
