// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "assemble/request_fill.h"

#include "assemble/requestinfo.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "assemble/path_sanitize.h"
#include "util/strbuf.h"
#include "util/swar.h"

/* Copy a length-delimited string (possibly containing NULs or garbage) into dst, cut to cap - 1 bytes. */
static inline void put_str(char *dst, size_t cap, const char *src, size_t len)
{
	if (len >= cap)
		len = cap - 1;
	mem_copy_short(dst, src, len);
	dst[len] = '\0';
}

/* put_str of an event string, its length bounded by its buffer's src_cap. */
static void copy_ev_str(char *dst, size_t cap, const char *src, size_t len, size_t src_cap)
{
	put_str(dst, cap, src, len < src_cap ? len : src_cap);
}

/* Append an event string (len bytes, bounded by its buffer's src_cap) to a kept start at *s; its
 * length kept. */
static size_t keep_str(char **s, const char *src, size_t len, size_t src_cap)
{
	if (len > src_cap)
		len = src_cap;
	mem_copy_short(*s, src, len);
	*s += len;
	return len;
}

/* mem_copy_short(dst, src, n) that also says whether the n bytes hold a NUL: the copy's own loads tested
 * on the way (16 bytes at a time with SSE2, 8 elsewhere), instead of a strnlen over them before. */
static bool copy_has_nul(char *dst, const char *src, size_t n)
{
	if (n >= 16) {
#if defined(__SSE2__)
		__m128i x, m;

		m = _mm_set1_epi8(-1);
		for (size_t i = 0; i + 16 < n; i += 16) {
			x = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
			_mm_storeu_si128((__m128i *)(void *)(dst + i), x);
			m = _mm_min_epu8(m, x);
		}
		x = _mm_loadu_si128((const __m128i *)(const void *)(src + n - 16));
		_mm_storeu_si128((__m128i *)(void *)(dst + n - 16), x);
		m = _mm_min_epu8(m, x);
		return _mm_movemask_epi8(_mm_cmpeq_epi8(m, _mm_setzero_si128())) != 0;
#else
		uint64_t z = 0;

		for (size_t i = 0; i + 8 < n; i += 8)
			z |= swar_less(swar_load(src + i), 1);
		z |= swar_less(swar_load(src + n - 8), 1);
		mem_copy_short(dst, src, n);
		return z != 0;
#endif
	}
	mem_copy_short(dst, src, n);
	if (n >= 8)
		return (swar_less(swar_load(src), 1) | swar_less(swar_load(src + n - 8), 1)) != 0;
	for (size_t i = 0; i < n; i++)
		if (!src[i])
			return true;
	return false;
}

void req_start_keep(struct req_start_kept *restrict k, const struct kp_req_start *restrict ev)
{
	char *s = k->s;
	size_t n;

	k->ts_ns = ev->hdr.ts_ns;
	k->conn = ev->conn;
	k->content_length = ev->content_length;
	k->stream_id = ev->stream_id;
	k->proto = ev->proto;
	k->truncated = ev->truncated;
	k->authn = ev->authn;
	k->user_found = ev->user_found;
	k->method_len = (uint8_t)keep_str(&s, ev->method, ev->method_len, sizeof(ev->method));
	/* the record's path is the C string the captured bytes hold: nothing after a NUL is kept */
	n = ev->path_len < sizeof(ev->path) ? ev->path_len : sizeof(ev->path);
	if (copy_has_nul(s, ev->path, n)) {
		size_t c = strnlen(s, n);

		mem_clear_short(s + c, n - c);
		n = c;
	}
	k->path_len = (uint16_t)n;
	s += n;
	k->ua_len = (uint16_t)keep_str(&s, ev->ua, ev->ua_len, sizeof(ev->ua));
	k->addr_len = (uint8_t)keep_str(&s, ev->addr, ev->addr_len, sizeof(ev->addr));
	k->user_len = 0;
	k->ngroups = 0;
	if (ev->authn != KP_AUTHN_OK || !ev->user_found) /* no user in the record */
		return;
	k->user_len = (uint8_t)keep_str(&s, ev->user, ev->user_len, sizeof(ev->user));
	k->ngroups = ev->ngroups;
	n = ev->ngroups < KP_GROUPS_MAX ? ev->ngroups : KP_GROUPS_MAX;
	for (unsigned i = 0; i < n; i++)
		k->group_len[i] = (uint8_t)keep_str(&s, ev->groups[i], ev->group_len[i], sizeof(ev->groups[i]));
}
_Static_assert(KP_METHOD_MAX < 256 && KP_ADDR_MAX < 256 && KP_USER_MAX < 256 && KP_GROUP_MAX < 256,
	       "kept lengths fit a byte");

