// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* kapimon doctor: features of BPF objects, read from the objects and probed on this kernel. */
#include "doctor/bpf_needs.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_HELPERS 64

static const uint32_t map_flags_checked[] = { BPF_F_RDONLY_PROG, BPF_F_MMAPABLE };

int doctor_needs_from_object(struct doc_needs *ns, struct bpf_object *obj, const char *objname, bool required,
			     const char *role)
{
	struct bpf_program *p;
	struct bpf_map *m;
	int nprogs = 0;

	bpf_object__for_each_program(p, obj)
	{
		enum bpf_prog_type type = bpf_program__type(p);
		const char *pname = bpf_program__name(p), *tn = libbpf_bpf_prog_type_str(type);
		uint32_t ids[MAX_HELPERS];
		size_t nsub = 0, nh;

		nprogs++;
		doctor_need_add(ns, DOC_FEAT_PROG_TYPE, type, 0, tn, objname, pname, required, role);
		nh = doctor_insn_helpers(bpf_program__insns(p), bpf_program__insn_cnt(p), ids, MAX_HELPERS, &nsub,
					 NULL);
		for (size_t i = 0; i < nh && i < MAX_HELPERS; i++)
			doctor_need_add(ns, DOC_FEAT_HELPER, ids[i], type, NULL, objname, pname, required, role);
		if (nsub)
			doctor_need_add(ns, DOC_FEAT_BPF_CALL, 0, 0, NULL, objname, pname, required, role);
		if (type == BPF_PROG_TYPE_TRACEPOINT) {
			/* SEC("tracepoint/<category>/<event>") or "tp/<category>/<event>" */
			const char *sec = bpf_program__section_name(p), *slash = sec ? strchr(sec, '/') : NULL;

			if (slash && strchr(slash + 1, '/'))
				doctor_need_add(ns, DOC_FEAT_TRACEPOINT, 0, 0, slash + 1, objname, pname, required, role);
		}
	}
	bpf_object__for_each_map(m, obj)
	{
		enum bpf_map_type type = bpf_map__type(m);
		uint32_t flags = bpf_map__map_flags(m);
		const char *mname = bpf_map__name(m);

		doctor_need_add(ns, DOC_FEAT_MAP_TYPE, type, 0, libbpf_bpf_map_type_str(type), objname, mname, required,
				role);
		for (size_t i = 0; i < sizeof(map_flags_checked) / sizeof(map_flags_checked[0]); i++)
			if (flags & map_flags_checked[i])
				doctor_need_add(ns, DOC_FEAT_MAP_FLAG, map_flags_checked[i], 0, NULL, objname, mname, required,
						role);
		if (bpf_map__is_internal(m))
			doctor_need_add(ns, DOC_FEAT_GLOBAL_DATA, 0, 0, NULL, objname, mname, required, role);
	}
	return nprogs;
}

static enum doc_probe from_libbpf(int r, int *err)
{
	if (r == 1)
		return DOC_PROBE_OK;
	if (r == 0)
		return DOC_PROBE_MISSING;
	*err = r;
	return DOC_PROBE_ERROR;
}

/* An array map with this flag: created = supported; EINVAL = the kernel does not know the flag. */
static enum doc_probe probe_map_flag(uint32_t flag, int *err)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = flag);
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "kapimon_doctor", 4, 8, 1, &o);

	if (fd >= 0) {
		close(fd);
		return DOC_PROBE_OK;
	}
	*err = -errno;
	return *err == -EINVAL ? DOC_PROBE_MISSING : DOC_PROBE_ERROR;
}

void doctor_probe_needs(struct doc_needs *ns, const char *tracefs)
{
	for (size_t i = 0; i < ns->n; i++) {
		struct doc_need *n = &ns->v[i];
		char path[512];

		n->probe_err = 0;
		/* libbpf's probes cannot load a tracing program without a BTF attach target: tp_btf programs and
		 * their helpers are judged by loading kapimon's own (doctor_needs_from_load) */
		if ((n->kind == DOC_FEAT_PROG_TYPE && n->id == BPF_PROG_TYPE_TRACING) ||
		    (n->kind == DOC_FEAT_HELPER && n->prog_type == BPF_PROG_TYPE_TRACING)) {
			n->probe = DOC_PROBE_NOT_RUN;
			continue;
		}
		switch (n->kind) {
		case DOC_FEAT_PROG_TYPE:
			n->probe = from_libbpf(libbpf_probe_bpf_prog_type(n->id, NULL), &n->probe_err);
			break;
		case DOC_FEAT_MAP_TYPE:
			n->probe = from_libbpf(libbpf_probe_bpf_map_type(n->id, NULL), &n->probe_err);
			break;
		case DOC_FEAT_HELPER:
			n->probe = from_libbpf(libbpf_probe_bpf_helper(n->prog_type, n->id, NULL), &n->probe_err);
			break;
		case DOC_FEAT_MAP_FLAG:
			n->probe = probe_map_flag(n->id, &n->probe_err);
			break;
		case DOC_FEAT_TRACEPOINT:
			if (!tracefs || !*tracefs) {
				n->probe = DOC_PROBE_NOT_RUN;
				break;
			}
			snprintf(path, sizeof(path), "%s/events/%s/id", tracefs, n->name);
			if (access(path, R_OK) == 0) {
				n->probe = DOC_PROBE_OK;
			} else {
				n->probe_err = -errno;
				n->probe = errno == ENOENT ? DOC_PROBE_MISSING : DOC_PROBE_ERROR;
			}
			break;
		default: /* global data, bpf2bpf calls: proven by loading the objects */
			n->probe = DOC_PROBE_NOT_RUN;
			break;
		}
	}
}

void doctor_needs_tracing_loaded(struct doc_needs *ns, bool loaded)
{
	for (size_t i = 0; i < ns->n; i++) {
		struct doc_need *n = &ns->v[i];

		if ((n->kind == DOC_FEAT_PROG_TYPE && n->id == BPF_PROG_TYPE_TRACING) ||
		    (n->kind == DOC_FEAT_HELPER && n->prog_type == BPF_PROG_TYPE_TRACING))
			n->probe = loaded ? DOC_PROBE_OK : DOC_PROBE_MISSING;
	}
}
