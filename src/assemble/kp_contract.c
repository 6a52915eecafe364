// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "assemble/kp_contract.h"

const struct kp_probe_desc kp_probe_desc[KP_PROBE__COUNT] = {
	[KP_PROBE_H2_HEADERS] = { "h2_process_headers", KP_KIND_UPROBE, true, "h2x_process_headers, h2b_process_headers" },
	[KP_PROBE_H2_DONE] = { "h2_handler_done", KP_KIND_UPROBE, true, "h2x_handler_done, h2b_handler_done" },
	[KP_PROBE_H1_START] = { "h1_request_start", KP_KIND_UPROBE, true, "h1_serve_call, h1_read_request_ret" },
	[KP_PROBE_H1_DONE] = { "h1_finish_request", KP_KIND_UPROBE, true, "h1_finish_request" },
	[KP_PROBE_GRPC_WRITE] = { "grpc_transport_write", KP_KIND_UPROBE, false,
				  "grpc_write_http2client, grpc_write_clientstream" },
	[KP_PROBE_GRPC_FINISH] = { "grpc_call_finish", KP_KIND_UPROBE, false, "grpc_finish" },
	[KP_PROBE_CALIBRATE] = { "calibrate", KP_KIND_UPROBE, false, "calibrate" },
	[KP_PROBE_WATCH_RESP] = { "etcd_watch_dispatch", KP_KIND_UPROBE, false, "etcd_watch_dispatch" },
	[KP_PROBE_CONN_STATE] = { "conn_state", KP_KIND_TRACEPOINT, false, "conn_state_btf, conn_state_raw, conn_state_tp" },
	[KP_PROBE_TCP_RETRANS] = { "tcp_retransmit", KP_KIND_TRACEPOINT, false,
				   "tcp_retrans_btf, tcp_retrans_raw, tcp_retrans_tp" },
	[KP_PROBE_TCP_RESET] = { "tcp_reset", KP_KIND_TRACEPOINT, false,
				 "tcp_send_reset_btf, tcp_send_reset_raw, tcp_recv_reset_btf, tcp_recv_reset_raw, tcp_recv_reset_tp" },
	[KP_PROBE_RANGE_RESP] = { "etcd_range_resp", KP_KIND_UPROBE, false, "etcd_range_resp" },
	[KP_PROBE_AUTHN_OK] = { "authn_ok", KP_KIND_UPROBE, true, "authn_ok, authn_ok_entry" },
	[KP_PROBE_AUTHN_FAIL] = { "authn_fail", KP_KIND_UPROBE, true, "authn_fail" },
	[KP_PROBE_APF_REJECT] = { "apf_add_reject", KP_KIND_UPROBE, true, "apf_add_reject" },
	[KP_PROBE_APF_TOO_MANY] = { "apf_too_many", KP_KIND_UPROBE, true, "apf_too_many" },
	[KP_PROBE_APF_DIGEST] = { "apf_digest", KP_KIND_UPROBE, false, "apf_digest" },
};

const struct kp_counter_desc kp_counter_desc[KP_CNT__COUNT] = {
	[KP_CNT_RB_DROP] = { "ringbuf_drops", offsetof(struct record_stats, ringbuf_drops),
			     "events lost because a ring buffer was full" },
	[KP_CNT_READ_FAIL] = { "read_errors", offsetof(struct record_stats, read_errors),
			       "failed user-memory reads in the probes" },
	[KP_CNT_NO_METHOD] = { "h2_headers_no_method", offsetof(struct record_stats, h2_no_method),
			       "HTTP/2 HEADERS frames without :method (trailers): not requests, ignored" },
	[KP_CNT_CONN_TABLE_FULL] = { "conn_bpf_table_full", offsetof(struct record_stats, conns_bpf_table_full),
				     "etcd connections not tracked: the BPF socket table was full" },
	[KP_CNT_NO_RECV_TS] = { "no_received_ts", offsetof(struct record_stats, authn_no_recv_ts),
				"authn starts without the apiserver's received-timestamp context: dropped (end unmatched)" },
	[KP_CNT_NO_USER] = { "no_user", offsetof(struct record_stats, authn_no_user),
			     "authenticated starts without a user of a known type in the context (record without user)" },
};

const char *kp_probe_name(int id)
{
	return id >= 0 && id < KP_PROBE__COUNT ? kp_probe_desc[id].name : NULL;
}

void kp_stats_fill(struct record_stats *s, const uint64_t hits[KP_PROBE__COUNT], const uint64_t counters[KP_CNT__COUNT])
{
	_Static_assert(KP_PROBE__COUNT <= RECORD_STATS_MAX_PROBES, "stats record too small for the probes");
	for (int i = 0; i < KP_PROBE__COUNT; i++) {
		s->probe_names[i] = kp_probe_desc[i].name;
		s->probe_hits[i] = hits[i];
	}
	s->nprobes = KP_PROBE__COUNT;
	for (int i = 0; i < KP_CNT__COUNT; i++)
		if (kp_counter_desc[i].name)
			*(uint64_t *)((char *)s + kp_counter_desc[i].stats_off) = counters[i];
}

uint64_t kp_request_path_hits(const uint64_t hits[KP_PROBE__COUNT])
{
	uint64_t h = 0;

	for (int i = 0; i < KP_PROBE__COUNT; i++)
		if (kp_probe_desc[i].request_path)
			h += hits[i];
	return h;
}
