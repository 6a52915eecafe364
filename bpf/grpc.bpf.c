// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * etcd round trips made by the apiserver's grpc-go client: two uprobe hits per unary call.
 *
 *   start  transport.(*http2Client).Write entry   method, the request message's value-free prefix
 *                                                  (bpf/etcd_walk.h), context chain
 *   end    grpc.(*clientStream).finish entry       error -> gRPC status code; the response's size from
 *                                                  the last gRPC message header grpc's parser kept
 *
 * and, for what etcd returned to a Range, one hit per RangeResponse decoded (not per call):
 *   etcdserverpb.(*RangeResponse).Unmarshal entry  the *RangeResponse being decoded, kept per goroutine;
 *                                                  finish reads len(Kvs), Count, More from it (decoded
 *                                                  by then): numbers only, never a key or value byte
 *
 * A unary call writes its one request message and finishes on the same goroutine, so userspace
 * pairs start and end by goroutine. Messages on streams (Watch, LeaseKeepAlive) are accounted as
 * stream messages; a stream's finish has no pending call on its goroutine (an unmatched end). The context chain (each context's parent is its
 * first field for the standard library's value/cancel/timer contexts) lets userspace link a call
 * to the apiserver request whose context it derives from.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "kapimon/go_offsets.h"
#include "go_read.h"
#include "kp_common.h"
#include "etcd_walk.h"


const volatile struct kp_grpc_offsets grpc_off = {};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} grpc_events SEC(".maps");

KP_STAT_MAPS(grpc_hits, grpc_counters);

/* RangeResponses being decoded, by goroutine (g), until the call's finish on that goroutine reads them.
 * LRU: an entry whose call never finishes (a goroutine that died) is evicted, never leaks. */
struct range_pending {
	__u64 resp;  /* *etcdserverpb.RangeResponse */
	__u32 size;  /* len(dAtA): the encoded message */
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct range_pending);
} range_resp SEC(".maps");


_Static_assert(__builtin_offsetof(struct kp_grpc_start, method) % 8 == 0, "method is read by 8-byte words");
_Static_assert(KP_CTX_CHAIN_MAX >= EW_SCRATCH, "ctx_chain holds the walk's scratch words");

/* Copy the value-free prefix of the n-byte request message at msg (bpf/etcd_walk.h): never a byte of
 * a value (PutRequest.value, Compare.value), at most KP_GRPC_PAYLOAD_MAX - 1 bytes. */
static __always_inline void copy_request_prefix(struct kp_grpc_start *e, const void *msg, __u64 n)
{
	/* the walk's scratch words: ctx_chain is filled afterwards */
	volatile __u64 *scratch = (volatile __u64 *)e->ctx_chain;
	__u64 stop = 0, flags;

	if (msg)
		stop = ew_walk(msg, n, ew_method_msg((const __u64 *)e->method, e->method_len),
			       KP_GRPC_PAYLOAD_MAX - 1, scratch);
	flags = msg ? scratch[EW_S_FLAGS] : 0;
	if (stop > KP_GRPC_PAYLOAD_MAX - 1)
		stop = KP_GRPC_PAYLOAD_MAX - 1;
	if (stop < n)
		e->truncated |= KP_TRUNC_GRPC_PAYLOAD;
	if (flags & EW_F_VALUE)
		e->truncated |= KP_TRUNC_GRPC_AT_VALUE;
	if (flags & EW_F_GAVE_UP)
		e->truncated |= KP_TRUNC_GRPC_GAVE_UP;
	/* Store and reload: the copy size must be bounded, and the verifier would otherwise track its
	 * exact bounds back through every path of the walk. */
	e->payload_copied = (__u16)stop;
	stop = *(volatile __u16 *)&e->payload_copied & (KP_GRPC_PAYLOAD_MAX - 1);
	if (stop && bpf_probe_read_user(e->payload, stop, msg)) {
		count(&grpc_counters, KP_CNT_READ_FAIL);
		stop = 0;
	}
	e->payload_copied = (__u16)stop;
	for (int i = 0; i < EW_SCRATCH; i++)
		scratch[i] = 0;
}

