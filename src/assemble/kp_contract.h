/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The BPF side's counters, named once: one table for probe hit counters (enum kp_probe), one for
 * event counters (enum kp_counter), and where each lands in the stats record. Every id up to
 * __COUNT has an entry; tests/unit/test_kp_contract.c fails when one has no name or no consumer.
 */
#ifndef KAPIMON_KP_CONTRACT_H
#define KAPIMON_KP_CONTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "assemble/stats.h"
#include "kapimon/events.h"

enum kp_probe_kind { KP_KIND_UPROBE = 1, KP_KIND_TRACEPOINT = 2 };

struct kp_probe_desc {
	const char *name;      /* key in the stats record's probe_hits and in Prometheus */
	enum kp_probe_kind kind;
	bool request_path;     /* one of the probes every apiserver request hits (hits_per_request) */
	const char *programs;  /* the BPF programs that count it */
};

struct kp_counter_desc {
	const char *name;      /* key in the stats record */
	size_t stats_off;      /* offsetof(struct record_stats, <uint64_t field>) */
	const char *meaning;
};

extern const struct kp_probe_desc kp_probe_desc[KP_PROBE__COUNT];
extern const struct kp_counter_desc kp_counter_desc[KP_CNT__COUNT];

/* The probe's name, or NULL for an id out of range. */
const char *kp_probe_name(int id);
/* Fill the stats record's BPF parts: probe_hits/probe_names/nprobes and every counter's field. */
void kp_stats_fill(struct record_stats *s, const uint64_t hits[KP_PROBE__COUNT],
		   const uint64_t counters[KP_CNT__COUNT]);
/* Hits of the probes every apiserver request passes (h2/h1 start and end). */
uint64_t kp_request_path_hits(const uint64_t hits[KP_PROBE__COUNT]);

#endif
