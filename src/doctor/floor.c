// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* kapimon doctor: the kernel floor of kapimon's own BPF programs (pure; see floor.h). */
#include "doctor/floor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KV(a, b) { (a), (b) }
#define BCC "bcc docs/kernel-versions.md, kernel commit "

/*
 * When each feature first appeared upstream. Every feature kapimon's objects use must be here
 * (tests/unit/test_doctor_floor.c opens the objects and fails on one that is not). Distribution
 * kernels backport features: the floor is what upstream needs, the probes decide on a given host.
 */
const struct doc_floor_fact doc_floor_facts[] = {
	/* program types */
	{ DOC_FEAT_PROG_TYPE, BPF_PROG_TYPE_KPROBE, "kprobe (uprobe programs)", KV(4, 3),
	  "kernel commit 04a22fae4cbc 'tracing, perf: Implement BPF programs attached to uprobes' (4.3); "
	  "kprobe programs: " BCC "2541517c32be (4.1)" },
	{ DOC_FEAT_PROG_TYPE, BPF_PROG_TYPE_TRACEPOINT, "tracepoint", KV(4, 7), BCC "98b5c2c65c29" },
	{ DOC_FEAT_PROG_TYPE, BPF_PROG_TYPE_RAW_TRACEPOINT, "raw_tracepoint", KV(4, 17), BCC "c4f6699dfcb8" },
	{ DOC_FEAT_PROG_TYPE, BPF_PROG_TYPE_PERF_EVENT, "perf_event", KV(4, 9), BCC "0515e5999a46" },
	{ DOC_FEAT_PROG_TYPE, BPF_PROG_TYPE_TRACING, "tracing (tp_btf programs)", KV(5, 5),
	  "kernel commit 9e15db66136a 'bpf: Implement accurate raw_tp context access via BTF' (5.5)",
	  "conn.bpf.c's raw_tp programs load instead (capture/conn_load.c picks the first variant that loads)", KV(4, 17) },
	/* map types */
	{ DOC_FEAT_MAP_TYPE, BPF_MAP_TYPE_HASH, "hash", KV(3, 19), BCC "0f8e4bd8a1fc" },
	{ DOC_FEAT_MAP_TYPE, BPF_MAP_TYPE_ARRAY, "array", KV(3, 19), BCC "28fbcfa08d8e" },
	{ DOC_FEAT_MAP_TYPE, BPF_MAP_TYPE_PERF_EVENT_ARRAY, "perf_event_array", KV(4, 3), BCC "ea317b267e9d" },
	{ DOC_FEAT_MAP_TYPE, BPF_MAP_TYPE_PERCPU_HASH, "percpu_hash", KV(4, 6), BCC "824bd0ce6c7c" },
	{ DOC_FEAT_MAP_TYPE, BPF_MAP_TYPE_PERCPU_ARRAY, "percpu_array", KV(4, 6), BCC "a10423b87a7e" },
	{ DOC_FEAT_MAP_TYPE, BPF_MAP_TYPE_LRU_HASH, "lru_hash", KV(4, 10), BCC "29ba732acbee" },
	{ DOC_FEAT_MAP_TYPE, BPF_MAP_TYPE_RINGBUF, "ringbuf", KV(5, 8), BCC "457f44363a88" },
	/* map flags (libbpf sets them on the .rodata/.data maps) */
	{ DOC_FEAT_MAP_FLAG, BPF_F_RDONLY_PROG, "BPF_F_RDONLY_PROG (.rodata)", KV(5, 2),
	  BCC "591fe9888d78 ('Restrict access from BPF side')" },
	{ DOC_FEAT_MAP_FLAG, BPF_F_MMAPABLE, "BPF_F_MMAPABLE (mmap of .data and of the counter arrays)", KV(5, 5),
	  BCC "fc9702273e2e ('mmap() support for array maps')" },
	{ DOC_FEAT_GLOBAL_DATA, 0, "global variables (.rodata/.data)", KV(5, 2),
	  "libbpf libbpf.c FEAT_GLOBAL_DATA ('v5.2: kernel support for global data sections')" },
	{ DOC_FEAT_BPF_CALL, 0, "BPF-to-BPF calls", KV(4, 16), BCC "cc8b0b92a169" },
	/* helpers */
	{ DOC_FEAT_HELPER, BPF_FUNC_map_lookup_elem, "bpf_map_lookup_elem", KV(3, 19), BCC "d0003ec01c66" },
	{ DOC_FEAT_HELPER, BPF_FUNC_map_update_elem, "bpf_map_update_elem", KV(3, 19), BCC "d0003ec01c66" },
	{ DOC_FEAT_HELPER, BPF_FUNC_map_delete_elem, "bpf_map_delete_elem", KV(3, 19), BCC "d0003ec01c66" },
	{ DOC_FEAT_HELPER, BPF_FUNC_probe_read, "bpf_probe_read", KV(4, 1), BCC "2541517c32be" },
	{ DOC_FEAT_HELPER, BPF_FUNC_ktime_get_ns, "bpf_ktime_get_ns", KV(4, 1), BCC "d9847d310ab4" },
	{ DOC_FEAT_HELPER, BPF_FUNC_get_smp_processor_id, "bpf_get_smp_processor_id", KV(4, 1), BCC "c04167ce2ca0" },
	{ DOC_FEAT_HELPER, BPF_FUNC_get_current_pid_tgid, "bpf_get_current_pid_tgid", KV(4, 2), BCC "ffeedafbf023" },
	{ DOC_FEAT_HELPER, BPF_FUNC_get_current_comm, "bpf_get_current_comm", KV(4, 2), BCC "ffeedafbf023" },
	{ DOC_FEAT_HELPER, BPF_FUNC_perf_event_output, "bpf_perf_event_output", KV(4, 4), BCC "a43eec304259" },
	{ DOC_FEAT_HELPER, BPF_FUNC_probe_read_str, "bpf_probe_read_str", KV(4, 11), BCC "a5e8c07059d0" },
	{ DOC_FEAT_HELPER, BPF_FUNC_probe_read_user, "bpf_probe_read_user", KV(5, 5), BCC "6ae08ae3dea2",
	  "libbpf rewrites it to bpf_probe_read at load (bpf_object__sanitize_prog, FEAT_PROBE_READ_KERN)", KV(4, 1) },
	{ DOC_FEAT_HELPER, BPF_FUNC_probe_read_kernel, "bpf_probe_read_kernel", KV(5, 5), BCC "6ae08ae3dea2",
	  "libbpf rewrites it to bpf_probe_read at load (bpf_object__sanitize_prog, FEAT_PROBE_READ_KERN)", KV(4, 1) },
	{ DOC_FEAT_HELPER, BPF_FUNC_probe_read_user_str, "bpf_probe_read_user_str", KV(5, 5), BCC "6ae08ae3dea2",
	  "libbpf rewrites it to bpf_probe_read_str at load", KV(4, 11) },
	{ DOC_FEAT_HELPER, BPF_FUNC_probe_read_kernel_str, "bpf_probe_read_kernel_str", KV(5, 5), BCC "6ae08ae3dea2",
	  "libbpf rewrites it to bpf_probe_read_str at load", KV(4, 11) },
	{ DOC_FEAT_HELPER, BPF_FUNC_ringbuf_output, "bpf_ringbuf_output", KV(5, 8), BCC "457f44363a88" },
	{ DOC_FEAT_HELPER, BPF_FUNC_ringbuf_reserve, "bpf_ringbuf_reserve", KV(5, 8), BCC "457f44363a88" },
	{ DOC_FEAT_HELPER, BPF_FUNC_ringbuf_submit, "bpf_ringbuf_submit", KV(5, 8), BCC "457f44363a88" },
	{ DOC_FEAT_HELPER, BPF_FUNC_ringbuf_discard, "bpf_ringbuf_discard", KV(5, 8), BCC "457f44363a88" },
	{ DOC_FEAT_HELPER, BPF_FUNC_ringbuf_query, "bpf_ringbuf_query", KV(5, 8), BCC "457f44363a88" },
	{ DOC_FEAT_HELPER, BPF_FUNC_get_attach_cookie, "bpf_get_attach_cookie", KV(5, 15), BCC "7adfc6c9b315" },
	/* tracepoints programs attach to */
	{ DOC_FEAT_TRACEPOINT, 0, "sock/inet_sock_set_state", KV(4, 16),
	  "kernel commit 563e0bb0dc74 'net: tracepoint: replace tcp_set_state tracepoint with inet_sock_set_state "
	  "tracepoint' (4.16)" },
	{ DOC_FEAT_TRACEPOINT, 0, "tcp/tcp_retransmit_skb", KV(4, 15),
	  "include/trace/events/tcp.h in Linux 4.15 (Song Liu's tcp tracepoints, merged for 4.15; the format has had skaddr since)" },
	{ DOC_FEAT_TRACEPOINT, 0, "tcp/tcp_receive_reset", KV(4, 15),
	  "include/trace/events/tcp.h in Linux 4.15 (the same series as tcp_retransmit_skb)" },
};
const size_t doc_floor_nfacts = sizeof(doc_floor_facts) / sizeof(doc_floor_facts[0]);

