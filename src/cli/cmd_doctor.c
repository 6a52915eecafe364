// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kapimon doctor: can kapimon run here, and on which kube-apiserver? Probes every kernel feature
 * kapimon needs (by really loading/attaching minimal programs), finds kube-apiserver processes and
 * inspects their binaries (Go version, stripped or not). Exit 0 when kapimon can run, 1 when not.
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cli/cli.h"
#include "kapimon/events.h" /* struct kp_hdr_key: http.skel.h rodata */
#include "kapimon/go_offsets.h"
#include "conn.skel.h"
#include "capture/conn_load.h"
#include "doctor/bpf_needs.h"
#include "doctor/doctor.h"
#include "grpc.skel.h"
#include "http.skel.h"
#include "goelf/goelf.h"
#include "goelf/resolve.h"
#include "output/json_writer.h"
#include "plan/plan.h"
#include "util/log.h"

#define MAX_PROCS 64
#define APISERVER_NAME "kube-apiserver"

struct bin_info {
	pid_t pid;             /* 0 for --binary */
	const char *source;    /* "discovered", "--pid", "--binary" */
	char exe[PATH_MAX];    /* link target or given path */
	char comm[32];
	bool exists;
	bool is_apiserver_name;
	bool go;               /* gobin_open succeeded */
	char go_version[64];
	bool stripped, has_symtab, has_dwarf;
	size_t nfuncs;
	int nresolved;          /* probe targets resolved (explicit targets only), -1 when not resolved */
	struct go_binary *b;    /* kept open for explicit targets: goelf_report_binary at output time */
	struct plan *plan;      /* the probe plan record/top would execute (default options) */
	char error[320];
	struct doctor_check check;
};

/* kapimon's own BPF objects: the features doctor checks are read from them. */
struct bpf_obj_info {
	const char *name;
	bool required;    /* kapimon cannot run without it */
	const char *role; /* what is lost without an optional one */
	struct bpf_object *obj;
	int nprogs, nmaps;
	bool load_tried, loaded;
	int load_err;
	const char *variant; /* conn: the program variant that loaded (capture/conn_load.h) */
	int nloaded;         /* programs loaded (conn: one variant's) */
};

struct bpf_check {
	struct http_bpf *http;
	struct grpc_bpf *grpc;
	struct conn_bpf *conn;
	struct bpf_obj_info objs[3];
	struct doc_needs needs;
	struct doctor_verdict verdict;
	struct doc_kver floor, floor_all;
	const struct doc_need *floor_why;
};

/* Open (not load) each skeleton and read the features its programs and maps use. */
static void bpf_check_open(struct bpf_check *b)
{
	static const struct {
		const char *name;
		bool required;
		const char *role;
	} defs[3] = {
		{ "http", true, NULL },
		{ "grpc", false, "etcd calls" },
		{ "conn", false, "client connection tracking" },
	};

	memset(b, 0, sizeof(*b));
	b->http = http_bpf__open();
	b->grpc = grpc_bpf__open();
	b->conn = conn_bpf__open();
	b->objs[0].obj = b->http ? b->http->obj : NULL;
	b->objs[1].obj = b->grpc ? b->grpc->obj : NULL;
	b->objs[2].obj = b->conn ? b->conn->obj : NULL;
	for (int i = 0; i < 3; i++) {
		struct bpf_obj_info *o = &b->objs[i];
		struct bpf_map *m;

		o->name = defs[i].name;
		o->required = defs[i].required;
		o->role = defs[i].role;
		if (!o->obj)
			continue;
		o->nprogs = doctor_needs_from_object(&b->needs, o->obj, o->name, o->required, o->role);
		bpf_object__for_each_map(m, o->obj)
			o->nmaps++;
	}
	b->floor = doctor_floor(&b->needs, true, &b->floor_why, NULL);
	b->floor_all = doctor_floor(&b->needs, false, NULL, NULL);
}