/* grpc >= 1.66 passes the message as mem.BufferSlice ([]mem.Buffer). Small messages (< 1 KiB, most
 * etcd requests) are a mem.SliceBuffer, whose interface data word points at a []byte header; larger
 * ones a *mem.buffer{origData *[]byte; data []byte; ...}. Find the first buffer's bytes. */
static __always_inline struct go_slice first_buffer(const void *bufs, __s64 nbufs)
{
	struct go_iface b = {};
	struct go_slice sl = {};

	if (!bufs || nbufs < 1 || bpf_probe_read_user(&b, sizeof(b), bufs) || !b.data)
		return sl;
	if (!bpf_probe_read_user(&sl, sizeof(sl), b.data) && sl.ptr && sl.len >= 0 && sl.len <= sl.cap &&
	    sl.cap < (1 << 26))
		return sl; /* SliceBuffer */
	__builtin_memset(&sl, 0, sizeof(sl));
	if (!bpf_probe_read_user(&sl, sizeof(sl), (const char *)b.data + 8) && sl.ptr && sl.len >= 0 &&
	    sl.len <= sl.cap && sl.cap < (1 << 26))
		return sl; /* *buffer: data after origData */
	__builtin_memset(&sl, 0, sizeof(sl));
	return sl;
}

/* variant 0: (t *http2Client) Write(s *Stream, hdr []byte, data []byte, opts *Options)
 * variant 1: (s *ClientStream) Write(hdr []byte, data mem.BufferSlice, opts *WriteOptions)
 * Each variant has its own entry program below (no attach cookies: they need kernel 5.15). */
static __always_inline int grpc_write(struct pt_regs *ctx, __u64 variant)
{
	/* load every register first: the verifier rejects ctx loads at a computed offset */
	__u64 r1 = GO_REG1(ctx), r2 = GO_REG2(ctx), r5 = GO_REG5(ctx), r6 = GO_REG6(ctx), r7 = GO_REG7(ctx),
	      r8 = GO_REG8(ctx);
	const void *s;
	struct go_slice data;
	struct kp_grpc_start *e;
	struct go_string m;
	struct go_iface c = {};
	__u64 n;
	__u16 len16;

	count(&grpc_hits, KP_PROBE_GRPC_WRITE);
	__asm__ volatile("" : "+r"(r1), "+r"(r2), "+r"(r5), "+r"(r6), "+r"(r7), "+r"(r8));
	s = (const void *)(variant ? r1 : r2);
	if (!s || !gate_is_open())
		return 0;
	if (variant) {
		data = first_buffer((const void *)r5, (__s64)r6);
	} else {
		data.ptr = (const void *)r6;
		data.len = (__s64)r7;
		data.cap = (__s64)r8;
	}
	e = bpf_ringbuf_reserve(&grpc_events, sizeof(*e), 0);
	if (!e) {
		count(&grpc_counters, KP_CNT_RB_DROP);
		return 0;
	}
	fill_hdr(&e->hdr, KP_EV_GRPC_START, GO_G(ctx));
	e->stream = (__u64)s;
	e->truncated = 0;
	e->nctx = 0;

	m = read_go_string(s, grpc_off.stream_method);
	COPY_GO_STR(e->method, KP_GRPC_METHOD_MAX, m, &len16, e->truncated, KP_TRUNC_GRPC_METHOD);
	e->method_len = len16;

	n = data.len > 0 ? (__u64)data.len : 0;
	e->payload_len = n > 0xffffffffULL ? 0xffffffffU : (__u32)n;
	copy_request_prefix(e, data.ptr, n);

	/* context chain: Stream.ctx, then each context's embedded parent (first field) */
	if (OFF_OK(grpc_off.stream_ctx))
		bpf_probe_read_user(&c, sizeof(c), (const char *)s + grpc_off.stream_ctx);
	e->nctx = read_ctx_chain(c, e->ctx_chain);
	bpf_ringbuf_submit(e, rb_wakeup(&grpc_events));
	return 0;
}

