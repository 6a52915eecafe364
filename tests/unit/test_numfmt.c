// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* fmt_fixed and fmt_u64 write what snprintf writes: exact ties (0.125, 2.5), values just below and
 * above a rounding boundary (nextafter), every magnitude up to the fallback's, the fallback's cases
 * (negative, -0, NaN, infinities, huge, many decimals), random doubles, and every cut length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "util/numfmt.h"

static unsigned long long checked;

static bool all_cuts = true;

static void same(double v, unsigned dec)
{
	char want[512], got[512];
	size_t cut[] = { sizeof(got), 1, 2, 3, 5, 8 };

	for (size_t c = 0; c < (all_cuts ? sizeof(cut) / sizeof(cut[0]) : 1); c++) {
		int wn = snprintf(want, cut[c], "%.*f", (int)dec, v);
		size_t gn;

		memset(got, 'x', sizeof(got));
		gn = fmt_fixed(got, cut[c], v, dec);
		if (strcmp(want, got) || (size_t)wn != gn) {
			print_error("v=%a dec=%u cap=%zu: want '%s' (%d), got '%s' (%zu)\n", v, dec, cut[c], want, wn, got, gn);
			fail();
		}
		if (cut[c] < sizeof(got))
			assert_int_equal(got[cut[c]], 'x');
		checked++;
	}
}

static void around(double v)
{
	for (unsigned dec = 0; dec <= 4; dec++) {
		same(v, dec);
		same(nextafter(v, 0), dec);
		same(nextafter(v, INFINITY), dec);
	}
}

static void test_fixed_edges(void **state)
{
	static const double vals[] = { 0, 0.05, 0.15, 0.25, 0.35, 0.45, 0.5, 1.5, 2.5, 0.125, 0.375, 0.0625, 0.9995,
				       0.995, 9.95, 99.95, 999.5, 1e3, 1e6 - 0.05, 123456.789, 4503599627370.5,
				       450359962737049.5, 4503599627370495.5, 4503599627370496.0, 1e300, 5e-324,
				       2.2250738585072014e-308, 100.0, 99.94999999999999, 0.1, 0.2, 0.3 };

	(void)state;
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		around(vals[i]);
		around(-vals[i]); /* the fallback */
	}
	around(NAN);
	around(INFINITY);
	around(-INFINITY);
	/* every multiple of 0.05 below 1000 (x.x5: ties or near-ties at one decimal), the buffer whole */
	all_cuts = false;
	for (int i = 0; i < 20000; i++)
		around(i / 20.0);
	all_cuts = true;
	assert_true(checked > 300000);
}

static void test_fixed_random(void **state)
{
	uint64_t x = 88172645463325252ULL;

	(void)state;
	all_cuts = false;
	for (int i = 0; i < 100000; i++) {
		double v;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		switch (i % 3) {
		case 0: v = (double)(x >> 11) / 9007199254740992.0 * pow(10, (double)(x % 19) - 3); break; /* 1e-3 .. 1e15 */
		case 1: memcpy(&v, &x, sizeof(v)); break; /* any bit pattern */
		default: v = (double)(x % 100000000) / 1000.0; break; /* short decimals */
		}
		same(v, (unsigned)(x >> 60) % 5);
	}
	all_cuts = true;
}

static void test_u64(void **state)
{
	static const uint64_t vals[] = { 0, 1, 9, 10, 99, 100, 65535, 4294967295ULL, 18446744073709551615ULL };
	char want[32], got[32];

	(void)state;
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		for (size_t cap = 1; cap <= sizeof(got); cap++) {
			int wn = snprintf(want, cap, "%llu", (unsigned long long)vals[i]);

			assert_int_equal(fmt_u64(got, cap, vals[i]), (size_t)wn);
			assert_string_equal(got, want);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_edges),
		cmocka_unit_test(test_fixed_random),
		cmocka_unit_test(test_u64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
