/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Go binary introspection for stripped and unstripped ELF Go binaries: functions from .gopclntab
 * (and .symtab when present), Go/module versions from build info, RET sites via an x86-64
 * decoder, virtual address -> file offset. Pure C (libelf, capstone, libdw); no BPF, no Kubernetes.
 */
#ifndef KAPIMON_GOELF_H
#define KAPIMON_GOELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct go_binary;

struct go_func {
	const char *name; /* full symbol name, e.g. k8s.io/kubernetes/vendor/golang.org/x/net/http2.(*serverConn).processHeaders */
	uint64_t entry;   /* virtual address of the first instruction */
	uint64_t end;     /* virtual address one past the last byte */
};

struct go_module {
	const char *path;    /* e.g. golang.org/x/net */
	const char *version; /* e.g. v0.17.0 (after any => replacement) */
};

/* Open and index a binary. On failure returns a negative errno-style value and writes a
 * human-readable reason into err (never crashes on malformed input). */
int gobin_open(const char *path, struct go_binary **out, char *err, size_t errlen);
void gobin_close(struct go_binary *b);

/* "go1.19.8", or NULL when no build info was found. */
const char *gobin_go_version(const struct go_binary *b);
/* Parsed Go version, e.g. 1, 19, 8; false when unknown. */
bool gobin_go_version_num(const struct go_binary *b, int *major, int *minor, int *patch);
/* Main module path ("" in GOPATH builds), dependency modules (0 in GOPATH builds). */
const char *gobin_main_module(const struct go_binary *b);
size_t gobin_modules(const struct go_binary *b, const struct go_module **mods);
/* Version of the dependency whose path equals mod_path, or NULL. */
const char *gobin_module_version(const struct go_binary *b, const char *mod_path);

bool gobin_has_symtab(const struct go_binary *b);
bool gobin_has_dwarf(const struct go_binary *b);
/* stripped == no .symtab and no DWARF */
bool gobin_is_stripped(const struct go_binary *b);

size_t gobin_func_count(const struct go_binary *b);
const struct go_func *gobin_func_at(const struct go_binary *b, size_t i);
/* Exact name first, then suffix match at a path boundary: "golang.org/x/net/http2.(*serverConn).processHeaders"
 * matches "k8s.io/kubernetes/vendor/golang.org/x/net/http2.(*serverConn).processHeaders". NULL if none. */
const struct go_func *gobin_find_func(const struct go_binary *b, const char *name);

/* Virtual address -> file offset (for uprobes); false when not in a loaded PT_LOAD segment. */
bool gobin_vaddr_to_offset(const struct go_binary *b, uint64_t vaddr, uint64_t *off);

/* Virtual addresses of every RET instruction in fn (decoded with capstone, linear sweep from the
 * entry). Returns the number found (may exceed max: only max are stored), or negative on error. */
int gobin_ret_sites(const struct go_binary *b, const struct go_func *fn, uint64_t *vaddrs, size_t max);

/*
 * Where to put an "entry" uprobe cheaply. A uprobe on an instruction the kernel cannot emulate is
 * single-stepped out of line (measured here: ~16 us per hit); on a conditional jump it is emulated
 * (~0.9 us). Go functions with a frame start with their stack check, CMP SP, 16(R14) (after a LEA
 * for big frames) and JBE to morestack, which changes no register: the JBE sees exactly the entry's
 * arguments. Returns the JBE's address (*cheap = true) or the entry (false) when there is none.
 */
uint64_t gobin_entry_probe_vaddr(const struct go_binary *b, const struct go_func *fn, bool *cheap);
/* Addresses of the direct CALL instructions (E8 rel32) in caller whose target is callee_entry
 * (emulated by the kernel, so cheap to probe; the callee's arguments are in registers there).
 * Returns the number found (may exceed max) or negative errno. */
