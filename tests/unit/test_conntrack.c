// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* /proc/net/tcp parsing, Go-style address formatting and the connection table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>
#include <arpa/inet.h>

#include "assemble/conntrack.h"
#include "resolve/procnet.h"

static const char tcp4[] =
	"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	"   0: 0100007F:4423 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 122049 1 0000 100 0 0 10 0\n"
	"   1: 0100007F:4423 0100007F:AB2C 01 00000000:00000000 00:00000000 00000000     0        0 122777 1 0000 20 4 30 10 -1\n"
	"   2: garbage line\n"
	"   3: 0100007F:ZZZZ 0100007F:AB2C 01 00000000:00000000 00:00000000 00000000     0        0 1 1\n";

static const char tcp6[] =
	"  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	"   0: 0000000000000000FFFF00000100007F:4423 0000000000000000FFFF00000100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 5555 1 0000 20 4 30 10 -1\n"
	"   1: 00000000000000000000000001000000:1F90 00000000000000000000000001000000:D431 01 00000000:00000000 00:00000000 00000000     0        0 6666 1 0000 20 4 30 10 -1\n";

static void test_parse_and_format(void **state)
{
	struct procnet_sock s[8];
	size_t bad, n = procnet_parse(tcp4, AF_INET, s, 8, &bad);
	char buf[80];

	assert_int_equal(n, 2);
	assert_int_equal(bad, 2);
	assert_int_equal(s[0].state, 10);
	assert_int_equal(s[0].local_port, 17443);
	assert_int_equal(s[0].inode, 122049);
	assert_int_equal(s[1].remote_port, 0xab2c);
	procnet_format_addr(AF_INET, s[1].remote, s[1].remote_port, buf, sizeof(buf));
	assert_string_equal(buf, "127.0.0.1:43820");

	n = procnet_parse(tcp6, AF_INET6, s, 8, &bad);
	assert_int_equal(n, 2);
	assert_int_equal(bad, 0);
	procnet_format_addr(AF_INET6, s[0].remote, s[0].remote_port, buf, sizeof(buf));
	assert_string_equal(buf, "127.0.0.1:50000"); /* IPv4-mapped: Go prints the IPv4 form */
	procnet_format_addr(AF_INET6, s[1].remote, s[1].remote_port, buf, sizeof(buf));
	assert_string_equal(buf, "[::1]:54321");
	assert_int_equal(procnet_parse("", AF_INET, s, 8, NULL), 0);
	assert_int_equal(procnet_parse(NULL, AF_INET, s, 8, NULL), 0);
}

/* IPv4 (and v4-mapped) addresses are formatted without inet_ntop/snprintf: the same bytes, for every
 * digit count of each octet and port, and cut as snprintf cuts for every buffer size. */
static void test_format_v4_as_libc(void **state)
{
	static const uint8_t oct[] = { 0, 1, 9, 10, 99, 100, 199, 255 };
	static const uint16_t ports[] = { 0, 7, 10, 443, 6443, 10000, 65535 };
	char got[64], want[64], ip[INET_ADDRSTRLEN];
	int checked = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(oct); i++)
		for (size_t j = 0; j < sizeof(oct); j++)
			for (size_t p = 0; p < sizeof(ports) / sizeof(ports[0]); p++) {
				uint8_t a[16] = { oct[i], oct[j], oct[(i + j) % sizeof(oct)], oct[(i * 3 + j) % sizeof(oct)] };
				uint8_t m[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a[0], a[1], a[2], a[3] };

				inet_ntop(AF_INET, a, ip, sizeof(ip));
				for (size_t len = 1; len <= 24; len++) {
					snprintf(want, len, "%s:%u", ip, ports[p]);
					memset(got, 'x', sizeof(got));
					procnet_format_addr(AF_INET, a, ports[p], got, len);
					assert_string_equal(got, want);
					assert_int_equal(got[len], 'x'); /* nothing written past len */
					procnet_format_addr(AF_INET6, m, ports[p], got, len);
					assert_string_equal(got, want);
					checked++;
				}
			}
	assert_int_equal(checked, 8 * 8 * 7 * 24);
}

