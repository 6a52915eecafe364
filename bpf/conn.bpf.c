// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The kernel's view of the apiserver's TCP connections: tracepoints only (no kprobes, no fentry).
 *
 *   sock/inet_sock_set_state   passive opens on the apiserver's listening ports (SYN_RECV ->
 *                              ESTABLISHED), the apiserver's active opens to etcd (CLOSE -> SYN_SENT
 *                              in the apiserver's connect(): pid known, socket remembered; SYN_SENT
 *                              -> ESTABLISHED later in softirq: matched by socket pointer), and
 *                              closes (-> CLOSE) with the socket's byte and retransmit counters
 *   tcp/tcp_retransmit_skb     retransmits (the socket's cumulative total_retrans: segments, as
 *                              TcpRetransSegs counts them)
 *   tcp/tcp_send_reset, tcp/tcp_receive_reset   resets sent and received
 *
 * Three variants of every program, the loader keeps the first that loads (capture/conn_load.c):
 * tp_btf (BTF-typed arguments, 5.5+), raw_tp (4.17+), plain tracepoints (format fields; the socket
 * from skaddr). All read the socket with CO-RE probe reads. Once per TCP state change on the host
 * (not per request), a map lookup for sockets that are not the apiserver's.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "kp_common.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

/* The apiserver's listening ports (host order) in its network namespace, filled by the loader. */
struct lport_key {
	__u32 netns; /* inode of the network namespace (ns.inum) */
	__u16 port;
	__u16 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct lport_key);
	__type(value, __u8);
} listen_ports SEC(".maps");

/* The apiserver processes (tgid) and the etcd ports (remote, host order) they connect to. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u8);
} apiserver_pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u16);
	__type(value, __u8);
} etcd_ports SEC(".maps");

/* The apiserver's connections to etcd, by socket pointer, from connect() to close. Bounded: a
 * connection that does not fit is not tracked and counted (KP_CNT_CONN_TABLE_FULL). */
#define ETCD_SOCKS_MAX 4096
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ETCD_SOCKS_MAX);
	__type(key, __u64);
	__type(value, __u8);
} etcd_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} conn_events SEC(".maps");

KP_STAT_MAPS(conn_hits, conn_counters);

/* The socket's local port. skc_num is 0 once a closing full socket left its bind bucket (tcp_set_state
 * unhashes before the CLOSE tracepoint runs): then inet_sport, which stays. */
static __always_inline __u16 local_port(const struct sock *sk)
{
	__u16 port = BPF_CORE_READ(sk, __sk_common.skc_num);

	if (!port)
		port = bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
	return port;
}

/* Which of kapimon's connections the socket is: KP_CONN_DIR_CLIENT, KP_CONN_DIR_ETCD, or -1. */
static __always_inline int conn_dir(const struct sock *sk)
{
	struct lport_key k = {};
	__u64 key = (__u64)sk;

	k.port = local_port(sk);
	k.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	if (bpf_map_lookup_elem(&listen_ports, &k))
		return KP_CONN_DIR_CLIENT;
	if (bpf_map_lookup_elem(&etcd_socks, &key))
		return KP_CONN_DIR_ETCD;
	return -1;
}

