// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Records' defaults (src/assemble/record.h). */
#include "assemble/record.h"

#include <stddef.h>
#include <string.h>

void request_record_init(struct request_record *r)
{
	memset(r, 0, sizeof(*r));
	r->bytes_in = -1;
	r->bytes_out = -1;
	r->sample_factor = 1.0;
}

/* An etcd record's fixed-size fields at their defaults: etcd_record_init_fast copies them in one go. */
static const struct etcd_record etcd_defaults = {
	.limit = -1,
	.grpc_status = -1,
	.resp_size = -1,
	.req_size = -1,
	.sample_factor = 1.0,
	.kvs = -1,
	.count = -1,
};

void etcd_record_init_fast(struct etcd_record *r)
{
	memcpy(r, &etcd_defaults, offsetof(struct etcd_record, op));
	r->op[0] = r->method[0] = r->resource[0] = r->group[0] = 0;
	r->key[0] = r->range_end[0] = 0;
}

void etcd_record_init(struct etcd_record *r)
{
	memset(r, 0, sizeof(*r));
	etcd_record_init_fast(r);
}
