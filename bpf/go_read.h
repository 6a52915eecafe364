/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Bounded, fault-tolerant reads of Go values from user memory. Every read may fail (page not
 * present, garbage pointer): failures leave zeroes and are counted, never fault the process. */
#ifndef KAPIMON_GO_READ_H
#define KAPIMON_GO_READ_H

#include "go_abi.h"
#include "kapimon/events.h"

#define OFF_OK(o) ((o) != KP_OFF_UNKNOWN)

static __always_inline __u64 read_u64(const void *base, __u32 off)
{
	__u64 v = 0;

	if (!base || !OFF_OK(off))
		return 0;
	bpf_probe_read_user(&v, sizeof(v), (const char *)base + off);
	return v;
}

static __always_inline __u32 read_u32(const void *base, __u32 off)
{
	__u32 v = 0;

	if (!base || !OFF_OK(off))
		return 0;
	bpf_probe_read_user(&v, sizeof(v), (const char *)base + off);
	return v;
}

static __always_inline const void *read_ptr(const void *base, __u32 off)
{
	return (const void *)read_u64(base, off);
}

static __always_inline struct go_string read_go_string(const void *base, __u32 off)
{
	struct go_string s = {};

	if (base && OFF_OK(off))
		bpf_probe_read_user(&s, sizeof(s), (const char *)base + off);
	return s;
}

/*
 * Copy a Go string into dst (capacity cap, a power of two); at most cap - 1 bytes are copied so
 * the length can be masked for the verifier. Returns the copied length; sets *trunc when cut.
 */
#define COPY_GO_STR(dst, cap, s, lenp, trunc, bit)                                                 \
	do {                                                                                       \
		__u64 __n = (s).len > 0 ? (__u64)(s).len : 0;                                      \
		if (__n > (cap) - 1) {                                                             \
			__n = (cap) - 1;                                                           \
			(trunc) |= (bit);                                                          \
		}                                                                                  \
		__n &= (cap) - 1;                                                                  \
		if ((s).ptr && __n && bpf_probe_read_user((dst), __n, (s).ptr) == 0)               \
			*(lenp) = __n;                                                             \
		else                                                                               \
			*(lenp) = 0;                                                               \
	} while (0)

/*
 * The context chain from c: each context object's address, then its parent's (the standard value,
 * cancel and timer contexts embed their parent Context as their first field), up to KP_CTX_CHAIN_MAX.
 * Returns how many were stored in chain.
 */
static __always_inline __u8 read_ctx_chain(struct go_iface c, __u64 *chain)
{
	__u8 n = 0;
	int i;

	for (i = 0; i < KP_CTX_CHAIN_MAX; i++) {
		if (!c.data || !c.tab)
			break;
		chain[i] = (__u64)c.data;
		n = i + 1;
		if (bpf_probe_read_user(&c, sizeof(c), c.data))
			break;
	}
	return n;
}

#endif