const char *req_start_kept_addr(const struct req_start_kept *k)
{
	return k->s + k->method_len + k->path_len + k->ua_len;
}

/* A reused record made ready for fill_start: the fixed-size fields zeroed and the strings fill_start may
 * leave unset emptied (their first byte). Groups: those past ngroups are empty in a record filled here
 * (zeroed once, the fill keeps them so), so only the previous request's are emptied. */
static void reset_reused(struct request_record *r)
{
	unsigned old_groups = r->ngroups < REC_GROUPS_MAX ? r->ngroups : REC_GROUPS_MAX;

	memset(r, 0, offsetof(struct request_record, ri));
	r->user[0] = '\0';
	for (unsigned i = 0; i < old_groups; i++)
		r->groups[i][0] = '\0';
	r->apf.priority_level[0] = '\0';
	r->apf.flow_schema[0] = '\0';
	r->apf.priority_level_uid[0] = '\0';
	r->apf.flow_schema_uid[0] = '\0';
	r->apf.reject_reason[0] = '\0';
}

static void fill_start(struct request_record *restrict r, const struct req_start_kept *restrict k,
		       int64_t mono_to_wall);

void request_fill_start(struct request_record *r, const struct kp_req_start *ev, int64_t mono_to_wall)
{
	memset(r, 0, sizeof(*r));
	request_fill_start_reused(r, ev, mono_to_wall);
}

void request_fill_start_reused(struct request_record *r, const struct kp_req_start *ev, int64_t mono_to_wall)
{
	struct req_start_kept k;

	req_start_keep(&k, ev);
	request_fill_kept(r, &k, mono_to_wall);
	req_start_forget(&k);
	__asm__ volatile("" : : "r"(&k) : "memory"); /* the clearing of a dead local stays */
}

void request_fill_kept(struct request_record *r, const struct req_start_kept *k, int64_t mono_to_wall)
{
	reset_reused(r);
	fill_start(r, k, mono_to_wall);
}

/* r: fixed-size fields zero, strings empty (their tails: anything). restrict: the record and the kept
 * start are distinct, so the kept lengths are not read again after each string's bytes are stored. */
