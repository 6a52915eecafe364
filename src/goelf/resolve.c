// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "goelf/resolve.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "goelf/offsets.h"
#include "output/json_writer.h"

int goelf_resolve_target(const struct go_binary *b, const struct probe_target *t, struct resolved_target *r)
{
	const struct go_func *f;
	int n;

	memset(r, 0, sizeof(*r));
	r->target = t;
	if (!b || !t || !t->func) {
		snprintf(r->reason, sizeof(r->reason), "no binary or target");
		return -EINVAL;
	}
	f = probe_target_find(b, t, &r->alt);
	if (!f) {
		snprintf(r->reason, sizeof(r->reason), "function not found (no exact or path-suffix match)");
		return -ENOENT;
	}
	r->symbol = f->name;
	r->entry_vaddr = f->entry;
	r->size = f->end - f->entry;
	if (!gobin_vaddr_to_offset(b, f->entry, &r->entry_off)) {
		snprintf(r->reason, sizeof(r->reason), "entry 0x%llx is not in a PT_LOAD segment's file bytes",
			 (unsigned long long)f->entry);
		return -EFAULT;
	}
	if (t->where & PROBE_RETURNS) {
		n = gobin_ret_sites(b, f, r->ret_vaddr, GOELF_MAX_RETS);
		r->nrets_total = n;
		if (n < 0) {
			snprintf(r->reason, sizeof(r->reason), "decoding the function failed: %s", strerror(-n));
			return n;
		}
		if (n == 0) {
			snprintf(r->reason, sizeof(r->reason), "no RET instruction found in %llu bytes",
				 (unsigned long long)r->size);
			return -ENOENT;
		}
		if (n > GOELF_MAX_RETS) {
			snprintf(r->reason, sizeof(r->reason), "%d RET sites, more than the %d supported", n,
				 GOELF_MAX_RETS);
			return -E2BIG;
		}
		r->nrets = (size_t)n;
		for (size_t i = 0; i < r->nrets; i++) {
			if (!gobin_vaddr_to_offset(b, r->ret_vaddr[i], &r->ret_off[i])) {
				snprintf(r->reason, sizeof(r->reason), "RET 0x%llx outside the file",
					 (unsigned long long)r->ret_vaddr[i]);
				return -EFAULT;
			}
		}
	}
	if (t->where & PROBE_RETURNS) {
		r->nsites = r->nrets;
		memcpy(r->site_vaddr, r->ret_vaddr, r->nrets * sizeof(r->site_vaddr[0]));
		memcpy(r->site_off, r->ret_off, r->nrets * sizeof(r->site_off[0]));
		r->cheap = false;
	} else if (t->where & PROBE_CALLSITE) {
		const struct go_func *callee = t->callee ? gobin_find_func(b, t->callee) : NULL;

		if (!callee) {
			snprintf(r->reason, sizeof(r->reason), "callee %s not found (inlined or absent)",
				 t->callee ? t->callee : "(none)");
			return -ENOENT;
		}
		n = gobin_call_sites(b, f, callee->entry, r->site_vaddr, GOELF_MAX_RETS);
		if (n <= 0 || n > GOELF_MAX_RETS) {
			snprintf(r->reason, sizeof(r->reason), "%d direct calls of %s found (inlined?)", n, callee->name);
			return n < 0 ? n : -ENOENT;
		}
		r->nsites = (size_t)n;
		r->cheap = true;
	} else {
		r->site_vaddr[0] = gobin_entry_probe_vaddr(b, f, &r->cheap);
		r->nsites = 1;
	}
	for (size_t i = 0; i < r->nsites; i++) {
		if (!gobin_vaddr_to_offset(b, r->site_vaddr[i], &r->site_off[i])) {
			snprintf(r->reason, sizeof(r->reason), "probe site 0x%llx outside the file",
				 (unsigned long long)r->site_vaddr[i]);
			return -EFAULT;
		}
	}
	r->ok = true;
	return 0;
}

