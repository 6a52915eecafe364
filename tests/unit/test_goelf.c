// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * goelf against Go programs built here with Debian's Go in several ways (default: symtab+DWARF;
 * -ldflags=-s -w: stripped; -gcflags=all=-N -l: unoptimised; module mode): pclntab vs `go tool nm`,
 * RET sites vs `objdump -d`, build info vs `go version -m`, DWARF offsets vs reflect, pclntab magic
 * search vs section, malformed inputs. Builds are cached under $KAPIMON_CACHE/goelf-test
 * (default /var/cache/kapimon, else build/). Fails clearly when Go is not installed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "goelf/goelf.h"
#include "goelf/offsets.h"

static const char go_src[] =
	"package main\n\n"
	"import (\n\t\"fmt\"\n\t\"net/http\"\n\t\"os\"\n\t\"reflect\"\n)\n\n"
	"//go:noinline\n"
	"func classify(n int) string {\n\tif n < 0 {\n\t\treturn \"neg\"\n\t}\n\tif n == 0 {\n\t\treturn \"zero\"\n\t}\n"
	"\tif n > 1000 {\n\t\treturn \"big\"\n\t}\n\treturn \"pos\"\n}\n\n"
	"func main() {\n"
	"\tif len(os.Args) > 1 && os.Args[1] == \"offsets\" {\n"
	"\t\tt := reflect.TypeOf(http.Request{})\n"
	"\t\tfor _, n := range []string{\"Method\", \"Header\", \"ContentLength\", \"RequestURI\", \"ProtoMajor\"} {\n"
	"\t\t\tf, _ := t.FieldByName(n)\n\t\t\tfmt.Println(n, f.Offset)\n\t\t}\n\t\treturn\n\t}\n"
	"\tfmt.Println(classify(len(os.Args)))\n"
	"\tsrv := &http.Server{Addr: \"127.0.0.1:0\"}\n"
	"\tif len(os.Args) > 5 {\n\t\t_ = srv.ListenAndServeTLS(\"a\", \"b\")\n\t}\n}\n";

enum { V_DEFAULT, V_STRIPPED, V_NOOPT, V_MODULE, V_N };
static const struct {
	const char *name, *flags;
	int module;
} variants[V_N] = {
	{ "default", "", 0 },
	{ "stripped", "-ldflags='-s -w'", 0 },
	{ "noopt", "-gcflags='all=-N -l'", 0 },
	{ "module", "", 1 },
};

static char dir[256];
static char bins[V_N][320];

static int run(const char *cmd)
{
	int rc = system(cmd);

	if (rc != 0)
		fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
	return rc;
}

static int write_if_changed(const char *path, const char *data)
{
	FILE *f = fopen(path, "r");
	char buf[8192];
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = 0;
		if (!strcmp(buf, data))
			return 0;
	}
	f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(data, f);
	fclose(f);
	return 1;
}