/* Probe every feature, then load each object for real (the verifier has the last word). */
static void bpf_check_probe(struct bpf_check *b, const char *tracefs)
{
	doctor_probe_needs(&b->needs, tracefs);
	for (int i = 0; i < 3; i++) {
		struct bpf_obj_info *o = &b->objs[i];

		if (!o->obj)
			continue;
		o->load_tried = true;
		o->nloaded = o->nprogs;
		if (i == 2) {
			/* as capture loads it: the first variant (tp_btf, raw_tp, tracepoint) that loads */
			enum conn_variant v;
			struct conn_bpf *cl = conn_open_load(&v, NULL, 0);
			struct bpf_program *p;

			o->load_err = cl ? 0 : -errno;
			if (cl) {
				o->variant = conn_variant_name(v);
				o->nloaded = 0;
				bpf_object__for_each_program(p, cl->obj)
					o->nloaded += bpf_program__autoload(p);
			}
			conn_bpf__destroy(cl);
		} else {
			if (i == 0) { /* every header key set, as capture sets them: the verifier sees the header scans */
				struct plan all = { .apf_served_ok = true };

				plan_hdr_keys(&all, (struct kp_hdr_key *)b->http->rodata->hdr_keys);
			}
			o->load_err = i == 0 ? http_bpf__load(b->http) : grpc_bpf__load(b->grpc);
		}
		o->loaded = o->load_err == 0;
	}
	doctor_needs_tracing_loaded(&b->needs, b->objs[2].variant && !strcmp(b->objs[2].variant, "tp_btf"));
	/* what has no probe of its own (global data, bpf2bpf calls) is proven by the loads */
	if (b->objs[0].loaded && b->objs[1].loaded && b->objs[2].loaded)
		for (size_t i = 0; i < b->needs.n; i++)
			if (b->needs.v[i].probe == DOC_PROBE_NOT_RUN && b->needs.v[i].kind != DOC_FEAT_TRACEPOINT)
				b->needs.v[i].probe = DOC_PROBE_OK;
}

static void bpf_check_close(struct bpf_check *b)
{
	http_bpf__destroy(b->http);
	grpc_bpf__destroy(b->grpc);
	conn_bpf__destroy(b->conn);
}

