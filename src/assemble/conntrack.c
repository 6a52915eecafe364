// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "assemble/conntrack.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "resolve/procnet.h"
#include "util/hash.h"
#include "util/strbuf.h"

#define PEER_MAX 64
#define OTHER_MAX 48 /* "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535" + NUL */

struct ct_entry {
	bool used;
	bool open;
	bool seeded;
	bool retrans_known;   /* retrans holds a cumulative count seen on this connection */
	uint8_t dir;          /* enum rec_conn_dir */
	uint16_t local_port;
	uint32_t retrans;     /* last cumulative total_retrans seen */
	uint32_t rst_sent, rst_recv;
	uint64_t opened_at;   /* monotonic ns; 0 for seeded */
	uint64_t closed_at;
	char key[PEER_MAX];   /* client: the peer "ip:port"; etcd: "e " + the local "ip:port" */
	char other[OTHER_MAX]; /* client: the local "ip:port"; etcd: the endpoint "ip:port" */
};

/* Connections open per group (client IP, etcd endpoint); a group leaves when none is open. */
struct ct_group {
	bool used;
	uint32_t open;
	char key[OTHER_MAX];
};

/* A close, in the queue of closes ordered by time: ct_expire pops the due ones and looks their keys up,
 * instead of scanning the whole table (MBs, cold after each sleep). An item whose connection reopened
 * (or closed again later) is stale: its key's entry is open or has another closed_at. */
struct ct_closed {
	uint64_t at;
	char key[PEER_MAX];
};
/* ct_local_port's memo: the answers for recent peers short enough for three words (any IPv4 "ip:port"),
 * found by one multiply and a three-word compare instead of hashing and probing the table (~100
 * instructions a request); valid while the table's generation is the one they were taken at. */
#define CT_MEMO_SLOTS 64
#define CT_MEMO_KEY 24
struct ct_memo {
	uint64_t w[CT_MEMO_KEY / 8]; /* the peer, zero-padded */
	uint64_t gen;                /* 0: empty */
	uint16_t local_port;
};

#define CT_CLOSED_CAP 4096 /* closes within one grace period (10 s in top: 400 a second); beyond: scans */
#define CT_CLOSED_SHIFT 64 /* out-of-order closes moved back at most this far, else: scans */

struct conntrack {
	struct ct_entry *e;
	size_t cap; /* power of two, >= 2 x max */
	size_t count, max;
	size_t nclosed;         /* entries closed and not yet expired */
	uint64_t oldest_closed; /* no closed entry has an earlier closed_at (0: none / unknown) */
	struct ct_closed *cq;   /* CT_CLOSED_CAP, a ring: cq[cq_head] the earliest */
	size_t cq_head, cq_n;
	bool cq_over;           /* a close did not fit: expire scans the table until none is closed */
	struct ct_group *g;
	size_t gcount;
	struct ct_stats st;
	ct_emit_fn emit;
	void *emit_ctx;
	int64_t mono_to_wall;
	struct conn_record rec;
	uint64_t gen; /* bumped when an entry is added, reopened or removed: the memo's answers are stale */
	struct ct_memo memo[CT_MEMO_SLOTS];
};

struct conntrack *ct_new(size_t max_conns)
{
	struct conntrack *ct = calloc(1, sizeof(*ct));
	size_t cap = 16;

	if (!ct)
		return NULL;
	ct->max = max_conns ? max_conns : 16384;
	ct->gen = 1;
	while (cap < ct->max * 2)
		cap <<= 1;
	ct->cap = cap;
	ct->e = calloc(cap, sizeof(*ct->e));
	ct->g = calloc(cap, sizeof(*ct->g));
	ct->cq = calloc(CT_CLOSED_CAP, sizeof(*ct->cq));
	if (!ct->e || !ct->g || !ct->cq) {
		ct_free(ct);
		return NULL;
	}
	return ct;
}

void ct_free(struct conntrack *ct)
{
	if (!ct)
		return;
	free(ct->e);
	free(ct->g);
	free(ct->cq);
	free(ct);
}

void ct_set_emit(struct conntrack *ct, ct_emit_fn fn, void *ctx, int64_t mono_to_wall_ns)
{
	ct->emit = fn;
	ct->emit_ctx = ctx;
	ct->mono_to_wall = mono_to_wall_ns;
}