SEC("uprobe")
int grpc_write_http2client(struct pt_regs *ctx)
{
	return grpc_write(ctx, 0);
}

SEC("uprobe")
int grpc_write_clientstream(struct pt_regs *ctx)
{
	return grpc_write(ctx, 1);
}

/* What etcd returned: the response message's size from the 5-byte gRPC message header grpc's parser
 * keeps from the call's last message (a unary call's second read meets the end of the stream and leaves
 * it as it was), and the numbers of a RangeResponse decoded on this goroutine. */
static __always_inline void read_response(struct kp_grpc_end *e, const void *cs, __u64 g)
{
	struct range_pending *rp;

	if (OFF_OK(grpc_off.cs_attempt) && OFF_OK(grpc_off.attempt_parser) && OFF_OK(grpc_off.parser_header)) {
		const void *att = read_ptr(cs, grpc_off.cs_attempt), *p = read_ptr(att, grpc_off.attempt_parser);
		__u8 h[5] = {};

		if (p && !bpf_probe_read_user(h, sizeof(h), (const char *)p + grpc_off.parser_header) && h[0] <= 1) {
			e->resp_size = (__u32)h[1] << 24 | (__u32)h[2] << 16 | (__u32)h[3] << 8 | h[4];
			e->flags |= KP_END_RESP_SIZE;
		}
	}
	rp = bpf_map_lookup_elem(&range_resp, &g);
	if (!rp)
		return;
	if (!OFF_OK(grpc_off.range_resp_kvs) || !OFF_OK(grpc_off.range_resp_count) || !OFF_OK(grpc_off.range_resp_more)) {
		bpf_map_delete_elem(&range_resp, &g);
		return;
	}
	{
		const void *m = (const void *)rp->resp;
		struct go_slice kvs = {};
		__s64 cnt = 0;
		__u8 more = 0;

		if (!bpf_probe_read_user(&kvs, sizeof(kvs), (const char *)m + grpc_off.range_resp_kvs) &&
		    !bpf_probe_read_user(&cnt, sizeof(cnt), (const char *)m + grpc_off.range_resp_count) &&
		    !bpf_probe_read_user(&more, sizeof(more), (const char *)m + grpc_off.range_resp_more) &&
		    kvs.len >= 0 && kvs.len <= kvs.cap) {
			e->range_kvs = kvs.len > 0xffffffffLL ? 0xffffffffU : (__u32)kvs.len;
			e->range_count = cnt;
			e->range_more = more;
			e->flags |= KP_END_RANGE;
			if (!(e->flags & KP_END_RESP_SIZE))
				e->resp_size = rp->size;
		} else {
			count(&grpc_counters, KP_CNT_READ_FAIL);
		}
	}
	bpf_map_delete_elem(&range_resp, &g);
}