static void setc(struct doctor_check *c, const char *name, enum doctor_status st, bool required, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void bpf_check_fill(struct bpf_check *b, struct doctor_check *feat, struct doctor_check *load, bool probed)
{
	char text[512] = "";
	size_t u = 0;
	bool load_ok = true, opened = true;

	doctor_needs_verdict(&b->needs, &b->verdict);
	for (int i = 0; i < 3; i++)
		opened &= b->objs[i].obj != NULL;
	if (!probed)
		setc(feat, "features", DOC_INFO, false, "%s (read from kapimon's BPF objects; not probed: needs the "
							"privileges above)", b->verdict.text);
	else
		setc(feat, "features", b->verdict.can_run ? (b->verdict.nmissing_optional ? DOC_MISSING : DOC_OK) : DOC_MISSING,
		     !b->verdict.can_run || !b->verdict.nmissing_optional, "%s", b->verdict.text);
	if (!probed) {
		setc(load, "bpf-load", DOC_INFO, false, "not tried: needs the privileges above");
		return;
	}
	for (int i = 0; i < 3; i++) {
		const struct bpf_obj_info *o = &b->objs[i];

		if (!o->obj) {
			load_ok &= !o->required;
			u += snprintf(text + u, u < sizeof(text) ? sizeof(text) - u : 0, "%s%s: cannot open the object",
				      u ? "; " : "", o->name);
		} else if (o->loaded) {
			u += snprintf(text + u, u < sizeof(text) ? sizeof(text) - u : 0, "%s%s: %d program%s verified%s%s%s",
				      u ? "; " : "", o->name, o->nloaded, o->nloaded == 1 ? "" : "s",
				      o->variant ? " (" : "", o->variant ? o->variant : "", o->variant ? " variant)" : "");
		} else {
			load_ok &= !o->required;
			u += snprintf(text + u, u < sizeof(text) ? sizeof(text) - u : 0, "%s%s: load failed: %s%s%s",
				      u ? "; " : "", o->name, strerror(-o->load_err), o->required ? "" : " (optional: no ",
				      o->required ? "" : o->role);
			if (!o->required && u < sizeof(text))
				u += snprintf(text + u, sizeof(text) - u, ")");
		}
	}
	{
		bool all = true;

		for (int i = 0; i < 3; i++)
			all &= b->objs[i].loaded;
		setc(load, "bpf-load", all ? DOC_OK : DOC_MISSING, !load_ok,
		     "loaded kapimon's BPF objects (struct offsets zero): %s%s", text,
		     all ? "" : " (run with -v -v for libbpf's log)");
	}
	(void)opened;
}

static const char *probe_str(enum doc_probe p)
{
	switch (p) {
	case DOC_PROBE_OK: return "OK";
	case DOC_PROBE_MISSING: return "MISSING";
	case DOC_PROBE_ERROR: return "ERROR";
	default: return "-";
	}
}

static void print_needs_text(const struct bpf_check *b)
{
	printf("BPF features kapimon's programs use (read from its BPF objects; first upstream kernel):\n");
	for (size_t i = 0; i < b->needs.n; i++) {
		const struct doc_need *n = &b->needs.v[i];
		char ver[16] = "?";

		if (n->fact)
			snprintf(ver, sizeof(ver), "%u.%u", n->fact->first.major, n->fact->first.minor);
		printf("  %-8s %-12s %-32s %-5s %s%s%s%s\n", probe_str(n->probe), doctor_feat_kind_str(n->kind), n->name, ver,
		       n->required ? "" : "(optional) ", n->users, n->fact && n->fact->fallback ? "; fallback: " : "",
		       n->fact && n->fact->fallback ? n->fact->fallback : "");
	}
	if (b->needs.overflow)
		printf("  (more features than doctor can list: %d)\n", DOC_NEEDS_MAX);
}

static void json_needs(struct json_writer *w, const struct bpf_check *b)
{
	jw_key(w, "bpf_features");
	jw_arr_begin(w);
	for (size_t i = 0; i < b->needs.n; i++) {
		const struct doc_need *n = &b->needs.v[i];
		char ver[16];

		jw_obj_begin(w);
		jw_kv_str(w, "kind", doctor_feat_kind_str(n->kind));
		jw_kv_str(w, "name", n->name);
		if (n->kind == DOC_FEAT_PROG_TYPE || n->kind == DOC_FEAT_MAP_TYPE || n->kind == DOC_FEAT_MAP_FLAG ||
		    n->kind == DOC_FEAT_HELPER)
			jw_kv_uint(w, "id", n->id);
		if (n->kind == DOC_FEAT_HELPER)
			jw_kv_str(w, "prog_type", libbpf_bpf_prog_type_str(n->prog_type) ? libbpf_bpf_prog_type_str(n->prog_type) : "?");
		jw_kv_str(w, "used_by", n->users);
		jw_kv_bool(w, "required", n->required);
		if (!n->required)
			jw_kv_str(w, "optional_part", n->role);
		jw_key(w, "first_kernel");
		if (n->fact) {
			snprintf(ver, sizeof(ver), "%u.%u", n->fact->first.major, n->fact->first.minor);
			jw_str(w, ver);
		} else {
			jw_null(w);
		}
		jw_key(w, "source");
		if (n->fact)
			jw_str(w, n->fact->source);
		else
			jw_null(w);
		if (n->fact && n->fact->fallback) {
			snprintf(ver, sizeof(ver), "%u.%u", n->fact->fb_first.major, n->fact->fb_first.minor);
			jw_kv_str(w, "fallback", n->fact->fallback);
			jw_kv_str(w, "fallback_first_kernel", ver);
		}
		jw_key(w, "status");
		if (n->probe == DOC_PROBE_NOT_RUN)
			jw_null(w); /* not probed on its own (global data, bpf2bpf calls: the load decides) */
		else
			jw_str(w, probe_str(n->probe));
		if (n->probe == DOC_PROBE_ERROR)
			jw_kv_int(w, "errno", -n->probe_err);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_key(w, "bpf_objects");
	jw_arr_begin(w);
	for (int i = 0; i < 3; i++) {
		const struct bpf_obj_info *o = &b->objs[i];

		jw_obj_begin(w);
		jw_kv_str(w, "name", o->name);
		jw_kv_bool(w, "required", o->required);
		if (!o->required)
			jw_kv_str(w, "optional_part", o->role);
		jw_kv_bool(w, "opened", o->obj != NULL);
		jw_kv_int(w, "programs", o->nprogs);
		jw_kv_int(w, "maps", o->nmaps);
		jw_key(w, "loaded");
		if (o->load_tried)
			jw_bool(w, o->loaded);
		else
			jw_null(w);
		if (o->variant)
			jw_kv_str(w, "variant", o->variant);
		jw_key(w, "error");
		if (o->load_tried && !o->loaded)
			jw_str(w, strerror(-o->load_err));
		else
			jw_null(w);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: kapimon doctor [--pid PID] [--binary PATH] [--no-mount] [-j|--json] [-p|--pretty]\n\n"
		"Check everything kapimon needs on this host and find kube-apiserver processes.\n\n"
		"  --pid PID       inspect this process (instead of discovering kube-apiserver by name)\n"
		"  --binary PATH   inspect this Go binary (no process needed)\n"
		"  --no-mount      do not mount tracefs at /sys/kernel/tracing when it is missing\n"
		"  -j, --json      one JSON object instead of the checklist\n"
		"  -p, --pretty    pretty-printed JSON\n\n"
		"Checks: privileges (CAP_BPF+CAP_PERFMON or CAP_SYS_ADMIN), kernel BTF, tracefs, ring buffers,\n"
		"uprobes and tracepoints (attached and triggered for real), and the optional raw tracepoints,\n"
		"kprobes and fentry. Then every program type, map type, map flag, helper and tracepoint\n"
		"kapimon's own BPF programs use (read from its BPF objects) is probed, the kernel floor they\n"
		"imply is stated, and the objects are loaded for real (-v -v: libbpf's log).\n"
		"Exit status: 0 kapimon can run, 1 it cannot, 2 usage error.\n");
}

static void setc(struct doctor_check *c, const char *name, enum doctor_status st, bool required, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void setc(struct doctor_check *c, const char *name, enum doctor_status st, bool required, const char *fmt, ...)
{
	va_list ap;

	snprintf(c->name, sizeof(c->name), "%s", name);
	c->status = st;
	c->required = required;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
}

/* The probes fail on purpose where a feature is missing: libbpf's warnings only with -v. */
static int quiet_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (kp_verbosity < 2)
		return 0;
	return kp_libbpf_print(level, fmt, ap);
}

/* Open a binary with goelf and fill bi; explicit (--pid/--binary) targets are required to work. */
static void inspect_binary(struct bin_info *bi, const char *open_path, bool explicit)
{
	struct go_binary *b = NULL;
	char err[256] = "";
	char name[48];
	int r;

	r = gobin_open(open_path, &b, err, sizeof(err));
	if (bi->pid)
		snprintf(name, sizeof(name), "pid %d", (int)bi->pid);
	else
		snprintf(name, sizeof(name), "binary");
	if (r < 0 || !b) {
		snprintf(bi->error, sizeof(bi->error), "%s", err[0] ? err : strerror(-r));
		setc(&bi->check, name, explicit ? DOC_MISSING : DOC_INFO, explicit, "%s: cannot inspect the Go binary: %s",
		     bi->exe, bi->error);
		return;
	}
	bi->go = true;
	snprintf(bi->go_version, sizeof(bi->go_version), "%s", gobin_go_version(b) ? gobin_go_version(b) : "");
	bi->stripped = gobin_is_stripped(b);
	bi->has_symtab = gobin_has_symtab(b);
	bi->has_dwarf = gobin_has_dwarf(b);
	bi->nfuncs = gobin_func_count(b);
	bi->nresolved = -1;
	bi->plan = malloc(sizeof(*bi->plan));
	if (bi->plan)
		plan_build(b, &(struct plan_opts){ 0 }, bi->plan);
	if (explicit) {
		static struct resolved_target res[PT__COUNT];

		bi->nresolved = goelf_resolve_all(b, res);
		bi->b = b;
	} else {
		gobin_close(b);
	}
	char resolved[64] = "";
	if (bi->nresolved >= 0)
		snprintf(resolved, sizeof(resolved), "; %d/%d probe targets resolved", bi->nresolved, (int)PT__COUNT);
	setc(&bi->check, name, bi->go_version[0] ? DOC_OK : (explicit ? DOC_MISSING : DOC_INFO),
	     explicit && !bi->go_version[0], "%s: %s, %s%s, %zu functions from .gopclntab%s%s", bi->exe,
	     bi->go_version[0] ? bi->go_version : "no Go build info (not a Go binary?)",
	     bi->stripped ? "stripped" : "not stripped",
	     bi->stripped ? " (no .symtab, no DWARF: functions come from .gopclntab)"
			  : (bi->has_dwarf ? " (.symtab and DWARF)" : " (.symtab, no DWARF)"),
	     bi->nfuncs, resolved, bi->is_apiserver_name || !bi->pid ? "" : "; note: not named kube-apiserver");
}

static void inspect_pid(struct bin_info *bi, pid_t pid, const char *source, bool explicit)
{
	char path[64], *comm;
	ssize_t l;

	memset(bi, 0, sizeof(*bi));
	bi->pid = pid;
	bi->source = source;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	comm = doctor_read_file(path, 64);
	bi->exists = comm != NULL;
	if (comm) {
		comm[strcspn(comm, "\n")] = '\0';
		snprintf(bi->comm, sizeof(bi->comm), "%s", comm);
		free(comm);
	}
	if (!bi->exists) {
		snprintf(bi->error, sizeof(bi->error), "no such process");
		setc(&bi->check, "process", explicit ? DOC_MISSING : DOC_INFO, explicit, "pid %d: no such process",
		     (int)pid);
		return;
	}
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	l = readlink(path, bi->exe, sizeof(bi->exe) - 1);
	if (l < 0) {
		snprintf(bi->error, sizeof(bi->error), "readlink %s: %s", path, strerror(errno));
		setc(&bi->check, "process", explicit ? DOC_MISSING : DOC_INFO, explicit,
		     "pid %d (%s): cannot read %s: %s (kernel thread, or needs root/CAP_SYS_PTRACE)", (int)pid, bi->comm,
		     path, strerror(errno));
		return;
	}
	bi->exe[l] = '\0';
	bi->is_apiserver_name = doctor_exe_matches(bi->exe, APISERVER_NAME);
	/* /proc/<pid>/exe works even when the binary lives in another mount namespace or was deleted */
	inspect_binary(bi, path, explicit);
}

static void print_check_text(const struct doctor_check *c)
{
	printf("  %-8s %-11s %s%s\n", doctor_status_str(c->status), c->name, c->detail,
	       c->status == DOC_MISSING ? (c->required ? " [required]" : " [optional]") : "");
}

/* The probe plan, as record and top execute it. */
static void print_plan_text(const struct bin_info *bi)
{
	printf("probe plan for %s%s%.0d%s:\n", bi->exe, bi->pid ? " (pid " : "", (int)bi->pid, bi->pid ? ")" : "");
	plan_print(bi->plan, stdout, "    ");
}

/* goelf's report (entry/RET offsets of every probe target), indented under the checklist. */
static void print_report_text(const struct bin_info *bi)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	if (!m)
		return;
	goelf_report_binary(NULL, m, bi->b);
	fclose(m);
	printf("probe targets of %s%s%.0d%s:\n", bi->exe, bi->pid ? " (pid " : "", (int)bi->pid, bi->pid ? ")" : "");
	for (char *line = buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		printf("    %.*s\n", nl ? (int)(nl - line) : (int)strlen(line), line);
	}
	free(buf);
}

static void json_check(struct json_writer *w, const struct doctor_check *c)
{
	jw_obj_begin(w);
	jw_kv_str(w, "name", c->name);
	jw_kv_str(w, "status", doctor_status_str(c->status));
	jw_kv_bool(w, "required", c->required);
	jw_kv_str(w, "detail", c->detail);
	jw_obj_end(w);
}

static void json_bin(struct json_writer *w, const struct bin_info *bi)
{
	jw_obj_begin(w);
	if (bi->pid)
		jw_kv_int(w, "pid", bi->pid);
	jw_kv_str(w, "source", bi->source);
	jw_kv_str(w, "exe", bi->exe);
	if (bi->pid)
		jw_kv_str(w, "comm", bi->comm);
	jw_kv_bool(w, "kube_apiserver", bi->is_apiserver_name);
	jw_kv_bool(w, "go", bi->go);
	jw_key(w, "go_version");
	if (bi->go_version[0])
		jw_str(w, bi->go_version);
	else
		jw_null(w);
	if (bi->go) {
		jw_kv_bool(w, "stripped", bi->stripped);
		jw_kv_bool(w, "has_symtab", bi->has_symtab);
		jw_kv_bool(w, "has_dwarf", bi->has_dwarf);
		jw_kv_uint(w, "functions", bi->nfuncs);
	}
	jw_key(w, "error");
	if (bi->error[0])
		jw_str(w, bi->error);
	else
		jw_null(w);
	jw_kv_str(w, "status", doctor_status_str(bi->check.status));
	jw_kv_str(w, "detail", bi->check.detail);
	if (bi->plan) {
		jw_key(w, "plan");
		plan_json(bi->plan, w);
	}
	if (bi->b) {
		jw_kv_int(w, "probe_targets_resolved", bi->nresolved);
		jw_key(w, "probe_report");
		goelf_report_binary(w, NULL, bi->b);
	}
	jw_obj_end(w);
}

int cmd_doctor(int argc, char **argv)
{
	enum { OPT_PID = 256, OPT_BINARY, OPT_NO_MOUNT };
	static const struct option longopts[] = {
		CLI_COMMON_LONG,
		{ "pid", required_argument, NULL, OPT_PID },
		{ "binary", required_argument, NULL, OPT_BINARY },
		{ "no-mount", no_argument, NULL, OPT_NO_MOUNT },
		{ 0 },
	};
	struct doctor_check checks[16];
	static struct bpf_check bc;
	struct doctor_features f = { 0 };
	struct bin_info *bins = NULL;
	size_t nchecks = 0, nbins = 0;
	const char *binary = NULL;
	bool no_mount = false, can_run, targets_ok = true;
	long pid = 0;
	struct utsname u;
	int c, rc;

	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORT, longopts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(stdout); return 0;
		case OPT_PID:
			if (!cli_parse_long(optarg, 1, INT_MAX, &pid))
				return cli_usage_error("doctor", "--pid: '%s' is not a process id", optarg);
			break;
		case OPT_BINARY: binary = optarg; break;
		case OPT_NO_MOUNT: no_mount = true; break;
		default:
			if (!cli_common_opt(c))
				return cli_usage_error("doctor", "invalid option");
		}
	}
	if (optind < argc)
		return cli_usage_error("doctor", "unexpected argument '%s'", argv[optind]);

	libbpf_print_fn_t old_print = libbpf_set_print(quiet_libbpf);

	memset(checks, 0, sizeof(checks));
	if (uname(&u) != 0)
		memset(&u, 0, sizeof(u));
	doctor_check_privileges(&checks[nchecks++], &f);
	doctor_check_btf(&checks[nchecks++], &f);
	doctor_check_tracefs(&checks[nchecks++], &f, no_mount || !f.privileges);
	if (f.privileges) {
		doctor_check_ringbuf(&checks[nchecks++], &f);
		doctor_check_uprobe(&checks[nchecks++], &f);
		doctor_check_tracepoint(&checks[nchecks++], &f);
		doctor_check_raw_tp(&checks[nchecks++], &f);
		doctor_check_kprobe(&checks[nchecks++], &f);
		doctor_check_fentry(&checks[nchecks++], &f);
	} else {
		static const char *const names[] = { "ringbuf", "uprobe", "tracepoint", "raw_tp", "kprobe", "fentry" };

		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			setc(&checks[nchecks++], names[i], DOC_INFO, false, "not probed: loading BPF programs needs the "
									"privileges above");
	}
	doctor_check_sysctls(&checks[nchecks++]);
	bpf_check_open(&bc);
	if (f.privileges)
		bpf_check_probe(&bc, f.tracefs_path);
	bpf_check_fill(&bc, &checks[nchecks], &checks[nchecks + 1], f.privileges);
	nchecks += 2;
	if (!f.privileges)
		setc(&checks[nchecks++], "attach", DOC_INFO, false,
		     "with privileges, kapimon attaches uprobes at the Go functions' entry and RET instructions "
		     "and syscalls/sock/tcp tracepoints (kprobes and fentry are not used)");
	else
		setc(&checks[nchecks++], "attach", DOC_INFO, false,
		     "kapimon attaches %s%s; kprobes %s, fentry %s (neither is used)",
		     f.uprobe ? "uprobes at the Go functions' entry and RET instructions (never uretprobes: they break "
				"Go's moving stacks)"
			      : "(uprobes missing)",
		     f.tracepoint ? " and syscalls/sock/tcp tracepoints" : " (tracepoints missing)",
		     f.kprobe ? "available" : "absent", f.fentry ? "available" : "absent");
