/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kapimon doctor: read the features a BPF object uses from the object itself (opened, not loaded:
 * no privileges needed): each program's type and the helpers its instructions call, each map's type
 * and flags, the tracepoints tracepoint programs attach to. Probe them on this kernel with libbpf's
 * probe API (doctor_probe_needs, needs privileges).
 */
#ifndef KAPIMON_DOCTOR_BPF_NEEDS_H
#define KAPIMON_DOCTOR_BPF_NEEDS_H

#include <bpf/libbpf.h>

#include "doctor/floor.h"

/* Add every feature obj uses to ns, attributed to object name objname. required: kapimon cannot run
 * without this object; otherwise role says what is lost ("etcd calls"). Returns the number of
 * programs seen. */
int doctor_needs_from_object(struct doc_needs *ns, struct bpf_object *obj, const char *objname, bool required,
			     const char *role);

/* Probe each need on this kernel (program types, map types, map flags and helpers with libbpf's
 * probe API / a map create; tracepoints in tracefs). tracefs: its mount point, NULL when unknown. */
void doctor_probe_needs(struct doc_needs *ns, const char *tracefs);
/* libbpf cannot probe tracing (tp_btf) programs without an attach target: their program type and helpers
 * are OK when kapimon's own tp_btf programs loaded, MISSING otherwise (doctor_probe_needs leaves them). */
void doctor_needs_tracing_loaded(struct doc_needs *ns, bool loaded);

#endif
