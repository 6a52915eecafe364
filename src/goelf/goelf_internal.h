/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Private state of a struct go_binary (src/goelf only). */
#ifndef KAPIMON_GOELF_INTERNAL_H
#define KAPIMON_GOELF_INTERNAL_H

#include <capstone/capstone.h>
#include <libelf.h>

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

#endif
