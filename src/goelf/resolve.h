/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Resolve the probe targets (src/resolve/probe_targets.h) against one Go binary: entry and RET-site
 * file offsets for uprobes, or the reason a target is missing; and a doctor-style report.
 */
#ifndef KAPIMON_GOELF_RESOLVE_H
#define KAPIMON_GOELF_RESOLVE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "goelf/goelf.h"
#include "resolve/probe_targets.h"

#define GOELF_MAX_RETS 64

struct resolved_target {
	const struct probe_target *target;
	bool ok;
	const char *symbol;   /* full name matched in the binary (NULL if not found) */
	uint64_t entry_vaddr; /* function entry (also set for PROBE_RETURNS targets) */
	uint64_t entry_off;   /* file offset of the entry */
	uint64_t size;        /* function size in bytes (end - entry) */
	size_t nrets;         /* RET sites stored (<= GOELF_MAX_RETS) */
	int nrets_total;      /* RET sites found (may exceed nrets), or negative errno from the decoder */
	uint64_t ret_vaddr[GOELF_MAX_RETS];
	uint64_t ret_off[GOELF_MAX_RETS]; /* file offsets of the RET instructions */
	char reason[160];     /* why !ok */
	/* Where to attach (what capture uses): ENTRY: 1 site, the stack-check JBE when there is one;
	 * RETURNS: the RET sites; CALLSITE: the CALLs of target->callee inside the function. */
	size_t nsites;
	uint64_t site_vaddr[GOELF_MAX_RETS];
	uint64_t site_off[GOELF_MAX_RETS];
	bool cheap;           /* every site is one the kernel emulates (conditional jump or CALL) */
	int alt;              /* which of target->func's "A|B" alternatives matched */
};

/* Resolve one target. Returns 0 when resolved, else -ENOENT (function missing), -E2BIG (more RET
 * sites than GOELF_MAX_RETS), -EFAULT (address outside PT_LOAD file bytes), or the decoder's error;
 * r->reason says it in words either way. */
int goelf_resolve_target(const struct go_binary *b, const struct probe_target *t, struct resolved_target *r);

/* Resolve every entry of probe_targets[]; out has PT__COUNT elements. Returns the number resolved. */
int goelf_resolve_all(const struct go_binary *b, struct resolved_target out[PT__COUNT]);

/* True when every target of group (e.g. "grpc") resolved in res (a group attaches all or nothing). */
bool goelf_group_ok(const struct resolved_target res[PT__COUNT], const char *group);

struct json_writer;
/* Doctor report for the binary at path (also works for /proc/PID/exe): build info, pclntab, each
 * target with its entry and RET sites (vaddr + file offset), groups, struct-offset sources and values,
 * everything unresolved. Text to out when w is NULL; otherwise one JSON object into w (out unused).
 * Returns 0, or the negative gobin_open error (which is also reported, as text or as {"error":...}). */
int goelf_report(struct json_writer *w, FILE *out, const char *path);
/* Same for an already opened binary. */
void goelf_report_binary(struct json_writer *w, FILE *out, const struct go_binary *b);

#endif
