// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "output/otlp_queue.h"

#include <stdlib.h>
#include <string.h>

#define HDR 4 /* entry length, little endian */
#define LOAD_ACQ(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

int otlp_queue_init(struct otlp_queue *q, size_t cap_bytes, uint32_t max_count)
{
	memset(q, 0, sizeof(*q));
	if (!cap_bytes || !max_count)
		return -1;
	q->buf = malloc(cap_bytes);
	if (!q->buf)
		return -1;
	q->cap = cap_bytes;
	q->max_count = max_count;
	return 0;
}

void otlp_queue_free(struct otlp_queue *q)
{
	free(q->buf);
	memset(q, 0, sizeof(*q));
}

static void ring_write(struct otlp_queue *q, uint64_t at, const void *d, size_t n)
{
	size_t pos = (size_t)(at % q->cap), first = q->cap - pos < n ? q->cap - pos : n;

	memcpy(q->buf + pos, d, first);
	memcpy(q->buf, (const uint8_t *)d + first, n - first);
}

static void ring_read(const struct otlp_queue *q, uint64_t at, void *d, size_t n)
{
	size_t pos = (size_t)(at % q->cap), first = q->cap - pos < n ? q->cap - pos : n;

	memcpy(d, q->buf + pos, first);
	memcpy((uint8_t *)d + first, q->buf, n - first);
}

uint64_t otlp_queue_count(const struct otlp_queue *q)
{
	uint64_t popped = LOAD_ACQ(&q->popped);

	return LOAD_ACQ(&q->pushed) - popped;
}

bool otlp_queue_push(struct otlp_queue *q, const void *data, size_t len)
{
	uint64_t head = LOAD_ACQ(&q->head), tail = q->tail;
	uint8_t h[HDR];

	if (!len || len > UINT32_MAX || q->pushed - LOAD_ACQ(&q->popped) >= q->max_count ||
	    len + HDR > q->cap - (size_t)(tail - head))
		return false;
	for (int i = 0; i < HDR; i++)
		h[i] = (uint8_t)(len >> (8 * i));
	ring_write(q, tail, h, HDR);
	ring_write(q, tail + HDR, data, len);
	/* pushed first: a consumer that sees the entry (through tail) never counts more pops than pushes */
	STORE_REL(&q->pushed, q->pushed + 1);
	STORE_REL(&q->tail, tail + HDR + len);
	return true;
}

size_t otlp_queue_pop(struct otlp_queue *q, uint8_t *out, size_t outcap, uint32_t max_items, uint32_t *items,
		      uint32_t *oversized)
{
	uint64_t tail = LOAD_ACQ(&q->tail), head = q->head;
	size_t n = 0;

	*items = 0;
	while (head != tail && *items < max_items) {
		uint8_t h[HDR];
		size_t len = 0;

		ring_read(q, head, h, HDR);
		for (int i = 0; i < HDR; i++)
			len |= (size_t)h[i] << (8 * i);
		if (!out) {
			(*items)++;
		} else if (len > outcap) {
			(*oversized)++;
		} else if (len > outcap - n) {
			break;
		} else {
			ring_read(q, head + HDR, out + n, len);
			n += len;
			(*items)++;
		}
		head += HDR + len;
		STORE_REL(&q->head, head);
		STORE_REL(&q->popped, q->popped + 1);
	}
	return n;
}
