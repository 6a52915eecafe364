/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Client connections to the apiserver, keyed by the peer address as Go prints it ("ip:port"):
 * which local port each one reached, and open/close counts. Fed by the TCP state tracepoint and
 * seeded from /proc for connections opened before kapimon attached. Closed connections are kept
 * for a grace period: their last requests' records may arrive after the close event.
 */
#ifndef KAPIMON_CONNTRACK_H
#define KAPIMON_CONNTRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conntrack;

struct ct_stats {
	uint64_t opened;  /* ESTABLISHED events */
	uint64_t closed;  /* CLOSE events */
	uint64_t seeded;  /* connections found in /proc at start */
	uint64_t active;  /* open now */
	uint64_t full;    /* connections not tracked: table full */
};

struct conntrack *ct_new(size_t max_conns);
void ct_free(struct conntrack *ct);
void ct_open(struct conntrack *ct, const char *peer, uint16_t local_port, uint64_t ts, bool seeded);
void ct_close(struct conntrack *ct, const char *peer, uint64_t ts);
/* Local port the peer connected to, 0 when unknown. */
uint16_t ct_local_port(const struct conntrack *ct, const char *peer);
/* The peer's connection is known to have closed after `since` and at least grace_ns before now
 * (monotonic ns); false when it is open, unknown or closed too recently. */
bool ct_closed_since(const struct conntrack *ct, const char *peer, uint64_t since, uint64_t now, uint64_t grace_ns);
/* Forget connections closed more than grace_ns before now. */
void ct_expire(struct conntrack *ct, uint64_t now, uint64_t grace_ns);
const struct ct_stats *ct_get_stats(const struct conntrack *ct);

#endif
