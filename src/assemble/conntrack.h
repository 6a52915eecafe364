/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The apiserver's TCP connections, from the TCP tracepoints (bpf/conn.bpf.c) and /proc at attach:
 * clients' connections to its listening ports, keyed by the peer address as Go prints it ("ip:port",
 * so request records find their connection's local port), and its own connections to etcd, keyed by
 * their local address. Per connection: open time, retransmits seen, resets; per group (a client's IP,
 * an etcd endpoint) the connections open. Every open and close becomes a conn_record (record.h),
 * handed to the emit callback with what retransmit and reset events add.
 *
 * Closed connections are kept for a grace period: their last requests' records may arrive after the
 * close event. Bounded: max_conns connections and as many groups; what does not fit is counted (full,
 * groups_full) and not tracked. Pure logic, no clock reads, not thread-safe.
 */
#ifndef KAPIMON_CONNTRACK_H
#define KAPIMON_CONNTRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "assemble/record.h"
#include "kapimon/events.h"

struct conntrack;

struct ct_stats {
	uint64_t opened;  /* ESTABLISHED events (clients) */
	uint64_t closed;  /* CLOSE events (clients) */
	uint64_t seeded;  /* connections found in /proc at start (clients) */
	uint64_t active;  /* open now (clients) */
	uint64_t full;    /* connections not tracked: table full */
	/* appended */
	uint64_t etcd_opened, etcd_closed, etcd_seeded, etcd_active; /* the apiserver's connections to etcd */
	uint64_t retransmits;     /* retransmitted segments on tracked connections (both directions) */
	uint64_t resets_sent, resets_received;
	uint64_t groups_full;     /* events whose group (client IP) found no room: group_open 0 */
	uint64_t unknown;         /* retransmit/reset/close events of connections not in the table */
};

typedef void (*ct_emit_fn)(const struct conn_record *r, void *ctx);

struct conntrack *ct_new(size_t max_conns);
void ct_free(struct conntrack *ct);
/* Records of opens, closes, retransmits and resets go to fn from now on (NULL: none). mono_to_wall_ns:
 * added to event times for the records' wall-clock ts. */
void ct_set_emit(struct conntrack *ct, ct_emit_fn fn, void *ctx, int64_t mono_to_wall_ns);
/* Any connection event (open, seeded, close, retransmit, reset; either direction). */
void ct_feed(struct conntrack *ct, const struct kp_conn_event *ev);
/* A client connection opened / closed (no counters; tests and replays). */
void ct_open(struct conntrack *ct, const char *peer, uint16_t local_port, uint64_t ts, bool seeded);
void ct_close(struct conntrack *ct, const char *peer, uint64_t ts);
/* Local port the peer connected to, 0 when unknown. (Not const: recent answers are remembered.) */
uint16_t ct_local_port(struct conntrack *ct, const char *peer);
/* The peer's connection is known to have closed after `since` and at least grace_ns before now
 * (monotonic ns); false when it is open, unknown or closed too recently. */
bool ct_closed_since(const struct conntrack *ct, const char *peer, uint64_t since, uint64_t now, uint64_t grace_ns);
/* Forget connections closed more than grace_ns before now. */
void ct_expire(struct conntrack *ct, uint64_t now, uint64_t grace_ns);
const struct ct_stats *ct_get_stats(const struct conntrack *ct);

/* The group of an address: "ip" of "ip:port" / "[v6]:port" (clients, by IP: each connection has its
 * own port), or the address itself (etcd endpoints). */
void ct_group_of(enum rec_conn_dir dir, const char *addr, char *out, size_t len);

#endif
