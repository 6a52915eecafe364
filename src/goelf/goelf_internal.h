/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Private state of a struct go_binary (src/goelf only). */
#ifndef KAPIMON_GOELF_INTERNAL_H
#define KAPIMON_GOELF_INTERNAL_H

#include <capstone/capstone.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "goelf/goelf.h"

struct go_binary {
	char *path;
	unsigned char *img;
	size_t size;
	bool mapped;
	Elf *elf;
	int elfclass;
	uint16_t machine, etype;
	struct gobin_seg *segs;
	size_t nsegs;
	struct gobin_sec *secs;
	size_t nsecs;
	bool has_symtab, has_dwarf;

	/* build info */
	char *go_version;
	bool have_vnum;
	int vmaj, vmin, vpat;
	char *modinfo;     /* tokenised copy: strings below point into it */
	char *modinfo_raw; /* intact text */
	const char *main_path, *main_module, *goexperiment;
	struct go_module *mods;
	size_t nmods;
	const char *buildinfo_source;

	/* functions */
	struct go_func *funcs;
	uint32_t *namelen;
	uint8_t *fromsym;
	size_t nfuncs, capfuncs, npcln;
	uint32_t *hash; /* open addressing: index+1, 0 = empty */
	size_t hmask;
	uint32_t pcln_magic;
	uint64_t pcln_vaddr;
	unsigned pcln_ptrsize;
	const char *pcln_source, *text_source;

	/* capstone, opened on first use */
	csh cs;
	bool cs_ready;
};

/* ---- small helpers shared by the goelf files ---- */

static inline void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static inline uint64_t rd_le(const unsigned char *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* In-bounds check for [off, off+len) in a buffer of size sz, overflow-safe. */
static inline bool in_bounds(uint64_t off, uint64_t len, uint64_t sz)
{
	return off <= sz && len <= sz - off;
}

static inline char *xstrndup(const char *s, size_t n)
{
	char *r = malloc(n + 1);

	if (!r)
		return NULL;
	memcpy(r, s, n);
	r[n] = 0;
	return r;
}

/* ---- loaders run by gobin_open, one per file ---- */

/* goelf.c: PT_LOAD segments and sections; the segment holding a virtual address (NULL: none) */
int goelf_load_elf(struct go_binary *b, char *err, size_t errlen);
const struct gobin_seg *goelf_seg_for_vaddr(const struct go_binary *b, uint64_t vaddr);
/* buildinfo.c: Go version, modules (never fails: what is missing stays NULL) */
void goelf_load_buildinfo(struct go_binary *b);
/* pclntab.c: functions from .gopclntab, then .symtab additions, then the name index */
int goelf_load_pclntab(struct go_binary *b, unsigned flags, char *err, size_t errlen);
void goelf_load_symtab(struct go_binary *b);
int goelf_build_index(struct go_binary *b);
int goelf_cmp_func_entry(const void *a, const void *b);

#endif
