/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The probe plan: which probes to attach to one Go binary, as a pure function of the binary and the
 * options. Per probe group (resolve/probe_targets.h: a group attaches all or nothing): whether it is
 * wanted, the targets with their sites (file offsets), the BPF program each site gets (one per
 * variant: the function alternative that matched),
 * which fallback was taken, where the struct offsets come from, and why a group is missing.
 * src/capture executes a plan; `doctor` prints it; `record` and `top` print its summary line.
 * Nothing here knows about BPF objects or Kubernetes.
 */
#ifndef KAPIMON_PLAN_H
#define KAPIMON_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "goelf/goelf.h"
#include "kapimon/go_offsets.h"
#include "plan/offsets_select.h"
#include "resolve/probe_targets.h"

/* The BPF programs a site can be attached to: one per variant (no attach cookies: kernel 5.15+),
 * named as in bpf/; capture maps them to skeleton programs. */
enum plan_prog {
	PLAN_PROG_NONE = 0,
	PLAN_PROG_H2X_HEADERS,           /* request start, x/net/http2 */
	PLAN_PROG_H2B_HEADERS,           /* request start, net/http's bundled http2 */
	PLAN_PROG_H2X_DONE,              /* request end, x/net/http2 */
	PLAN_PROG_H2B_DONE,              /* request end, bundled */
	PLAN_PROG_H1_SERVE_CALL,         /* request start, h1: at the call of ServeHTTP (w in RCX) */
	PLAN_PROG_H1_READ_REQUEST_RET,   /* request start, h1 fallback: readRequest's RETs (w in RAX) */
	PLAN_PROG_H1_FINISH,             /* request end, h1 */
	PLAN_PROG_GRPC_WRITE_HTTP2CLIENT, /* etcd request message, grpc <= 1.65 (http2Client).Write */
	PLAN_PROG_GRPC_WRITE_CLIENTSTREAM, /* etcd request message, grpc >= 1.66 (ClientStream).Write */
	PLAN_PROG_GRPC_FINISH,           /* etcd call end */
	PLAN_PROG_ETCD_WATCH,            /* etcd watch response dispatched */
	PLAN_PROG_ETCD_RANGE,            /* etcd RangeResponse being decoded */
	PLAN_PROG_AUTHN_OK,              /* request start after authentication (apiserver), user and groups: at a
					  * call site of the success filter (req in its spill slot) */
	PLAN_PROG_AUTHN_OK_ENTRY,        /* ... fallback: at the success filter's entry (req in RCX) */
	PLAN_PROG_AUTHN_FAIL,            /* request start of a request that failed authentication */
	PLAN_PROG_APF_REJECT,            /* APF rejection (kube-apiserver) */
	PLAN_PROG_APF_TOO_MANY,          /* a 429 answered by a filter (kube-apiserver) */
	PLAN_PROG_APF_DIGEST,            /* the APF config digested: names and UIDs (kube-apiserver) */
	PLAN__NPROGS
};
extern const char *const plan_prog_names[PLAN__NPROGS]; /* the BPF programs' names */

struct plan_site {
	enum probe_group group;
	enum probe_id target;
	enum plan_prog prog; /* the program for the target and the alternative that matched */
	int alt;          /* which "A|B" alternative of the target's function matched */
	uint64_t vaddr, off; /* virtual address and file offset of the probed instruction */
	bool cheap;       /* the kernel emulates the instruction (conditional jump, CALL) */
	bool starts;      /* begins a request or call (budget mode detaches these first) */
};

struct plan_group {
	bool wanted;      /* not switched off by an option */
	bool ok;          /* attaches: every target (or its fallback) resolved and the offsets are usable */
	uint32_t first_site, nsites; /* its sites in plan.sites */
	bool fallback;    /* a fallback target stands in for a primary one */
	const char *offsets_source; /* "dwarf", "measured", "nearest (unverified)", or NULL */
	const char *offsets_basis;  /* unverified: from which measured row and why, else "" */
	char missing[384];          /* wanted && !ok: why; !wanted: the option */
};

struct plan_opts {
	bool no_h1, no_h2, no_etcd;
	bool no_authn; /* the generic request starts even where the apiserver's authn sites are found */
};

#define PLAN_MAX_SITES 256

struct plan {
	struct plan_opts opts;
	char go_version[32]; /* "go1.19.8" or "go?" */
	struct plan_group groups[PG__COUNT];
	struct plan_site sites[PLAN_MAX_SITES];
	uint32_t nsites;
	uint32_t expensive;  /* sites the kernel single-steps (~15x the cost of an emulated one) */
	struct kapimon_offsets offsets; /* what the BPF programs read (rodata) */
	struct kp_authn_params authn;   /* k8s-authn: context keys and user layout (rodata) */
	bool authn_starts;   /* the k8s-authn group attaches and replaces the generic request starts */
	bool ok;             /* at least one HTTP server group attaches */
	char error[640];     /* !ok: why */
	char unresolved[1024]; /* every target that did not resolve, "func: reason; ..." ("" when none) */
	/* API Priority and Fairness classification of served requests (response headers read at the end
	 * programs, no probe of its own): which attached HTTP groups read it, or why none does */
	char apf_served[256];
	bool apf_served_ok;
};

/* The header keys the BPF programs look up (rodata hdr_keys, enum kp_hdr): from the table in
 * src/plan/headers.c; the APF keys only when apf_served_ok. */
struct kp_hdr_key;
void plan_hdr_keys(const struct plan *p, struct kp_hdr_key *keys /* [KP_HDR__COUNT] */);
/* The canonical header name of a key (enum kp_hdr), or NULL. */
const char *plan_hdr_name(int hdr);
/* Offsets of a Kubernetes API object's name and UID (src/plan/k8s_meta.c). */
void plan_k8s_offsets(struct kp_k8s_offsets *o);

/* Build the plan for b (which must stay open only during the call). Returns 0, or -ENOENT when no HTTP
 * server group can attach (p->error says why; the rest of the plan is filled all the same). */
int plan_build(const struct go_binary *b, const struct plan_opts *o, struct plan *p);

/* One line: "go1.19.8: 9 uprobes (h2 x/net offsets fallback, h1 offsets table, etcd grpc offsets table)"
 * (", no etcd" when the etcd group does not attach). Returns strlen. */
size_t plan_summary(const struct plan *p, char *buf, size_t len);
/* The whole plan as text (indent before every line), the summary line first. */
void plan_print(const struct plan *p, FILE *out, const char *indent);
/* The etcd response offsets: RangeResponse's (the etcd-range group attaches only with them) and grpc's
 * parser message header (the response size of every call; without it only Ranges have one). */
bool plan_range_offsets_ok(const struct kapimon_offsets *o);
bool plan_resp_size_ok(const struct kapimon_offsets *o);
/* The program that reads target t when its function's alternative alt matched (PLAN_PROG_NONE: none). */
enum plan_prog plan_target_prog(enum probe_id t, int alt);
/* The function a site probes: the alternative of its target that matched. */
const char *plan_site_func(const struct plan_site *s, char *buf, size_t len);
struct json_writer;
void plan_json(const struct plan *p, struct json_writer *w);

#endif
