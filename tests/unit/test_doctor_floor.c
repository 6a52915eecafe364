// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * doctor's kernel floor: helper ids from instructions, the sourced fact table, the floor and the
 * verdict; and, on kapimon's real BPF objects (the skeletons' embedded bytes, opened without
 * loading: no root), that every feature they use is in the table, that the floor is what the README
 * says, and that every program counts hits of a named probe.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "assemble/kp_contract.h"
#include "doctor/bpf_needs.h"
#include "doctor/floor.h"
#include "kapimon/events.h" /* struct kp_hdr_key: http.skel.h rodata */
#include "kapimon/go_offsets.h"
#include "conn.skel.h"
#include "grpc.skel.h"
#include "http.skel.h"

#define CALL(id) ((struct bpf_insn){ .code = BPF_JMP | BPF_CALL, .src_reg = 0, .imm = (id) })
#define PCALL(src, imm_) ((struct bpf_insn){ .code = BPF_JMP | BPF_CALL, .src_reg = (src), .imm = (imm_) })
#define MOV0 ((struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 })
#define EXIT ((struct bpf_insn){ .code = BPF_JMP | BPF_EXIT })

static void test_insn_helpers(void **state)
{
	struct bpf_insn prog[] = {
		CALL(BPF_FUNC_ringbuf_reserve),
		CALL(BPF_FUNC_map_lookup_elem),
		CALL(BPF_FUNC_ringbuf_reserve), /* again: counted once */
		PCALL(BPF_PSEUDO_CALL, 5),      /* a BPF subprogram, not helper 5 */
		PCALL(BPF_PSEUDO_KFUNC_CALL, 1234),
		/* ld_imm64: its second half has code 0 but an imm that must not be read as anything */
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = 1, .imm = 0 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_get_attach_cookie },
		{ .code = BPF_JMP32 | BPF_JEQ | BPF_K, .imm = BPF_FUNC_probe_read_user }, /* not a call */
		CALL(BPF_FUNC_ktime_get_ns),
		MOV0,
		EXIT,
	};
	uint32_t ids[8] = { 0 }, few[1] = { 0 };
	size_t nsub = 9, nkf = 9, n;

	n = doctor_insn_helpers(prog, sizeof(prog) / sizeof(prog[0]), ids, 8, &nsub, &nkf);
	assert_int_equal(n, 3);
	assert_int_equal(ids[0], BPF_FUNC_map_lookup_elem);
	assert_int_equal(ids[1], BPF_FUNC_ktime_get_ns);
	assert_int_equal(ids[2], BPF_FUNC_ringbuf_reserve);
	assert_int_equal(nsub, 1);
	assert_int_equal(nkf, 1);
	/* a small buffer: the count is still exact, only max ids are stored */
	n = doctor_insn_helpers(prog, sizeof(prog) / sizeof(prog[0]), few, 1, NULL, NULL);
	assert_int_equal(n, 3);
	assert_int_equal(doctor_insn_helpers(NULL, 5, ids, 8, NULL, NULL), 0);
}

static void test_fact_table(void **state)
{
	for (size_t i = 0; i < doc_floor_nfacts; i++) {
		const struct doc_floor_fact *f = &doc_floor_facts[i];

		assert_true(f->kind >= DOC_FEAT_PROG_TYPE && f->kind < DOC_FEAT__COUNT);
		assert_non_null(f->name);
		assert_non_null(f->source);
		assert_true(strlen(f->source) > 10);
		assert_true(f->first.major >= 3);
		if (f->fallback)
			assert_true(doctor_kver_cmp(f->fb_first, f->first) < 0);
		assert_ptr_equal(doctor_fact_find(f->kind, f->id, f->name), f); /* no duplicates */
	}
	assert_null(doctor_fact_find(DOC_FEAT_HELPER, 99999, NULL));
	assert_null(doctor_fact_find(DOC_FEAT_TRACEPOINT, 0, "no/such_event"));
}

