// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "assemble/request_fill.h"

#include "assemble/requestinfo.h"

#include <stdio.h>
#include <string.h>

/* Copy a length-delimited event string (possibly containing NULs or garbage) into dst. */
static void copy_ev_str(char *dst, size_t cap, const char *src, size_t len, size_t src_cap)
{
	if (len > src_cap)
		len = src_cap;
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

void request_fill_start(struct request_record *r, const struct kp_req_start *ev, int64_t mono_to_wall)
{
	char raw_path[KP_PATH_MAX + 1];

	memset(r, 0, sizeof(*r));
	r->start_ns = (uint64_t)((int64_t)ev->hdr.ts_ns + mono_to_wall);
	r->start_mono_ns = ev->hdr.ts_ns;
	r->proto = ev->proto == KP_PROTO_H2 ? REC_PROTO_H2 : ev->proto == KP_PROTO_H1 ? REC_PROTO_H1 : REC_PROTO_UNKNOWN;
	r->stream_id = ev->stream_id;
	r->status = 0;
	r->bytes_in = -1;
	r->bytes_out = -1;
	r->sample_factor = 1.0;
	copy_ev_str(r->method, sizeof(r->method), ev->method, ev->method_len, sizeof(ev->method));
	copy_ev_str(r->user_agent, sizeof(r->user_agent), ev->ua, ev->ua_len, sizeof(ev->ua));
	copy_ev_str(r->client, sizeof(r->client), ev->addr, ev->addr_len, sizeof(ev->addr));
	copy_ev_str(raw_path, sizeof(raw_path), ev->path, ev->path_len, sizeof(ev->path));
	if (ev->content_length >= 0)
		r->bytes_in = ev->content_length;
	request_classify(r, raw_path);
}

void request_fill_end(struct request_record *r, const struct kp_req_end *ev)
{
	r->status = ev->status > 0 && ev->status < 1000 ? (int32_t)ev->status : 200;
	r->bytes_out = ev->bytes_out;
	r->link_ctx = ev->ctx;
	if (ev->bytes_in >= 0)
		r->bytes_in = ev->bytes_in;
}
