// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "aggregate/loghist.h"

#include <math.h>

unsigned lh_bucket(double v)
{
	double b;

	if (!(v >= LH_MIN_NS)) /* also NaN */
		return 0;
	if (v >= LH_MAX_NS)
		return LH_NBUCKETS - 1;
	b = floor(log10(v / LH_MIN_NS) * LH_PER_DECADE);
	if (b < 0)
		b = 0;
	if (b > LH_NBUCKETS - 3)
		b = LH_NBUCKETS - 3;
	return 1 + (unsigned)b;
}

double lh_lower(unsigned b)
{
	if (b == 0)
		return 0;
	if (b >= LH_NBUCKETS - 1)
		return LH_MAX_NS;
	return LH_MIN_NS * pow(10.0, (double)(b - 1) / LH_PER_DECADE);
}

double lh_upper(unsigned b)
{
	if (b == 0)
		return LH_MIN_NS;
	if (b >= LH_NBUCKETS - 1)
		return INFINITY;
	return LH_MIN_NS * pow(10.0, (double)b / LH_PER_DECADE);
}

double lh_value(unsigned b)
{
	double lo, hi;

	if (b == 0)
		return LH_MIN_NS;
	if (b >= LH_NBUCKETS - 1)
		return LH_MAX_NS;
	lo = lh_lower(b);
	hi = lh_upper(b);
	return 2 * lo * hi / (lo + hi);
}

double lh_quantile(const uint64_t *counts, double q)
{
	double total = 0, target, cum = 0;

	for (unsigned b = 0; b < LH_NBUCKETS; b++)
		total += (double)counts[b];
	if (total <= 0)
		return NAN;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	target = q * total;
	for (unsigned b = 0; b < LH_NBUCKETS; b++) {
		if (!counts[b])
			continue;
		cum += (double)counts[b];
		if (cum >= target)
			return lh_value(b);
	}
	return lh_value(LH_NBUCKETS - 1); /* not reached: cum == total >= target */
}