static void test_conntrack(void **state)
{
	struct conntrack *ct = ct_new(4);
	char peer[32];

	ct_open(ct, "127.0.0.1:1000", 6443, 1, true);
	ct_open(ct, "127.0.0.1:1001", 6443, 2, false);
	ct_open(ct, "[::1]:1002", 8443, 3, false);
	assert_int_equal(ct_local_port(ct, "127.0.0.1:1001"), 6443);
	assert_int_equal(ct_local_port(ct, "[::1]:1002"), 8443);
	assert_int_equal(ct_local_port(ct, "127.0.0.1:9"), 0);
	/* a prefix or an extension of a known peer, or a peer longer than any key, is unknown */
	assert_int_equal(ct_local_port(ct, "127.0.0.1:100"), 0);
	assert_int_equal(ct_local_port(ct, "127.0.0.1:10010"), 0);
	assert_int_equal(ct_local_port(ct, "[0000:0000:0000:0000:0000:0000:0000:0001]:1002-and-some-more-bytes"), 0);
	ct_close(ct, "127.0.0.1:1001", 100);
	assert_int_equal(ct_get_stats(ct)->active, 2);
	/* closed connections answer during the grace period, then are forgotten */
	ct_expire(ct, 150, 100);
	assert_int_equal(ct_local_port(ct, "127.0.0.1:1001"), 6443);
	ct_expire(ct, 201, 100);
	assert_int_equal(ct_local_port(ct, "127.0.0.1:1001"), 0);
	assert_int_equal(ct_local_port(ct, "127.0.0.1:1000"), 6443);
	/* bounded */
	for (int i = 0; i < 10; i++) {
		snprintf(peer, sizeof(peer), "10.0.0.%d:1", i);
		ct_open(ct, peer, 1, 5, false);
	}
	assert_true(ct_get_stats(ct)->full >= 8);
	assert_int_equal(ct_get_stats(ct)->seeded, 1);
	ct_free(ct);
}

/* ---- connection events (bpf/conn.bpf.c) -> conn records ---- */

#define MAXREC 64
static struct conn_record recs[MAXREC];
static int nrecs;

static void collect(const struct conn_record *r, void *ctx)
{
	(void)ctx;
	if (nrecs < MAXREC)
		recs[nrecs++] = *r;
}

static struct kp_conn_event ev(uint8_t what, uint8_t dir, uint8_t peer_last, uint16_t peer_port, uint16_t local_port,
			       uint64_t ts)
{
	struct kp_conn_event e = { .hdr.type = KP_EV_CONN, .hdr.ts_ns = ts };

	e.family = AF_INET;
	e.established = what;
	e.dir = dir;
	e.peer_port = peer_port;
	e.local_port = local_port;
	memcpy(e.peer_addr, (uint8_t[]){ 10, 0, 0, peer_last }, 4);
	memcpy(e.local_addr, (uint8_t[]){ 10, 0, 0, 1 }, 4);
	e.sk = 0xffff888000000000ULL + peer_port;
	return e;
}

/* Closed connections leave at the first ct_expire after their grace period, whatever the order their
 * closes arrived in, with reopened connections in between and when more closes come than the queue of
 * closes holds (then expire scans the table): checked against a model of every peer. */
#define EXP_PEERS 6000
#define EXP_GRACE 1000

struct exp_model {
	uint8_t state[EXP_PEERS]; /* 0 never seen / forgotten, 1 open, 2 closed */
	uint64_t closed_at[EXP_PEERS];
};

static uint32_t exp_rand(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(*s >> 33);
}

static void exp_peer(int i, char *buf, size_t len)
{
	snprintf(buf, len, "10.%d.%d.1:%d", i / 250, i % 250, 1000 + i);
}