/* ---- the tables: linear probing, backward-shift deletion ---- */

/* Keys are "ip:port" strings (< PEER_MAX): hashed 8 bytes at a time (looked up once per request) */
static inline uint64_t ct_hash(const char *k)
{
	return hash_bytes(k, strlen(k), 0);
}


#define TABLE_FIND(tab, cap, keyf, k, found)                                                       \
	({                                                                                         \
		size_t n_ = strlen(k), mask_ = (cap) - 1, i_ = hash_bytes((k), n_, 0) & mask_;    \
		*(found) = false;                                                                  \
		while ((tab)[i_].used) {                                                           \
			/* the NUL included: keys are shorter than their field */                  \
			if (n_ < sizeof((tab)[i_].keyf) && mem_eq_short((tab)[i_].keyf, (k), n_ + 1)) { \
				*(found) = true;                                                   \
				break;                                                             \
			}                                                                          \
			i_ = (i_ + 1) & mask_;                                                     \
		}                                                                                  \
		i_;                                                                                \
	})

#define TABLE_REMOVE(tab, cap, keyf, at)                                                           \
	do {                                                                                       \
		size_t mask_ = (cap) - 1, i_ = (at), j_ = (at);                                    \
		(tab)[i_].used = false;                                                            \
		for (;;) {                                                                         \
			size_t home_;                                                              \
			j_ = (j_ + 1) & mask_;                                                     \
			if (!(tab)[j_].used)                                                       \
				break;                                                             \
			home_ = ct_hash((tab)[j_].keyf) & mask_;                                   \
			if (((j_ - home_) & mask_) >= ((j_ - i_) & mask_)) {                       \
				(tab)[i_] = (tab)[j_];                                             \
				(tab)[j_].used = false;                                            \
				i_ = j_;                                                           \
			}                                                                          \
		}                                                                                  \
	} while (0)

static size_t find(const struct conntrack *ct, const char *key, bool *found)
{
	return TABLE_FIND(ct->e, ct->cap, key, key, found);
}

static void remove_at(struct conntrack *ct, size_t i)
{
	ct->gen++;
	TABLE_REMOVE(ct->e, ct->cap, key, i);
	ct->count--;
}

void ct_group_of(enum rec_conn_dir dir, const char *addr, char *out, size_t len)
{
	const char *colon = strrchr(addr, ':');
	size_t n = strlen(addr);

	if (dir == REC_CONN_CLIENT && colon) {
		n = (size_t)(colon - addr);
		if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') { /* [v6]:port -> v6 */
			addr++;
			n -= 2;
		}
	}
	if (!len)
		return;
	if (n >= len)
		n = len - 1;
	memcpy(out, addr, n);
	out[n] = '\0';
}

/* Add d (+1 / -1) to the group's open count; returns the count after, 0 when the group has no room. */
static uint32_t group_add(struct conntrack *ct, const char *key, int d)
{
	bool found;
	size_t i = TABLE_FIND(ct->g, ct->cap, key, key, &found);
	uint32_t n;

	if (!found) {
		if (d < 0)
			return 0;
		if (ct->gcount >= ct->max) {
			ct->st.groups_full++;
			return 0;
		}
		ct->g[i].used = true;
		ct->g[i].open = 0;
		strcpy(ct->g[i].key, key);
		ct->gcount++;
	}
	if (d < 0 && ct->g[i].open == 0)
		return 0;
	ct->g[i].open = n = ct->g[i].open + (uint32_t)d;
	if (!n) {
		TABLE_REMOVE(ct->g, ct->cap, key, i);
		ct->gcount--;
	}
	return n;
}

/* ---- records ---- */