/* The function's frame size (SUB $n, SP after its stack check), or -ENOENT when the prologue is not the
 * standard one. At a CALL site in the function, SP + frame + 8 is the caller's SP at entry: its register
 * arguments' spill slots follow (Go's ABIInternal; the function spills there what lives across calls). */
int64_t gobin_frame_size(const struct go_binary *b, const struct go_func *fn);
int gobin_call_sites(const struct go_binary *b, const struct go_func *caller, uint64_t callee_entry,
		     uint64_t *vaddrs, size_t max);

/* Read len bytes at a virtual address from the file image; false if out of range. */
bool gobin_read_vaddr(const struct go_binary *b, uint64_t vaddr, void *buf, size_t len);

/* ---- Additions (issue 5): optional open flags, layout, provenance. ---- */

struct Elf;
struct Elf_Scn;

/* Open flags for gobin_open_ex / gobin_open_mem. */
#define GOBIN_NO_SYMTAB          0x1u /* functions from .gopclntab only (ignore .symtab) */
#define GOBIN_FORCE_PCLNTAB_SCAN 0x2u /* ignore the .gopclntab section header: find the table by magic */

int gobin_open_ex(const char *path, unsigned flags, struct go_binary **out, char *err, size_t errlen);
/* Same on a memory image (copied; the caller keeps ownership of data). Used by the fuzzer. */
int gobin_open_mem(const void *data, size_t len, unsigned flags, struct go_binary **out, char *err,
		   size_t errlen);

/* A PT_LOAD segment (filesz clamped to the file size) and a section header. */
struct gobin_seg {
	uint64_t vaddr, memsz, off, filesz;
	uint32_t flags; /* PF_R/PF_W/PF_X */
};
struct gobin_sec {
	const char *name;
	uint64_t addr, off, size, flags;
	uint32_t type;
	bool in_file; /* file bytes exist and lie inside the file */
	struct Elf_Scn *scn;
};
size_t gobin_segments(const struct go_binary *b, const struct gobin_seg **segs);
size_t gobin_sections(const struct go_binary *b, const struct gobin_sec **secs);
const struct gobin_sec *gobin_section(const struct go_binary *b, const char *name);
/* Pointer to len bytes of file image at vaddr (inside one PT_LOAD's file bytes), or NULL. */
const unsigned char *gobin_ptr(const struct go_binary *b, uint64_t vaddr, uint64_t len);
/* libelf handle (valid until gobin_close), e.g. for libdw. */
struct Elf *gobin_elf(const struct go_binary *b);
const char *gobin_path(const struct go_binary *b);

/* Main package path from build info ("" when unknown); raw modinfo text ("" in GOPATH builds);
 * GOEXPERIMENT build setting or NULL; where the build info came from (or "none"). */
const char *gobin_main_path(const struct go_binary *b);
const char *gobin_modinfo(const struct go_binary *b);
const char *gobin_goexperiment(const struct go_binary *b);
const char *gobin_buildinfo_source(const struct go_binary *b);

struct gobin_pclntab_info {
	uint32_t magic;          /* 0xfffffffb 1.2-1.15, 0xfffffffa 1.16-17, 0xfffffff0 1.18-19, 0xfffffff1 1.20+ */
	uint64_t vaddr;          /* where the table starts */
	unsigned ptrsize;
	size_t nfuncs;           /* functions from pclntab (gobin_func_count may add .symtab ones) */
	const char *source;      /* "section .gopclntab" or "magic search in data segments" */
	const char *text_source; /* where textStart came from (Go 1.18+): header, moduledata, .text */
};
void gobin_pclntab_info(const struct go_binary *b, struct gobin_pclntab_info *info);

/* Exact-name lookup only (hash). */
const struct go_func *gobin_find_exact(const struct go_binary *b, const char *name);
/* True when fn came from .symtab (not described by pclntab, e.g. cgo C code). */
bool gobin_func_from_symtab(const struct go_binary *b, const struct go_func *fn);

#endif
