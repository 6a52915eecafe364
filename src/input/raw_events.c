// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "input/raw_events.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "etcd/etcd_redact.h"
#include "kapimon/events.h"

/* Padding and string tails are ring-buffer memory the BPF program did not write: whatever an older
 * event left there. Only the fields a consumer reads survive. */

/* zero buf[len..cap) (len clamped to cap) */
static void zero_tail(void *buf, size_t len, size_t cap)
{
	if (len < cap)
		memset((char *)buf + len, 0, cap - len);
}

void raw_event_scrub(void *data, size_t size)
{
	struct kp_event_hdr *h = data;

	if (size < sizeof(*h)) {
		memset(data, 0, size);
		return;
	}
	switch (h->type) {
	case KP_EV_REQ_START:
		if (size >= sizeof(struct kp_req_start)) {
			struct kp_req_start *e = data;

			e->_pad2 = 0;
			zero_tail(e->method, e->method_len, sizeof(e->method));
			zero_tail(e->path, e->path_len, sizeof(e->path));
			zero_tail(e->ua, e->ua_len, sizeof(e->ua));
			zero_tail(e->addr, e->addr_len, sizeof(e->addr));
			zero_tail(e->user, e->user_len, sizeof(e->user));
			for (int i = 0; i < KP_GROUPS_MAX; i++)
				zero_tail(e->groups[i], i < e->ngroups ? e->group_len[i] : 0, sizeof(e->groups[i]));
			zero_tail(data, sizeof(*e), size);
			return;
		}
		break;
	case KP_EV_GRPC_START:
		if (size >= sizeof(struct kp_grpc_start)) {
			struct kp_grpc_start *e = data;
			size_t ml = e->method_len < sizeof(e->method) ? e->method_len : sizeof(e->method);
			size_t pl = e->payload_copied < sizeof(e->payload) ? e->payload_copied : sizeof(e->payload);

			memset(e->_pad, 0, sizeof(e->_pad));
			zero_tail(e->method, ml, sizeof(e->method));
			zero_tail(e->payload, pl, sizeof(e->payload));
			etcd_request_redact(e->method, ml, e->payload, pl);
			zero_tail(e->ctx_chain, e->nctx * sizeof(e->ctx_chain[0]), sizeof(e->ctx_chain));
			zero_tail(data, sizeof(*e), size);
			return;
		}
		break;
	case KP_EV_WATCH_RESP:
		if (size >= sizeof(struct kp_watch_resp)) {
			struct kp_watch_resp *e = data;

			zero_tail(e->key, e->key_len, sizeof(e->key));
			zero_tail(data, sizeof(*e), size);
			return;
		}
		break;
	case KP_EV_REQ_END:
		if (size >= sizeof(struct kp_req_end)) {
			struct kp_req_end *e = data;

			memset(e->_pad, 0, sizeof(e->_pad));
			memset(e->_pad2, 0, sizeof(e->_pad2));
			zero_tail(e->pl_uid, e->pl_uid_len, sizeof(e->pl_uid));
			zero_tail(e->fs_uid, e->fs_uid_len, sizeof(e->fs_uid));
			zero_tail(data, sizeof(struct kp_req_end), size);
			return;
		}
		break;
	case KP_EV_APF_REJECT:
		if (size >= sizeof(struct kp_apf_reject)) {
			struct kp_apf_reject *e = data;

			e->_pad = 0;
			zero_tail(e->pl, e->pl_len, sizeof(e->pl));
			zero_tail(e->fs, e->fs_len, sizeof(e->fs));
			zero_tail(e->reason, e->reason_len, sizeof(e->reason));
			zero_tail(data, sizeof(*e), size);
			return;
		}
		break;
	case KP_EV_APF_OBJECT:
		if (size >= sizeof(struct kp_apf_object)) {
			struct kp_apf_object *e = data;

			e->_pad = 0;
			zero_tail(e->name, e->name_len, sizeof(e->name));
			zero_tail(e->uid, e->uid_len, sizeof(e->uid));
			zero_tail(data, sizeof(*e), size);
			return;
		}
		break;
	case KP_EV_APF_TOO_MANY:
		if (size >= sizeof(struct kp_apf_too_many)) {
			struct kp_apf_too_many *e = data;

			memset(e->_pad, 0, sizeof(e->_pad));
			zero_tail(e->ctx_chain, (e->nctx < KP_CTX_CHAIN_MAX ? e->nctx : KP_CTX_CHAIN_MAX) * sizeof(e->ctx_chain[0]),
				  sizeof(e->ctx_chain));
			zero_tail(data, sizeof(*e), size);
			return;
		}
		break;
	case KP_EV_CONN:
		if (size >= sizeof(struct kp_conn_event)) { /* numbers and addresses only */
			memset(((struct kp_conn_event *)data)->_pad2, 0, sizeof(((struct kp_conn_event *)data)->_pad2));
			zero_tail(data, sizeof(struct kp_conn_event), size);
			return;
		}
		break;
	case KP_EV_GRPC_END:
		if (size >= sizeof(struct kp_grpc_end)) {
			memset(((struct kp_grpc_end *)data)->_pad, 0, sizeof(((struct kp_grpc_end *)data)->_pad));
			zero_tail(data, sizeof(struct kp_grpc_end), size);
			return; /* numbers only */
		}
		break;
	default:
		break;
	}
	/* unknown or short: keep the header only */
	zero_tail(data, sizeof(*h), size);
}

