/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What every kapimon BPF object shares: settings, counter maps, ring-buffer wakeups, event headers.
 * Include once per object, after vmlinux.h and the libbpf helpers. */
#ifndef KAPIMON_KP_COMMON_H
#define KAPIMON_KP_COMMON_H

#include "kapimon/events.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Wake the reader only when this much is buffered: a wakeup per event costs a context switch in
 * kapimon and an irq_work in the apiserver's probe. The reader polls with a timeout anyway. capture.c
 * sets a quarter of the request and etcd rings; the default stays for the connection ring. */
const volatile __u64 wakeup_bytes = 256 << 10;

/* Budget mode gate (userspace writes it through the mmapped .data map): events that begin a request
 * or an etcd call, and watch responses, are written only while gate_open_ns <= now < gate_close_ns
 * (bpf_ktime_get_ns, CLOCK_MONOTONIC). Userspace sets a window before it begins, once the probes are
 * attached, and detaches only after it has ended, so the sampled time is exact and known in advance
 * (uprobe attach/detach take tens to hundreds of ms). Probes count their hit before the gate: a
 * gated hit still costs the trap. Full capture: [0, ~0). */
__u64 gate_open_ns SEC(".data") = 0; /* both in .data: one mmapped map */
__u64 gate_close_ns = ~0ULL;

static __always_inline int gate_is_open(void)
{
	__u64 now = bpf_ktime_get_ns();

	return now >= gate_open_ns && now < gate_close_ns;
}

/* Per-probe hit counters (the measured cost of kapimon is hits x per-hit cost) and event counters
 * (drops, read failures): KP_STAT_STRIDE slots per CPU (include/kapimon/events.h), in arrays userspace
 * mmaps, so reading them costs no syscall. An atomic add: a program in softirq context (conn.bpf.c's
 * tracepoints) may interrupt one in task context on the same CPU; the slot is the CPU's own, so the
 * add never contends with another CPU. */
#define KP_STAT_MAPS(hits_map, counters_map)                                                       \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_ARRAY);                                                  \
		__uint(map_flags, BPF_F_MMAPABLE);                                                 \
		__uint(max_entries, KP_STAT_STRIDE * KP_STAT_CPUS_DEFAULT);                        \
		__type(key, __u32);                                                                \
		__type(value, __u64);                                                              \
	} hits_map SEC(".maps");                                                                   \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_ARRAY);                                                  \
		__uint(map_flags, BPF_F_MMAPABLE);                                                 \
		__uint(max_entries, KP_STAT_STRIDE * KP_STAT_CPUS_DEFAULT);                        \
		__type(key, __u32);                                                                \
		__type(value, __u64);                                                              \
	} counters_map SEC(".maps")

static __always_inline void count(void *map, __u32 idx)
{
	__u32 key = bpf_get_smp_processor_id() * KP_STAT_STRIDE + idx;
	__u64 *v = bpf_map_lookup_elem(map, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline __u64 rb_wakeup(void *rb)
{
	return bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline void fill_hdr(struct kp_event_hdr *h, __u32 type, __u64 g)
{
	h->type = type;
	h->tgid = bpf_get_current_pid_tgid() >> 32;
	h->ts_ns = bpf_ktime_get_ns();
	h->goid_g = g;
}

#endif
