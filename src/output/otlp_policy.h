/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The OTLP exporter's decisions, as pure functions: which traces are sampled, which responses are
 * retried, how long to wait before the next attempt (OTLP/HTTP specification: retry 429, 502, 503, 504
 * and connection failures with exponential backoff and jitter; honour Retry-After).
 */
#ifndef KAPIMON_OUTPUT_OTLP_POLICY_H
#define KAPIMON_OUTPUT_OTLP_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OTLP_PER_MILLION 1000000u

/* true when the trace with this key (otlp_trace_key) is kept at per_million (0 … 1,000,000). The
 * decision depends only on the trace id, so a request and all its etcd calls are kept or dropped
 * together. */
bool otlp_sampled(uint64_t trace_key, uint32_t per_million);

/* HTTP statuses the OTLP/HTTP specification says to retry: 429, 502, 503, 504. */
bool otlp_status_retryable(int status);

/* Delay before retry number attempt (0 = first retry): min(initial << attempt, max), then "equal
 * jitter": a value in [d/2, d] chosen by rnd. */
uint64_t otlp_backoff_ms(uint64_t initial_ms, uint64_t max_ms, unsigned attempt, uint64_t rnd);

/* Retry-After in delta-seconds form ("120"); the HTTP-date form and anything else give -1 (the caller
 * then uses its own backoff). *ms is capped at max_ms. */
int otlp_retry_after_ms(const char *v, size_t len, uint64_t max_ms, uint64_t *ms);

#endif
