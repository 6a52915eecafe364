// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Packet loss for tests/integration/test_conn.sh (this kernel has no sch_netem): a tc direct-action
 * program that drops LOSS_PCT percent of the IPv4 TCP segments whose source port is LOSS_SPORT, at
 * random. The test attaches it to the ingress of the receiving end of its veth pair, so what the sender
 * sent is lost on the wire, as far as the sender's TCP can tell (a drop at the sender's own egress would
 * be a local transmit error instead), and only the apiserver's segments are lost.
 * Built by the test: clang -O2 -target bpf -DLOSS_PCT=N -DLOSS_SPORT=P -c loss.bpf.c */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#ifndef LOSS_PCT
#define LOSS_PCT 10
#endif
#ifndef LOSS_SPORT
#define LOSS_SPORT 443
#endif

SEC("tc")
int drop_random(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *tcp;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != IPPROTO_TCP)
		return TC_ACT_OK;
	tcp = (void *)ip + ip->ihl * 4;
	if ((void *)(tcp + 1) > end || tcp->source != bpf_htons(LOSS_SPORT))
		return TC_ACT_OK;
	return bpf_get_prandom_u32() % 100 < LOSS_PCT ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
