/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Bounded lookup of a few string keys in a Go map[string][]string (net/http.Header), reading the map
 * in place: classic hash map (Go <= 1.23) or swiss table (Go >= 1.24). The keys come from rodata
 * (struct kp_hdr_key, set by the loader from a table in src/plan/): only the keys asked for are ever
 * compared, and only a key whose length matches one of them is read. Values are not copied here:
 * the caller gets, for each found key, the address of the first string header of its []string value
 * (taken from the bucket already read: no extra read) and copies what it needs.
 *
 * Bounds: classic maps: at most 8 buckets of the current array (B <= 3: ~52 entries) and 4 of the old
 * one while growing, no overflow buckets; swiss maps: the small-map group, or 4 groups of each of the
 * first 2 tables. A key beyond them is not found (the caller leaves its field empty).
 */
#ifndef KAPIMON_GO_MAP_H
#define KAPIMON_GO_MAP_H

#include "go_read.h"

#define HMAP_BUCKET_SIZE 336 /* classic map[string][]string bucket on amd64 */
#define SWISS_GROUP_SIZE 328 /* swiss map group: ctrl word + 8 x (string key, []string elem) */

/* Scratch for one bucket or group (too large for the 512-byte stack) and what a scan found: the address
 * of each wanted key's []string value (0: not found). A per-CPU array element: the verifier does not
 * track what is stored in map values, so the paths of found and not-found slots join again instead of
 * multiplying (on the stack, two keys made the end programs exceed the 1M-instruction limit). */
struct hdr_scratch {
	__u8 buf[HMAP_BUCKET_SIZE];
	__u64 val[KP_HDR_SCAN_MAX];
	__u32 nfound;
	__u32 _pad;
};

/* Index (first..first+n-1) of the wanted key k equals, or -1. Reads k only when its length matches. */
static __always_inline int hdr_key_match(const volatile struct kp_hdr_key *keys, __u32 first, __u32 n,
					 const struct go_string *k)
{
	__u64 w[KP_HDR_KEY_WORDS] = {};
	int read = 0, i, j;

	if (!k->ptr || k->len <= 0 || k->len >= KP_HDR_KEY_WORDS * 8)
		return -1;
	for (i = 0; i < KP_HDR_SCAN_MAX; i++) {
		const volatile struct kp_hdr_key *want;
		int same = 1;

		if ((__u32)i >= n)
			break;
		want = &keys[(first + i) & (KP_HDR__COUNT - 1)];
		if (!want->len || want->len != k->len)
			continue;
		if (!read) {
			if (bpf_probe_read_user(w, k->len & (KP_HDR_KEY_WORDS * 8 - 1), k->ptr))
				return -1;
			read = 1;
		}
		for (j = 0; j < KP_HDR_KEY_WORDS; j++)
			same &= w[j] == want->w[j];
		if (same)
			return i;
	}
	return -1;
}

/* One slot (its key and its []string value, copied into the scratch buffer): record the address of the
 * value's first string header when the key is wanted and not found yet. */
static __always_inline void hdr_slot(const volatile struct kp_hdr_key *keys, __u32 first, __u32 n,
				     const struct go_string *k, const struct go_slice *v, struct hdr_scratch *f)
{
	int i = hdr_key_match(keys, first, n, k);

	if (i >= 0 && i < KP_HDR_SCAN_MAX && !f->val[i] && v->ptr && v->len >= 1) {
		f->val[i] = (__u64)v->ptr;
		f->nfound++;
	}
}

/* Classic hash map (Go <= 1.23): hmap{count, flags, B, noverflow, hash0, buckets, oldbuckets..} */
static __always_inline void hdr_scan_hmap(const void *h, const volatile struct kp_hdr_key *keys, __u32 first,
					  __u32 n, struct hdr_scratch *s)
{
	__u64 hdr[4]; /* count, {flags, B, noverflow, hash0}, buckets, oldbuckets: one read */
	__u8 B;
	const void *bucket_arrays[2];
	__u32 nbuckets[2];
	int a, b, i;

	if (bpf_probe_read_user(hdr, sizeof(hdr), h))
		return;
	B = (__u8)(hdr[1] >> 8);
	if (B > 3)
		B = 3;
	bucket_arrays[0] = (const void *)hdr[2];
	bucket_arrays[1] = (const void *)hdr[3]; /* oldbuckets while growing: not yet evacuated cells */
	nbuckets[0] = 1U << B;
	nbuckets[1] = B ? 1U << (B - 1) : 1;
	for (a = 0; a < 2; a++) {
		for (b = 0; b < 8; b++) {
			const char *bk;

			if (!bucket_arrays[a] || (__u32)b >= nbuckets[a] || s->nfound >= n)
				break;
			bk = (const char *)bucket_arrays[a] + b * HMAP_BUCKET_SIZE;
			if (bpf_probe_read_user(s->buf, HMAP_BUCKET_SIZE, bk))
				break;
			for (i = 0; i < 8; i++) {
				struct go_string k;
				struct go_slice v;

				if (s->buf[i] < 5) /* empty or evacuated */
					continue;
				__builtin_memcpy(&k, &s->buf[8 + i * 16], sizeof(k));
				__builtin_memcpy(&v, &s->buf[136 + i * 24], sizeof(v));
				hdr_slot(keys, first, n, &k, &v, s);
			}
		}
	}
}

