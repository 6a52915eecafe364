// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* An empty uprobe program: what a probe hit costs before any work. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";
__u64 hits = 0;

SEC("uprobe")
int empty(struct pt_regs *ctx)
{
	__sync_fetch_and_add(&hits, 1);
	return 0;
}
