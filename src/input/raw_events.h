/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Raw ring-buffer event files: the events kapimon's BPF programs submitted, in the order userspace
 * consumed them, for replay benchmarks (tests/bench/replay.c) and debugging. Written by the hidden
 * `kapimon record --raw-events FILE`.
 *
 * Format: the line "kapimon-raw-events 1\n", then per event a 4-byte little-endian size and the
 * event's bytes (include/kapimon/events.h). Files may be gzip-compressed (read transparently).
 *
 * Scrubbed on write: bytes past each string's copied length (ring-buffer memory is not zeroed: they
 * may hold older events) are zeroed, etcd request messages keep only keys and integers
 * (etcd/etcd_redact.h), and events of unknown type keep only their header. No value the apiserver
 * wrote to etcd is ever in such a file.
 */
#ifndef KAPIMON_INPUT_RAW_EVENTS_H
#define KAPIMON_INPUT_RAW_EVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RAW_EVENTS_MAGIC "kapimon-raw-events 1\n"
#define RAW_EVENT_MAX 65536

/* Write the file header. Returns 0 or -1 (errno set). */
int raw_events_write_header(FILE *f);
/* Scrub a copy of one event and append it. Returns 0 or -1 (errno set). */
int raw_events_write(FILE *f, const void *data, size_t size);
/* Scrub an event in place (what raw_events_write stores). */
void raw_event_scrub(void *data, size_t size);

/* A whole file in memory: event i is data + off[i], size[i] bytes (8-byte aligned). */
struct raw_events {
	uint8_t *data;
	size_t *off;
	uint32_t *size;
	size_t n;
};

/* Load a file (plain or gzip). Returns 0, or -1 with a message in err. */
int raw_events_load(const char *path, struct raw_events *out, char *err, size_t errcap);
void raw_events_free(struct raw_events *ev);

#endif