static int setup(void **state)
{
	const char *cache = getenv("KAPIMON_CACHE");
	char cmd[4096], p[400];
	struct stat st;

	if (system("command -v go >/dev/null 2>&1") != 0) {
		fprintf(stderr, "test_goelf: Go is not installed (apt-get install golang-go; .ci/run installs it)\n");
		return -1;
	}
	snprintf(dir, sizeof(dir), "%.200s/goelf-test", cache ? cache : "/var/cache/kapimon");
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/gopath/src/goelftest %s/mod 2>/dev/null", dir, dir);
	if (system(cmd) != 0 || access(dir, W_OK)) {
		snprintf(dir, sizeof(dir), "%.200s/build/goelf-test", getcwd(p, sizeof(p)) ? p : ".");
		snprintf(cmd, sizeof(cmd), "mkdir -p %s/gopath/src/goelftest %s/mod", dir, dir);
		if (run(cmd))
			return -1;
	}
	/* concurrent runs (make test in several trees) share the cache: one writes and builds at a time, so none
	 * reads a half-written binary; the lock is released when the process exits */
	snprintf(p, sizeof(p), "%s/.lock", dir);
	int lock = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lock < 0 || flock(lock, LOCK_EX)) {
		fprintf(stderr, "test_goelf: cannot lock %s\n", p);
		return -1;
	}
	snprintf(p, sizeof(p), "%s/gopath/src/goelftest/main.go", dir);
	int changed = write_if_changed(p, go_src);
	snprintf(p, sizeof(p), "%s/mod/main.go", dir);
	changed |= write_if_changed(p, go_src);
	snprintf(p, sizeof(p), "%s/mod/go.mod", dir);
	changed |= write_if_changed(p, "module example.com/goelftest\n\ngo 1.19\n");
	if (changed < 0)
		return -1;
	for (int v = 0; v < V_N; v++) {
		snprintf(bins[v], sizeof(bins[v]), "%s/bin-%s", dir, variants[v].name);
		if (!changed && stat(bins[v], &st) == 0)
			continue;
		if (variants[v].module)
			snprintf(cmd, sizeof(cmd),
				 "cd %s/mod && GOCACHE=%s/gocache GOFLAGS=-mod=mod GOPROXY=off GO111MODULE=on "
				 "go build %s -o %s . >&2",
				 dir, dir, variants[v].flags, bins[v]);
		else
			snprintf(cmd, sizeof(cmd),
				 "cd %s && GOCACHE=%s/gocache GOPATH=%s/gopath GO111MODULE=off GOFLAGS= "
				 "go build %s -o %s goelftest >&2",
				 dir, dir, dir, variants[v].flags, bins[v]);
		if (run(cmd))
			return -1;
	}
	return 0;
}

/* --- helpers ----------------------------------------------------------------------------------- */

struct sym {
	uint64_t addr;
	char *name;
};

static int cmp_sym(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Go 1.18+ pclntab writes bracketed parts of generated and generic names as "[...]"
 * ("type..eq.[...]T", "(*nistCurve[...]).Add") where the symtab has "[5]" or "[go.shape.*uint8_0]". */
static char *normalize(const char *in)
{
	char *o = malloc(strlen(in) + 8), *w = o;

	assert_non_null(o);
	while (*in) {
		if (*in == '[' && in[1] != ']') {
			const char *q = in;
			int depth = 0;
			do {
				depth += *q == '[';
				depth -= *q == ']';
				q++;
			} while (*q && depth);
			if (!depth) {
				memcpy(w, "[...]", 5);
				w += 5;
				in = q;
				continue;
			}
		}
		/* the symtab writes the middle dot of "dialResult·1" as '.' */
		if ((unsigned char)in[0] == 0xc2 && (unsigned char)in[1] == 0xb7) {
			*w++ = '.';
			in += 2;
			continue;
		}
		*w++ = *in++;
	}
	*w = 0;
	return o;
}

/* `go tool nm` text symbols (T/t); C objects linked by cgo go to *cobj (their addresses). */
static size_t go_nm(const char *bin, struct sym **out, struct sym **cobj, size_t *ncobj)
{
	char cmd[4096], line[4096];
	size_t n = 0, cap = 0, nc = 0;
	struct sym *v = NULL, *c = calloc(4096, sizeof(*c));
	FILE *f;

	assert_non_null(c);
	snprintf(cmd, sizeof(cmd), "go tool nm %s", bin);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *s = line, *e;
		unsigned long long a = strtoull(s, &e, 16);
		char t;

		if (e == s)
			continue;
		while (*e == ' ')
			e++;
		t = *e;
		if (t != 'T' && t != 't')
			continue;
		e++;
		while (*e == ' ')
			e++;
		e[strcspn(e, "\n")] = 0;
		/* Go 1.17+ symtab names assembly functions NAME.abi0; pclntab uses NAME */
		size_t el = strlen(e);
		if (el > 5 && !strcmp(e + el - 5, ".abi0"))
			e[el - 5] = 0;
		/* C objects linked in by cgo ("net(.text)", "runtime/cgo(.text.unlikely)") */
		if (strstr(e, "(.text") || !strchr(e, '.') || !strncmp(e, "_cgo_", 5) || !strncmp(e, "x_cgo_", 6)) {
			if (nc < 4096)
				c[nc++].addr = a;
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			v = realloc(v, cap * sizeof(*v));
			assert_non_null(v);
		}
		v[n].addr = a;
		v[n].name = normalize(e);
		n++;
	}
	assert_int_equal(pclose(f), 0);
	qsort(v, n, sizeof(*v), cmp_sym);
	*out = v;
	*cobj = c;
	*ncobj = nc;
	return n;
}

