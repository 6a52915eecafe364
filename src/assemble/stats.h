/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The periodic {"kind":"stats"} record: kapimon's own health (drops, errors, probe hits). */
#ifndef KAPIMON_STATS_H
#define KAPIMON_STATS_H

#include <stdbool.h>
#include <stdint.h>

#define RECORD_STATS_MAX_PROBES 24
#define RECORD_STATS_MAX_RINGS 4
#define RECORD_STATS_MAX_SOURCES 16

struct record_stats {
	uint64_t ts_ns;          /* wall clock, ns since the Unix epoch */
	uint64_t records;        /* request records written so far */
	uint64_t etcd_records;   /* etcd records written so far */
	uint64_t ringbuf_drops;  /* events lost because a ring buffer was full (all rings) */
	uint32_t nrings;         /* entries used in ring_names/ring_drops (0: only the total is written) */
	const char *ring_names[RECORD_STATS_MAX_RINGS]; /* NULL: "ring<i>" */
	uint64_t ring_drops[RECORD_STATS_MAX_RINGS];
	uint64_t read_errors;    /* failed user-memory reads in probes */
	uint64_t h2_no_method;   /* HTTP/2 HEADERS frames without :method (trailers), not requests */
	uint64_t bad_events;     /* malformed events from the kernel side */
	uint64_t decode_errors;  /* protocol decode errors (protobuf, HTTP) */
	uint64_t unmatched_ends; /* request ends without a start */
	uint64_t pending;        /* requests started and not yet ended */
	uint32_t nprobes;        /* entries used in probe_names/probe_hits */
	const char *probe_names[RECORD_STATS_MAX_PROBES]; /* NULL: "probe<i>" */
	uint64_t probe_hits[RECORD_STATS_MAX_PROBES];
	double hits_per_request; /* probe hits on the request path / requests seen (0 when none) */
	/* etcd (written when has_etcd) */
	bool has_etcd;
	uint64_t etcd_calls;       /* unary calls paired */
	uint64_t etcd_linked;      /* calls linked to an apiserver request */
	uint64_t etcd_streams;     /* client streams seen (Watch, LeaseKeepAlive) */
	uint64_t etcd_stream_msgs; /* request messages sent on streams */
	double etcd_hits_per_call; /* gRPC probe hits / (calls + stream messages + unmatched) */
	uint64_t etcd_watch_responses; /* watch responses with events received */
	uint64_t etcd_watch_events;    /* events in them */
	uint64_t etcd_watch_keys_truncated; /* watch responses whose first key was cut (resource from the prefix) */
	uint64_t etcd_stopped_at_value; /* request copies that stopped before a value field */
	uint64_t etcd_copy_gave_up;     /* request copies the probe's protobuf walk cut short */
	uint64_t etcd_no_resp_size;     /* successful unary calls without a response size */
	uint64_t etcd_range_no_kvs;     /* successful Ranges without the key-values returned */
	uint64_t etcd_held_narrow;      /* held calls indexed under their request's context alone */
	uint64_t etcd_cost_early;       /* request records delivered before their etcd calls could be summed */
	size_t n_watch_res;            /* entries in watch_res */
	const char *watch_res_names[64];
	uint64_t watch_res_events[64];
	/* client connections (written when has_conns) */
	bool has_conns;
	uint64_t conns_opened, conns_closed, conns_active, conns_seeded;
	uint64_t conns_etcd_opened, conns_etcd_closed, conns_etcd_active; /* the apiserver's connections to etcd */
	uint64_t conns_retransmits, conns_resets_sent, conns_resets_received;
	uint64_t conns_untracked;  /* connections not tracked: kapimon's connection table was full */
	uint64_t conns_bpf_table_full; /* etcd connections the BPF socket table had no room for */
	/* budget mode (written when budget > 0) */
	double budget;             /* allowed overhead, fraction of the apiserver's CPU */
	double duty;               /* share of time the per-request probes are attached */
	double sample_factor;      /* 1/duty of the current window */
	double hit_cost_ns;        /* calibrated cost of one uprobe hit (trap + empty program) */
	double per_hit_ns;         /* last cycle: (hits x hit_cost + programs' run time) / hits */
	double est_overhead;       /* estimated overhead at the current duty */
	double measured_overhead;  /* all cycles so far: probe hits x hit cost / apiserver's own CPU */
	double cycle_s;            /* length of the current cycle */
	uint64_t cycles;           /* cycles measured */
	uint64_t late_windows;     /* windows that opened after their cycle began (attach ran late) */
	double attach_ms_max;      /* slowest attach of all probes */
	double detach_ms_max;      /* slowest background detach (after the drain) */
	uint64_t span_start_ns;    /* wall clock: weighted records stand for the traffic from here ... */
	uint64_t span_end_ns;      /* ... to here (0 while running) */
	/* apiserver processes (appended) */
	bool has_apiservers;       /* write "apiservers" (filled by the capture side) */
	bool follow;               /* watching every kube-apiserver (no --pid) */
	uint32_t nattached;        /* apiservers with probes attached now */
	uint32_t attached_pids[RECORD_STATS_MAX_SOURCES];
	uint64_t attaches, exits;  /* attaches so far, attached apiservers that exited */
	/* request starts after authentication (appended; written when any is non-zero) */
	uint64_t authn_starts;     /* authn starts accepted (authenticated and failed) */
	uint64_t authn_no_user;    /* BPF: authenticated starts without a user of a known type */
	uint64_t authn_no_recv_ts; /* BPF: starts dropped without the received-timestamp context (their end is
				    * then unmatched); plus starts whose timestamp was implausible (probe time used) */
	/* API Priority and Fairness (appended; written when has_apf: a rejection or 429 was seen) */
	bool has_apf;
	uint64_t apf_rejects, apf_too_many, apf_attributed, apf_unpaired, apf_expired, apf_objects, apf_named;
};

#endif
