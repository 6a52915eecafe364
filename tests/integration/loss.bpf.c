// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Packet loss for tests/integration/test_conn.sh (this kernel has no sch_netem): a tc direct-action
 * program that drops LOSS_PCT percent of the packets, at random. The test attaches it to the ingress of
 * the namespace's end of its veth pair, so what the host sends is lost on the wire, as far as the
 * sender's TCP can tell (a drop at the sender's own egress would be a local transmit error instead).
 * Built by the test: clang -O2 -target bpf -DLOSS_PCT=N -c loss.bpf.c */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#ifndef LOSS_PCT
#define LOSS_PCT 10
#endif

SEC("tc")
int drop_random(struct __sk_buff *skb)
{
	return bpf_get_prandom_u32() % 100 < LOSS_PCT ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
