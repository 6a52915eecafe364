/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Loading bpf/conn.bpf.c: each of its programs exists in three variants (tp_btf, raw_tp, plain
 * tracepoint); the first variant whose programs all load on this kernel is kept, the others are
 * not loaded. Used by capture and by `kapimon doctor` (which reports the variant chosen).
 */
#ifndef KAPIMON_CONN_LOAD_H
#define KAPIMON_CONN_LOAD_H

#include <stddef.h>

#include <bpf/libbpf.h>

enum conn_variant { CONN_VAR_BTF = 0, CONN_VAR_RAW = 1, CONN_VAR_TP = 2, CONN_VAR__COUNT };

struct conn_bpf;

/* "tp_btf", "raw_tp", "tracepoint" */
const char *conn_variant_name(enum conn_variant v);
/* The variant a program of conn.bpf.c belongs to (by its name's suffix: _btf, _raw, _tp); -1: none. */
int conn_prog_variant(const char *prog_name);
/* Set autoload so that only variant v's programs load (skel opened, not loaded). */
void conn_select_variant(struct conn_bpf *skel, enum conn_variant v);
/* Open and load with the first variant that loads (in enum order; the environment variable
 * KAPIMON_CONN_VARIANT=raw_tp|tracepoint starts further down, for tests of the fallbacks). NULL when none
 * does (errno set); *v gets the variant. why (may be NULL): each variant that failed and its error. */
struct conn_bpf *conn_open_load(enum conn_variant *v, char *why, size_t why_len);
/* conn_open_load whose hit and event counters are the maps hits_fd and counters_fd (arrays of
 * KP_STAT_STRIDE slots per CPU, capture/stat_maps.h: another object's, so one read sums both); -1, -1: its own. */
struct conn_bpf *conn_open_load_stats(enum conn_variant *v, char *why, size_t why_len, int hits_fd, int counters_fd);
/* Attach every loaded program; returns links made (at most max) or a negative errno (nothing kept). */
int conn_attach(struct conn_bpf *skel, struct bpf_link **links, int max);

#endif
