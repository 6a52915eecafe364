// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "output/otlp_policy.h"

bool otlp_sampled(uint64_t trace_key, uint32_t per_million)
{
	if (per_million >= OTLP_PER_MILLION)
		return true;
	return trace_key % OTLP_PER_MILLION < per_million;
}

bool otlp_status_retryable(int status)
{
	return status == 429 || status == 502 || status == 503 || status == 504;
}

uint64_t otlp_backoff_ms(uint64_t initial_ms, uint64_t max_ms, unsigned attempt, uint64_t rnd)
{
	uint64_t d = initial_ms;

	for (unsigned i = 0; i < attempt && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	return d - (d / 2 ? rnd % (d / 2 + 1) : 0);
}

int otlp_retry_after_ms(const char *v, size_t len, uint64_t max_ms, uint64_t *ms)
{
	uint64_t s = 0;
	size_t i = 0, digits = 0;

	while (i < len && (v[i] == ' ' || v[i] == '\t'))
		i++;
	for (; i < len && v[i] >= '0' && v[i] <= '9'; i++, digits++)
		if (s < 1000000000ULL)
			s = s * 10 + (uint64_t)(v[i] - '0');
	while (i < len && (v[i] == ' ' || v[i] == '\t'))
		i++;
	if (!digits || i != len)
		return -1;
	*ms = s * 1000 > max_ms ? max_ms : s * 1000;
	return 0;
}
