/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kapimon doctor: the kernel features kapimon's own BPF programs use, and the kernel floor they
 * imply. The features are read from the BPF objects themselves (bpf_needs.c: program types, helper
 * calls in the instructions, map types and flags, tracepoints); when each first appeared upstream is
 * data (doc_floor_facts, with the source of every fact). Pure: no BPF syscalls here.
 */
#ifndef KAPIMON_DOCTOR_FLOOR_H
#define KAPIMON_DOCTOR_FLOOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/bpf.h>

enum doc_feat_kind {
	DOC_FEAT_PROG_TYPE = 1, /* id: enum bpf_prog_type */
	DOC_FEAT_MAP_TYPE,      /* id: enum bpf_map_type */
	DOC_FEAT_MAP_FLAG,      /* id: a BPF_F_* map flag bit */
	DOC_FEAT_HELPER,        /* id: enum bpf_func_id (probed per calling program type) */
	DOC_FEAT_TRACEPOINT,    /* name: "category/event" a tracepoint program attaches to */
	DOC_FEAT_GLOBAL_DATA,   /* .rodata/.data/.bss maps */
	DOC_FEAT_BPF_CALL,      /* BPF-to-BPF function calls */
	DOC_FEAT__COUNT
};

struct doc_kver {
	uint8_t major, minor;
};

/* When a feature first appeared in an upstream kernel, and where that fact comes from. */
struct doc_floor_fact {
	enum doc_feat_kind kind;
	uint32_t id;
	const char *name;           /* helper/type name, or the tracepoint for DOC_FEAT_TRACEPOINT */
	struct doc_kver first;
	const char *source;
	const char *fallback;       /* NULL, or what happens on a kernel without it */
	struct doc_kver fb_first;   /* with the fallback, the first kernel that works */
};

extern const struct doc_floor_fact doc_floor_facts[];
extern const size_t doc_floor_nfacts;

/* The fact for (kind, id) — for tracepoints (kind, name) — or NULL when the table has none. */
const struct doc_floor_fact *doctor_fact_find(enum doc_feat_kind kind, uint32_t id, const char *name);
const char *doctor_feat_kind_str(enum doc_feat_kind kind);

/*
 * Helper calls in a program: BPF_JMP|BPF_CALL with src_reg 0 (src_reg BPF_PSEUDO_CALL is a call of a
 * BPF subprogram, BPF_PSEUDO_KFUNC_CALL of a kernel function). Stores the distinct helper ids in
 * ascending order (at most max; returns how many distinct ids there are) and counts subprogram and
 * kfunc calls in *nsub and *nkfunc (either may be NULL).
 */
size_t doctor_insn_helpers(const struct bpf_insn *insns, size_t n, uint32_t *ids, size_t max, size_t *nsub,
			   size_t *nkfunc);

enum doc_probe { DOC_PROBE_NOT_RUN = 0, DOC_PROBE_OK, DOC_PROBE_MISSING, DOC_PROBE_ERROR };

/* One feature kapimon's programs need, with who needs it and what the probe found. */
struct doc_need {
	enum doc_feat_kind kind;
	uint32_t id;
	uint32_t prog_type;      /* helpers: the calling program type */
	char name[64];           /* display name */
	char users[256];         /* "http/h2x_process_headers, http/h2b_process_headers, grpc/..." */
	bool required;           /* used by an object kapimon cannot run without */
	char role[48];           /* of an optional object: what is lost without it ("etcd calls") */
	enum doc_probe probe;
	int probe_err;           /* DOC_PROBE_ERROR: the negative errno */
	const struct doc_floor_fact *fact; /* NULL: not in the table */
};

#define DOC_NEEDS_MAX 96
struct doc_needs {
	struct doc_need v[DOC_NEEDS_MAX];
	size_t n;
	bool overflow; /* more features than DOC_NEEDS_MAX: the list is incomplete */
};

/* Add (or merge into an existing entry) a feature used by program/map `user` of object `object`.
 * name: display name, or the tracepoint for DOC_FEAT_TRACEPOINT (NULL: from the fact table). role:
 * what an optional object gives (NULL when required). Returns the entry, NULL when full. */
struct doc_need *doctor_need_add(struct doc_needs *ns, enum doc_feat_kind kind, uint32_t id, uint32_t prog_type,
				 const char *name, const char *object, const char *user, bool required,
				 const char *role);

/* The first kernel a feature works on: its fallback's when it has one. */
struct doc_kver doctor_need_kver(const struct doc_need *n);

/* The kernel floor: the highest first version over the needs (required_only: only those of required
 * objects). *why (may be NULL) gets the need that sets it; *nunknown the needs without a fact. */
struct doc_kver doctor_floor(const struct doc_needs *ns, bool required_only, const struct doc_need **why,
			     size_t *nunknown);

struct doctor_verdict {
	bool can_run;          /* no required feature missing (or probe error) */
	size_t nprobed, nok, nmissing_required, nmissing_optional, nerror, nunknown;
	char text[1024];       /* one line: the floor and what is missing, exactly */
};
/* Judge the probed needs. Features with a fallback that are missing do not block. */
void doctor_needs_verdict(const struct doc_needs *ns, struct doctor_verdict *v);

/* "6.1.0-13-amd64" -> 6.1; false when it does not start with digits.digits */
bool doctor_parse_kver(const char *release, struct doc_kver *out);
int doctor_kver_cmp(struct doc_kver a, struct doc_kver b);

#endif