const struct doc_floor_fact *doctor_fact_find(enum doc_feat_kind kind, uint32_t id, const char *name)
{
	for (size_t i = 0; i < doc_floor_nfacts; i++) {
		const struct doc_floor_fact *f = &doc_floor_facts[i];

		if (f->kind != kind)
			continue;
		if (kind == DOC_FEAT_TRACEPOINT ? (name && !strcmp(f->name, name)) : f->id == id)
			return f;
	}
	return NULL;
}

const char *doctor_feat_kind_str(enum doc_feat_kind kind)
{
	switch (kind) {
	case DOC_FEAT_PROG_TYPE: return "program type";
	case DOC_FEAT_MAP_TYPE: return "map type";
	case DOC_FEAT_MAP_FLAG: return "map flag";
	case DOC_FEAT_HELPER: return "helper";
	case DOC_FEAT_TRACEPOINT: return "tracepoint";
	case DOC_FEAT_GLOBAL_DATA: return "global data";
	case DOC_FEAT_BPF_CALL: return "bpf2bpf call";
	default: return "?";
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

size_t doctor_insn_helpers(const struct bpf_insn *insns, size_t n, uint32_t *ids, size_t max, size_t *nsub,
			   size_t *nkfunc)
{
	size_t nids = 0, sub = 0, kf = 0;

	for (size_t i = 0; insns && i < n; i++) {
		const struct bpf_insn *in = &insns[i];

		if (in->code == (BPF_LD | BPF_DW | BPF_IMM)) {
			i++; /* a 16-byte instruction: its second half is not an instruction */
			continue;
		}
		if (in->code != (BPF_JMP | BPF_CALL))
			continue;
		if (in->src_reg == BPF_PSEUDO_CALL) {
			sub++;
			continue;
		}
		if (in->src_reg == BPF_PSEUDO_KFUNC_CALL) {
			kf++;
			continue;
		}
		if (in->src_reg != 0 || in->imm <= 0)
			continue;
		{
			uint32_t id = (uint32_t)in->imm;
			bool seen = false;

			for (size_t k = 0; k < nids && k < max; k++)
				seen |= ids[k] == id;
			if (seen)
				continue;
			if (nids < max)
				ids[nids] = id;
			nids++;
		}
	}
	if (ids)
		qsort(ids, nids < max ? nids : max, sizeof(*ids), cmp_u32);
	if (nsub)
		*nsub = sub;
	if (nkfunc)
		*nkfunc = kf;
	return nids;
}

/* Append "object/user" to a ", "-separated list once; " ..." ends a full list. */
static void add_user(char *list, size_t cap, const char *object, const char *user)
{
	char item[128];
	size_t used = strlen(list), il;

	if (!user || !*user || strstr(list, " ..."))
		return;
	il = (size_t)snprintf(item, sizeof(item), "%s/%s", object, user);
	if (il >= sizeof(item))
		il = sizeof(item) - 1;
	for (const char *p = list; (p = strstr(p, item)); p++)
		if ((p == list || p[-1] == ' ') && (p[il] == ',' || p[il] == 0))
			return;
	if (used + il + 2 + sizeof(" ...") > cap) {
		snprintf(list + used, cap - used, " ...");
		return;
	}
	snprintf(list + used, cap - used, "%s%s", used ? ", " : "", item);
}

struct doc_need *doctor_need_add(struct doc_needs *ns, enum doc_feat_kind kind, uint32_t id, uint32_t prog_type,
				 const char *name, const char *object, const char *user, bool required,
				 const char *role)
{
	struct doc_need *n = NULL;

	if (kind != DOC_FEAT_HELPER)
		prog_type = 0;
	if (kind != DOC_FEAT_TRACEPOINT && kind != DOC_FEAT_PROG_TYPE && kind != DOC_FEAT_MAP_TYPE &&
	    kind != DOC_FEAT_MAP_FLAG && kind != DOC_FEAT_HELPER)
		id = 0;
	for (size_t i = 0; i < ns->n; i++) {
		struct doc_need *e = &ns->v[i];

		if (e->kind == kind && e->id == id && e->prog_type == prog_type &&
		    (kind != DOC_FEAT_TRACEPOINT || (name && !strcmp(e->name, name)))) {
			n = e;
			break;
		}
	}
	if (!n) {
		if (ns->n >= DOC_NEEDS_MAX) {
			ns->overflow = true;
			return NULL;
		}
		n = &ns->v[ns->n++];
		memset(n, 0, sizeof(*n));
		n->kind = kind;
		n->id = id;
		n->prog_type = prog_type;
		n->fact = doctor_fact_find(kind, id, name);
		if (kind == DOC_FEAT_TRACEPOINT || (name && *name))
			snprintf(n->name, sizeof(n->name), "%s", name ? name : "");
		else if (n->fact)
			snprintf(n->name, sizeof(n->name), "%s", n->fact->name);
		else if (kind == DOC_FEAT_HELPER)
			snprintf(n->name, sizeof(n->name), "helper #%u", id);
		else
			snprintf(n->name, sizeof(n->name), "%s #%u", doctor_feat_kind_str(kind), id);
	}
	if (required)
		n->required = true;
	else if (role && !n->role[0])
		snprintf(n->role, sizeof(n->role), "%s", role);
	add_user(n->users, sizeof(n->users), object ? object : "?", user);
	return n;
}

struct doc_kver doctor_need_kver(const struct doc_need *n)
{
	struct doc_kver none = { 0, 0 };

	if (!n->fact)
		return none;
	return n->fact->fallback ? n->fact->fb_first : n->fact->first;
}

int doctor_kver_cmp(struct doc_kver a, struct doc_kver b)
{
	if (a.major != b.major)
		return a.major < b.major ? -1 : 1;
	if (a.minor != b.minor)
		return a.minor < b.minor ? -1 : 1;
	return 0;
}

struct doc_kver doctor_floor(const struct doc_needs *ns, bool required_only, const struct doc_need **why,
			     size_t *nunknown)
{
	struct doc_kver best = { 0, 0 };
	size_t unknown = 0;

	if (why)
		*why = NULL;
	for (size_t i = 0; i < ns->n; i++) {
		const struct doc_need *n = &ns->v[i];
		struct doc_kver k;

		if (required_only && !n->required)
			continue;
		if (!n->fact) {
			unknown++;
			continue;
		}
		k = doctor_need_kver(n);
		if (doctor_kver_cmp(k, best) > 0) {
			best = k;
			if (why)
				*why = n;
		}
	}
	if (nunknown)
		*nunknown = unknown;
	return best;
}

#define APPEND(v, ...)                                                                                     \
	do {                                                                                               \
		size_t _u = strlen((v)->text);                                                             \
		if (_u < sizeof((v)->text))                                                                \
			snprintf((v)->text + _u, sizeof((v)->text) - _u, __VA_ARGS__);                     \
	} while (0)

void doctor_needs_verdict(const struct doc_needs *ns, struct doctor_verdict *v)
{
	const struct doc_need *why;
	struct doc_kver floor = doctor_floor(ns, true, &why, NULL), all;
	bool first = true;

	memset(v, 0, sizeof(*v));
	all = doctor_floor(ns, false, NULL, &v->nunknown);
	v->can_run = true;
	for (size_t i = 0; i < ns->n; i++) {
		const struct doc_need *n = &ns->v[i];

		if (n->probe == DOC_PROBE_NOT_RUN)
			continue;
		v->nprobed++;
		if (n->probe == DOC_PROBE_OK) {
			v->nok++;
		} else if (n->probe == DOC_PROBE_ERROR) {
			v->nerror++;
			if (n->required)
				v->can_run = false;
		} else if (n->required) {
			v->nmissing_required++;
			v->can_run = false;
		} else {
			v->nmissing_optional++;
		}
	}
	if (why)
		APPEND(v, "kernel floor %u.%u (%s %s, first in %u.%u%s)", floor.major, floor.minor,
		       doctor_feat_kind_str(why->kind), why->name, why->fact->first.major, why->fact->first.minor,
		       why->fact->fallback ? " with a fallback" : "");
	else
		APPEND(v, "kernel floor unknown");
	if (doctor_kver_cmp(all, floor) > 0)
		APPEND(v, ", %u.%u for every optional part", all.major, all.minor);
	if (v->nunknown)
		APPEND(v, "; %zu feature%s with no known first version", v->nunknown, v->nunknown == 1 ? "" : "s");
	if (!v->nprobed) {
		APPEND(v, "; %zu features not probed", ns->n);
		return;
	}
	for (size_t i = 0; i < ns->n; i++) {
		const struct doc_need *n = &ns->v[i];

		if (n->probe != DOC_PROBE_MISSING && n->probe != DOC_PROBE_ERROR)
			continue;
		APPEND(v, "%s%s %s %s", first ? "; MISSING: " : ", ", doctor_feat_kind_str(n->kind), n->name,
		       n->probe == DOC_PROBE_ERROR ? "(probe failed)" : "(not supported by this kernel)");
		if (n->fact)
			APPEND(v, " [upstream %u.%u]", n->fact->first.major, n->fact->first.minor);
		APPEND(v, " used by %s", n->users);
		if (!n->required)
			APPEND(v, " (optional: without it, no %s)", n->role[0] ? n->role : "optional part");
		first = false;
	}
	if (first)
		APPEND(v, "; all %zu features kapimon's programs use are present", v->nok);
	else
		APPEND(v, "; %zu of %zu present", v->nok, v->nprobed);
}

bool doctor_parse_kver(const char *release, struct doc_kver *out)
{
	unsigned a, b;
	int pos = 0;

	if (!release || sscanf(release, "%u.%u%n", &a, &b, &pos) != 2 || pos == 0 || a > 255 || b > 255)
		return false;
	out->major = (uint8_t)a;
	out->minor = (uint8_t)b;
	return true;
}
