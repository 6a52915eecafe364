// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The BPF header-map scan (bpf/go_map.h), compiled here with a reader that stands in for
 * bpf_probe_read_user, on Go map[string][]string values laid out in memory as Go does (classic hmap
 * buckets, swiss-table groups): the wanted keys are found wherever they sit, decoys of the same length and
 * empty slots are not, and no read touches the bytes of a value that was not asked for (an Authorization
 * header's) or the bytes of a key whose length differs from every wanted key's. The keys come from the
 * plan's table (plan_hdr_keys), as in capture.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <linux/types.h>

#include "kapimon/events.h"
#include "plan/plan.h"

/* ---- the reader: forbidden ranges checked ---- */
static const char *g_forbid[8][2];
static int g_nforbid, g_forbidden_reads, g_reads;

static int mock_read(void *dst, size_t n, const void *src)
{
	const char *s = src;

	g_reads++;
	if (!s)
		return -1;
	for (int i = 0; i < g_nforbid; i++)
		if (s < g_forbid[i][1] && s + n > g_forbid[i][0])
			g_forbidden_reads++;
	memcpy(dst, src, n);
	return 0;
}

static void forbid(const void *p, size_t n)
{
	g_forbid[g_nforbid][0] = p;
	g_forbid[g_nforbid][1] = (const char *)p + n;
	g_nforbid++;
}

#undef __always_inline
#define __always_inline inline
#define bpf_probe_read_user(dst, n, src) mock_read(dst, n, src)
#include "../../bpf/go_map.h"

/* ---- Go values ---- */
struct gstr {
	const char *p;
	int64_t n;
};
struct gslice {
	const void *p;
	int64_t len, cap;
};

struct hdr {
	const char *key, *val;
	struct gstr vs; /* the []string's one element */
};

static struct kp_hdr_key keys[KP_HDR__COUNT];

static void setup_keys(bool apf)
{
	struct plan p;

	memset(&p, 0, sizeof(p));
	p.apf_served_ok = apf;
	plan_hdr_keys(&p, keys);
	g_nforbid = g_forbidden_reads = g_reads = 0;
}

/* a classic bucket (336 bytes): tophash[8], keys[8] (16 B), elems[8] (24 B), overflow */
static void bucket_put(uint8_t *bk, int slot, struct hdr *h)
{
	struct gstr k = { h->key, (int64_t)strlen(h->key) };
	struct gslice v = { &h->vs, 1, 1 };

	h->vs.p = h->val;
	h->vs.n = (int64_t)strlen(h->val);
	bk[slot] = 0x80 | (uint8_t)slot; /* a tophash >= 5: the cell is in use */
	memcpy(bk + 8 + slot * 16, &k, sizeof(k));
	memcpy(bk + 136 + slot * 24, &v, sizeof(v));
}

struct hmap {
	int64_t count;
	uint8_t flags, B;
	uint16_t noverflow;
	uint32_t hash0;
	void *buckets, *oldbuckets;
	uintptr_t nevacuate;
	void *extra;
};

static void scan(const void *m, int kind, int first, int n, struct hdr_scratch *s)
{
	hdr_scan(m, (__u8)kind, keys, (__u32)first, (__u32)n, s);
}

static void copy_found(struct hdr_scratch *s, int i, char *out)
{
	char buf[KP_APF_UID_MAX] = { 0 };
	__u16 len = 0;
	__u8 trunc = 0;

	HDR_COPY_FIRST(s->val[i], buf, KP_APF_UID_MAX, &len, trunc, 1);
	memcpy(out, buf, len);
	out[len] = 0;
}

static const char *PL = "X-Kubernetes-Pf-Prioritylevel-Uid", *FS = "X-Kubernetes-Pf-Flowschema-Uid";

static void test_classic_two_buckets(void **state)
{
	static uint8_t buckets[2][HMAP_BUCKET_SIZE];
	struct hdr h[] = {
		{ "Content-Type", "application/json" },
		{ "Authorization", "Bearer very-secret" }, /* never in a response, but the scan must not read it */
		{ "X-Kubernetes-Pf-Prioritylevel-Uix", "decoy-of-the-same-length" },
		{ "Audit-Id", "0b5b6f1e" },
		{ "X-Kubernetes-Pf-Flowschema-Uid", "fs-uid-1" },
		{ "X-Kubernetes-Pf-Prioritylevel-Uid", "pl-uid-1" },
		{ "X-Kubernetes-Pf-Flowschema-Uid", "stale: an emptied cell" },
	};
	struct hmap m = { .count = 6, .B = 1, .buckets = buckets };
	static struct hdr_scratch s;
	char out[KP_APF_UID_MAX + 1];

	memset(buckets, 0, sizeof(buckets));
	bucket_put(buckets[0], 0, &h[0]);
	bucket_put(buckets[0], 3, &h[1]);
	bucket_put(buckets[0], 5, &h[2]);
	bucket_put(buckets[1], 1, &h[3]);
	bucket_put(buckets[1], 2, &h[4]);
	bucket_put(buckets[1], 7, &h[5]);
	bucket_put(buckets[0], 6, &h[6]);
	buckets[0][6] = 1; /* emptyOne: the cell's key and value are stale */
	setup_keys(true);
	forbid(h[1].val, strlen(h[1].val));
	forbid(h[1].key, strlen(h[1].key)); /* length 13: never compared */
	forbid(h[0].key, strlen(h[0].key));
	forbid(h[6].val, strlen(h[6].val));
	scan(&m, 0, KP_HDR_APF_PL_UID, 2, &s);
	assert_int_equal(s.nfound, 2);
	copy_found(&s, 0, out);
	assert_string_equal(out, "pl-uid-1");
	copy_found(&s, 1, out);
	assert_string_equal(out, "fs-uid-1");
	assert_int_equal(g_forbidden_reads, 0);
}

static void test_classic_absent_and_off(void **state)
{
	static uint8_t bucket[HMAP_BUCKET_SIZE];
	struct hdr h[] = { { "Content-Type", "application/json" }, { "Audit-Id", "x" } };
	struct hmap m = { .count = 2, .B = 0, .buckets = bucket };
	static struct hdr_scratch s;

	memset(bucket, 0, sizeof(bucket));
	bucket_put(bucket, 0, &h[0]);
	bucket_put(bucket, 1, &h[1]);
	setup_keys(true);
	scan(&m, 0, KP_HDR_APF_PL_UID, 2, &s);
	assert_int_equal(s.nfound, 0);
	assert_true(s.val[0] == 0 && s.val[1] == 0);
	/* the plan leaves the APF keys off: nothing matches, even a present key */
	h[1].key = PL;
	bucket_put(bucket, 1, &h[1]);
	setup_keys(false);
	assert_int_equal(keys[KP_HDR_APF_PL_UID].len, 0);
	scan(&m, 0, KP_HDR_APF_PL_UID, 2, &s);
	assert_int_equal(s.nfound, 0);
	/* a NULL map: nothing, no read */
	g_reads = 0;
	scan(NULL, 0, KP_HDR_APF_PL_UID, 2, &s);
	assert_int_equal(s.nfound, 0);
	assert_int_equal(g_reads, 0);
}

/* the User-Agent lookup of the h1 start program goes through the same scan */
static void test_user_agent(void **state)
{
	static uint8_t bucket[HMAP_BUCKET_SIZE];
	struct hdr h[] = { { "Accept", "*/*" }, { "User-Agent", "kubectl/v1.20.2" }, { "Cookie", "session=secret" } };
	struct hmap m = { .count = 3, .B = 0, .buckets = bucket };
	static struct hdr_scratch s;
	char out[KP_APF_UID_MAX + 1];

	memset(bucket, 0, sizeof(bucket));
	for (int i = 0; i < 3; i++)
		bucket_put(bucket, 4 + i, &h[i]);
	setup_keys(false);
	forbid(h[2].val, strlen(h[2].val));
	scan(&m, 0, KP_HDR_USER_AGENT, 1, &s);
	assert_int_equal(s.nfound, 1);
	copy_found(&s, 0, out);
	assert_string_equal(out, "kubectl/v1.20.2");
	assert_int_equal(g_forbidden_reads, 0);
}

/* swiss table (Go >= 1.24): a small map is one group: ctrl word, 8 x (key string, []string) */
static void test_swiss_small(void **state)
{
	static uint8_t group[SWISS_GROUP_SIZE];
	struct {
		uint64_t used, seed;
		void *dir;
		int64_t dir_len;
	} m = { 3, 0, group, 0 };
	struct hdr h[] = { { FS, "fs-uid-2" }, { "Authorization", "Bearer x" }, { PL, "pl-uid-2" } };
	static struct hdr_scratch s;
	uint64_t ctrl = ~0ULL; /* every slot empty (0x80) ... */
	char out[KP_APF_UID_MAX + 1];

	memset(group, 0, sizeof(group));
	for (int i = 0; i < 3; i++) {
		int slot = 2 * i + 1;
		struct gstr k = { h[i].key, (int64_t)strlen(h[i].key) };
		struct gslice v = { &h[i].vs, 1, 1 };

		h[i].vs.p = h[i].val;
		h[i].vs.n = (int64_t)strlen(h[i].val);
		memcpy(group + 8 + slot * 40, &k, sizeof(k));
		memcpy(group + 8 + slot * 40 + 16, &v, sizeof(v));
		ctrl &= ~(0xffULL << (slot * 8)); /* ... but these: full (h2 bits 0) */
	}
	memcpy(group, &ctrl, 8);
	setup_keys(true);
	forbid(h[1].val, strlen(h[1].val));
	scan(&m, 1, KP_HDR_APF_PL_UID, 2, &s);
	assert_int_equal(s.nfound, 2);
	copy_found(&s, 0, out);
	assert_string_equal(out, "pl-uid-2");
	copy_found(&s, 1, out);
	assert_string_equal(out, "fs-uid-2");
	assert_int_equal(g_forbidden_reads, 0);
}

/* the table: canonical MIME forms (what Header.Set stores), short enough to compare */
static void test_header_table(void **state)
{
	setup_keys(true);
	for (int i = 0; i < KP_HDR__USED; i++) {
		const char *n = plan_hdr_name(i);
		char want[KP_HDR_KEY_WORDS * 8] = { 0 };

		assert_non_null(n);
		assert_true(strlen(n) < sizeof(want));
		for (size_t k = 0; n[k]; k++) /* upper case first and after '-', lower case elsewhere */
			if ((k == 0 || n[k - 1] == '-') ? (n[k] >= 'a' && n[k] <= 'z') : (n[k] >= 'A' && n[k] <= 'Z'))
				fail_msg("%s: not in canonical form at %zu", n, k);
		memcpy(want, n, strlen(n));
		assert_int_equal(keys[i].len, strlen(n));
		assert_memory_equal(keys[i].w, want, sizeof(want));
	}
	assert_null(plan_hdr_name(KP_HDR__USED));
	assert_string_equal(plan_hdr_name(KP_HDR_APF_PL_UID), PL);
	assert_string_equal(plan_hdr_name(KP_HDR_APF_FS_UID), FS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classic_two_buckets), cmocka_unit_test(test_classic_absent_and_off),
		cmocka_unit_test(test_user_agent),          cmocka_unit_test(test_swiss_small),
		cmocka_unit_test(test_header_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