int raw_events_write_header(FILE *f)
{
	return fputs(RAW_EVENTS_MAGIC, f) == EOF ? -1 : 0;
}

int raw_events_write(FILE *f, const void *data, size_t size)
{
	uint8_t buf[4096], *copy = size <= sizeof(buf) ? buf : malloc(size);
	uint8_t le[4] = { (uint8_t)size, (uint8_t)(size >> 8), (uint8_t)(size >> 16), (uint8_t)(size >> 24) };
	int ret = 0;

	if (size > RAW_EVENT_MAX) {
		errno = EFBIG;
		return -1;
	}
	if (!copy)
		return -1;
	memcpy(copy, data, size);
	raw_event_scrub(copy, size);
	if (fwrite(le, 1, 4, f) != 4 || fwrite(copy, 1, size, f) != size)
		ret = -1;
	if (copy != buf)
		free(copy);
	return ret;
}

void raw_events_free(struct raw_events *ev)
{
	free(ev->data);
	free(ev->off);
	free(ev->size);
	memset(ev, 0, sizeof(*ev));
}

static int fail(struct raw_events *ev, gzFile g, char *err, size_t errcap, const char *msg, const char *path)
{
	snprintf(err, errcap, "%s: %s", path, msg);
	raw_events_free(ev);
	if (g)
		gzclose(g);
	return -1;
}

/* Events of an older, shorter layout grow to the current one with the appended fields zeroed: request
 * starts before issue 13 ended at addr (the authn fields were appended). Returns the event's size. */
#define OLD_REQ_START_SIZE offsetof(struct kp_req_start, recv_wall)
#define UPGRADE_ROOM (sizeof(struct kp_req_start) - OLD_REQ_START_SIZE)
static uint32_t upgrade(uint8_t *data, uint32_t size)
{
	const struct kp_event_hdr *h = (const void *)data;

	if (size == OLD_REQ_START_SIZE && h->type == KP_EV_REQ_START) {
		memset(data + size, 0, UPGRADE_ROOM);
		return sizeof(struct kp_req_start);
	}
	return size;
}

int raw_events_load(const char *path, struct raw_events *out, char *err, size_t errcap)
{
	struct raw_events ev = { 0 };
	size_t cap_data = 0, cap_n = 0, used = 0;
	char magic[sizeof(RAW_EVENTS_MAGIC) - 1];
	gzFile g = gzopen(path, "rb");

	memset(out, 0, sizeof(*out));
	if (!g)
		return fail(&ev, NULL, err, errcap, errno ? strerror(errno) : "cannot open", path);
	if (gzread(g, magic, sizeof(magic)) != (int)sizeof(magic) || memcmp(magic, RAW_EVENTS_MAGIC, sizeof(magic)))
		return fail(&ev, g, err, errcap, "not a kapimon raw event file", path);
	for (;;) {
		uint8_t le[4];
		uint32_t size;
		int got = gzread(g, le, 4);

		if (got == 0)
			break;
		if (got != 4)
			return fail(&ev, g, err, errcap, "truncated event size", path);
		size = (uint32_t)le[0] | (uint32_t)le[1] << 8 | (uint32_t)le[2] << 16 | (uint32_t)le[3] << 24;
		if (size > RAW_EVENT_MAX)
			return fail(&ev, g, err, errcap, "event larger than 64 KiB: corrupt file", path);
		if (ev.n == cap_n) {
			size_t nc = cap_n ? cap_n * 2 : 4096;
			size_t *o = realloc(ev.off, nc * sizeof(*o));
			uint32_t *s;

			if (!o)
				return fail(&ev, g, err, errcap, "out of memory", path);
			ev.off = o;
			s = realloc(ev.size, nc * sizeof(*s));
			if (!s)
				return fail(&ev, g, err, errcap, "out of memory", path);
			ev.size = s;
			cap_n = nc;
		}
		if (used + size + UPGRADE_ROOM + 8 > cap_data) {
			size_t nc = cap_data ? cap_data * 2 : 1 << 20;
			uint8_t *d;

			while (nc < used + size + UPGRADE_ROOM + 8)
				nc *= 2;
			d = realloc(ev.data, nc);
			if (!d)
				return fail(&ev, g, err, errcap, "out of memory", path);
			ev.data = d;
			cap_data = nc;
		}
		if (size && gzread(g, ev.data + used, size) != (int)size)
			return fail(&ev, g, err, errcap, "truncated event", path);
		size = upgrade(ev.data + used, size);
		ev.off[ev.n] = used;
		ev.size[ev.n] = size;
		ev.n++;
		used = (used + size + 7) & ~(size_t)7;
	}
	gzclose(g);
	*out = ev;
	return 0;
}