static void free_syms(struct sym *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

static struct go_binary *open_or_fail(const char *path, unsigned flags)
{
	struct go_binary *b = NULL;
	char err[512];
	int rc = gobin_open_ex(path, flags, &b, err, sizeof(err));

	if (rc)
		fail_msg("gobin_open %s: %s", path, err);
	return b;
}

static bool has_sym(const struct sym *v, size_t n, uint64_t addr, const char *name)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t m = (lo + hi) / 2;
		struct sym key = { addr, (char *)name };
		int c = cmp_sym(&v[m], &key);

		if (!c)
			return true;
		if (c < 0)
			lo = m + 1;
		else
			hi = m;
	}
	return false;
}

static bool has_addr(const struct sym *v, size_t n, uint64_t addr)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].addr == addr)
			return true;
	return false;
}

/* --- tests ------------------------------------------------------------------------------------- */

/* The pclntab view (name + entry of every function) of a build equals the text symbols `go tool nm`
 * lists for the unstripped build, both ways, ignoring only the C objects cgo links in. */
static void check_pclntab_vs_nm(int variant)
{
	struct sym *nm, *cobj, *pc;
	size_t ncobj, nnm = go_nm(bins[V_DEFAULT], &nm, &cobj, &ncobj);
	struct go_binary *b = open_or_fail(bins[variant], GOBIN_NO_SYMTAB);
	size_t n = gobin_func_count(b), npc = 0, missing_in_nm = 0, missing_in_pcln = 0;

	assert_true(nnm > 1000);
	assert_true(n > 1000);
	pc = calloc(n, sizeof(*pc));
	assert_non_null(pc);
	for (size_t i = 0; i < n; i++) {
		const struct go_func *f = gobin_func_at(b, i);

		assert_true(f->end > f->entry);
		if (has_addr(cobj, ncobj, f->entry))
			continue;
		pc[npc].addr = f->entry;
		pc[npc].name = normalize(f->name);
		npc++;
	}
	qsort(pc, npc, sizeof(*pc), cmp_sym);
	for (size_t i = 0; i < npc; i++) {
		if (!has_sym(nm, nnm, pc[i].addr, pc[i].name) && missing_in_nm++ < 5)
			fprintf(stderr, "pclntab %s@%#llx not in go tool nm\n", pc[i].name, (unsigned long long)pc[i].addr);
	}
	for (size_t i = 0; i < nnm; i++) {
		/* runtime.text/etext are address markers, not functions */
		if (!strcmp(nm[i].name, "runtime.text") || !strcmp(nm[i].name, "runtime.etext"))
			continue;
		if (!has_sym(pc, npc, nm[i].addr, nm[i].name) && missing_in_pcln++ < 5)
			fprintf(stderr, "nm %s@%#llx not in pclntab\n", nm[i].name, (unsigned long long)nm[i].addr);
	}
	fprintf(stderr, "%s: %zu pclntab functions, %zu go tool nm text symbols (+%zu cgo C objects)\n",
		variants[variant].name, npc, nnm, ncobj);
	assert_int_equal(missing_in_nm, 0);
	assert_int_equal(missing_in_pcln, 0);
	gobin_close(b);
	free_syms(nm, nnm);
	free_syms(pc, npc);
	free(cobj);
}

