// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "input/timeparse.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm) */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const char *s, size_t len, size_t *i, int n, int *out)
{
	int v = 0;

	for (int k = 0; k < n; k++) {
		if (*i >= len || s[*i] < '0' || s[*i] > '9')
			return false;
		v = v * 10 + (s[*i] - '0');
		(*i)++;
	}
	*out = v;
	return true;
}

bool time_parse_rfc3339(const char *s, size_t len, int64_t *ns)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	size_t i = 0;
	int Y, M, D, h = 0, m = 0, sec = 0;
	int64_t frac = 0, off = 0;

	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (!digits(s, len, &i, 4, &Y) || i >= len || s[i++] != '-' || !digits(s, len, &i, 2, &M) || i >= len ||
	    s[i++] != '-' || !digits(s, len, &i, 2, &D))
		return false;
	/* int64 nanoseconds cover 1677-09-21 .. 2262-04-11 */
	if (Y < 1678 || Y > 2261 || M < 1 || M > 12 || D < 1 || D > mdays[M - 1])
		return false;
	if (i < len && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
		i++;
		if (!digits(s, len, &i, 2, &h) || i >= len || s[i++] != ':' || !digits(s, len, &i, 2, &m))
			return false;
		if (i < len && s[i] == ':') {
			i++;
			if (!digits(s, len, &i, 2, &sec))
				return false;
			if (i < len && (s[i] == '.' || s[i] == ',')) {
				int nd = 0;

				i++;
				if (i >= len || s[i] < '0' || s[i] > '9')
					return false;
				while (i < len && s[i] >= '0' && s[i] <= '9') {
					if (nd < 9) {
						frac = frac * 10 + (s[i] - '0');
						nd++;
					}
					i++;
				}
				for (; nd < 9; nd++)
					frac *= 10;
			}
		}
		if (h > 23 || m > 59 || sec > 60)
			return false;
		if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
			i++;
		} else if (i < len && (s[i] == '+' || s[i] == '-')) {
			int sign = s[i++] == '-' ? -1 : 1, oh, om = 0;

			if (!digits(s, len, &i, 2, &oh))
				return false;
			if (i < len && s[i] == ':')
				i++;
			if (i < len && !digits(s, len, &i, 2, &om))
				return false;
			if (oh > 23 || om > 59)
				return false;
			off = sign * (int64_t)(oh * 3600 + om * 60);
		}
	}
	if (i != len)
		return false;
	int64_t days = days_from_civil(Y, (unsigned)M, (unsigned)D);
	int64_t secs = days * 86400 + h * 3600 + m * 60 + sec - off;

	*ns = secs * 1000000000LL + frac;
	return true;
}

bool time_parse_any(const char *s, size_t len, int64_t *ns)
{
	char tmp[64], *end;
	double v;

	if (time_parse_rfc3339(s, len, ns))
		return true;
	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= sizeof(tmp))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	{
		/* integers exactly (ms/us/ns epochs exceed a double's 53 bits) */
		long long iv;

		errno = 0;
		iv = strtoll(tmp, &end, 10);
		if (!*end && end != tmp && !errno) {
			long long a = iv < 0 ? -iv : iv;

			long long mul = a >= 100000000000000000LL ? 1 : a >= 100000000000000LL ? 1000LL :
					a >= 100000000000LL ? 1000000LL : 1000000000LL;
			long long r;

			if (__builtin_mul_overflow(iv, mul, &r))
				return false;
			*ns = r;
			return true;
		}
	}
	v = strtod(tmp, &end);
	if (*end || end == tmp || !isfinite(v) || fabs(v) > 9e18 || (fabs(v) < 1e11 && fabs(v) > 9e9) ||
	    (fabs(v) >= 1e11 && fabs(v) < 1e14 && fabs(v) > 9e12) || (fabs(v) >= 1e14 && fabs(v) < 1e17 && fabs(v) > 9e15))
		return false;
	if (fabs(v) >= 1e17)
		*ns = (int64_t)v; /* ns */
	else if (fabs(v) >= 1e14)
		*ns = (int64_t)(v * 1e3); /* us */
	else if (fabs(v) >= 1e11)
		*ns = (int64_t)(v * 1e6); /* ms */
	else
		*ns = (int64_t)llround(v * 1e9); /* s */
	return true;
}

void time_format_rfc3339(int64_t ns, int frac_digits, char *buf, size_t cap)
{
	int64_t secs = ns >= 0 ? ns / 1000000000LL : -((-ns + 999999999LL) / 1000000000LL);
	int64_t rem = ns - secs * 1000000000LL;
	int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	int64_t sod = secs - days * 86400;
	/* civil_from_days */
	int64_t z = days + 719468;
	const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	const unsigned doe = (unsigned)(z - era * 146097);
	const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = (int64_t)yoe + era * 400;
	const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const unsigned mp = (5 * doy + 2) / 153;
	const unsigned d = doy - (153 * mp + 2) / 5 + 1;
	const unsigned m = mp < 10 ? mp + 3 : mp - 9;
	char frac[16] = "";

	y += m <= 2;
	if (frac_digits > 9)
		frac_digits = 9;
	if (frac_digits > 0) {
		char all[24];

		snprintf(all, sizeof(all), "%09lld", (long long)(rem % 1000000000LL));
		frac[0] = '.';
		memcpy(frac + 1, all, (size_t)frac_digits);
		frac[frac_digits + 1] = '\0';
	}
	snprintf(buf, cap, "%04lld-%02u-%02uT%02d:%02d:%02d%sZ", (long long)y, m, d, (int)(sod / 3600),
		 (int)(sod / 60 % 60), (int)(sod % 60), frac);
}