static void emit(struct conntrack *ct, const struct ct_entry *e, enum rec_conn_event what, uint64_t ts, int gdelta)
{
	struct conn_record *r = &ct->rec;
	bool client = e->dir == REC_CONN_CLIENT;
	const char *peer = client ? e->key : e->other, *local = client ? e->other : e->key + 2;
	uint32_t gopen;

	memset(r, 0, sizeof(*r));
	r->ts_ns = ts + (uint64_t)ct->mono_to_wall;
	r->event = what;
	r->dir = (enum rec_conn_dir)e->dir;
	str_copy(r->peer, sizeof(r->peer), peer);
	str_copy(r->local, sizeof(r->local), local);
	ct_group_of(r->dir, peer, r->group, sizeof(r->group));
	gopen = gdelta ? group_add(ct, r->group, gdelta) : 0;
	if (!gdelta) { /* the count as it is */
		bool found;
		size_t gi = TABLE_FIND(ct->g, ct->cap, key, r->group, &found);

		gopen = found ? ct->g[gi].open : 0;
	}
	r->seeded = e->seeded;
	r->duration_ns = what == REC_CONN_CLOSE && !e->seeded && e->opened_at && ts > e->opened_at ? ts - e->opened_at : 0;
	r->bytes_in = r->bytes_out = -1;
	r->retransmits = e->retrans_known && !e->seeded ? (int64_t)e->retrans : -1;
	r->resets_sent = e->rst_sent;
	r->resets_received = e->rst_recv;
	r->group_open = gopen;
	r->open_total = client ? ct->st.active : ct->st.etcd_active;
}

static void deliver(struct conntrack *ct)
{
	if (ct->emit)
		ct->emit(&ct->rec, ct->emit_ctx);
}

/* The new cumulative retransmit count of a connection: what it adds since the previous event. For a
 * connection opened before kapimon (seeded), the first count mixes retransmits from before: the event
 * itself counts one. */
static uint32_t retrans_step(struct ct_entry *e, uint32_t cum, bool is_retrans_event)
{
	uint32_t d;

	if (!e->retrans_known)
		d = e->seeded ? (is_retrans_event ? 1 : 0) : cum;
	else
		d = cum >= e->retrans ? cum - e->retrans : 0;
	e->retrans = cum;
	e->retrans_known = true;
	return d;
}

static void key_of(const struct kp_conn_event *ev, char *key, size_t klen, char *other, size_t olen)
{
	bool etcd = ev->dir == KP_CONN_DIR_ETCD;

	/* addresses are at most 47 bytes ("[v6]:port"): nothing is cut */
	if (etcd && klen > 2) {
		key[0] = 'e';
		key[1] = ' ';
		key += 2;
		klen -= 2;
	}
	procnet_format_addr(ev->family, ev->peer_addr, ev->peer_port, etcd ? other : key, etcd ? olen : klen);
	procnet_format_addr(ev->family, ev->local_addr, ev->local_port, etcd ? key : other, etcd ? klen : olen);
}

static struct ct_entry *open_entry(struct conntrack *ct, const char *key, const char *other, uint8_t dir,
				   uint16_t local_port, uint64_t ts, bool seeded)
{
	bool found, client = dir == REC_CONN_CLIENT;
	size_t i;
	struct ct_entry *e;

	if (strlen(key) >= PEER_MAX || strlen(other) >= OTHER_MAX)
		return NULL;
	ct->gen++;
	i = find(ct, key, &found);
	e = &ct->e[i];
	if (!found) {
		if (ct->count >= ct->max) {
			ct->st.full++;
			return NULL;
		}
		ct->count++;
		memset(e, 0, sizeof(*e));
		e->used = true;
		strcpy(e->key, key);
	} else if (e->open) {
		/* reopened without a close we saw */
		if (client)
			ct->st.active--;
		else
			ct->st.etcd_active--;
		/* the group keeps its count: one connection replaced another */
	} else {
		ct->nclosed--; /* reopened after a close */
	}
	str_copy(e->other, sizeof(e->other), other);
	if (!found || !e->open)
		e->rst_sent = e->rst_recv = 0;
	e->retrans_known = false;
	e->retrans = 0;
	e->open = true;
	e->dir = dir;
	e->local_port = local_port;
	e->closed_at = 0;
	e->opened_at = seeded ? 0 : ts;
	e->seeded = seeded;
	if (client) {
		ct->st.active++;
		ct->st.seeded += seeded;
		ct->st.opened += !seeded;
	} else {
		ct->st.etcd_active++;
		ct->st.etcd_seeded += seeded;
		ct->st.etcd_opened += !seeded;
	}
	return e;
}