static void test_pclntab_default_vs_nm(void **s) { (void)s; check_pclntab_vs_nm(V_DEFAULT); }
static void test_pclntab_stripped_vs_nm(void **s) { (void)s; check_pclntab_vs_nm(V_STRIPPED); }

static void test_stripped_flags(void **s)
{
	struct go_binary *d = open_or_fail(bins[V_DEFAULT], 0), *st = open_or_fail(bins[V_STRIPPED], 0);

	(void)s;
	assert_true(gobin_has_symtab(d));
	assert_true(gobin_has_dwarf(d));
	assert_false(gobin_is_stripped(d));
	assert_false(gobin_has_symtab(st));
	assert_false(gobin_has_dwarf(st));
	assert_true(gobin_is_stripped(st));
	gobin_close(d);
	gobin_close(st);
}

/* objdump's RET addresses for fn. */
static size_t objdump_rets(const char *bin, const struct go_func *f, uint64_t *out, size_t max)
{
	char cmd[4096], line[1024];
	size_t n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "objdump -d --no-show-raw-insn --start-address=%#llx --stop-address=%#llx %s",
		 (unsigned long long)f->entry, (unsigned long long)f->end, bin);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		char *e, *ins;
		unsigned long long a = strtoull(line, &e, 16);

		if (e == line || *e != ':')
			continue;
		ins = e + 1;
		while (*ins == ' ' || *ins == '\t')
			ins++;
		if ((!strncmp(ins, "ret", 3) && (ins[3] == '\n' || ins[3] == ' ' || ins[3] == 'q')) && n < max)
			out[n++] = a;
	}
	assert_int_equal(pclose(p), 0);
	return n;
}

static void check_rets(int variant)
{
	static const char *fns[] = { "main.classify", "main.main", "net/http.(*conn).readRequest",
				     "net/http.(*response).finishRequest", "net/http.(*http2serverConn).processHeaders",
				     "crypto/tls.(*Conn).Read", "runtime.mallocgc", "fmt.Fprintln" };
	struct go_binary *b = open_or_fail(bins[variant], 0);
	int checked = 0;

	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		const struct go_func *f = gobin_find_func(b, fns[i]);
		uint64_t ours[256], theirs[256];
		int n;
		size_t m;

		if (!f) {
			/* main.main etc. always exist; http2 only when linked in */
			assert_true(strstr(fns[i], "http2") != NULL);
			continue;
		}
		n = gobin_ret_sites(b, f, ours, 256);
		m = objdump_rets(bins[variant], f, theirs, 256);
		assert_true(n >= 1);
		assert_int_equal((size_t)n, m);
		for (size_t k = 0; k < m; k++)
			assert_int_equal(ours[k], theirs[k]);
		checked++;
	}
	assert_true(checked >= 6);
	/* main.classify has 4 returns in the source; the optimised build may merge some, never to 0 */
	gobin_close(b);
}

static void test_rets_default(void **s) { (void)s; check_rets(V_DEFAULT); }
static void test_rets_stripped(void **s) { (void)s; check_rets(V_STRIPPED); }
static void test_rets_noopt(void **s) { (void)s; check_rets(V_NOOPT); }

static void test_vaddr_to_offset(void **s)
{
	struct go_binary *b = open_or_fail(bins[V_STRIPPED], 0);
	const struct go_func *f = gobin_find_func(b, "main.classify");
	uint64_t off;
	unsigned char a[16], c[16];
	FILE *fp;

	(void)s;
	assert_non_null(f);
	assert_true(gobin_vaddr_to_offset(b, f->entry, &off));
	assert_true(gobin_read_vaddr(b, f->entry, a, sizeof(a)));
	fp = fopen(bins[V_STRIPPED], "rb");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, (long)off, SEEK_SET), 0);
	assert_int_equal(fread(c, 1, sizeof(c), fp), sizeof(c));
	fclose(fp);
	assert_memory_equal(a, c, sizeof(a));
	assert_false(gobin_vaddr_to_offset(b, 0x10, &off));
	assert_false(gobin_read_vaddr(b, UINT64_MAX - 4, a, 8));
	gobin_close(b);
}

