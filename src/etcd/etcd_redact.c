// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "etcd/etcd_redact.h"

#include <string.h>

#include "etcd/etcd_request.h"
#include "etcd/protobuf.h"

/* Message types whose length-delimited fields are not all zeroed (api/etcdserverpb/rpc.proto). */
enum msg { M_ZERO, M_INTS, M_RANGE, M_PUT, M_DELETE, M_TXN, M_COMPARE, M_REQUEST_OP, M_WATCH, M_WATCH_CREATE, M__N };

#define KEEP (-1) /* the field's bytes are kept (a key or range end) */

/* For each message, the fate of its LEN fields 1..4 and 64: KEEP, a message type to descend into, or
 * M_ZERO. Fields not listed are zeroed. */
struct rule {
	uint32_t num;
	int what;
};
static const struct rule rules[M__N][5] = {
	[M_RANGE] = { { 1, KEEP }, { 2, KEEP } },
	[M_PUT] = { { 1, KEEP } }, /* 2: value */
	[M_DELETE] = { { 1, KEEP }, { 2, KEEP } },
	[M_TXN] = { { 1, M_COMPARE }, { 2, M_REQUEST_OP }, { 3, M_REQUEST_OP } },
	[M_COMPARE] = { { 3, KEEP }, { 64, KEEP } }, /* 7: value */
	[M_REQUEST_OP] = { { 1, M_RANGE }, { 2, M_PUT }, { 3, M_DELETE }, { 4, M_TXN } },
	[M_WATCH] = { { 1, M_WATCH_CREATE } },
	[M_WATCH_CREATE] = { { 1, KEEP }, { 2, KEEP } },
};

static size_t zero(uint8_t *base, const uint8_t *from, const uint8_t *to)
{
	if (to <= from)
		return 0;
	memset(base + (from - base), 0, (size_t)(to - from));
	return (size_t)(to - from);
}

static size_t redact(uint8_t *base, struct pb_reader *r, enum msg m)
{
	struct pb_field f;
	size_t n = 0;
	int rc;

	if (m == M_ZERO)
		return zero(base, r->p, r->end);
	while ((rc = pb_next(r, &f)) > 0) {
		int what = M_ZERO;
		struct pb_reader sub;

		if (f.wt != PB_WT_LEN)
			continue;
		for (size_t i = 0; i < 5 && rules[m][i].num; i++)
			if (rules[m][i].num == f.num)
				what = rules[m][i].what;
		if (what == KEEP)
			continue;
		if (what == M_ZERO || pb_enter(r, &f, &sub))
			n += zero(base, f.data, f.data + f.len);
		else
			n += redact(base, &sub, (enum msg)what);
	}
	if (rc < 0) /* malformed or cut: nothing after this point is known to be harmless */
		n += zero(base, r->p, r->end);
	return n;
}

size_t etcd_request_redact(const char *method, size_t method_len, uint8_t *msg, size_t len)
{
	struct pb_reader r;
	enum msg m;

	if (!msg || !len)
		return 0;
	switch (etcd_method_op(method, method_len, NULL, 0)) {
	case ETCD_OP_RANGE: m = M_RANGE; break;
	case ETCD_OP_PUT: m = M_PUT; break;
	case ETCD_OP_DELETE_RANGE: m = M_DELETE; break;
	case ETCD_OP_TXN: m = M_TXN; break;
	case ETCD_OP_WATCH: m = M_WATCH; break;
	case ETCD_OP_COMPACT:
	case ETCD_OP_LEASE_GRANT:
	case ETCD_OP_LEASE_REVOKE:
	case ETCD_OP_LEASE_KEEPALIVE:
	case ETCD_OP_LEASE_TIMETOLIVE: m = M_INTS; break;
	default: m = M_ZERO; break; /* Auth (passwords), Cluster, Maintenance, unknown */
	}
	pb_init(&r, msg, len);
	return redact(msg, &r, m);
}