int goelf_resolve_all(const struct go_binary *b, struct resolved_target out[PT__COUNT])
{
	int ok = 0;

	for (size_t i = 0; i < PT__COUNT; i++)
		ok += goelf_resolve_target(b, &probe_targets[i], &out[i]) == 0;
	return ok;
}

bool goelf_group_ok(const struct resolved_target res[PT__COUNT], const char *group)
{
	int g = probe_group_by_name(group);
	bool any = false;

	for (size_t i = 0; i < PT__COUNT && g >= 0; i++) {
		const struct probe_target *t = res[i].target;

		if (!t || (int)t->group != g || t->fallback)
			continue;
		/* a target that did not resolve may be stood in for by its fallback */
		if (!res[i].ok) {
			bool covered = false;

			for (size_t k = 0; k < PT__COUNT; k++)
				covered |= res[k].target && res[k].target->fallback && res[k].target->primary == t->id &&
					   res[k].ok;
			if (!covered)
				return false;
		}
		any = true;
	}
	return any;
}

/* "http1", or "http1-fallback" for a target that stands in for another */
static const char *target_group(const struct probe_target *t, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", probe_group_name(t->group), t->fallback ? "-fallback" : "");
	return buf;
}

static const char *where_name(enum probe_where w)
{
	return w == PROBE_RETURNS ? "returns" : w == PROBE_ENTRY ? "entry" : w == PROBE_CALLSITE ? "call sites" :
		"entry+returns";
}

static void report_text(FILE *out, const struct go_binary *b, struct resolved_target *res, struct go_offsets *o)
{
	struct gobin_pclntab_info pi;
	const struct go_module *mods;
	size_t nmods = gobin_modules(b, &mods);
	const char *xnet = gobin_module_version(b, "golang.org/x/net");
	const char *grpc = gobin_module_version(b, "google.golang.org/grpc");

	gobin_pclntab_info(b, &pi);
	fprintf(out, "binary:      %s\n", gobin_path(b));
	fprintf(out, "go version:  %s (from %s)\n", gobin_go_version(b) ? gobin_go_version(b) : "unknown",
		gobin_buildinfo_source(b));
	fprintf(out, "main module: %s\n", *gobin_main_module(b) ? gobin_main_module(b) : "unknown (GOPATH build)");
	fprintf(out, "modules:     %zu (golang.org/x/net %s, google.golang.org/grpc %s)\n", nmods,
		xnet ? xnet : "unknown", grpc ? grpc : "unknown");
	fprintf(out, "symbols:     %s (symtab %s, DWARF %s)\n", gobin_is_stripped(b) ? "stripped" : "not stripped",
		gobin_has_symtab(b) ? "yes" : "no", gobin_has_dwarf(b) ? "yes" : "no");
	fprintf(out, "pclntab:     magic 0x%08x at 0x%llx (%s), %zu functions, text base from %s\n", pi.magic,
		(unsigned long long)pi.vaddr, pi.source, pi.nfuncs, pi.text_source);
	fprintf(out, "targets:\n");
	for (size_t i = 0; i < PT__COUNT; i++) {
		struct resolved_target *r = &res[i];
		char gb[48];

		fprintf(out, "  [%s] %-10s %-7s %s\n", r->ok ? "ok" : "--", target_group(r->target, gb, sizeof(gb)),
			where_name(r->target->where), r->target->func);
		if (r->symbol)
			fprintf(out, "         symbol %s\n         entry 0x%llx file offset 0x%llx size %llu\n", r->symbol,
				(unsigned long long)r->entry_vaddr, (unsigned long long)r->entry_off,
				(unsigned long long)r->size);
		if (r->ok && (r->target->where & PROBE_RETURNS)) {
			fprintf(out, "         %zu RET sites (file offsets):", r->nrets);
			for (size_t k = 0; k < r->nrets; k++)
				fprintf(out, " 0x%llx", (unsigned long long)r->ret_off[k]);
			fprintf(out, "\n");
		}
		if (r->ok) {
			fprintf(out, "         probe sites (%s):", r->cheap ? "emulated by the kernel: cheap" :
								   "single-stepped: expensive");
			for (size_t k = 0; k < r->nsites; k++)
				fprintf(out, " 0x%llx", (unsigned long long)r->site_off[k]);
			fprintf(out, "\n");
		}
		if (!r->ok)
			fprintf(out, "         unresolved: %s\n", r->reason);
	}
	fprintf(out, "groups:     ");
	for (int g = 0; g < PG__COUNT; g++)
		fprintf(out, " %s=%s", probe_group_name(g), goelf_group_ok(res, probe_group_name(g)) ? "ok" : "missing");
	fprintf(out, "\noffsets:\n");
	for (int g = 0; g < GOFF__NGROUPS; g++) {
		struct goff_field f[16];
		size_t n = goff_fields(o, (enum goff_group)g, f, 16);

		fprintf(out, "  %-10s %s: %s (%u/%u known)\n", goff_group_name((enum goff_group)g),
			goff_source_name(o->info[g].source), o->info[g].basis, o->info[g].known, o->info[g].total);
		if (o->info[g].provenance)
			fprintf(out, "             facts: %s\n", o->info[g].provenance);
		fprintf(out, "            ");
		for (size_t k = 0; k < n; k++) {
			if (*f[k].val == KP_OFF_UNKNOWN)
				fprintf(out, " %s=?", f[k].name);
			else
				fprintf(out, " %s=%u", f[k].name, *f[k].val);
		}
		if (g == GOFF_H1)
			fprintf(out, " map_kind=%s", o->h1.map_kind ? "swiss" : "hmap");
		fprintf(out, "\n");
	}
	int unresolved = 0;
	for (size_t i = 0; i < PT__COUNT; i++)
		unresolved += !res[i].ok;
	fprintf(out, "unresolved:  %d of %d targets\n", unresolved, PT__COUNT);
}

