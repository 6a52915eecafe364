// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Validation of unverified struct offsets on a probe group's first events (see offsets_check.h). */
#include "assemble/offsets_check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd/etcd_request.h"

/* The request methods an HTTP server sees from real clients (RFC 9110 section 9 + PATCH, RFC 5789). */
static const char *const known_methods[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE" };

/* Keys kube-apiserver uses outside --etcd-prefix: the compactor's revision key
 * (k8s.io/apiserver/pkg/storage/etcd3/compact.go, compactRevKey). */
static const char *const keys_outside_prefix[] = { "compact_rev_key" };

#define GRPC_METHOD_PREFIX "/etcdserverpb."
#define MAX_SANE_BYTES (1LL << 40) /* 1 TiB: a byte count above it is a pointer or garbage */
#define MAX_WATCH_EVENTS (1u << 20)

union oc_any_event {
	struct kp_req_start rs;
	struct kp_req_end re;
	struct kp_grpc_start gs;
	struct kp_grpc_end ge;
	struct kp_watch_resp wr;
};
#define SLOT sizeof(union oc_any_event)

struct oc_hold {
	unsigned char *buf; /* OC_HOLD_MAX slots of SLOT bytes */
	size_t size[OC_HOLD_MAX];
	unsigned n;
};

struct offcheck {
	unsigned min_events;
	char prefix[128];
	struct oc_group_info info[OC__NGROUPS];
	struct oc_hold hold[OC__NGROUPS];
	unsigned npending;
};

int oc_event_group(const void *data, size_t size)
{
	const struct kp_event_hdr *h = data;

	if (!data || size < sizeof(*h))
		return -1;
	switch (h->type) {
	case KP_EV_REQ_START:
		if (size < sizeof(struct kp_req_start))
			return -1;
		/* authn starts read the *http.Request of both protocols through the http1 offsets */
		return ((const struct kp_req_start *)data)->proto == KP_PROTO_H1 ||
				       ((const struct kp_req_start *)data)->authn ? OC_H1
		       : ((const struct kp_req_start *)data)->h2_flavor ? OC_H2B : OC_H2X;
	case KP_EV_REQ_END:
		if (size < sizeof(struct kp_req_end))
			return -1;
		return ((const struct kp_req_end *)data)->proto == KP_PROTO_H1 ? OC_H1
		       : ((const struct kp_req_end *)data)->h2_flavor ? OC_H2B : OC_H2X;
	case KP_EV_GRPC_START:
	case KP_EV_GRPC_END:
	case KP_EV_GRPC_STREAM:
	case KP_EV_WATCH_RESP:
		return OC_GRPC;
	default:
		return -1;
	}
}

/* Printable, escaped copy of a captured byte string for messages. */
static void esc(char *out, size_t outlen, const char *s, size_t n)
{
	size_t o = 0;

	if (!outlen)
		return;
	for (size_t i = 0; i < n && i < 24 && o + 5 < outlen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
	}
	if (n > 24 && o + 4 < outlen)
		o += (size_t)snprintf(out + o, outlen - o, "...");
	out[o < outlen ? o : outlen - 1] = '\0';
}

static enum oc_score bad(char *why, size_t wl, const char *fmt, ...)
{
	va_list ap;

	if (why && wl) {
		va_start(ap, fmt);
		vsnprintf(why, wl, fmt, ap);
		va_end(ap);
	}
	return OC_BAD;
}

static bool printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static bool known_method(const char *m, size_t n)
{
	for (size_t i = 0; i < sizeof(known_methods) / sizeof(known_methods[0]); i++)
		if (strlen(known_methods[i]) == n && !memcmp(known_methods[i], m, n))
			return true;
	return false;
}

static bool stream_id_ok(uint8_t proto, uint32_t id)
{
	/* h2: client-initiated streams are odd, ids are 31 bits (RFC 9113 5.1.1); h1: always 0 */
	return proto == KP_PROTO_H2 ? (id & 1) && id < (1u << 31) : id == 0;
}

static bool bytes_ok(int64_t b)
{
	return b >= -1 && b < MAX_SANE_BYTES;
}

static enum oc_score score_req_start(const struct kp_req_start *e, char *why, size_t wl)
{
	char t[176];
	size_t ml = e->method_len, pl = e->path_len, al = e->addr_len;

	if (e->proto != KP_PROTO_H1 && e->proto != KP_PROTO_H2)
		return bad(why, wl, "request start: protocol %u", e->proto);
	if (ml > KP_METHOD_MAX || pl > KP_PATH_MAX || al > KP_ADDR_MAX)
		return bad(why, wl, "request start: string lengths %zu/%zu/%zu beyond the copy buffers", ml, pl, al);
	if (!known_method(e->method, ml) || (e->truncated & 4)) {
		esc(t, sizeof(t), e->method, ml);
		return bad(why, wl, "request method \"%s\" not a known HTTP method", t);
	}
	if (!(pl >= 1 && (e->path[0] == '/' || (pl == 1 && e->path[0] == '*'))) &&
	    !(pl == 0 && ml == 7 && !memcmp(e->method, "CONNECT", 7))) {
		esc(t, sizeof(t), e->path, pl);
		return bad(why, wl, "request path \"%s\" does not start with '/'", t);
	}
	if (!printable(e->path, pl)) {
		esc(t, sizeof(t), e->path, pl);
		return bad(why, wl, "request path \"%s\" has control or non-ASCII bytes", t);
	}
	if (!e->authn && !stream_id_ok(e->proto, e->stream_id))
		return bad(why, wl, "%s stream id %u implausible (%s)", e->proto == KP_PROTO_H2 ? "h2" : "h1", e->stream_id,
			   e->proto == KP_PROTO_H2 ? "client streams are odd, < 2^31" : "must be 0");
	if (al && (!printable(e->addr, al) || !memchr(e->addr, ':', al))) {
		esc(t, sizeof(t), e->addr, al);
		return bad(why, wl, "client address \"%s\" is not host:port", t);
	}
	if (e->content_length < -1 || e->content_length >= MAX_SANE_BYTES)
		return bad(why, wl, "content length %lld implausible", (long long)e->content_length);
	return OC_GOOD;
}

static enum oc_score score_req_end(const struct kp_req_end *e, char *why, size_t wl)
{
	if (e->proto != KP_PROTO_H1 && e->proto != KP_PROTO_H2)
		return bad(why, wl, "request end: protocol %u", e->proto);
	if (!stream_id_ok(e->proto, e->stream_id))
		return bad(why, wl, "%s stream id %u implausible at request end", e->proto == KP_PROTO_H2 ? "h2" : "h1",
			   e->stream_id);
	if (e->status != 0 && (e->status < 100 || e->status > 599))
		return bad(why, wl, "response status %lld outside 100-599", (long long)e->status);
	if (!bytes_ok(e->bytes_out) || !bytes_ok(e->bytes_in))
		return bad(why, wl, "byte counts out %lld / in %lld implausible", (long long)e->bytes_out,
			   (long long)e->bytes_in);
	/* status 0 = the handler wrote nothing: legitimate, but also what a wrong offset into zeroed
	 * memory reads, so it does not count either way */
	return e->status ? OC_GOOD : OC_NEUTRAL;
}

static bool key_ok(const uint8_t *k, size_t n, const char *prefix)
{
	size_t pl = strlen(prefix);

	if (n >= pl && !memcmp(k, prefix, pl) && (n == pl || k[pl] == '/' || prefix[pl - 1] == '/'))
		return true;
	for (size_t i = 0; i < sizeof(keys_outside_prefix) / sizeof(keys_outside_prefix[0]); i++)
		if (strlen(keys_outside_prefix[i]) == n && !memcmp(keys_outside_prefix[i], k, n))
			return true;
	return false;
}

static enum oc_score score_grpc_start(const struct kp_grpc_start *e, const char *prefix, char *why, size_t wl)
{
	char t[176];
	size_t ml = e->method_len < KP_GRPC_METHOD_MAX ? e->method_len : KP_GRPC_METHOD_MAX;
	size_t plen = e->payload_copied < KP_GRPC_PAYLOAD_MAX ? e->payload_copied : KP_GRPC_PAYLOAD_MAX;
	struct etcd_req_summary sum;

	if (ml <= strlen(GRPC_METHOD_PREFIX) || memcmp(e->method, GRPC_METHOD_PREFIX, strlen(GRPC_METHOD_PREFIX)) ||
	    !printable(e->method, ml)) {
		esc(t, sizeof(t), e->method, ml);
		return bad(why, wl, "etcd call method \"%s\" not /etcdserverpb.*", t);
	}
	if (e->nctx > KP_CTX_CHAIN_MAX)
		return bad(why, wl, "etcd call context chain length %u > %u", e->nctx, KP_CTX_CHAIN_MAX);
	/* the payload is not read through offsets, but the key tells a mis-aimed probe from a real call */
	if (etcd_decode_request(e->method, ml, e->payload, plen, &sum, NULL) >= 0 && sum.has_key && sum.key_len &&
	    !key_ok(sum.key, sum.key_len, prefix)) {
		esc(t, sizeof(t), (const char *)sum.key, sum.key_len);
		return bad(why, wl, "etcd key \"%s\" not under the etcd prefix %s", t, prefix);
	}
	return OC_GOOD;
}

static enum oc_score score_grpc_end(const struct kp_grpc_end *e, char *why, size_t wl)
{
	if (e->is_err > 1)
		return bad(why, wl, "etcd call end: error flag %u", e->is_err);
	if (!e->is_err)
		return e->code == 0 ? OC_NEUTRAL : bad(why, wl, "etcd call without error has code %d", e->code);
	if (e->code == -1)
		return OC_NEUTRAL; /* an error of a shape the probe does not read: honest "unknown" */
	/* codes 0-16 (grpc/codes); the read went through the status offsets */
	return e->code >= 0 && e->code <= 16 ? OC_GOOD : bad(why, wl, "etcd call status code %d outside 0-16", e->code);
}

static enum oc_score score_watch(const struct kp_watch_resp *e, const char *prefix, char *why, size_t wl)
{
	char t[176];
	size_t kl = e->key_len < KP_WATCH_KEY_MAX ? e->key_len : KP_WATCH_KEY_MAX;

	if (e->nevents > MAX_WATCH_EVENTS)
		return bad(why, wl, "watch response with %u events", e->nevents);
	if (!e->nevents)
		return OC_NEUTRAL; /* progress notification */
	if (e->first_type > 1)
		return bad(why, wl, "watch event type %u (PUT 0, DELETE 1)", e->first_type);
	if (!kl)
		return OC_NEUTRAL;
	if (!key_ok((const uint8_t *)e->key, kl, prefix)) {
		esc(t, sizeof(t), e->key, kl);
		return bad(why, wl, "watched key \"%s\" not under the etcd prefix %s", t, prefix);
	}
	return OC_GOOD;
}

enum oc_score oc_score_event(const void *data, size_t size, const char *etcd_prefix, char *why, size_t why_len)
{
	const struct kp_event_hdr *h = data;
	const char *prefix = etcd_prefix && *etcd_prefix ? etcd_prefix : "/registry";

	if (why && why_len)
		*why = '\0';
	if (!data || size < sizeof(*h))
		return bad(why, why_len, "event of %zu bytes", size);
	switch (h->type) {
	case KP_EV_REQ_START:
		return size < sizeof(struct kp_req_start) ? bad(why, why_len, "short event") : score_req_start(data, why, why_len);
	case KP_EV_REQ_END:
		return size < sizeof(struct kp_req_end) ? bad(why, why_len, "short event") : score_req_end(data, why, why_len);
	case KP_EV_GRPC_START:
		return size < sizeof(struct kp_grpc_start) ? bad(why, why_len, "short event")
							   : score_grpc_start(data, prefix, why, why_len);
	case KP_EV_GRPC_END:
		return size < sizeof(struct kp_grpc_end) ? bad(why, why_len, "short event") : score_grpc_end(data, why, why_len);
	case KP_EV_WATCH_RESP:
		return size < sizeof(struct kp_watch_resp) ? bad(why, why_len, "short event")
							   : score_watch(data, prefix, why, why_len);
	default:
		return OC_NEUTRAL;
	}
}

void oc_cmdline_flag(const char *cmdline, size_t len, const char *name, char *out, size_t out_len)
{
	const size_t nl = strlen(name);
	const char *p = cmdline, *end = cmdline + len;

	if (!out_len)
		return;
	*out = '\0';
	while (cmdline && p < end) {
		size_t n = strnlen(p, (size_t)(end - p)), al;
		const char *arg = p, *a;

		p += n + 1;
		if (n < 2 || arg[0] != '-')
			continue;
		a = arg + (arg[1] == '-' ? 2 : 1); /* Go flags take one or two dashes */
		al = n - (size_t)(a - arg);
		if (al < nl || memcmp(a, name, nl))
			continue;
		if (al == nl && p < end) { /* "--name VALUE" */
			size_t vl = strnlen(p, (size_t)(end - p));

			snprintf(out, out_len, "%.*s", (int)vl, p);
			p += vl + 1;
		} else if (al > nl && a[nl] == '=') {
			snprintf(out, out_len, "%.*s", (int)(al - nl - 1), a + nl + 1);
		}
	}
}

void oc_etcd_prefix_from_cmdline(const char *cmdline, size_t len, char *out, size_t out_len)
{
	oc_cmdline_flag(cmdline, len, "etcd-prefix", out, out_len);
}

struct offcheck *oc_new(unsigned min_events, const char *etcd_prefix)
{
	struct offcheck *oc = calloc(1, sizeof(*oc));

	if (!oc)
		return NULL;
	oc->min_events = min_events ? min_events : OC_MIN_EVENTS;
	if (oc->min_events > OC_HOLD_MAX)
		oc->min_events = OC_HOLD_MAX;
	snprintf(oc->prefix, sizeof(oc->prefix), "%s", etcd_prefix && *etcd_prefix ? etcd_prefix : "/registry");
	return oc;
}

void oc_free(struct offcheck *oc)
{
	if (!oc)
		return;
	for (int g = 0; g < OC__NGROUPS; g++)
		free(oc->hold[g].buf);
	free(oc);
}

int oc_watch(struct offcheck *oc, enum oc_group g)
{
	if (!oc || (unsigned)g >= OC__NGROUPS)
		return -EINVAL;
	if (oc->info[g].state == OC_PENDING)
		return 0;
	if (!oc->hold[g].buf && !(oc->hold[g].buf = malloc(OC_HOLD_MAX * SLOT)))
		return -ENOMEM;
	memset(&oc->info[g], 0, sizeof(oc->info[g]));
	oc->info[g].state = OC_PENDING;
	oc->hold[g].n = 0;
	oc->npending++;
	return 0;
}

bool oc_pending_any(const struct offcheck *oc)
{
	return oc && oc->npending;
}

static void decide(struct offcheck *oc, int g, enum oc_state st, const char *fmt, ...)
{
	struct oc_group_info *in = &oc->info[g];
	char first[sizeof(in->why)];
	va_list ap;

	snprintf(first, sizeof(first), "%s", in->why);
	in->state = st;
	oc->npending--;
	va_start(ap, fmt);
	vsnprintf(in->why, sizeof(in->why), fmt, ap);
	va_end(ap);
	if (st == OC_FAIL && first[0]) {
		size_t l = strlen(in->why);

		snprintf(in->why + l, sizeof(in->why) - l, "; first: %s", first);
	}
	if (st == OC_FAIL) {
		in->discarded += oc->hold[g].n;
		oc->hold[g].n = 0;
		in->held = 0;
	}
}

enum oc_action oc_feed(struct offcheck *oc, const void *data, size_t size, int *decided)
{
	int g = oc_event_group(data, size);
	struct oc_group_info *in;
	struct oc_hold *h;
	char why[sizeof(in->why)];
	enum oc_score sc;
	unsigned informative;

	if (decided)
		*decided = -1;
	if (!oc || g < 0)
		return OC_DELIVER;
	in = &oc->info[g];
	h = &oc->hold[g];
	if (in->state == OC_OFF || in->state == OC_PASS)
		return OC_DELIVER;
	if (in->state == OC_FAIL) {
		in->discarded++;
		return OC_DROP;
	}
	sc = oc_score_event(data, size, oc->prefix, why, sizeof(why));
	if (sc == OC_GOOD)
		in->good++, in->good_ends += ((const struct kp_event_hdr *)data)->type == KP_EV_REQ_END;
	else if (sc == OC_BAD) {
		in->bad++;
		if (in->bad == 1)
			snprintf(in->why, sizeof(in->why), "%s", why);
	} else {
		in->neutral++;
	}
	memcpy(h->buf + (size_t)h->n * SLOT, data, size < SLOT ? size : SLOT);
	h->size[h->n++] = size < SLOT ? size : SLOT;
	in->held = h->n;
	informative = in->good + in->bad;
	/* HTTP groups: statuses, byte counts and the end's stream id are read through other offsets than
	 * the start's; a verdict needs some ends with a real status too (status 0 is uninformative) */
	if (informative >= oc->min_events &&
	    (g == OC_GRPC || in->good_ends >= (oc->min_events + 3) / 4 ||
	     (uint64_t)in->bad * 100 > (uint64_t)informative * OC_MAX_BAD_PCT)) {
		if ((uint64_t)in->bad * 100 <= (uint64_t)informative * OC_MAX_BAD_PCT)
			decide(oc, g, OC_PASS, "%u of %u events plausible (%u uninformative)", in->good, informative,
			       in->neutral);
		else
			decide(oc, g, OC_FAIL, "%u of %u events implausible", in->bad, informative);
	} else if (h->n >= OC_HOLD_MAX) {
		decide(oc, g, OC_FAIL, "cannot verify: %u events, %u informative, %u request ends with a status (%u and %u needed)",
		       h->n, informative, in->good_ends, oc->min_events, (oc->min_events + 3) / 4);
	} else {
		return OC_HOLD;
	}
	if (decided)
		*decided = g;
	return in->state == OC_PASS ? OC_HOLD : OC_DROP;
}

size_t oc_release(struct offcheck *oc, enum oc_group g, oc_release_fn fn, void *ctx)
{
	struct oc_hold *h;
	size_t n;

	if (!oc || (unsigned)g >= OC__NGROUPS || oc->info[g].state != OC_PASS)
		return 0;
	h = &oc->hold[g];
	n = h->n;
	for (size_t i = 0; i < n; i++)
		if (fn)
			fn(ctx, h->buf + i * SLOT, h->size[i]);
	h->n = 0;
	oc->info[g].held = 0;
	free(h->buf);
	h->buf = NULL;
	return n;
}

void oc_info(const struct offcheck *oc, enum oc_group g, struct oc_group_info *out)
{
	memset(out, 0, sizeof(*out));
	if (oc && (unsigned)g < OC__NGROUPS)
		*out = oc->info[g];
}

uint64_t oc_discard_pending(struct offcheck *oc)
{
	uint64_t n = 0;

	if (!oc)
		return 0;
	for (int g = 0; g < OC__NGROUPS; g++)
		if (oc->info[g].state == OC_PENDING) {
			n += oc->hold[g].n;
			oc->info[g].discarded += oc->hold[g].n;
			oc->hold[g].n = 0;
			oc->info[g].held = 0;
		}
	return n;
}