static void go_version_of(const char *bin, char *out, size_t len)
{
	char cmd[4096];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "go version %s", bin);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(out, (int)len, p));
	pclose(p);
}

static void test_buildinfo(void **s)
{
	char line[1024], cmd[1200];
	(void)s;

	for (int v = 0; v < V_N; v++) {
		struct go_binary *b = open_or_fail(bins[v], 0);
		const char *ver = gobin_go_version(b);
		int ma, mi, pa;

		go_version_of(bins[v], line, sizeof(line));
		assert_non_null(ver);
		/* "PATH: go1.19.8" */
		assert_non_null(strstr(line, ver));
		assert_true(gobin_go_version_num(b, &ma, &mi, &pa));
		assert_int_equal(ma, 1);
		assert_true(mi >= 16);
		if (variants[v].module) {
			assert_string_equal(gobin_main_module(b), "example.com/goelftest");
			assert_string_equal(gobin_main_path(b), "example.com/goelftest");
		} else {
			assert_string_equal(gobin_main_module(b), "");
			assert_int_equal(gobin_modules(b, NULL), 0);
		}
		gobin_close(b);
	}
	/* cross-check the main module line with go version -m */
	snprintf(cmd, sizeof(cmd), "go version -m %s | grep -q 'mod\texample.com/goelftest'", bins[V_MODULE]);
	assert_int_equal(system(cmd), 0);
}

static void test_pclntab_scan_equals_section(void **s)
{
	(void)s;
	for (int v = 0; v < V_N; v++) {
		struct go_binary *a = open_or_fail(bins[v], GOBIN_NO_SYMTAB);
		struct go_binary *b = open_or_fail(bins[v], GOBIN_NO_SYMTAB | GOBIN_FORCE_PCLNTAB_SCAN);
		struct gobin_pclntab_info ia, ib;

		gobin_pclntab_info(a, &ia);
		gobin_pclntab_info(b, &ib);
		assert_string_equal(ia.source, "section .gopclntab");
		assert_string_equal(ib.source, "magic search in data segments");
		assert_int_equal(ia.vaddr, ib.vaddr);
		assert_int_equal(gobin_func_count(a), gobin_func_count(b));
		for (size_t i = 0; i < gobin_func_count(a); i++) {
			assert_string_equal(gobin_func_at(a, i)->name, gobin_func_at(b, i)->name);
			assert_int_equal(gobin_func_at(a, i)->entry, gobin_func_at(b, i)->entry);
			assert_int_equal(gobin_func_at(a, i)->end, gobin_func_at(b, i)->end);
		}
		gobin_close(a);
		gobin_close(b);
	}
}

static void test_find_func(void **s)
{
	struct go_binary *b = open_or_fail(bins[V_STRIPPED], 0);
	const struct go_func *f;

	(void)s;
	f = gobin_find_func(b, "net/http.(*conn).readRequest");
	assert_non_null(f);
	assert_string_equal(f->name, "net/http.(*conn).readRequest");
	/* suffix at a path boundary: "http.(*conn).readRequest" is not preceded by '/' in the query's sense */
	f = gobin_find_func(b, "http.(*conn).readRequest");
	assert_non_null(f);
	assert_string_equal(f->name, "net/http.(*conn).readRequest");
	/* not at a path boundary */
	assert_null(gobin_find_func(b, "ttp.(*conn).readRequest"));
	assert_null(gobin_find_func(b, "no/such.func"));
	assert_null(gobin_find_func(b, ""));
	assert_null(gobin_find_func(b, NULL));
	gobin_close(b);
}

/* DWARF member offsets vs reflect (run the program: it prints reflect offsets of http.Request), and
 * the Go 1.19 table vs DWARF. */