static void report_json(struct json_writer *w, const struct go_binary *b, struct resolved_target *res,
			struct go_offsets *o)
{
	struct gobin_pclntab_info pi;
	const struct go_module *mods;
	size_t nmods = gobin_modules(b, &mods);

	gobin_pclntab_info(b, &pi);
	jw_obj_begin(w);
	jw_kv_str(w, "path", gobin_path(b));
	jw_key(w, "go_version");
	if (gobin_go_version(b))
		jw_str(w, gobin_go_version(b));
	else
		jw_null(w);
	jw_kv_str(w, "buildinfo_source", gobin_buildinfo_source(b));
	jw_kv_str(w, "main_module", gobin_main_module(b));
	jw_key(w, "modules");
	jw_arr_begin(w);
	for (size_t i = 0; i < nmods; i++) {
		jw_obj_begin(w);
		jw_kv_str(w, "path", mods[i].path);
		jw_kv_str(w, "version", mods[i].version);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_kv_bool(w, "stripped", gobin_is_stripped(b));
	jw_kv_bool(w, "symtab", gobin_has_symtab(b));
	jw_kv_bool(w, "dwarf", gobin_has_dwarf(b));
	jw_key(w, "pclntab");
	jw_obj_begin(w);
	jw_kv_uint(w, "magic", pi.magic);
	jw_kv_uint(w, "vaddr", pi.vaddr);
	jw_kv_uint(w, "functions", pi.nfuncs);
	jw_kv_str(w, "source", pi.source);
	jw_kv_str(w, "text_base_source", pi.text_source);
	jw_obj_end(w);
	jw_key(w, "targets");
	jw_arr_begin(w);
	for (size_t i = 0; i < PT__COUNT; i++) {
		struct resolved_target *r = &res[i];
		char gb[48];

		jw_obj_begin(w);
		jw_kv_str(w, "group", target_group(r->target, gb, sizeof(gb)));
		jw_kv_str(w, "func", r->target->func);
		jw_kv_str(w, "where", where_name(r->target->where));
		jw_kv_bool(w, "ok", r->ok);
		if (r->symbol) {
			jw_kv_str(w, "symbol", r->symbol);
			jw_kv_uint(w, "entry_vaddr", r->entry_vaddr);
			jw_kv_uint(w, "entry_offset", r->entry_off);
			jw_kv_uint(w, "size", r->size);
		}
		if (r->ok) {
			jw_kv_bool(w, "cheap", r->cheap);
			jw_key(w, "probe_sites");
			jw_arr_begin(w);
			for (size_t k = 0; k < r->nsites; k++) {
				jw_obj_begin(w);
				jw_kv_uint(w, "vaddr", r->site_vaddr[k]);
				jw_kv_uint(w, "offset", r->site_off[k]);
				jw_obj_end(w);
			}
			jw_arr_end(w);
		}
		if (r->ok && (r->target->where & PROBE_RETURNS)) {
			jw_key(w, "ret_sites");
			jw_arr_begin(w);
			for (size_t k = 0; k < r->nrets; k++) {
				jw_obj_begin(w);
				jw_kv_uint(w, "vaddr", r->ret_vaddr[k]);
				jw_kv_uint(w, "offset", r->ret_off[k]);
				jw_obj_end(w);
			}
			jw_arr_end(w);
		}
		if (!r->ok)
			jw_kv_str(w, "reason", r->reason);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_key(w, "groups");
	jw_obj_begin(w);
	for (int g = 0; g < PG__COUNT; g++)
		jw_kv_bool(w, probe_group_name(g), goelf_group_ok(res, probe_group_name(g)));
	jw_obj_end(w);
	jw_key(w, "offsets");
	jw_obj_begin(w);
	for (int g = 0; g < GOFF__NGROUPS; g++) {
		struct goff_field f[16];
		size_t n = goff_fields(o, (enum goff_group)g, f, 16);

		jw_key(w, goff_group_name((enum goff_group)g));
		jw_obj_begin(w);
		jw_kv_str(w, "source", goff_source_name(o->info[g].source));
		jw_kv_str(w, "basis", o->info[g].basis);
		if (o->info[g].provenance)
			jw_kv_str(w, "facts", o->info[g].provenance);
		jw_key(w, "fields");
		jw_obj_begin(w);
		for (size_t k = 0; k < n; k++) {
			jw_key(w, f[k].name);
			if (*f[k].val == KP_OFF_UNKNOWN)
				jw_null(w);
			else
				jw_uint(w, *f[k].val);
		}
		if (g == GOFF_H1)
			jw_kv_str(w, "map_kind", o->h1.map_kind ? "swiss" : "hmap");
		jw_obj_end(w);
		jw_obj_end(w);
	}
	jw_obj_end(w);
	jw_key(w, "unresolved");
	jw_arr_begin(w);
	for (size_t i = 0; i < PT__COUNT; i++) {
		if (res[i].ok)
			continue;
		jw_obj_begin(w);
		jw_kv_str(w, "func", res[i].target->func);
		jw_kv_str(w, "where", where_name(res[i].target->where));
		jw_kv_str(w, "reason", res[i].reason);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

void goelf_report_binary(struct json_writer *w, FILE *out, const struct go_binary *b)
{
	static struct resolved_target res[PT__COUNT]; /* ~1 KB each: keep off the stack */
	struct go_offsets o;

	goelf_resolve_all(b, res);
	go_offsets_fill(b, 0, &o);
	if (w)
		report_json(w, b, res, &o);
	else
		report_text(out ? out : stdout, b, res, &o);
}

int goelf_report(struct json_writer *w, FILE *out, const char *path)
{
	struct go_binary *b;
	char err[512];
	int rc = gobin_open(path, &b, err, sizeof(err));

	if (rc) {
		if (w) {
			jw_obj_begin(w);
			jw_kv_str(w, "path", path ? path : "");
			jw_kv_str(w, "error", err);
			jw_obj_end(w);
		} else {
			fprintf(out ? out : stderr, "goelf: %s\n", err);
		}
		return rc;
	}
	goelf_report_binary(w, out, b);
	gobin_close(b);
	return 0;
}