static __always_inline void emit(const struct sock *sk, __u8 what, int dir, int with_counters)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	struct kp_conn_event *e;

	e = bpf_ringbuf_reserve(&conn_events, sizeof(*e), 0);
	if (!e) {
		count(&conn_counters, KP_CNT_RB_DROP);
		return;
	}
	fill_hdr(&e->hdr, KP_EV_CONN, 0); /* tgid: often softirq context, not meaningful */
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->local_port = local_port(sk);
	e->peer_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	e->established = what;
	e->dir = (__u8)dir;
	__builtin_memset(e->local_addr, 0, 16);
	__builtin_memset(e->peer_addr, 0, 16);
	if (e->family == AF_INET6) {
		BPF_CORE_READ_INTO(&e->local_addr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->peer_addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		bpf_probe_read_kernel(e->local_addr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_probe_read_kernel(e->peer_addr, 4, &sk->__sk_common.skc_daddr);
	}
	e->sk = (__u64)sk;
	e->retrans = BPF_CORE_READ(tp, total_retrans);
	if (with_counters) {
		e->bytes_in = BPF_CORE_READ(tp, bytes_received);
		e->bytes_out = BPF_CORE_READ(tp, bytes_acked);
	} else {
		e->bytes_in = e->bytes_out = 0;
	}
	e->flags = with_counters ? KP_CONN_HAVE_BYTES : 0;
	__builtin_memset(e->_pad2, 0, sizeof(e->_pad2));
	bpf_ringbuf_submit(e, rb_wakeup(&conn_events));
}

static __always_inline void on_state(const struct sock *sk, int os, int ns)
{
	__u64 key = (__u64)sk;
	int dir;

	count(&conn_hits, KP_PROBE_CONN_STATE); /* every TCP state change on the host: the tracepoint's cost */
	if (ns == TCP_SYN_SENT && os == TCP_CLOSE) {
		/* connect() runs in the process: the apiserver's own connection to an etcd port */
		__u32 tgid = bpf_get_current_pid_tgid() >> 32;
		__u16 dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
		__u8 one = 1;

		if (!bpf_map_lookup_elem(&apiserver_pids, &tgid) || !bpf_map_lookup_elem(&etcd_ports, &dport))
			return;
		if (bpf_map_update_elem(&etcd_socks, &key, &one, BPF_NOEXIST) && !bpf_map_lookup_elem(&etcd_socks, &key))
			count(&conn_counters, KP_CNT_CONN_TABLE_FULL);
		return;
	}
	/* passive open completes SYN_RECV -> ESTABLISHED, active open SYN_SENT -> ESTABLISHED */
	if (ns == TCP_ESTABLISHED && (os == TCP_SYN_RECV || os == TCP_SYN_SENT)) {
		dir = conn_dir(sk);
		if (dir >= 0 && (os == TCP_SYN_RECV) == (dir == KP_CONN_DIR_CLIENT))
			emit(sk, KP_CONN_OPEN, dir, 0);
		return;
	}
	if (ns != TCP_CLOSE)
		return;
	dir = conn_dir(sk);
	if (dir == KP_CONN_DIR_ETCD)
		bpf_map_delete_elem(&etcd_socks, &key);
	/* a connection that was never established (LISTEN, SYN_SENT, SYN_RECV -> CLOSE) is not one */
	if (dir >= 0 && os != TCP_LISTEN && os != TCP_SYN_SENT && os != TCP_SYN_RECV)
		emit(sk, KP_CONN_CLOSE, dir, 1);
}

static __always_inline void on_tcp_event(const struct sock *sk, __u8 what, __u32 probe)
{
	int dir;

	count(&conn_hits, probe);
	if (!sk)
		return; /* a reset sent without a socket (no connection of the apiserver's) */
	dir = conn_dir(sk);
	if (dir >= 0)
		emit(sk, what, dir, 0);
}

static __always_inline int is_tcp(const struct sock *sk)
{
	return BPF_CORE_READ(sk, sk_protocol) == IPPROTO_TCP;
}

/* ---- tp_btf (BTF-typed arguments) and raw_tp (untyped): the same programs, arguments (sk, ...) ---- */

#define ARG_PROGRAMS(kind, sfx)                                                                    \
	SEC(kind "/inet_sock_set_state")                                                           \
	int BPF_PROG(conn_state_##sfx, const struct sock *sk, int oldstate, int newstate)          \
	{                                                                                          \
		if (is_tcp(sk))                                                                    \
			on_state(sk, oldstate, newstate);                                          \
		return 0;                                                                          \
	}                                                                                          \
	SEC(kind "/tcp_retransmit_skb")                                                            \
	int BPF_PROG(tcp_retrans_##sfx, const struct sock *sk)                                     \
	{                                                                                          \
		on_tcp_event(sk, KP_CONN_RETRANS, KP_PROBE_TCP_RETRANS);                           \
		return 0;                                                                          \
	}                                                                                          \
	SEC(kind "/tcp_send_reset")                                                                \
	int BPF_PROG(tcp_send_reset_##sfx, const struct sock *sk)                                  \
	{                                                                                          \
		on_tcp_event(sk, KP_CONN_RST_SENT, KP_PROBE_TCP_RESET);                            \
		return 0;                                                                          \
	}                                                                                          \
	SEC(kind "/tcp_receive_reset")                                                             \
	int BPF_PROG(tcp_recv_reset_##sfx, const struct sock *sk)                                  \
	{                                                                                          \
		on_tcp_event(sk, KP_CONN_RST_RECV, KP_PROBE_TCP_RESET);                            \
		return 0;                                                                          \
	}

ARG_PROGRAMS("tp_btf", btf)
ARG_PROGRAMS("raw_tp", raw)

/* ---- plain tracepoints: the format's fields (skaddr), stable since 4.16 ---- */

SEC("tracepoint/sock/inet_sock_set_state")
int conn_state_tp(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (ctx->protocol == IPPROTO_TCP)
		on_state(ctx->skaddr, ctx->oldstate, ctx->newstate);
	return 0;
}

SEC("tracepoint/tcp/tcp_retransmit_skb")
int tcp_retrans_tp(struct trace_event_raw_tcp_retransmit_skb *ctx)
{
	on_tcp_event(ctx->skaddr, KP_CONN_RETRANS, KP_PROBE_TCP_RETRANS);
	return 0;
}

SEC("tracepoint/tcp/tcp_receive_reset")
int tcp_recv_reset_tp(struct trace_event_raw_tcp_event_sk *ctx)
{
	on_tcp_event(ctx->skaddr, KP_CONN_RST_RECV, KP_PROBE_TCP_RESET);
	return 0;
}
/* tcp_send_reset's format changed in 6.10 (addresses as sockaddrs): no plain-tracepoint variant; with
 * the tracepoint variant, resets sent are not counted (docs/capture.md). */
