// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "etcd/protobuf.h"

struct vcase {
	const char *bytes;
	size_t len;
	int rc;
	uint64_t v;
	size_t used;
};

#define V(b, rc, v, used) { b, sizeof(b) - 1, rc, v, used }

static const struct vcase vcases[] = {
	V("\x00", PB_OK, 0, 1),
	V("\x01", PB_OK, 1, 1),
	V("\x7f", PB_OK, 127, 1),
	V("\x80\x01", PB_OK, 128, 2),
	V("\xac\x02", PB_OK, 300, 2),
	V("\xf4\x03", PB_OK, 500, 2),
	V("\x80\x80\x01", PB_OK, 16384, 3),
	V("\xff\xff\xff\xff\x0f", PB_OK, 0xffffffffULL, 5),
	V("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", PB_OK, UINT64_MAX, 10),
	V("\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01", PB_OK, (uint64_t)-2, 10), /* int64 -2 */
	V("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00", PB_OK, 0, 10),          /* padded zero: allowed */
	V("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", PB_EVARINT, 0, 0),        /* > 2^64-1 */
	V("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x81\x00", PB_EVARINT, 0, 0),    /* 11 bytes */
	V("\x80", PB_ETRUNC, 0, 0),
	V("\xff\xff", PB_ETRUNC, 0, 0),
	V("", PB_ETRUNC, 0, 0),
};

static void test_varint(void **state)
{
	for (size_t i = 0; i < sizeof(vcases) / sizeof(vcases[0]); i++) {
		const uint8_t *p = (const uint8_t *)vcases[i].bytes, *start = p;
		uint64_t v = 12345;
		int rc = pb_read_varint(&p, start + vcases[i].len, &v);

		assert_int_equal(rc, vcases[i].rc);
		if (rc == PB_OK) {
			assert_true(v == vcases[i].v);
			assert_int_equal((size_t)(p - start), vcases[i].used);
		} else {
			assert_ptr_equal(p, start); /* not advanced on error */
		}
	}
}

/* one message with every wire type, field numbers 1, 2, 3, 5, 15, 16, 2^29-1 */
static const uint8_t all_types[] = {
	0x08, 0x96, 0x01,                                     /* 1: varint 150 */
	0x11, 1, 2, 3, 4, 5, 6, 7, 8,                         /* 2: fixed64 0x0807060504030201 */
	0x1a, 0x03, 'a', 'b', 'c',                            /* 3: bytes "abc" */
	0x2d, 0x78, 0x56, 0x34, 0x12,                         /* 5: fixed32 0x12345678 */
	0x7a, 0x00,                                           /* 15: empty bytes */
	0x80, 0x01, 0x07,                                     /* 16: varint 7 (two-byte tag) */
	0xf8, 0xff, 0xff, 0xff, 0x0f, 0x2a,                   /* 2^29-1: varint 42 */
};

static void test_all_wire_types(void **state)
{
	struct pb_reader r;
	struct pb_field f;

	pb_init(&r, all_types, sizeof(all_types));
	assert_int_equal(pb_next(&r, &f), 1);
	assert_int_equal(f.num, 1);
	assert_int_equal(f.wt, PB_WT_VARINT);
	assert_int_equal(f.u, 150);
	assert_int_equal(pb_next(&r, &f), 1);
	assert_int_equal(f.num, 2);
	assert_true(f.u == 0x0807060504030201ULL);
	assert_int_equal(pb_next(&r, &f), 1);
	assert_int_equal(f.num, 3);
	assert_int_equal(f.len, 3);
	assert_memory_equal(f.data, "abc", 3);
	assert_int_equal(pb_next(&r, &f), 1);
	assert_int_equal(f.num, 5);
	assert_int_equal(f.u, 0x12345678);
	assert_int_equal(pb_next(&r, &f), 1);
	assert_int_equal(f.num, 15);
	assert_int_equal(f.len, 0);
	assert_int_equal(pb_next(&r, &f), 1);
	assert_int_equal(f.num, 16);
	assert_int_equal(f.u, 7);
	assert_int_equal(pb_next(&r, &f), 1);
	assert_int_equal(f.num, PB_MAX_FIELD);
	assert_int_equal(f.u, 42);
	assert_int_equal(pb_next(&r, &f), 0);
	assert_int_equal(pb_next(&r, &f), 0);
}