static void open_conn(struct conntrack *ct, const char *key, const char *other, uint8_t dir, uint16_t local_port,
		      uint64_t ts, bool seeded, bool have_retrans, uint32_t retrans)
{
	bool found;
	size_t i = find(ct, key, &found);
	bool was_open = found && ct->e[i].open;
	struct ct_entry *e;

	if (was_open && seeded)
		return; /* found in /proc again (a second look): nothing new */
	e = open_entry(ct, key, other, dir, local_port, ts, seeded);

	if (!e)
		return;
	ct->rec.retrans_delta = 0;
	emit(ct, e, REC_CONN_OPEN, ts, was_open ? 0 : 1);
	if (have_retrans) {
		ct->rec.retrans_delta = retrans_step(e, retrans, false);
		ct->st.retransmits += ct->rec.retrans_delta;
		ct->rec.retransmits = e->retrans;
	}
	deliver(ct);
}

static inline struct ct_closed *cq_at(struct conntrack *ct, size_t k)
{
	return &ct->cq[(ct->cq_head + k) & (CT_CLOSED_CAP - 1)];
}

/* Queue a close in time order (events arrive nearly in order: a few moves back at most). */
static void cq_push(struct conntrack *ct, const char *key, uint64_t at)
{
	size_t k = ct->cq_n;

	if (ct->cq_over)
		return;
	if (ct->cq_n == CT_CLOSED_CAP) {
		ct->cq_over = true;
		return;
	}
	for (; k > 0 && cq_at(ct, k - 1)->at > at; k--) {
		if (ct->cq_n - k == CT_CLOSED_SHIFT) {
			ct->cq_over = true;
			return;
		}
	}
	for (size_t m = ct->cq_n; m > k; m--)
		*cq_at(ct, m) = *cq_at(ct, m - 1);
	cq_at(ct, k)->at = at;
	strcpy(cq_at(ct, k)->key, key);
	ct->cq_n++;
}

static void close_conn(struct conntrack *ct, const char *key, uint8_t dir, uint64_t ts, const struct kp_conn_event *ev)
{
	bool found;
	size_t i = find(ct, key, &found);
	struct ct_entry *e = &ct->e[i];
	uint32_t d = 0;

	if (dir == REC_CONN_CLIENT)
		ct->st.closed++;
	else
		ct->st.etcd_closed++;
	if (!found || !e->open) {
		ct->st.unknown++;
		return;
	}
	e->open = false;
	e->closed_at = ts ? ts : 1;
	if (dir == REC_CONN_CLIENT)
		ct->st.active--;
	else
		ct->st.etcd_active--;
	if (!ct->nclosed++ || e->closed_at < ct->oldest_closed)
		ct->oldest_closed = e->closed_at;
	cq_push(ct, e->key, e->closed_at);
	if (ev) {
		d = retrans_step(e, ev->retrans, false);
		ct->st.retransmits += d;
	}
	emit(ct, e, REC_CONN_CLOSE, ts, -1);
	ct->rec.retrans_delta = d;
	if (ev && (ev->flags & KP_CONN_HAVE_BYTES)) {
		ct->rec.bytes_in = (int64_t)ev->bytes_in;
		ct->rec.bytes_out = (int64_t)ev->bytes_out;
	}
	deliver(ct);
}

void ct_feed(struct conntrack *ct, const struct kp_conn_event *ev)
{
	char key[PEER_MAX + 8], other[80];
	uint8_t dir = ev->dir == KP_CONN_DIR_ETCD ? REC_CONN_ETCD : REC_CONN_CLIENT;
	uint64_t ts = ev->hdr.ts_ns;
	bool found;
	struct ct_entry *e;

	key_of(ev, key, sizeof(key), other, sizeof(other));
	switch (ev->established) {
	case KP_CONN_OPEN:
	case KP_CONN_SEEDED:
		open_conn(ct, key, other, dir, dir == REC_CONN_CLIENT ? ev->local_port : 0, ts,
			  ev->established == KP_CONN_SEEDED, ev->established == KP_CONN_OPEN, ev->retrans);
		return;
	case KP_CONN_CLOSE:
		close_conn(ct, key, dir, ts, ev);
		return;
	case KP_CONN_RETRANS:
	case KP_CONN_RST_SENT:
	case KP_CONN_RST_RECV:
		break;
	default:
		return;
	}
	e = &ct->e[find(ct, key, &found)];
	if (!found || !e->open) {
		ct->st.unknown++;
		return;
	}
	if (ev->established == KP_CONN_RETRANS) {
		uint32_t d = retrans_step(e, ev->retrans, true);

		if (!d)
			return;
		ct->st.retransmits += d;
		emit(ct, e, REC_CONN_RETRANS, ts, 0);
		ct->rec.retrans_delta = d;
	} else {
		bool sent = ev->established == KP_CONN_RST_SENT;

		e->rst_sent += sent;
		e->rst_recv += !sent;
		ct->st.resets_sent += sent;
		ct->st.resets_received += !sent;
		emit(ct, e, REC_CONN_RESET, ts, 0);
		ct->rec.resets_delta = 1;
		ct->rec.reset_sent = sent;
	}
	deliver(ct);
}