static void test_floor_and_verdict(void **state)
{
	static struct doc_needs ns;
	struct doctor_verdict v;
	const struct doc_need *why;
	struct doc_need *rb, *pr, *tp;
	size_t unknown;
	struct doc_kver k;

	memset(&ns, 0, sizeof(ns));
	doctor_need_add(&ns, DOC_FEAT_MAP_TYPE, BPF_MAP_TYPE_HASH, 0, "hash", "http", "m1", true, NULL);
	rb = doctor_need_add(&ns, DOC_FEAT_HELPER, BPF_FUNC_ringbuf_reserve, BPF_PROG_TYPE_KPROBE, NULL, "http", "p1", true,
			     NULL);
	assert_ptr_equal(doctor_need_add(&ns, DOC_FEAT_HELPER, BPF_FUNC_ringbuf_reserve, BPF_PROG_TYPE_KPROBE, NULL,
					 "grpc", "p2", false, "etcd calls"),
			 rb); /* merged */
	assert_string_equal(rb->users, "http/p1, grpc/p2");
	assert_true(rb->required);
	assert_string_equal(rb->name, "bpf_ringbuf_reserve");
	pr = doctor_need_add(&ns, DOC_FEAT_HELPER, BPF_FUNC_probe_read_user, BPF_PROG_TYPE_KPROBE, NULL, "http", "p1",
			     true, NULL);
	tp = doctor_need_add(&ns, DOC_FEAT_TRACEPOINT, 0, 0, "sock/inet_sock_set_state", "conn", "conn_state", false,
			     "client connection tracking");
	assert_non_null(tp->fact);
	assert_int_equal(ns.n, 4);

	k = doctor_floor(&ns, true, &why, &unknown);
	assert_int_equal(k.major, 5);
	assert_int_equal(k.minor, 8);
	assert_ptr_equal(why, rb);
	assert_int_equal(unknown, 0);
	/* probe_read_user (5.5) has a libbpf fallback: it never sets the floor above 4.1 on its own */
	assert_int_equal(doctor_need_kver(pr).major, 4);

	/* nothing probed: the floor is still stated */
	doctor_needs_verdict(&ns, &v);
	assert_true(v.can_run);
	assert_non_null(strstr(v.text, "kernel floor 5.8"));
	assert_non_null(strstr(v.text, "not probed"));

	for (size_t i = 0; i < ns.n; i++)
		ns.v[i].probe = DOC_PROBE_OK;
	doctor_needs_verdict(&ns, &v);
	assert_true(v.can_run);
	assert_int_equal(v.nok, 4);
	assert_non_null(strstr(v.text, "all 4 features"));

	/* an optional part's feature missing: kapimon still runs, and says what is lost */
	tp->probe = DOC_PROBE_MISSING;
	doctor_needs_verdict(&ns, &v);
	assert_true(v.can_run);
	assert_int_equal(v.nmissing_optional, 1);
	assert_non_null(strstr(v.text, "MISSING: tracepoint sock/inet_sock_set_state"));
	assert_non_null(strstr(v.text, "client connection tracking"));

	/* a required helper missing: cannot run, and the exact helper, its version and users are named */
	rb->probe = DOC_PROBE_MISSING;
	doctor_needs_verdict(&ns, &v);
	assert_false(v.can_run);
	assert_int_equal(v.nmissing_required, 1);
	assert_non_null(strstr(v.text, "helper bpf_ringbuf_reserve (not supported by this kernel) [upstream 5.8] used by "
					"http/p1, grpc/p2"));

	/* an unknown helper has no version: counted, never invents a floor */
	doctor_need_add(&ns, DOC_FEAT_HELPER, 99999, BPF_PROG_TYPE_KPROBE, NULL, "http", "p3", true, NULL);
	doctor_floor(&ns, true, NULL, &unknown);
	assert_int_equal(unknown, 1);
	assert_string_equal(ns.v[ns.n - 1].name, "helper #99999");
}