struct bad_case {
	const char *bytes;
	size_t len;
	int rc;
};

#define B(b, rc) { b, sizeof(b) - 1, rc }

static const struct bad_case bad[] = {
	B("\x0b", PB_EWIRETYPE),                    /* 1: start group */
	B("\x0c", PB_EWIRETYPE),                    /* 1: end group */
	B("\x0e\x00", PB_EWIRETYPE),                /* wire type 6 */
	B("\x0f\x00", PB_EWIRETYPE),                /* wire type 7 */
	B("\x00\x01", PB_EFIELD),                   /* field 0 */
	B("\x80\x80\x80\x80\x10\x00", PB_EFIELD),   /* field 2^29 */
	B("\x80\x80\x80\x80\x80\x01", PB_EFIELD),   /* tag above 32 bits */
	B("\x0a\x05" "abcd", PB_ETRUNC),            /* length past the end */
	B("\x0a\xff\xff\xff\xff\xff\xff\xff\xff\x7f", PB_ETRUNC), /* huge length: no overflow */
	B("\x0a", PB_ETRUNC),                       /* missing length */
	B("\x09" "1234567", PB_ETRUNC),             /* fixed64 short */
	B("\x0d" "123", PB_ETRUNC),                 /* fixed32 short */
	B("\x08", PB_ETRUNC),                       /* varint missing */
	B("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", PB_EVARINT),
	B("\x80", PB_ETRUNC),                       /* tag cut */
};

static void test_rejects(void **state)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pb_reader r;
		struct pb_field f;

		pb_init(&r, bad[i].bytes, bad[i].len);
		assert_int_equal(pb_next(&r, &f), bad[i].rc);
		/* sticky: the reader did not move */
		assert_int_equal(pb_next(&r, &f), bad[i].rc);
		assert_non_null(pb_strerror(bad[i].rc));
	}
	/* the error comes after the good fields */
	{
		static const uint8_t m[] = { 0x08, 0x01, 0x0b };
		struct pb_reader r;
		struct pb_field f;

		pb_init(&r, m, sizeof(m));
		assert_int_equal(pb_next(&r, &f), 1);
		assert_int_equal(pb_next(&r, &f), PB_EWIRETYPE);
	}
}

static void test_nesting(void **state)
{
	/* 20 levels of field 1 = message */
	uint8_t buf[64];
	size_t n = 0;
	struct pb_reader r[PB_MAX_DEPTH + 2];
	struct pb_field f;
	int depth = 0, rc = 0;

	for (int i = 0; i < 20; i++) {
		buf[n++] = 0x0a;
		buf[n++] = (uint8_t)(2 * (19 - i));
	}
	pb_init(&r[0], buf, n);
	for (;;) {
		rc = pb_next(&r[depth], &f);
		if (rc != 1)
			break;
		rc = pb_enter(&r[depth], &f, &r[depth + 1]);
		if (rc)
			break;
		depth++;
	}
	assert_int_equal(rc, PB_EDEPTH);
	assert_int_equal(depth, PB_MAX_DEPTH);
	/* entering a non-LEN field is refused */
	{
		static const uint8_t m[] = { 0x08, 0x01 };
		struct pb_reader a, b;

		pb_init(&a, m, sizeof(m));
		assert_int_equal(pb_next(&a, &f), 1);
		assert_int_equal(pb_enter(&a, &f, &b), PB_EWRONGTYPE);
	}
	/* empty and NULL input */
	pb_init(&r[0], NULL, 10);
	assert_int_equal(pb_next(&r[0], &f), 0);
}

/* A prefix of a longer message (what the probe copies: it ends before a value field, at the copy bound,
 * or where its walk stopped): a field cut by the end is not an error. */
