// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "output/otlp_queue.h"

#include <stdlib.h>
#include <string.h>

#define HDR 4 /* entry length, little endian */

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

static void ring_write(struct otlp_queue *q, size_t pos, const void *d, size_t n)
{
	size_t first = q->cap - pos < n ? q->cap - pos : n;

	memcpy(q->buf + pos, d, first);
	memcpy(q->buf, (const uint8_t *)d + first, n - first);
}

static void ring_read(const struct otlp_queue *q, size_t pos, void *d, size_t n)
{
	size_t first = q->cap - pos < n ? q->cap - pos : n;

	memcpy(d, q->buf + pos, first);
	memcpy((uint8_t *)d + first, q->buf, n - first);
}

bool otlp_queue_push(struct otlp_queue *q, const void *data, size_t len)
{
	uint8_t h[HDR];
	size_t tail;

	if (!len || len > UINT32_MAX || q->count >= q->max_count || len + HDR > q->cap - q->used)
		return false;
	for (int i = 0; i < HDR; i++)
		h[i] = (uint8_t)(len >> (8 * i));
	tail = (q->head + q->used) % q->cap;
	ring_write(q, tail, h, HDR);
	ring_write(q, (tail + HDR) % q->cap, data, len);
	q->used += HDR + len;
	q->count++;
	return true;
}

size_t otlp_queue_pop(struct otlp_queue *q, uint8_t *out, size_t outcap, uint32_t max_items, uint32_t *items,
		      uint32_t *oversized)
{
	size_t n = 0;

	*items = 0;
	while (q->count && *items < max_items) {
		uint8_t h[HDR];
		size_t len = 0;

		ring_read(q, q->head, h, HDR);
		for (int i = 0; i < HDR; i++)
			len |= (size_t)h[i] << (8 * i);
		if (len > outcap) {
			(*oversized)++;
		} else if (len > outcap - n) {
			break;
		} else {
			ring_read(q, (q->head + HDR) % q->cap, out + n, len);
			n += len;
			(*items)++;
		}
		q->head = (q->head + HDR + len) % q->cap;
		q->used -= HDR + len;
		q->count--;
	}
	if (!q->count)
		q->head = 0;
	return n;
}