/* Swiss table map (Go >= 1.24): one group. */
static __always_inline void hdr_scan_group(const char *g, const volatile struct kp_hdr_key *keys, __u32 first,
					   __u32 n, struct hdr_scratch *s)
{
	__u64 ctrl;
	int i;

	if (bpf_probe_read_user(s->buf, SWISS_GROUP_SIZE, g))
		return;
	__builtin_memcpy(&ctrl, s->buf, 8);
	for (i = 0; i < 8; i++) {
		struct go_string k;
		struct go_slice v;

		if ((ctrl >> (i * 8)) & 0x80) /* empty or deleted */
			continue;
		__builtin_memcpy(&k, &s->buf[8 + i * 40], sizeof(k));
		__builtin_memcpy(&v, &s->buf[8 + i * 40 + 16], sizeof(v));
		hdr_slot(keys, first, n, &k, &v, s);
	}
}

/* Swiss table map (Go >= 1.24): Map{used, seed, dirPtr, dirLen, ...}; small maps are one group. */
static __always_inline void hdr_scan_swiss(const void *m, const volatile struct kp_hdr_key *keys, __u32 first,
					   __u32 n, struct hdr_scratch *s)
{
	__u64 hdr[4]; /* used, seed, dirPtr, dirLen: one read */
	const void *dir;
	__s64 dir_len;
	int t, gi;

	if (bpf_probe_read_user(hdr, sizeof(hdr), m))
		return;
	dir = (const void *)hdr[2];
	dir_len = (__s64)hdr[3];
	if (!dir)
		return;
	if (dir_len == 0) {
		hdr_scan_group(dir, keys, first, n, s);
		return;
	}
	for (t = 0; t < 2; t++) {
		const void *tab;
		const char *groups;
		__u64 mask;

		if (t >= dir_len)
			break;
		tab = read_ptr(dir, t * 8);
		groups = read_ptr(tab, 16);
		mask = read_u64(tab, 24);
		for (gi = 0; gi < 4; gi++) {
			if (!groups || (__u64)gi > mask || s->nfound >= n)
				break;
			hdr_scan_group(groups + gi * SWISS_GROUP_SIZE, keys, first, n, s);
		}
	}
}

/* Look up keys[first .. first+n-1] (n <= KP_HDR_SCAN_MAX) in the http.Header map at m; the results are
 * in s->val[0 .. n-1]. map_kind: 0 classic, 1 swiss (kp_http1_offsets.map_kind). */
static __always_inline void hdr_scan(const void *m, __u8 map_kind, const volatile struct kp_hdr_key *keys,
				     __u32 first, __u32 n, struct hdr_scratch *s)
{
	s->val[0] = s->val[1] = 0;
	s->nfound = 0;
	if (!m)
		return;
	if (map_kind == 1)
		hdr_scan_swiss(m, keys, first, n, s);
	else
		hdr_scan_hmap(m, keys, first, n, s);
}

/* Copy the string whose header is at str_addr (a scan's val[]) into dst (capacity cap, a power of two). */
#define HDR_COPY_FIRST(str_addr, dst, cap, lenp, trunc, bit)                                          \
	do {                                                                                           \
		struct go_string __v = {};                                                             \
		*(lenp) = 0;                                                                           \
		if ((str_addr) && !bpf_probe_read_user(&__v, sizeof(__v), (const void *)(str_addr)))  \
			COPY_GO_STR(dst, cap, __v, lenp, trunc, bit);                                  \
	} while (0)

#endif