static void test_prefix(void **state)
{
	/* 1: bytes "abcdef" | 2: message { 1: varint 300, 2: bytes "xyz" } | 3: varint 7 */
	static const uint8_t m[] = { 0x0a, 0x06, 'a', 'b', 'c', 'd', 'e', 'f',
				     0x12, 0x08, 0x08, 0xac, 0x02, 0x12, 0x03, 'x', 'y', 'z',
				     0x18, 0x07 };
	struct pb_reader r, sub;
	struct pb_field f;

	/* every cut point: the prefix reader never errs and never reads past the cut */
	for (size_t cut = 0; cut < sizeof(m); cut++) {
		int rc, n = 0;

		pb_init_prefix(&r, m, cut);
		while ((rc = pb_next(&r, &f)) == 1) {
			assert_true(f.data == NULL || f.data + f.len <= m + cut);
			if (f.wt == PB_WT_LEN && f.num == 2) {
				struct pb_field g;
				int rc2;

				assert_int_equal(pb_enter(&r, &f, &sub), PB_OK);
				assert_int_equal(sub.cut, f.cut);
				while ((rc2 = pb_next(&sub, &g)) == 1)
					assert_true(g.data == NULL || g.data + g.len <= m + cut);
				assert_int_equal(rc2, 0);
			}
			n++;
		}
		assert_int_equal(rc, 0);
		/* the same bytes read as a whole message: a cut inside a field is an error */
		pb_init(&r, m, cut);
		while ((rc = pb_next(&r, &f)) == 1)
			;
		if (cut == 0 || cut == 8 || cut == 18)
			assert_int_equal(rc, 0); /* field boundaries */
		else
			assert_int_equal(rc, PB_ETRUNC);
	}
	/* cut inside the first field's bytes: what there is, marked cut */
	pb_init_prefix(&r, m, 5);
	assert_int_equal(pb_next(&r, &f), 1);
	assert_int_equal(f.num, 1);
	assert_true(f.cut);
	assert_int_equal(f.len, 3);
	assert_memory_equal(f.data, "abc", 3);
	assert_int_equal(pb_next(&r, &f), 0);
	/* cut inside the nested message's second field: its first field is read whole, the second cut */
	pb_init_prefix(&r, m, 16);
	assert_int_equal(pb_next(&r, &f), 1);
	assert_false(f.cut);
	assert_int_equal(pb_next(&r, &f), 1);
	assert_int_equal(f.num, 2);
	assert_true(f.cut);
	assert_int_equal(pb_enter(&r, &f, &sub), PB_OK);
	assert_int_equal(pb_next(&sub, &f), 1);
	assert_int_equal(f.u, 300);
	assert_int_equal(pb_next(&sub, &f), 1);
	assert_true(f.cut);
	assert_int_equal(f.len, 1);
	assert_int_equal(pb_next(&sub, &f), 0);
	/* cut inside a varint (11: in 300's bytes): the number is dropped, no error */
	pb_init_prefix(&r, m + 10, 2);
	assert_int_equal(pb_next(&r, &f), 0);
	/* a nested message that is whole inside a prefix is read strictly: its own bad length is an error */
	{
		static const uint8_t bad[] = { 0x12, 0x02, 0x0a, 0x05, 0x08 };
		struct pb_reader rr, ss;

		pb_init_prefix(&rr, bad, sizeof(bad));
		assert_int_equal(pb_next(&rr, &f), 1);
		assert_false(f.cut);
		assert_int_equal(pb_enter(&rr, &f, &ss), PB_OK);
		assert_false(ss.cut);
		assert_int_equal(pb_next(&ss, &f), PB_ETRUNC);
	}
	/* other errors stay errors in a prefix */
	pb_init_prefix(&r, "\x0b", 1);
	assert_int_equal(pb_next(&r, &f), PB_EWIRETYPE);
	pb_init_prefix(&r, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10);
	assert_int_equal(pb_next(&r, &f), PB_EVARINT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_varint),
		cmocka_unit_test(test_all_wire_types),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_prefix),
	};
	return cmocka_run_group_tests_name("protobuf", tests, NULL, NULL);
}