static void test_parse_kver(void **state)
{
	struct doc_kver k;

	assert_true(doctor_parse_kver("6.1.0-13-amd64", &k));
	assert_int_equal(k.major, 6);
	assert_int_equal(k.minor, 1);
	assert_true(doctor_parse_kver("5.15", &k));
	assert_int_equal(k.minor, 15);
	assert_false(doctor_parse_kver("linux", &k));
	assert_false(doctor_parse_kver("", &k));
	assert_false(doctor_parse_kver(NULL, &k));
	assert_int_equal(doctor_kver_cmp((struct doc_kver){ 5, 8 }, (struct doc_kver){ 5, 15 }), -1);
}

/* Is `prog` listed in some probe's programs (a ", "-separated list)? */
static bool program_counts_a_probe(const char *prog)
{
	size_t pl = strlen(prog);

	for (int i = 0; i < KP_PROBE__COUNT; i++)
		for (const char *p = kp_probe_desc[i].programs; (p = strstr(p, prog)); p++)
			if ((p == kp_probe_desc[i].programs || p[-1] == ' ') && (p[pl] == ',' || p[pl] == 0))
				return true;
	return false;
}

/* kapimon's own objects: all features known, floor 5.8 (ring buffers), no attach cookies. */
static void test_real_objects(void **state)
{
	static struct doc_needs ns;
	struct http_bpf *h = http_bpf__open();
	struct grpc_bpf *g = grpc_bpf__open();
	struct conn_bpf *c = conn_bpf__open();
	struct bpf_object *objs[3];
	const struct doc_need *why;
	size_t unknown = 99;
	struct doc_kver k;
	bool ringbuf = false, cookie = false, tp = false;

	assert_non_null(h);
	assert_non_null(g);
	assert_non_null(c);
	objs[0] = h->obj;
	objs[1] = g->obj;
	objs[2] = c->obj;
	memset(&ns, 0, sizeof(ns));
	assert_true(doctor_needs_from_object(&ns, h->obj, "http", true, NULL) >= 7);
	assert_true(doctor_needs_from_object(&ns, g->obj, "grpc", false, "etcd calls") >= 3);
	/* 4 programs (state, retransmit, reset received, reset sent) in 3 variants, no plain-tracepoint
	 * tcp_send_reset (its format changed in 6.10) */
	assert_int_equal(doctor_needs_from_object(&ns, c->obj, "conn", false, "connections"), 11);
	assert_false(ns.overflow);
	for (size_t i = 0; i < ns.n; i++) {
		const struct doc_need *n = &ns.v[i];

		if (!n->fact)
			fail_msg("%s %s (id %u) used by %s has no entry in doc_floor_facts", doctor_feat_kind_str(n->kind),
				 n->name, n->id, n->users);
		ringbuf |= n->kind == DOC_FEAT_MAP_TYPE && n->id == BPF_MAP_TYPE_RINGBUF;
		cookie |= n->kind == DOC_FEAT_HELPER && n->id == BPF_FUNC_get_attach_cookie;
		tp |= n->kind == DOC_FEAT_TRACEPOINT && !strcmp(n->name, "sock/inet_sock_set_state") && !n->required;
	}
	assert_true(ringbuf);
	assert_false(cookie); /* one program per variant: no bpf_get_attach_cookie (5.15) */
	assert_true(tp);
	k = doctor_floor(&ns, true, &why, &unknown);
	assert_int_equal(unknown, 0);
	assert_int_equal(k.major, 5); /* README: "5.8+" */
	assert_int_equal(k.minor, 8);
	k = doctor_floor(&ns, false, NULL, NULL);
	assert_int_equal(k.major, 5);
	assert_int_equal(k.minor, 8);

	/* every program counts the hits of a named probe (kp_contract's programs lists) */
	for (int i = 0; i < 3; i++) {
		struct bpf_program *p;

		bpf_object__for_each_program(p, objs[i])
			if (!program_counts_a_probe(bpf_program__name(p)))
				fail_msg("BPF program %s is in no kp_probe_desc[].programs", bpf_program__name(p));
	}
	http_bpf__destroy(h);
	grpc_bpf__destroy(g);
	conn_bpf__destroy(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insn_helpers),     cmocka_unit_test(test_fact_table),
		cmocka_unit_test(test_floor_and_verdict), cmocka_unit_test(test_parse_kver),
		cmocka_unit_test(test_real_objects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