static void fill_start(struct request_record *restrict r, const struct req_start_kept *restrict k,
		       int64_t mono_to_wall)
{
	const char *s = k->s, *path;

	r->start_ns = (uint64_t)((int64_t)k->ts_ns + mono_to_wall);
	r->start_mono_ns = k->ts_ns;
	r->proto = k->proto == KP_PROTO_H2 ? REC_PROTO_H2 : k->proto == KP_PROTO_H1 ? REC_PROTO_H1 : REC_PROTO_UNKNOWN;
	r->stream_id = k->authn ? 0 : k->stream_id; /* authn starts: the end knows the h2 stream */
	r->status = 0;
	r->bytes_in = -1;
	r->bytes_out = -1;
	r->sample_factor = 1.0;
	/* kept lengths are within the event buffers: only the record's bounds apply */
	put_str(r->method, sizeof(r->method), s, k->method_len);
	s += k->method_len;
	path = s;
	s += k->path_len;
	put_str(r->user_agent, sizeof(r->user_agent), s, k->ua_len);
	s += k->ua_len;
	put_str(r->client, sizeof(r->client), s, k->addr_len);
	s += k->addr_len;
	if (k->content_length >= 0)
		r->bytes_in = k->content_length;
	request_classify(r, path, k->path_len);
	r->truncated = (k->truncated & KP_TRUNC_METHOD ? REC_TRUNC_METHOD : 0) |
		       (k->truncated & KP_TRUNC_PATH ? REC_TRUNC_PATH : 0) |
		       (k->truncated & KP_TRUNC_UA ? REC_TRUNC_USER_AGENT : 0) |
		       (k->truncated & KP_TRUNC_ADDR ? REC_TRUNC_CLIENT : 0);
	if (k->authn == KP_AUTHN_OK && k->user_found) {
		unsigned ng = k->ngroups < REC_GROUPS_MAX ? k->ngroups : REC_GROUPS_MAX;

		r->has_user = true;
		put_str(r->user, sizeof(r->user), s, k->user_len);
		s += k->user_len;
		r->ngroups = (uint8_t)ng;
		for (unsigned i = 0; i < ng && i < KP_GROUPS_MAX; i++) {
			put_str(r->groups[i], sizeof(r->groups[i]), s, k->group_len[i]);
			s += k->group_len[i];
		}
		r->truncated |= (k->truncated & KP_TRUNC_USER ? REC_TRUNC_USER : 0) |
				(k->truncated & KP_TRUNC_GROUPS ? REC_TRUNC_GROUPS : 0);
	}
	if (r->truncated & REC_TRUNC_PATH)
		request_mark_path_cut(r, path, k->path_len);
}

void request_mark_path_cut(struct request_record *r, const char *raw, size_t len)
{
	size_t mlen = strlen(PS_TRUNC_MARKER);

	/* leave room for the marker within the path's 511 bytes */
	if (len > sizeof(r->path) - 1 - mlen)
		len = sizeof(r->path) - 1 - mlen;
	/* drop a partial %XX escape or UTF-8 sequence at the cut, as the sanitiser does at its own cuts */
	while (len > 0 && ((unsigned char)raw[len - 1] & 0xc0) == 0x80)
		len--;
	if (len > 0 && (unsigned char)raw[len - 1] >= 0xc0)
		len--;
	if (len >= 1 && raw[len - 1] == '%')
		len -= 1;
	else if (len >= 2 && raw[len - 2] == '%')
		len -= 2;
	/* sanitise into what is left next to the marker; a cut there already carries it */
	if (!(path_sanitize(raw, len, r->path, sizeof(r->path) - mlen) & PS_TRUNCATED))
		memcpy(r->path + strlen(r->path), PS_TRUNC_MARKER, mlen + 1);
}

void request_fill_end(struct request_record *r, const struct kp_req_end *ev)
{
	r->status = ev->status > 0 && ev->status < 1000 ? (int32_t)ev->status : 200;
	r->bytes_out = ev->bytes_out;
	r->link_ctx = ev->ctx;
	if (r->proto == REC_PROTO_UNKNOWN)
		r->proto = ev->proto == KP_PROTO_H2 ? REC_PROTO_H2 : ev->proto == KP_PROTO_H1 ? REC_PROTO_H1 : REC_PROTO_UNKNOWN;
	if (r->proto == REC_PROTO_H2 && !r->stream_id)
		r->stream_id = ev->stream_id;
	if (ev->bytes_in >= 0)
		r->bytes_in = ev->bytes_in;
	copy_ev_str(r->apf.priority_level_uid, sizeof(r->apf.priority_level_uid), ev->pl_uid, ev->pl_uid_len,
		    sizeof(ev->pl_uid));
	copy_ev_str(r->apf.flow_schema_uid, sizeof(r->apf.flow_schema_uid), ev->fs_uid, ev->fs_uid_len,
		    sizeof(ev->fs_uid));
	if (ev->apf_truncated & KP_TRUNC_APF_PL)
		r->truncated |= REC_TRUNC_PRIORITY_LEVEL;
	if (ev->apf_truncated & KP_TRUNC_APF_FS)
		r->truncated |= REC_TRUNC_FLOW_SCHEMA;
}
