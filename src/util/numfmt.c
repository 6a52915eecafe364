// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Numbers without printf: util/numfmt.h. */
#include "util/numfmt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const double pow10_tab[4] = { 1, 10, 100, 1000 };

/* Copy the n bytes of t to buf as snprintf would (cut to cap - 1, always terminated when cap > 0). */
static size_t put(char *buf, size_t cap, const char *t, size_t n)
{
	if (cap) {
		size_t m = n < cap - 1 ? n : cap - 1;

		memcpy(buf, t, m);
		buf[m] = '\0';
	}
	return n;
}

static size_t u64_digits(char *t, uint64_t v)
{
	char d[20];
	size_t k = 0, n = 0;

	do
		d[k++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (k)
		t[n++] = d[--k];
	return n;
}

size_t fmt_u64(char *buf, size_t cap, uint64_t v)
{
	char t[24];

	return put(buf, cap, t, u64_digits(t, v));
}

size_t fmt_fixed(char *buf, size_t cap, double v, unsigned decimals)
{
	char t[48];
	double p, s, r, d;
	uint64_t q, ip, fp;
	size_t n;

	if (decimals > 3 || !(v >= 0) || signbit(v) || (s = v * (p = pow10_tab[decimals])) >= 4503599627370496.0)
		return (size_t)snprintf(buf, cap, "%.*f", (int)decimals, v);
	/* r = the integer below the exact v * p (s is v * p rounded: floor(s) is floor(v * p), or one more
	 * when v * p is just below that integer; both round to the same result below). The sign of the
	 * fused v * p - (r + 0.5) is the sign of the exact difference (r + 0.5 is exact: r < 2^52). */
	r = floor(s);
	d = fma(v, p, -(r + 0.5));
	q = (uint64_t)r;
	if (d > 0 || (d == 0 && (q & 1)))
		q++;
	ip = q, fp = 0;
	if (decimals) {
		uint64_t m = (uint64_t)p;

		ip = q / m;
		fp = q % m;
	}
	n = u64_digits(t, ip);
	if (decimals) {
		t[n++] = '.';
		for (unsigned i = decimals; i > 0; i--) {
			t[n + i - 1] = (char)('0' + fp % 10);
			fp /= 10;
		}
		n += decimals;
	}
	return put(buf, cap, t, n);
}
