/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Bounded FIFO of encoded spans for the OTLP exporter: one byte ring allocated once, bounded both in
 * bytes and in entries, lock-free between ONE producer and ONE consumer (positions are atomics with
 * acquire/release ordering): the producer never waits for the consumer. push never blocks and never
 * allocates: when an entry does not fit it returns false and the caller counts a drop. Several
 * producers must serialise among themselves (the exporter does, with a lock the consumer never takes).
 */
#ifndef KAPIMON_OUTPUT_OTLP_QUEUE_H
#define KAPIMON_OUTPUT_OTLP_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct otlp_queue {
	uint8_t *buf;
	size_t cap;          /* bytes in buf */
	uint32_t max_count;
	/* monotonic totals; positions in buf are these modulo cap */
	uint64_t head;       /* bytes consumed (written by the consumer) */
	uint64_t tail;       /* bytes produced (written by the producer) */
	uint64_t pushed;     /* entries produced (producer) */
	uint64_t popped;     /* entries consumed (consumer) */
};

/* Returns 0, or -1 when cap_bytes/max_count is 0 or the allocation fails. */
int otlp_queue_init(struct otlp_queue *q, size_t cap_bytes, uint32_t max_count);
void otlp_queue_free(struct otlp_queue *q);
/* Producer: append one entry of len (> 0) bytes; false (nothing changed) when it does not fit. */
bool otlp_queue_push(struct otlp_queue *q, const void *data, size_t len);
/* Consumer: pop whole entries in FIFO order, concatenated into out, while they fit in outcap and at
 * most max_items; returns the bytes written and sets *items. out NULL discards up to max_items
 * entries (counted in *items). An entry larger than outcap is dropped and added to *oversized (never
 * happens when outcap >= the largest pushed entry). */
size_t otlp_queue_pop(struct otlp_queue *q, uint8_t *out, size_t outcap, uint32_t max_items, uint32_t *items,
		      uint32_t *oversized);
/* Entries waiting (either side; a snapshot). */
uint64_t otlp_queue_count(const struct otlp_queue *q);

#endif
