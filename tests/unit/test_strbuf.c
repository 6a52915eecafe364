// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* util/strbuf.h and util/swar.h: the snprintf replacements and word-at-a-time tests of hot paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/strbuf.h"
#include "util/swar.h"

/* Every cut of the output buffer gives what snprintf gives. */
static void test_copy_and_join_like_snprintf(void **state)
{
	static const char *const a[] = { "", "x", "leases", "coordination.k8s.io" };
	static const char *const b[] = { "", "y", "apps", "deployments" };

	for (size_t i = 0; i < 4; i++) {
		for (size_t j = 0; j < 4; j++) {
			for (size_t cap = 1; cap < 40; cap++) {
				char got[64], want[64];
				size_t n;
				int w;

				memset(got, '#', sizeof(got));
				n = str_copy(got, cap, a[i]);
				w = snprintf(want, cap, "%s", a[i]);
				assert_string_equal(got, want);
				assert_int_equal(n, (size_t)w < cap ? (size_t)w : cap - 1);
				for (size_t max = 0; max < 25; max += 3) {
					n = str_copyn(got, cap, a[i], max);
					w = snprintf(want, cap, "%.*s", (int)max, a[i]);
					assert_string_equal(got, want);
					assert_int_equal(n, strlen(want));
					n = str_join(got, cap, a[i], max, '/', b[j], 30);
					w = snprintf(want, cap, "%.*s/%.*s", (int)max, a[i], 30, b[j]);
					assert_string_equal(got, want);
					assert_int_equal(n, strlen(want));
				}
			}
		}
	}
	assert_int_equal(str_copy(NULL, 0, "x"), 0);
}

/* Word tests agree with byte tests for every byte value at every position. */
static void test_swar_exact(void **state)
{
	for (unsigned pos = 0; pos < 8; pos++) {
		for (unsigned v = 0; v < 256; v++) {
			unsigned char w[8];
			uint64_t x;

			memset(w, 'a', sizeof(w));
			w[pos] = (unsigned char)v;
			x = swar_load(w);
			assert_int_equal(swar_less(x, 0x20) != 0, v < 0x20);
			assert_int_equal(swar_less(x, 0x21) != 0, v < 0x21);
			assert_int_equal(swar_eq(x, '"') != 0, v == '"');
			assert_int_equal(swar_eq(x, 0x7f) != 0, v == 0x7f);
			assert_int_equal(swar_high(x) != 0, v >= 0x80);
			x = swar_load_tail(w, pos + 1, 'a');
			assert_int_equal(swar_eq(x, (unsigned char)v) != 0, 1);
		}
	}
}

/* mem_eq_short agrees with memcmp for every length up to 40 and a difference at every position
 * (and in the bytes just past n, which it must not read as part of the key). */
static void test_mem_eq_short(void **state)
{
	char a[48], b[48];

	for (size_t n = 0; n <= 40; n++) {
		for (size_t i = 0; i < sizeof(a); i++)
			a[i] = b[i] = (char)('a' + i % 26);
		assert_true(mem_eq_short(a, b, n));
		b[n] = 'X'; /* past the key */
		assert_true(mem_eq_short(a, b, n));
		for (size_t pos = 0; pos < n; pos++) {
			char save = b[pos];

			b[pos] = (char)(save ^ 0x20);
			assert_false(mem_eq_short(a, b, n));
			assert_int_equal(mem_eq_short(a, b, n), memcmp(a, b, n) == 0);
			b[pos] = save;
		}
	}
}

/* mem_copy_short copies exactly n bytes for every length up to 70: the bytes before and after the copy
 * in the destination stay as they were. */
static void test_mem_copy_short(void **state)
{
	char src[80], dst[96], want[96];

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (char)('A' + i % 26);
	for (size_t n = 0; n <= 70; n++) {
		memset(dst, '#', sizeof(dst));
		memset(want, '#', sizeof(want));
		memcpy(want + 8, src + 1, n);
		mem_copy_short(dst + 8, src + 1, n);
		assert_memory_equal(dst, want, sizeof(dst));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_and_join_like_snprintf),
		cmocka_unit_test(test_swar_exact),
		cmocka_unit_test(test_mem_eq_short),
		cmocka_unit_test(test_mem_copy_short),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