static void exp_run(uint64_t seed, int steps, int per_step, int maxback)
{
	struct conntrack *ct = ct_new(EXP_PEERS);
	static struct exp_model m;
	uint64_t rs = seed, now = 10000;
	char peer[48];

	memset(&m, 0, sizeof(m));
	for (int st = 0; st < steps; st++) {
		for (int k = 0; k < per_step; k++) {
			int i = (int)(exp_rand(&rs) % EXP_PEERS);
			uint64_t ts = now - (uint64_t)(exp_rand(&rs) % (uint32_t)(maxback + 1)); /* a little out of order */

			exp_peer(i, peer, sizeof(peer));
			if (m.state[i] == 1) {
				ct_close(ct, peer, ts);
				m.state[i] = 2;
				m.closed_at[i] = ts;
			} else {
				ct_open(ct, peer, 443, ts, false);
				m.state[i] = 1;
			}
		}
		now += 1 + exp_rand(&rs) % 97;
		ct_expire(ct, now, EXP_GRACE);
		for (int i = 0; i < EXP_PEERS; i++)
			if (m.state[i] == 2 && m.closed_at[i] + EXP_GRACE < now)
				m.state[i] = 0;
		for (int i = 0; i < EXP_PEERS; i++) {
			exp_peer(i, peer, sizeof(peer));
			if ((ct_local_port(ct, peer) != 0) != (m.state[i] != 0))
				fail_msg("seed %llu step %d: peer %s is %s, the model says %s", (unsigned long long)seed, st, peer,
					 ct_local_port(ct, peer) ? "known" : "forgotten", m.state[i] ? "known" : "forgotten");
		}
	}
	assert_int_equal(ct_get_stats(ct)->full, 0);
	ct_free(ct);
}

static void test_expire_closed(void **state)
{
	exp_run(1, 60, 40, 0);     /* in order, a few closes a step */
	exp_run(2, 60, 40, 30);    /* out of order by up to 30 ns */
	exp_run(3, 40, 1000, 0);   /* more closes within a grace period than the queue holds: scans */
	exp_run(4, 40, 40, 5000);  /* out of order by more than the queue moves an item back: scans */
}

static void test_conn_records(void **state)
{
	struct conntrack *ct = ct_new(16);
	struct kp_conn_event e;

	nrecs = 0;
	ct_set_emit(ct, collect, NULL, 1000000000);
	/* two connections from 10.0.0.2, one from 10.0.0.3 */
	e = ev(KP_CONN_OPEN, KP_CONN_DIR_CLIENT, 2, 40000, 6443, 100);
	e.retrans = 1; /* a SYN-ACK retransmit before ESTABLISHED */
	ct_feed(ct, &e);
	e = ev(KP_CONN_OPEN, KP_CONN_DIR_CLIENT, 2, 40001, 6443, 200);
	ct_feed(ct, &e);
	e = ev(KP_CONN_OPEN, KP_CONN_DIR_CLIENT, 3, 50000, 6443, 300);
	ct_feed(ct, &e);
	assert_int_equal(nrecs, 3);
	assert_int_equal(recs[0].event, REC_CONN_OPEN);
	assert_string_equal(recs[0].peer, "10.0.0.2:40000");
	assert_string_equal(recs[0].local, "10.0.0.1:6443");
	assert_string_equal(recs[0].group, "10.0.0.2");
	assert_int_equal(recs[0].ts_ns, 1000000100);
	assert_int_equal(recs[0].group_open, 1);
	assert_int_equal(recs[0].retrans_delta, 1);
	assert_int_equal(recs[1].group_open, 2);
	assert_int_equal(recs[2].group_open, 1);
	assert_int_equal(recs[2].open_total, 3);
	assert_int_equal(ct_local_port(ct, "10.0.0.3:50000"), 6443);

	/* retransmits carry the socket's cumulative count: only what is new counts */
	e = ev(KP_CONN_RETRANS, KP_CONN_DIR_CLIENT, 2, 40000, 6443, 400);
	e.retrans = 3;
	ct_feed(ct, &e);
	e.retrans = 3; /* nothing new (a retransmit of a segment already counted) */
	ct_feed(ct, &e);
	assert_int_equal(nrecs, 4);
	assert_int_equal(recs[3].event, REC_CONN_RETRANS);
	assert_int_equal(recs[3].retrans_delta, 2);
	e = ev(KP_CONN_RST_RECV, KP_CONN_DIR_CLIENT, 2, 40000, 6443, 450);
	ct_feed(ct, &e);
	assert_int_equal(recs[4].event, REC_CONN_RESET);
	assert_false(recs[4].reset_sent);
	assert_int_equal(recs[4].resets_delta, 1);

	/* close: duration, bytes, the retransmits left, resets over the life */
	e = ev(KP_CONN_CLOSE, KP_CONN_DIR_CLIENT, 2, 40000, 6443, 1100);
	e.retrans = 4;
	e.bytes_in = 700;
	e.bytes_out = 2200;
	e.flags = KP_CONN_HAVE_BYTES;
	ct_feed(ct, &e);
	assert_int_equal(nrecs, 6);
	assert_int_equal(recs[5].event, REC_CONN_CLOSE);
	assert_int_equal(recs[5].duration_ns, 1000);
	assert_int_equal(recs[5].bytes_in, 700);
	assert_int_equal(recs[5].bytes_out, 2200);
	assert_int_equal(recs[5].retransmits, 4);
	assert_int_equal(recs[5].retrans_delta, 1);
	assert_int_equal(recs[5].resets_received, 1);
	assert_int_equal(recs[5].group_open, 1);
	assert_int_equal(ct_get_stats(ct)->retransmits, 4); /* 1 + 2 + 1: each segment once */
	assert_int_equal(ct_get_stats(ct)->opened, 3);
	assert_int_equal(ct_get_stats(ct)->closed, 1);
	assert_int_equal(ct_get_stats(ct)->active, 2);

	/* events of connections kapimon does not know: counted, no record */
	e = ev(KP_CONN_RETRANS, KP_CONN_DIR_CLIENT, 9, 1, 6443, 1200);
	e.retrans = 5;
	ct_feed(ct, &e);
	assert_int_equal(nrecs, 6);
	assert_int_equal(ct_get_stats(ct)->unknown, 1);
	ct_free(ct);
}

