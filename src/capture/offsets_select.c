// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "capture/offsets_select.h"

#include <stdio.h>
#include <string.h>

#include "util/log.h"

/* Interim: Go 1.19 offsets measured from DWARF of a Go 1.19.8 program built here against the
 * x/net and grpc that kube-apiserver 1.20.2 vendors. Replaced by src/goelf/offsets.c. */
static const struct kp_h2_offsets h2_go119 = {
	.meta_headers_frame_fields = 8,
	.headers_frame_stream_id = 8,
	.header_field_size = 40,
	.server_conn_remote_addr = 168,
	.response_writer_rws = 0,
	.rws_stream = 0,
	.rws_status = 80,
	.rws_wrote_bytes = 104,
	.rws_sent_content_len = 96,
	.stream_sc = 0,
	.stream_id = 8,
	.stream_body_bytes = 56,
	.stream_ctx = 32,
};

static const struct kp_http1_offsets h1_go119 = {
	.response_conn = 0,
	.response_req = 8,
	.response_status = 120,
	.response_written = 104,
	.conn_remote_addr = 32,
	.request_method = 0,
	.request_header = 56,
	.request_content_length = 88,
	.request_request_uri = 192,
	.request_proto_major = 40,
	.map_kind = 0,
	.request_ctx = 232,
};

/* grpc-go 1.27.1 (vendored by kube-apiserver 1.20): type statusError spb.Status. */
static const struct kp_grpc_offsets grpc_127 = {
	.status_error_s = KP_OFF_UNKNOWN,
	.status_s = KP_OFF_UNKNOWN,
	.spb_status_code = 40,
	.error_is_spb = 1,
	.stream_method = 72,
	.stream_ctx = 32,
};

int kapimon_offsets_select(const struct go_binary *b, struct kapimon_offsets *o)
{
	int maj, min, patch;

	memset(o, 0, sizeof(*o));
	if (!gobin_go_version_num(b, &maj, &min, &patch)) {
		p_err("unknown Go version: cannot choose struct offsets");
		return -1;
	}
	if (maj != 1 || min != 19) {
		p_err("no struct offsets known for go%d.%d", maj, min);
		return -1;
	}
	o->h2[0] = o->h2[1] = h2_go119;
	o->h2_ok[0] = o->h2_ok[1] = true;
	o->h1 = h1_go119;
	o->h1_ok = true;
	o->grpc = grpc_127;
	o->grpc_ok = true;
	snprintf(o->source, sizeof(o->source), "table go1.19");
	return 0;
}
