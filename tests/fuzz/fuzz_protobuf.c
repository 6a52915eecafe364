// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* etcd request decoder on random bytes: first byte picks a method (or a random method name follows). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "etcd/etcd_key.h"
#include "etcd/etcd_request.h"

static const char *const methods[] = {
	"/etcdserverpb.KV/Range", "/etcdserverpb.KV/Put", "/etcdserverpb.KV/DeleteRange", "/etcdserverpb.KV/Txn",
	"/etcdserverpb.KV/Compact", "/etcdserverpb.Watch/Watch", "/etcdserverpb.Lease/LeaseGrant",
	"/etcdserverpb.Lease/LeaseRevoke", "/etcdserverpb.Lease/LeaseKeepAlive", "/etcdserverpb.Lease/LeaseTimeToLive",
	"/etcdserverpb.Lease/LeaseLeases", "/etcdserverpb.Auth/Authenticate",
};
#define NM (sizeof(methods) / sizeof(methods[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct etcd_decode_counters c = { 0 };
	struct etcd_req_summary s;
	struct etcd_record rec;
	struct etcd_key_info ki;
	const char *method;
	size_t mlen;
	const uint8_t *msg;
	size_t len;
	bool cut;
	int rc;

	if (size < 1)
		return 0;
	if (data[0] < 0xf0) {
		method = methods[data[0] % NM];
		mlen = strlen(method);
		data++;
		size--;
	} else {
		/* random method name: next byte is its length */
		if (size < 2)
			return 0;
		mlen = data[1] < size - 2 ? data[1] : size - 2;
		method = (const char *)data + 2;
		data += 2 + mlen;
		size -= 2 + mlen;
	}
	/* copy so ASan sees reads past the exact end */
	uint8_t *buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	rc = etcd_decode_request(method, mlen, buf, size, &s, &c);
	if (rc < 0 && c.errors != 1)
		abort();
	if (rc == 0 && c.decoded != 1)
		abort();
	if (s.key_len >= ETCD_KEY_MAX || s.range_end_len >= ETCD_KEY_MAX)
		abort();
	{
		char m[97];
		size_t n = mlen < 96 ? mlen : 96;

		memcpy(m, method, n);
		m[n] = 0;
		etcd_summary_to_record(&s, m, &rec);
	}
	/* the assembler's one pass (etcd_decode_to_record): the same return code as the summary path, as a
	 * whole message and as a prefix */
	for (int pass = 0; pass < 2; pass++) {
		struct etcd_decode_counters c2 = { 0 };
		struct etcd_req_summary s2;
		enum etcd_op op;
		int rc1 = etcd_decode_prefix(method, mlen, buf, size, pass, &s2, NULL);

		etcd_record_init(&rec);
		if (etcd_decode_to_record(etcd_method_find(method, mlen), method, mlen, buf, size, pass, &rec, &op, &c2) != rc1 || op != s2.op)
			abort();
		if (rec.key_len >= sizeof(rec.key) || rec.range_end_len >= sizeof(rec.range_end) ||
		    strnlen(rec.resource, sizeof(rec.resource)) == sizeof(rec.resource) ||
		    strnlen(rec.group, sizeof(rec.group)) == sizeof(rec.group) ||
		    strnlen(rec.method, sizeof(rec.method)) == sizeof(rec.method))
			abort();
		/* the same message again (the message memo's answer) gives the same record */
		{
			struct etcd_record again;
			enum etcd_op op2;

			etcd_record_init(&again);
			if (etcd_decode_to_record(etcd_method_find(method, mlen), method, mlen, buf, size, pass, &again, &op2,
						  NULL) != rc1 || op2 != op || again.key_len != rec.key_len ||
			    again.range_end_len != rec.range_end_len || again.key_truncated != rec.key_truncated ||
			    again.limit != rec.limit || again.count_only != rec.count_only ||
			    again.keys_only != rec.keys_only || memcmp(again.key, rec.key, rec.key_len + 1u) ||
			    memcmp(again.range_end, rec.range_end, rec.range_end_len + 1u) ||
			    strcmp(again.method, rec.method) || strcmp(again.op, rec.op) ||
			    strcmp(again.resource, rec.resource) || strcmp(again.group, rec.group))
				abort();
		}
	}
	etcd_key_parse(buf, size, buf, size / 2, NULL, &ki);
	etcd_key_parse(buf, size, NULL, 0, "/", &ki);
	if (etcd_grpc_unframe(buf, size, &msg, &len, &cut, &c) == 0) {
		if (msg + len > buf + size)
			abort();
		etcd_decode_request(method, mlen, msg, len, &s, &c);
	}
	free(buf);
	return 0;
}