static void test_conn_etcd_and_seeded(void **state)
{
	struct conntrack *ct = ct_new(16);
	struct kp_conn_event e;

	nrecs = 0;
	ct_set_emit(ct, collect, NULL, 0);
	/* the apiserver's connections to etcd: keyed by their local port, grouped by the endpoint */
	e = ev(KP_CONN_SEEDED, KP_CONN_DIR_ETCD, 9, 2379, 41000, 10);
	ct_feed(ct, &e);
	ct_feed(ct, &e); /* the second look at /proc finds it again: nothing new */
	e = ev(KP_CONN_OPEN, KP_CONN_DIR_ETCD, 9, 2379, 41001, 20);
	ct_feed(ct, &e);
	assert_int_equal(nrecs, 2);
	assert_int_equal(recs[0].dir, REC_CONN_ETCD);
	assert_true(recs[0].seeded);
	assert_int_equal(recs[0].retransmits, -1);
	assert_string_equal(recs[0].peer, "10.0.0.9:2379");
	assert_string_equal(recs[0].local, "10.0.0.1:41000");
	assert_string_equal(recs[0].group, "10.0.0.9:2379");
	assert_int_equal(recs[1].group_open, 2);
	assert_int_equal(ct_get_stats(ct)->etcd_seeded, 1);
	assert_int_equal(ct_get_stats(ct)->etcd_opened, 1);
	assert_int_equal(ct_get_stats(ct)->active, 0);
	/* a connection opened before kapimon: its first cumulative count mixes older retransmits, the event
	 * counts one; later ones count what is new */
	e = ev(KP_CONN_RETRANS, KP_CONN_DIR_ETCD, 9, 2379, 41000, 30);
	e.retrans = 17;
	ct_feed(ct, &e);
	e.retrans = 19;
	ct_feed(ct, &e);
	assert_int_equal(recs[2].retrans_delta, 1);
	assert_int_equal(recs[3].retrans_delta, 2);
	e = ev(KP_CONN_CLOSE, KP_CONN_DIR_ETCD, 9, 2379, 41000, 40);
	e.retrans = 19;
	ct_feed(ct, &e);
	assert_int_equal(recs[4].event, REC_CONN_CLOSE);
	assert_int_equal(recs[4].duration_ns, 0); /* opened before kapimon: unknown */
	assert_int_equal(recs[4].retransmits, -1);
	assert_int_equal(recs[4].bytes_in, -1);
	assert_int_equal(ct_get_stats(ct)->etcd_closed, 1);
	assert_int_equal(ct_get_stats(ct)->etcd_active, 1);
	ct_free(ct);
}

