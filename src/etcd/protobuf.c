// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "etcd/protobuf.h"

int pb_read_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
	const uint8_t *p = *pp;
	uint64_t v = 0;

	for (int i = 0; i < 10; i++) {
		uint8_t b;

		if (p >= end)
			return PB_ETRUNC;
		b = *p++;
		/* the 10th byte holds only bit 63: anything above 1 (or a continuation) overflows */
		if (i == 9 && b > 1)
			return PB_EVARINT;
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*pp = p;
			*out = v;
			return PB_OK;
		}
	}
	return PB_EVARINT;
}

/* pb_read_varint with the one-byte case (tags of fields 1..15, short lengths) inline */
static inline int read_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
	if (*pp < end && **pp < 0x80) {
		*out = *(*pp)++;
		return PB_OK;
	}
	return pb_read_varint(pp, end, out);
}

int pb_next_any(struct pb_reader *r, struct pb_field *f)
{
	const uint8_t *p = r->p, *end = r->end;
	uint64_t tag, v;
	uint32_t num;
	int err;

	if (p >= end)
		return 0;
	err = read_varint(&p, end, &tag);
	if (err)
		goto fail;
	if (tag > UINT32_MAX)
		return PB_EFIELD;
	num = (uint32_t)(tag >> 3);
	f->num = num;
	f->wt = (enum pb_wire)(tag & 7);
	f->u = 0;
	f->data = NULL;
	f->len = 0;
	f->cut = false;
	if (num == 0 || num > PB_MAX_FIELD)
		return PB_EFIELD;
	switch (f->wt) {
	case PB_WT_LEN:
		err = read_varint(&p, end, &v);
		if (err)
			goto fail;
		f->data = p;
		if (v > (uint64_t)(end - p)) {
			if (!r->cut)
				return PB_ETRUNC;
			f->cut = true; /* the prefix ends inside this field: what there is of it */
			v = (uint64_t)(end - p);
		}
		f->len = (size_t)v;
		p += v;
		break;
	case PB_WT_VARINT:
		err = read_varint(&p, end, &f->u);
		if (err)
			goto fail;
		break;
	case PB_WT_I64:
		if (end - p < 8) {
			err = PB_ETRUNC;
			goto fail;
		}
		v = 0;
		for (int i = 7; i >= 0; i--)
			v = (v << 8) | p[i];
		f->u = v;
		p += 8;
		break;
	case PB_WT_I32:
		if (end - p < 4) {
			err = PB_ETRUNC;
			goto fail;
		}
		f->u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		p += 4;
		break;
	default:
		return PB_EWIRETYPE;
	}
	r->p = p;
	return 1;
fail:
	if (err != PB_ETRUNC || !r->cut)
		return err;
	/* the prefix ends inside this field's header or number: nothing more to read */
	r->p = end;
	return 0;
}

int pb_enter(const struct pb_reader *parent, const struct pb_field *f, struct pb_reader *child)
{
	if (f->wt != PB_WT_LEN)
		return PB_EWRONGTYPE;
	if (parent->depth + 1 > PB_MAX_DEPTH)
		return PB_EDEPTH;
	child->p = f->data;
	child->end = f->data + f->len;
	child->depth = parent->depth + 1;
	child->cut = f->cut;
	return PB_OK;
}

const char *pb_strerror(int err)
{
	switch (err) {
	case PB_OK: return "ok";
	case PB_ETRUNC: return "truncated";
	case PB_EVARINT: return "bad varint";
	case PB_EWIRETYPE: return "invalid wire type";
	case PB_EFIELD: return "invalid field number";
	case PB_EDEPTH: return "nesting too deep";
	case PB_EWRONGTYPE: return "unexpected wire type for field";
	default: return "unknown error";
	}
}
