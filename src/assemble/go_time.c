// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "assemble/go_time.h"

/* src/time/time.go (Go 1.9+): hasMonotonic, nsecMask, nsecShift, wallToInternal, unixToInternal */
#define HAS_MONOTONIC (1ULL << 63)
#define NSEC_SHIFT 30
#define NSEC_MASK ((1ULL << NSEC_SHIFT) - 1)
#define SEC_PER_DAY 86400LL
#define WALL_TO_INTERNAL ((1884LL * 365 + 1884 / 4 - 1884 / 100 + 1884 / 400) * SEC_PER_DAY)
#define UNIX_TO_INTERNAL ((1969LL * 365 + 1969 / 4 - 1969 / 100 + 1969 / 400) * SEC_PER_DAY)

bool go_time_unix_ns(uint64_t wall, int64_t ext, uint64_t *unix_ns)
{
	uint64_t nsec = wall & NSEC_MASK;
	int64_t sec, usec;

	if (wall & HAS_MONOTONIC)
		sec = WALL_TO_INTERNAL + (int64_t)((wall << 1) >> (NSEC_SHIFT + 1));
	else
		sec = ext;
	if (nsec >= 1000000000ULL || sec < UNIX_TO_INTERNAL)
		return false;
	usec = sec - UNIX_TO_INTERNAL;
	if (usec > (int64_t)(UINT64_MAX / 1000000000ULL) - 1)
		return false;
	*unix_ns = (uint64_t)usec * 1000000000ULL + nsec;
	return true;
}
