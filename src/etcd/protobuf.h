/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Bounds-checked protobuf wire-format reader. Reads one field at a time from a byte range; never reads
 * past the end, never allocates. Rejects groups (wire types 3/4), the reserved wire types 6/7, field
 * number 0 or > 2^29-1, varints longer than 10 bytes or overflowing 64 bits, and lengths past the end.
 * Nested messages are read with pb_enter(), which enforces PB_MAX_DEPTH.
 */
#ifndef KAPIMON_PROTOBUF_H
#define KAPIMON_PROTOBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PB_MAX_DEPTH 16
#define PB_MAX_FIELD ((1u << 29) - 1)

enum pb_wire { PB_WT_VARINT = 0, PB_WT_I64 = 1, PB_WT_LEN = 2, PB_WT_SGROUP = 3, PB_WT_EGROUP = 4, PB_WT_I32 = 5 };

enum pb_err {
	PB_OK = 0,
	PB_ETRUNC = -1,    /* a tag, value or length runs past the end of the input */
	PB_EVARINT = -2,   /* varint longer than 10 bytes or above 2^64-1 */
	PB_EWIRETYPE = -3, /* group (3/4) or reserved wire type (6/7) */
	PB_EFIELD = -4,    /* field number 0 or above 2^29-1 */
	PB_EDEPTH = -5,    /* nesting deeper than PB_MAX_DEPTH */
	PB_EWRONGTYPE = -6, /* a known field arrived with an unexpected wire type (set by decoders) */
};
#define PB_NERR 7 /* number of error codes, for per-error counters indexed by -err */

struct pb_reader {
	const uint8_t *p;
	const uint8_t *end;
	int depth;
	bool cut; /* the input is a prefix: the message goes on past end (pb_init_prefix) */
};

struct pb_field {
	uint32_t num;
	enum pb_wire wt;
	uint64_t u;          /* VARINT, I64, I32 value */
	const uint8_t *data; /* LEN: payload (points into the input) */
	size_t len;          /* LEN: payload length (available bytes when cut) */
	bool cut;            /* LEN: the payload runs past the end of a prefix: only its first len bytes are here */
};

static inline void pb_init(struct pb_reader *r, const void *buf, size_t len)
{
	r->p = buf;
	r->end = buf ? r->p + len : r->p;
	r->depth = 0;
	r->cut = false;
}
/* Read a prefix of a longer message (a capture that stopped early): at the end of the input, a field cut
 * short is not an error: a cut LEN field is returned with the bytes there are (f->cut), a cut tag or
 * number ends the input cleanly. Fields nested in a cut field are read the same way (pb_enter). */
static inline void pb_init_prefix(struct pb_reader *r, const void *buf, size_t len)
{
	pb_init(r, buf, len);
	r->cut = true;
}
/* pb_next for every case (the inline pb_next takes the common one itself). */
int pb_next_any(struct pb_reader *r, struct pb_field *f);

/* Read the next field. Returns 1 when a field was read, 0 at the clean end of the input, or a negative
 * enum pb_err. After an error the reader stays at the failing position; later calls return the error again.
 * The common case inline: a one-byte tag (fields 1..15) of a VARINT with a one-byte value or of a LEN
 * field whose one-byte length fits, and the end of the input; anything else is pb_next_any's. */
static inline int pb_next(struct pb_reader *r, struct pb_field *f)
{
	const uint8_t *p = r->p;

	if (p >= r->end)
		return 0;
	if (r->end - p >= 2 && p[0] >= 8 && p[0] < 0x80 && p[1] < 0x80) {
		if ((p[0] & 7) == PB_WT_LEN && p[1] <= r->end - p - 2) {
			f->num = p[0] >> 3;
			f->wt = PB_WT_LEN;
			f->u = 0;
			f->data = p + 2;
			f->len = p[1];
			f->cut = false;
			r->p = p + 2 + p[1];
			return 1;
		}
		if ((p[0] & 7) == PB_WT_VARINT) {
			f->num = p[0] >> 3;
			f->wt = PB_WT_VARINT;
			f->u = p[1];
			f->data = NULL;
			f->len = 0;
			f->cut = false;
			r->p = p + 2;
			return 1;
		}
	}
	return pb_next_any(r, f);
}
/* Start reading a LEN field's payload as a nested message (a prefix when the field was cut). Returns PB_OK
 * or PB_EDEPTH / PB_EWRONGTYPE. */
int pb_enter(const struct pb_reader *parent, const struct pb_field *f, struct pb_reader *child);
/* Decode one varint at *p (< end); advances *p. Returns PB_OK, PB_ETRUNC or PB_EVARINT. */
int pb_read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out);
const char *pb_strerror(int err);

#endif
