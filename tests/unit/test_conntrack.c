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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_and_format),
		cmocka_unit_test(test_conntrack),
	};
	return cmocka_run_group_tests_name("conntrack", tests, NULL, NULL);
}