void ct_open(struct conntrack *ct, const char *peer, uint16_t local_port, uint64_t ts, bool seeded)
{
	open_conn(ct, peer, "", REC_CONN_CLIENT, local_port, ts, seeded, false, 0);
}

void ct_close(struct conntrack *ct, const char *peer, uint64_t ts)
{
	close_conn(ct, peer, REC_CONN_CLIENT, ts, NULL);
}

uint16_t ct_local_port(struct conntrack *ct, const char *peer)
{
	size_t n = strlen(peer), i;
	uint64_t w[CT_MEMO_KEY / 8] = { 0 };
	struct ct_memo *m;
	bool found;

	if (n >= CT_MEMO_KEY) {
		i = find(ct, peer, &found);
		return found ? ct->e[i].local_port : 0;
	}
	mem_copy_short((char *)w, peer, n);
	m = &ct->memo[(w[0] ^ w[1] * 0x9e3779b97f4a7c15ULL ^ w[2] * 0xc4ceb9fe1a85ec53ULL) * 0xff51afd7ed558ccdULL >> 58];
	if (m->gen == ct->gen && m->w[0] == w[0] && m->w[1] == w[1] && m->w[2] == w[2])
		return m->local_port;
	i = find(ct, peer, &found);
	memcpy(m->w, w, sizeof(w));
	m->gen = ct->gen;
	m->local_port = found ? ct->e[i].local_port : 0;
	return m->local_port;
}
_Static_assert(CT_MEMO_SLOTS == 1 << (64 - 58), "the memo's index: the product's top bits");

bool ct_closed_since(const struct conntrack *ct, const char *peer, uint64_t since, uint64_t now, uint64_t grace_ns)
{
	bool found;
	size_t i = find(ct, peer, &found);

	if (!found || ct->e[i].open)
		return false;
	return ct->e[i].closed_at > since && ct->e[i].closed_at + grace_ns <= now;
}

void ct_expire(struct conntrack *ct, uint64_t now, uint64_t grace_ns)
{
	uint64_t oldest = 0;

	if (!ct->nclosed) { /* what is queued is stale (reopened) */
		ct->cq_head = ct->cq_n = 0;
		ct->cq_over = false;
		return;
	}
	if (ct->oldest_closed + grace_ns >= now)
		return;
	if (!ct->cq_over) {
		/* the due closes, in time order: those whose entry is still closed then go */
		while (ct->cq_n && cq_at(ct, 0)->at + grace_ns < now) {
			const struct ct_closed *q = cq_at(ct, 0);
			bool found;
			size_t i = find(ct, q->key, &found);

			if (found && !ct->e[i].open && ct->e[i].closed_at == q->at) {
				remove_at(ct, i);
				ct->nclosed--;
			}
			ct->cq_head = (ct->cq_head + 1) & (CT_CLOSED_CAP - 1);
			ct->cq_n--;
		}
		ct->oldest_closed = ct->cq_n ? cq_at(ct, 0)->at : 0;
		return;
	}
	/* a scan of the whole table (MBs): only after the queue overflowed */
	for (size_t i = 0; i < ct->cap;) {
		struct ct_entry *e = &ct->e[i];

		if (e->used && !e->open && e->closed_at + grace_ns < now) {
			remove_at(ct, i); /* an entry may have moved into i: look at i again */
			ct->nclosed--;
			continue;
		}
		if (e->used && !e->open && (!oldest || e->closed_at < oldest))
			oldest = e->closed_at;
		i++;
	}
	ct->oldest_closed = oldest;
}

const struct ct_stats *ct_get_stats(const struct conntrack *ct)
{
	return &ct->st;
}