SEC("uprobe")
int grpc_finish(struct pt_regs *ctx)
{
	/* (cs *clientStream) finish(err error): cs in RAX, err in RBX (itab), RCX (data) */
	const void *cs = (const void *)GO_REG1(ctx), *etab = (const void *)GO_REG2(ctx),
		   *edata = (const void *)GO_REG3(ctx);
	struct kp_grpc_end *e;
	__s32 code = 0;

	count(&grpc_hits, KP_PROBE_GRPC_FINISH);
	if (etab) {
		const void *spb = 0;

		code = -1;
		if (grpc_off.error_is_spb == 1) {
			spb = edata;
		} else if (OFF_OK(grpc_off.status_error_s)) {
			const void *st = read_ptr(edata, grpc_off.status_error_s);

			spb = OFF_OK(grpc_off.status_s) ? read_ptr(st, grpc_off.status_s) : st;
		}
		if (spb && OFF_OK(grpc_off.spb_status_code)) {
			__s32 v = -1;

			if (!bpf_probe_read_user(&v, sizeof(v), (const char *)spb + grpc_off.spb_status_code) &&
			    v > 0 && v <= 16)
				code = v;
		}
	}
	e = bpf_ringbuf_reserve(&grpc_events, sizeof(*e), 0);
	if (!e) {
		count(&grpc_counters, KP_CNT_RB_DROP);
		return 0;
	}
	fill_hdr(&e->hdr, KP_EV_GRPC_END, GO_G(ctx));
	e->code = code;
	e->is_err = etab != 0;
	e->resp_size = 0;
	e->range_kvs = 0;
	e->range_count = 0;
	e->range_more = 0;
	e->flags = 0;
	__builtin_memset(e->_pad, 0, sizeof(e->_pad));
	read_response(e, cs, GO_G(ctx));
	bpf_ringbuf_submit(e, rb_wakeup(&grpc_events));
	return 0;
}

/* etcdserverpb (*RangeResponse).Unmarshal(dAtA []byte) error: m in RAX, dAtA in RBX/RCX/RDI. Called by
 * grpc's codec for a Range's response (and for the ranges nested in a Txn's response), on the caller's
 * goroutine, before the call's finish. Keeps the pointer: the struct is decoded by the time finish runs. */
SEC("uprobe")
int etcd_range_resp(struct pt_regs *ctx)
{
	__u64 m = GO_REG1(ctx), len = GO_REG3(ctx), g = GO_G(ctx);
	struct range_pending v = {};

	count(&grpc_hits, KP_PROBE_RANGE_RESP);
	if (!m || !gate_is_open())
		return 0;
	v.resp = m;
	v.size = len > 0xffffffffULL ? 0xffffffffU : (__u32)len;
	bpf_map_update_elem(&range_resp, &g, &v, BPF_ANY);
	return 0;
}

/* clientv3 (*watchGrpcStream).dispatchEvent(pbresp *pb.WatchResponse): once per WatchResponse the
 * apiserver's watches receive (not per unary call). Counts events and names the first one's key. */
SEC("uprobe")
int etcd_watch_dispatch(struct pt_regs *ctx)
{
	const void *resp = (const void *)GO_REG2(ctx);
	struct go_slice evs = {};
	struct kp_watch_resp *e;

	count(&grpc_hits, KP_PROBE_WATCH_RESP);
	if (!resp || !OFF_OK(grpc_off.watch_resp_events) || !gate_is_open())
		return 0;
	if (bpf_probe_read_user(&evs, sizeof(evs), (const char *)resp + grpc_off.watch_resp_events) || evs.len <= 0)
		return 0; /* progress notifications and created/canceled confirmations carry no events */
	e = bpf_ringbuf_reserve(&grpc_events, sizeof(*e), 0);
	if (!e) {
		count(&grpc_counters, KP_CNT_RB_DROP);
		return 0;
	}
	fill_hdr(&e->hdr, KP_EV_WATCH_RESP, GO_G(ctx));
	e->nevents = evs.len > 0xffffffffLL ? 0xffffffffU : (__u32)evs.len;
	e->key_len = 0;
	e->first_type = 0;
	e->truncated = 0;
	{
		const void *ev0 = read_ptr(evs.ptr, 0), *kv = read_ptr(ev0, grpc_off.event_kv);
		struct go_slice key = {};
		__u32 type = read_u32(ev0, 0);
		__u16 len16;

		e->first_type = (__u8)type;
		if (kv && !bpf_probe_read_user(&key, sizeof(key), (const char *)kv + grpc_off.kv_key)) {
			struct go_string ks = { key.ptr, key.len };

			COPY_GO_STR(e->key, KP_WATCH_KEY_MAX, ks, &len16, e->truncated, 1);
			e->key_len = len16;
		}
	}
	bpf_ringbuf_submit(e, rb_wakeup(&grpc_events));
	return 0;
}
