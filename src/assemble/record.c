// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Records' defaults and copies that touch only the bytes in use (src/assemble/record.h). */
#include "assemble/record.h"

#include <stddef.h>
#include <string.h>

/* A C string buffer: its bytes up to the NUL (one is added at the capacity's last byte). */
static inline void copy_cstr(char *dst, const char *src, size_t cap)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = 0;
}

/* A binary buffer with its length; len 0: a C string (struct etcd_record's key and range_end). */
static inline void copy_bin(char *dst, const char *src, uint16_t len, size_t cap)
{
	size_t n = len ? (len < cap ? len : cap) : strnlen(src, cap - 1);

	memcpy(dst, src, n);
	if (n < cap)
		dst[n] = 0;
}

#define COPY_CSTR(dst, src, field) copy_cstr((dst)->field, (src)->field, sizeof((src)->field))

_Static_assert(offsetof(struct request_record, ri) + offsetof(struct k8s_request_info, verb) ==
		       offsetof(struct request_record, ri.verb),
	       "request_record_copy: the fixed-size fields precede the strings");

void request_record_init(struct request_record *r)
{
	memset(r, 0, sizeof(*r));
	r->bytes_in = -1;
	r->bytes_out = -1;
	r->sample_factor = 1.0;
}

void request_record_copy(struct request_record *dst, const struct request_record *src)
{
	unsigned ng = src->ngroups < REC_GROUPS_MAX ? src->ngroups : REC_GROUPS_MAX;

	memcpy(dst, src, offsetof(struct request_record, ri.verb));
	COPY_CSTR(dst, src, ri.verb);
	COPY_CSTR(dst, src, ri.api_prefix);
	COPY_CSTR(dst, src, ri.group);
	COPY_CSTR(dst, src, ri.version);
	COPY_CSTR(dst, src, ri.resource);
	COPY_CSTR(dst, src, ri.subresource);
	COPY_CSTR(dst, src, ri.namespace_);
	COPY_CSTR(dst, src, ri.name);
	COPY_CSTR(dst, src, method);
	COPY_CSTR(dst, src, client);
	COPY_CSTR(dst, src, path);
	COPY_CSTR(dst, src, user_agent);
	COPY_CSTR(dst, src, user);
	for (unsigned i = 0; i < ng; i++)
		COPY_CSTR(dst, src, groups[i]);
	COPY_CSTR(dst, src, apf.priority_level);
	COPY_CSTR(dst, src, apf.flow_schema);
	COPY_CSTR(dst, src, apf.priority_level_uid);
	COPY_CSTR(dst, src, apf.flow_schema_uid);
	COPY_CSTR(dst, src, apf.reject_reason);
}

void etcd_record_init_fast(struct etcd_record *r)
{
	memset(r, 0, offsetof(struct etcd_record, op));
	r->op[0] = r->method[0] = r->resource[0] = r->group[0] = 0;
	r->key[0] = r->range_end[0] = 0;
	r->limit = -1;
	r->grpc_status = -1;
	r->resp_size = -1;
	r->req_size = -1;
	r->sample_factor = 1.0;
	r->kvs = r->count = -1;
}

void etcd_record_init(struct etcd_record *r)
{
	memset(r, 0, sizeof(*r));
	etcd_record_init_fast(r);
}

void etcd_record_copy(struct etcd_record *dst, const struct etcd_record *src)
{
	memcpy(dst, src, offsetof(struct etcd_record, op));
	COPY_CSTR(dst, src, op);
	COPY_CSTR(dst, src, method);
	COPY_CSTR(dst, src, resource);
	COPY_CSTR(dst, src, group);
	copy_bin(dst->key, src->key, src->key_len, sizeof(src->key));
	copy_bin(dst->range_end, src->range_end, src->range_end_len, sizeof(src->range_end));
}