libbpf_set_print(old_print);

	/* processes and binaries */
	bins = calloc(MAX_PROCS + 2, sizeof(*bins));
	if (!bins) {
		p_err("doctor: out of memory");
		return 1;
	}
	if (pid) {
		inspect_pid(&bins[nbins], (pid_t)pid, "--pid", true);
		targets_ok &= !(bins[nbins].check.required && bins[nbins].check.status == DOC_MISSING);
		nbins++;
	} else if (!binary) {
		pid_t pids[MAX_PROCS];
		int n = doctor_find_procs("/proc", APISERVER_NAME, pids, MAX_PROCS);

		for (int i = 0; i < n && i < MAX_PROCS; i++)
			inspect_pid(&bins[nbins++], pids[i], "discovered", false);
	}
	if (binary) {
		struct bin_info *bi = &bins[nbins++];

		memset(bi, 0, sizeof(*bi));
		bi->source = "--binary";
		snprintf(bi->exe, sizeof(bi->exe), "%s", binary);
		bi->exists = access(binary, R_OK) == 0;
		bi->is_apiserver_name = doctor_exe_matches(binary, APISERVER_NAME);
		inspect_binary(bi, binary, true);
		targets_ok &= !(bi->check.required && bi->check.status == DOC_MISSING);
	}

	can_run = doctor_can_run(checks, nchecks);
	rc = can_run && targets_ok ? 0 : 1;

	if (g_opts.json) {
		struct json_writer w;

		jw_init(&w, stdout, g_opts.pretty);
		jw_obj_begin(&w);
		jw_kv_bool(&w, "can_run", can_run);
		jw_kv_bool(&w, "targets_ok", targets_ok);
		jw_key(&w, "kernel");
		jw_obj_begin(&w);
		jw_kv_str(&w, "release", u.release);
		jw_kv_str(&w, "machine", u.machine);
		{
			char fl[16];

			snprintf(fl, sizeof(fl), "%u.%u", bc.floor.major, bc.floor.minor);
			jw_kv_str(&w, "floor", fl);
			snprintf(fl, sizeof(fl), "%u.%u", bc.floor_all.major, bc.floor_all.minor);
			jw_kv_str(&w, "floor_with_optional_parts", fl);
			jw_key(&w, "floor_set_by");
			if (bc.floor_why)
				jw_str(&w, bc.floor_why->name);
			else
				jw_null(&w);
			jw_kv_bool(&w, "features_ok", bc.verdict.can_run && bc.verdict.nprobed > 0);
			jw_kv_str(&w, "verdict", bc.verdict.text);
		}
		jw_obj_end(&w);
		jw_key(&w, "features");
		jw_obj_begin(&w);
		jw_kv_bool(&w, "privileges", f.privileges);
		jw_kv_bool(&w, "btf", f.btf);
		jw_kv_bool(&w, "tracefs", f.tracefs);
		jw_kv_bool(&w, "tracefs_mounted_now", f.tracefs_mounted_now);
		jw_kv_bool(&w, "ringbuf", f.ringbuf);
		jw_kv_bool(&w, "uprobe", f.uprobe);
		jw_kv_bool(&w, "tracepoint", f.tracepoint);
		jw_kv_bool(&w, "raw_tp", f.raw_tp);
		jw_kv_bool(&w, "kprobe", f.kprobe);
		jw_kv_bool(&w, "fentry", f.fentry);
		jw_obj_end(&w);
		jw_key(&w, "uses");
		jw_arr_begin(&w);
		if (f.uprobe)
			jw_str(&w, "uprobe");
		if (f.tracepoint)
			jw_str(&w, "tracepoint");
		jw_arr_end(&w);
		json_needs(&w, &bc);
		jw_key(&w, "checks");
		jw_arr_begin(&w);
		for (size_t i = 0; i < nchecks; i++)
			json_check(&w, &checks[i]);
		jw_arr_end(&w);
		jw_key(&w, "processes");
		jw_arr_begin(&w);
		for (size_t i = 0; i < nbins; i++)
			if (bins[i].pid)
				json_bin(&w, &bins[i]);
		jw_arr_end(&w);
		jw_key(&w, "binaries");
		jw_arr_begin(&w);
		for (size_t i = 0; i < nbins; i++)
			if (!bins[i].pid)
				json_bin(&w, &bins[i]);
		jw_arr_end(&w);
		jw_obj_end(&w);
		fputc('\n', stdout);
	} else {
		printf("kapimon doctor: kernel %s (%s); kapimon's kernel floor: %u.%u (%u.%u with etcd and connection "
		       "tracking)\n", u.release, u.machine, bc.floor.major, bc.floor.minor, bc.floor_all.major,
		       bc.floor_all.minor);
		for (size_t i = 0; i < nchecks; i++)
			print_check_text(&checks[i]);
		print_needs_text(&bc);
		if (pid || binary) {
			printf("targets:\n");
		} else {
			printf("kube-apiserver processes (found by executable name):\n");
			if (!nbins)
				printf("  %-8s %-11s none running (use --pid PID or --binary PATH to inspect one)\n", "INFO",
				       "process");
		}
		for (size_t i = 0; i < nbins; i++)
			print_check_text(&bins[i].check);
		for (size_t i = 0; i < nbins; i++)
			if (bins[i].plan)
				print_plan_text(&bins[i]);
		for (size_t i = 0; i < nbins; i++)
			if (bins[i].b)
				print_report_text(&bins[i]);
		if (rc == 0)
			printf("result: kapimon can run here\n");
		else if (!can_run)
			printf("result: kapimon cannot run here: fix the [required] MISSING lines above\n");
		else
			printf("result: kapimon can run here, but not on the requested target (see targets)\n");
	}
	fflush(stdout);
	bpf_check_close(&bc);
	for (size_t i = 0; i < nbins; i++) {
		gobin_close(bins[i].b);
		free(bins[i].plan);
	}
	free(bins);
	return rc;
}
