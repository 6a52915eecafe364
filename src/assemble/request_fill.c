// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "assemble/request_fill.h"

#include "assemble/requestinfo.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "assemble/path_sanitize.h"
#include "util/strbuf.h"

/* Copy a length-delimited event string (possibly containing NULs or garbage) into dst. */
static void copy_ev_str(char *dst, size_t cap, const char *src, size_t len, size_t src_cap)
{
	if (len > src_cap)
		len = src_cap;
	if (len >= cap)
		len = cap - 1;
	mem_copy_short(dst, src, len);
	dst[len] = '\0';
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

static void fill_start(struct request_record *r, const struct kp_req_start *ev, int64_t mono_to_wall);

void request_fill_start(struct request_record *r, const struct kp_req_start *ev, int64_t mono_to_wall)
{
	memset(r, 0, sizeof(*r));
	fill_start(r, ev, mono_to_wall);
}

void request_fill_start_reused(struct request_record *r, const struct kp_req_start *ev, int64_t mono_to_wall)
{
	reset_reused(r);
	fill_start(r, ev, mono_to_wall);
}

/* r: fixed-size fields zero, strings empty (their tails: anything) */
static void fill_start(struct request_record *r, const struct kp_req_start *ev, int64_t mono_to_wall)
{
	char raw_path[KP_PATH_MAX + 1];

	r->start_ns = (uint64_t)((int64_t)ev->hdr.ts_ns + mono_to_wall);
	r->start_mono_ns = ev->hdr.ts_ns;
	r->proto = ev->proto == KP_PROTO_H2 ? REC_PROTO_H2 : ev->proto == KP_PROTO_H1 ? REC_PROTO_H1 : REC_PROTO_UNKNOWN;
	r->stream_id = ev->authn ? 0 : ev->stream_id; /* authn starts: the end knows the h2 stream */
	r->status = 0;
	r->bytes_in = -1;
	r->bytes_out = -1;
	r->sample_factor = 1.0;
	copy_ev_str(r->method, sizeof(r->method), ev->method, ev->method_len, sizeof(ev->method));
	copy_ev_str(r->user_agent, sizeof(r->user_agent), ev->ua, ev->ua_len, sizeof(ev->ua));
	copy_ev_str(r->client, sizeof(r->client), ev->addr, ev->addr_len, sizeof(ev->addr));
	copy_ev_str(raw_path, sizeof(raw_path), ev->path, ev->path_len, sizeof(ev->path));
	if (ev->content_length >= 0)
		r->bytes_in = ev->content_length;
	request_classify(r, raw_path);
	r->truncated = (ev->truncated & KP_TRUNC_METHOD ? REC_TRUNC_METHOD : 0) |
		       (ev->truncated & KP_TRUNC_PATH ? REC_TRUNC_PATH : 0) |
		       (ev->truncated & KP_TRUNC_UA ? REC_TRUNC_USER_AGENT : 0) |
		       (ev->truncated & KP_TRUNC_ADDR ? REC_TRUNC_CLIENT : 0);
	if (ev->authn == KP_AUTHN_OK && ev->user_found) {
		r->has_user = true;
		copy_ev_str(r->user, sizeof(r->user), ev->user, ev->user_len, sizeof(ev->user));
		r->ngroups = ev->ngroups < REC_GROUPS_MAX ? ev->ngroups : REC_GROUPS_MAX;
		for (unsigned i = 0; i < r->ngroups && i < KP_GROUPS_MAX; i++)
			copy_ev_str(r->groups[i], sizeof(r->groups[i]), ev->groups[i], ev->group_len[i],
				    sizeof(ev->groups[i]));
		r->truncated |= (ev->truncated & KP_TRUNC_USER ? REC_TRUNC_USER : 0) |
				(ev->truncated & KP_TRUNC_GROUPS ? REC_TRUNC_GROUPS : 0);
	}
	if (r->truncated & REC_TRUNC_PATH)
		request_mark_path_cut(r, raw_path, strlen(raw_path));
}

void request_mark_path_cut(struct request_record *r, char *raw, size_t len)
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
	raw[len] = 0;
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