static void test_offsets_dwarf_vs_reflect_and_table(void **s)
{
	struct go_binary *b = open_or_fail(bins[V_DEFAULT], 0);
	struct go_offsets dw, tb;
	char cmd[4096], name[64];
	unsigned long off;
	int seen = 0;
	FILE *p;
	int ma, mi, pa;

	(void)s;
	assert_int_equal(go_offsets_fill(b, 0, &dw), 0);
	assert_int_equal(dw.info[GOFF_H1].source, GOFF_DWARF);
	assert_int_equal(dw.info[GOFF_H2B].source, GOFF_DWARF);
	assert_int_equal(dw.info[GOFF_H1].known, dw.info[GOFF_H1].total);
	assert_int_equal(dw.info[GOFF_H2B].known, dw.info[GOFF_H2B].total);
	snprintf(cmd, sizeof(cmd), "%s offsets", bins[V_DEFAULT]);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fscanf(p, "%63s %lu", name, &off) == 2) {
		if (!strcmp(name, "Method"))
			assert_int_equal(dw.h1.request_method, off), seen++;
		else if (!strcmp(name, "Header"))
			assert_int_equal(dw.h1.request_header, off), seen++;
		else if (!strcmp(name, "ContentLength"))
			assert_int_equal(dw.h1.request_content_length, off), seen++;
		else if (!strcmp(name, "RequestURI"))
			assert_int_equal(dw.h1.request_request_uri, off), seen++;
		else if (!strcmp(name, "ProtoMajor"))
			assert_int_equal(dw.h1.request_proto_major, off), seen++;
	}
	pclose(p);
	assert_int_equal(seen, 5);

	assert_true(gobin_go_version_num(b, &ma, &mi, &pa));
	assert_int_equal(go_offsets_fill(b, GOFF_NO_DWARF, &tb), 0);
	if (mi == 19) {
		assert_int_equal(tb.info[GOFF_H1].source, GOFF_MEASURED);
		struct goff_field ft[16], fd[16];
		for (int g = GOFF_H2B; g <= GOFF_H1; g++) {
			size_t n = goff_fields(&tb, (enum goff_group)g, ft, 16);
			assert_int_equal(goff_fields(&dw, (enum goff_group)g, fd, 16), n);
			for (size_t k = 0; k < n; k++) {
				if (*ft[k].val != *fd[k].val)
					fail_msg("%s.%s: table %u, DWARF %u", goff_group_name((enum goff_group)g),
						 ft[k].name, *ft[k].val, *fd[k].val);
			}
		}
		assert_int_equal(tb.h1.map_kind, dw.h1.map_kind);
	} else {
		fprintf(stderr, "test_goelf: Go 1.%d here, the table has measured Go 1.19: table check skipped\n", mi);
	}
	/* a stripped twin takes the same values from the table */
	gobin_close(b);
	b = open_or_fail(bins[V_STRIPPED], 0);
	assert_int_equal(go_offsets_fill(b, 0, &tb), 0);
	assert_int_not_equal(tb.info[GOFF_H1].source, GOFF_DWARF);
	assert_non_null(tb.info[GOFF_H1].provenance);
	if (mi == 19)
		assert_int_equal(tb.h1.response_status, dw.h1.response_status);
	gobin_close(b);
}

/* --- malformed input ----------------------------------------------------------------------------- */

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *d;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	d = malloc(n);
	assert_non_null(d);
	assert_int_equal(fread(d, 1, n, f), (size_t)n);
	fclose(f);
	*len = n;
	return d;
}

static void exercise(struct go_binary *b)
{
	uint64_t r[8];

	for (size_t i = 0; i < gobin_func_count(b); i += 97)
		(void)gobin_ret_sites(b, gobin_func_at(b, i), r, 8);
	(void)gobin_find_func(b, "net/http.(*conn).readRequest");
}