static void test_group_of_and_url_ports(void **state)
{
	char g[64];
	uint16_t ports[4];

	ct_group_of(REC_CONN_CLIENT, "10.1.2.3:5555", g, sizeof(g));
	assert_string_equal(g, "10.1.2.3");
	ct_group_of(REC_CONN_CLIENT, "[fd00::1]:5555", g, sizeof(g));
	assert_string_equal(g, "fd00::1");
	ct_group_of(REC_CONN_ETCD, "10.1.2.3:2379", g, sizeof(g));
	assert_string_equal(g, "10.1.2.3:2379");

	assert_int_equal(procnet_url_ports("https://127.0.0.1:34379", ports, 4), 1);
	assert_int_equal(ports[0], 34379);
	assert_int_equal(procnet_url_ports("https://a:1,http://[::1]:2,https://b,https://a:1,http://c:x,http://d:70000", ports, 4), 3);
	assert_int_equal(ports[0], 1);
	assert_int_equal(ports[1], 2);
	assert_int_equal(ports[2], 2379);
	assert_int_equal(procnet_url_ports("", ports, 4), 0);
	assert_int_equal(procnet_url_ports(NULL, ports, 4), 0);
	assert_int_equal(procnet_url_ports("h://a:1,h://a:2,h://a:3", ports, 2), 3); /* more than stored */
}


/* ct_local_port remembers recent answers: each one is still the table's after the peer's connection is
 * replaced (another local port), closed and forgotten, or opened again; for peers of every length. */
static void test_local_port_remembered(void **state)
{
	static const char *const peers[] = {
		"10.0.0.1:1",                       /* one word */
		"127.0.0.1:57488",                  /* two */
		"192.168.100.200:65535",            /* three */
		"[fd00::1234:5678:9abc]:443",       /* too long to remember */
		"[0000:0000:0000:0000:0000:0000:0000:0001]:60000",
	};
	struct conntrack *ct = ct_new(0);
	uint64_t t = 10;

	(void)state;
	assert_non_null(ct);
	for (size_t i = 0; i < sizeof(peers) / sizeof(peers[0]); i++) {
		const char *p = peers[i];

		assert_int_equal(ct_local_port(ct, p), 0);
		ct_open(ct, p, 6443, t++, false);
		assert_int_equal(ct_local_port(ct, p), 6443);
		assert_int_equal(ct_local_port(ct, p), 6443);
		ct_open(ct, p, 8443, t++, false); /* replaced without a close seen */
		assert_int_equal(ct_local_port(ct, p), 8443);
		ct_close(ct, p, t);
		assert_int_equal(ct_local_port(ct, p), 8443); /* answers within the grace */
		ct_expire(ct, t + 1000, 100);
		assert_int_equal(ct_local_port(ct, p), 0);
		ct_open(ct, p, 9443, t++, false);
		assert_int_equal(ct_local_port(ct, p), 9443);
		/* a peer that differs in its last byte, or is a prefix, is another peer */
		{
			char other[64];
			size_t n = strlen(p);

			memcpy(other, p, n + 1);
			other[n - 1] = other[n - 1] == '9' ? '8' : '9';
			assert_int_equal(ct_local_port(ct, other), 0);
			other[n - 1] = '\0';
			assert_int_equal(ct_local_port(ct, other), 0);
		}
	}
	ct_free(ct);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_and_format),
		cmocka_unit_test(test_format_v4_as_libc),
		cmocka_unit_test(test_conntrack),
		cmocka_unit_test(test_expire_closed),
		cmocka_unit_test(test_conn_records),
		cmocka_unit_test(test_conn_etcd_and_seeded),
		cmocka_unit_test(test_group_of_and_url_ports),
		cmocka_unit_test(test_local_port_remembered),
	};
	return cmocka_run_group_tests_name("conntrack", tests, NULL, NULL);
}