static void test_malformed(void **s)
{
	size_t len;
	unsigned char *d = slurp(bins[V_STRIPPED], &len);
	struct go_binary *b;
	char err[256];
	int rc;

	(void)s;
	/* truncations: each either opens (and works) or fails with a message */
	size_t cuts[] = { 0, 1, 16, 63, 64, 200, 4096, len / 8, len / 4, len / 2, len - 1 };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		err[0] = 0;
		rc = gobin_open_mem(d, cuts[i], 0, &b, err, sizeof(err));
		if (rc) {
			assert_null(b);
			assert_true(err[0] != 0);
		} else {
			exercise(b);
			gobin_close(b);
		}
	}
	/* the empty and the header-only cases must fail */
	assert_true(gobin_open_mem(d, 0, 0, &b, err, sizeof(err)) < 0);
	assert_true(gobin_open_mem(d, 16, 0, &b, err, sizeof(err)) < 0);

	/* corrupt the pclntab magic in the section: the scan must not find a table either (only one copy) */
	struct go_binary *good = open_or_fail(bins[V_STRIPPED], 0);
	const struct gobin_sec *sec = gobin_section(good, ".gopclntab");
	assert_non_null(sec);
	unsigned char *bad = malloc(len);
	assert_non_null(bad);
	memcpy(bad, d, len);
	memset(bad + sec->off, 0x41, 4);
	rc = gobin_open_mem(bad, len, 0, &b, err, sizeof(err));
	assert_true(rc < 0);
	assert_non_null(strstr(err, "pclntab"));
	/* corrupt nfunc to huge */
	memcpy(bad, d, len);
	memset(bad + sec->off + 8, 0xff, 8);
	rc = gobin_open_mem(bad, len, 0, &b, err, sizeof(err));
	assert_true(rc < 0);
	/* random garbage over the function table */
	memcpy(bad, d, len);
	srand(1);
	for (size_t i = 0; i < 4096 && sec->off + 80 + i < len; i++)
		bad[sec->off + 80 + i] = (unsigned char)rand();
	rc = gobin_open_mem(bad, len, 0, &b, err, sizeof(err));
	if (!rc) {
		exercise(b);
		gobin_close(b);
	}
	/* corrupt program headers: offsets beyond the file */
	memcpy(bad, d, len);
	bad[0x20] = 0xff; bad[0x21] = 0xff; bad[0x22] = 0xff; bad[0x23] = 0x7f; /* e_phoff */
	rc = gobin_open_mem(bad, len, 0, &b, err, sizeof(err));
	assert_true(rc < 0);
	assert_true(err[0] != 0);
	free(bad);
	gobin_close(good);
	free(d);

	/* not ELF / not Go / not a file */
	assert_true(gobin_open_mem("hello world, not an ELF file at all", 35, 0, &b, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "not an ELF"));
	rc = gobin_open("/bin/sh", &b, err, sizeof(err));
	assert_true(rc < 0);
	assert_non_null(strstr(err, "pclntab"));
	assert_true(gobin_open("/nonexistent/kapimon", &b, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "No such file"));
	assert_true(gobin_open("/", &b, err, sizeof(err)) < 0);
	assert_true(gobin_open(NULL, &b, err, sizeof(err)) < 0);
	/* accessors tolerate NULL */
	assert_null(gobin_go_version(NULL));
	assert_int_equal(gobin_func_count(NULL), 0);
	assert_null(gobin_find_func(NULL, "x"));
	assert_true(gobin_ret_sites(NULL, NULL, NULL, 0) < 0);
	gobin_close(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pclntab_default_vs_nm),
		cmocka_unit_test(test_pclntab_stripped_vs_nm),
		cmocka_unit_test(test_stripped_flags),
		cmocka_unit_test(test_rets_default),
		cmocka_unit_test(test_rets_stripped),
		cmocka_unit_test(test_rets_noopt),
		cmocka_unit_test(test_vaddr_to_offset),
		cmocka_unit_test(test_buildinfo),
		cmocka_unit_test(test_pclntab_scan_equals_section),
		cmocka_unit_test(test_find_func),
		cmocka_unit_test(test_offsets_dwarf_vs_reflect_and_table),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
