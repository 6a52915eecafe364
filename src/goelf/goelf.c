// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Go binary introspection, the ELF part: open/close, PT_LOAD segments and sections via libelf, virtual
 * address -> file offset. The other jobs have a file each: build info (buildinfo.c), functions from
 * .gopclntab and .symtab (pclntab.c), probe sites (sites.c). Everything read from the file is
 * bounds-checked: a malformed or truncated binary gives an error string, never a crash.
 * See docs/go-introspection.md.
 */
#include <capstone/capstone.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "goelf/goelf.h"
#include "goelf/goelf_internal.h"

/* ------------------------------------------------------------------------------------------------ */
/* ELF layout                                                                                       */

const struct gobin_seg *goelf_seg_for_vaddr(const struct go_binary *b, uint64_t vaddr)
{
	for (size_t i = 0; i < b->nsegs; i++) {
		const struct gobin_seg *s = &b->segs[i];

		if (vaddr >= s->vaddr && vaddr - s->vaddr < s->filesz)
			return s;
	}
	return NULL;
}

bool gobin_vaddr_to_offset(const struct go_binary *b, uint64_t vaddr, uint64_t *off)
{
	const struct gobin_seg *s;

	if (!b)
		return false;
	s = goelf_seg_for_vaddr(b, vaddr);
	if (!s)
		return false;
	if (off)
		*off = s->off + (vaddr - s->vaddr);
	return true;
}

/* Pointer to len bytes at vaddr inside the file image (within one PT_LOAD's file bytes), or NULL. */
const unsigned char *gobin_ptr(const struct go_binary *b, uint64_t vaddr, uint64_t len)
{
	const struct gobin_seg *s;

	if (!b)
		return NULL;
	s = goelf_seg_for_vaddr(b, vaddr);
	if (!s || !in_bounds(vaddr - s->vaddr, len, s->filesz))
		return NULL;
	return b->img + s->off + (vaddr - s->vaddr);
}

bool gobin_read_vaddr(const struct go_binary *b, uint64_t vaddr, void *buf, size_t len)
{
	const unsigned char *p = gobin_ptr(b, vaddr, len);

	if (!p)
		return false;
	memcpy(buf, p, len);
	return true;
}

const struct gobin_sec *gobin_section(const struct go_binary *b, const char *name)
{
	if (!b)
		return NULL;
	for (size_t i = 0; i < b->nsecs; i++)
		if (b->secs[i].name && !strcmp(b->secs[i].name, name))
			return &b->secs[i];
	return NULL;
}

size_t gobin_sections(const struct go_binary *b, const struct gobin_sec **secs)
{
	if (secs)
		*secs = b ? b->secs : NULL;
	return b ? b->nsecs : 0;
}

size_t gobin_segments(const struct go_binary *b, const struct gobin_seg **segs)
{
	if (segs)
		*segs = b ? b->segs : NULL;
	return b ? b->nsegs : 0;
}

int goelf_load_elf(struct go_binary *b, char *err, size_t errlen)
{
	GElf_Ehdr eh;
	size_t phnum, shnum, shstrndx;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		seterr(err, errlen, "libelf: %s", elf_errmsg(-1));
		return -EINVAL;
	}
	if (b->size < EI_NIDENT || memcmp(b->img, ELFMAG, SELFMAG)) {
		seterr(err, errlen, "not an ELF file (bad magic)");
		return -ENOEXEC;
	}
	b->elf = elf_memory((char *)b->img, b->size);
	if (!b->elf || elf_kind(b->elf) != ELF_K_ELF || !gelf_getehdr(b->elf, &eh)) {
		seterr(err, errlen, "malformed ELF: %s", elf_errmsg(-1));
		return -ENOEXEC;
	}
	if (eh.e_ident[EI_DATA] != ELFDATA2LSB) {
		seterr(err, errlen, "big-endian ELF is not supported");
		return -ENOTSUP;
	}
	b->elfclass = eh.e_ident[EI_CLASS];
	b->machine = eh.e_machine;
	b->etype = eh.e_type;

	if (elf_getphdrnum(b->elf, &phnum)) {
		seterr(err, errlen, "malformed ELF program headers: %s", elf_errmsg(-1));
		return -ENOEXEC;
	}
	if (phnum > 4096) {
		seterr(err, errlen, "malformed ELF: %zu program headers", phnum);
		return -ENOEXEC;
	}
	b->segs = calloc(phnum ? phnum : 1, sizeof(*b->segs));
	if (!b->segs)
		return -ENOMEM;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(b->elf, (int)i, &ph)) {
			seterr(err, errlen, "malformed ELF program header %zu: %s", i, elf_errmsg(-1));
			return -ENOEXEC;
		}
		if (ph.p_type != PT_LOAD)
			continue;
		/* Clamp file bytes to what the file holds: a truncated file must not be read past its end. */
		uint64_t filesz = ph.p_filesz, off = ph.p_offset;
		if (off > b->size) {
			off = b->size; /* keeps img + off a valid (one-past-the-end) pointer */
			filesz = 0;
		} else if (filesz > b->size - off) {
			filesz = b->size - off;
		}
		b->segs[b->nsegs++] = (struct gobin_seg){ .vaddr = ph.p_vaddr, .memsz = ph.p_memsz,
							  .off = off, .filesz = filesz,
							  .flags = ph.p_flags };
	}

	if (elf_getshdrnum(b->elf, &shnum) || elf_getshdrstrndx(b->elf, &shstrndx)) {
		/* No usable section headers: fine, everything below has a segment-based fallback. */
		shnum = 0;
	}
	if (shnum > 65536) {
		seterr(err, errlen, "malformed ELF: %zu section headers", shnum);
		return -ENOEXEC;
	}
	b->secs = calloc(shnum ? shnum : 1, sizeof(*b->secs));
	if (!b->secs)
		return -ENOMEM;
	Elf_Scn *scn = NULL;
	while (shnum && (scn = elf_nextscn(b->elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (b->nsecs >= shnum || !gelf_getshdr(scn, &sh))
			break;
		name = elf_strptr(b->elf, shstrndx, sh.sh_name);
		struct gobin_sec *s = &b->secs[b->nsecs++];
		s->name = name ? name : "";
		s->addr = sh.sh_addr;
		s->off = sh.sh_offset;
		s->size = sh.sh_size;
		s->type = sh.sh_type;
		s->flags = sh.sh_flags;
		s->scn = scn;
		s->in_file = sh.sh_type != SHT_NOBITS && in_bounds(sh.sh_offset, sh.sh_size, b->size);
		if (sh.sh_type == SHT_SYMTAB && sh.sh_size)
			b->has_symtab = true;
		if (name && (!strcmp(name, ".debug_info") || !strcmp(name, ".zdebug_info")) && sh.sh_size)
			b->has_dwarf = true;
	}
	return 0;
}

/* ------------------------------------------------------------------------------------------------ */
/* open / close                                                                                     */

static int open_common(struct go_binary *b, unsigned flags, char *err, size_t errlen)
{
	int rc = goelf_load_elf(b, err, errlen);

	if (rc)
		return rc;
	if (!b->nsegs) {
		seterr(err, errlen, "ELF has no PT_LOAD segments");
		return -ENOEXEC;
	}
	goelf_load_buildinfo(b);
	rc = goelf_load_pclntab(b, flags, err, errlen);
	if (rc)
		return rc;
	rc = goelf_build_index(b);
	if (rc)
		return rc;
	if (b->has_symtab && !(flags & GOBIN_NO_SYMTAB)) {
		size_t before = b->nfuncs;

		goelf_load_symtab(b);
		if (b->nfuncs != before) {
			/* pclntab order is by entry already; keep funcs sorted by entry after merging */
			struct go_func *tmp = b->funcs;
			(void)tmp;
		}
	}
	/* Sort by entry (pclntab already is; symtab additions may not be) and rebuild parallel arrays. */
	if (b->nfuncs > b->npcln) {
		struct { struct go_func f; uint32_t l; uint8_t s; } *v = malloc(b->nfuncs * sizeof(*v));

		if (!v)
			return -ENOMEM;
		for (size_t i = 0; i < b->nfuncs; i++) {
			v[i].f = b->funcs[i];
			v[i].l = b->namelen[i];
			v[i].s = b->fromsym[i];
		}
		qsort(v, b->nfuncs, sizeof(*v), goelf_cmp_func_entry); /* go_func is the first member */
		for (size_t i = 0; i < b->nfuncs; i++) {
			b->funcs[i] = v[i].f;
			b->namelen[i] = v[i].l;
			b->fromsym[i] = v[i].s;
		}
		free(v);
		rc = goelf_build_index(b);
	}
	return rc;
}

int gobin_open_mem(const void *data, size_t len, unsigned flags, struct go_binary **out, char *err,
		   size_t errlen)
{
	struct go_binary *b;
	int rc;

	if (!out) {
		seterr(err, errlen, "gobin_open_mem: out is NULL");
		return -EINVAL;
	}
	*out = NULL;
	if (!data || !len) {
		seterr(err, errlen, "empty input");
		return -EINVAL;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->img = malloc(len);
	if (!b->img) {
		free(b);
		return -ENOMEM;
	}
	memcpy(b->img, data, len);
	b->size = len;
	b->path = strdup("(memory)");
	rc = open_common(b, flags, err, errlen);
	if (rc) {
		gobin_close(b);
		return rc;
	}
	*out = b;
	return 0;
}

int gobin_open_ex(const char *path, unsigned flags, struct go_binary **out, char *err, size_t errlen)
{
	struct go_binary *b;
	struct stat st;
	int fd, rc;
	void *m;

	if (!out) {
		seterr(err, errlen, "gobin_open: out is NULL");
		return -EINVAL;
	}
	*out = NULL;
	if (!path || !*path) {
		seterr(err, errlen, "no path given");
		return -EINVAL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		seterr(err, errlen, "%s: not a regular file", path);
		close(fd);
		return rc;
	}
	if (st.st_size < EI_NIDENT) {
		seterr(err, errlen, "%s: not an ELF file (%lld bytes)", path, (long long)st.st_size);
		close(fd);
		return -ENOEXEC;
	}
	/* Private writable mapping: libelf may touch the image; nothing is ever written to the file. */
	m = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		rc = -errno;
		seterr(err, errlen, "%s: mmap: %s", path, strerror(errno));
		return rc;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		munmap(m, st.st_size);
		return -ENOMEM;
	}
	b->img = m;
	b->size = st.st_size;
	b->mapped = true;
	b->path = strdup(path);
	rc = open_common(b, flags, err, errlen);
	if (rc) {
		/* prefix the path to the reason */
		if (err && errlen) {
			char tmp[512];
			snprintf(tmp, sizeof(tmp), "%s", err);
			seterr(err, errlen, "%s: %s", path, tmp);
		}
		gobin_close(b);
		return rc;
	}
	*out = b;
	return 0;
}

int gobin_open(const char *path, struct go_binary **out, char *err, size_t errlen)
{
	return gobin_open_ex(path, 0, out, err, errlen);
}

void gobin_close(struct go_binary *b)
{
	if (!b)
		return;
	if (b->cs_ready)
		cs_close(&b->cs);
	if (b->elf)
		elf_end(b->elf);
	if (b->mapped)
		munmap(b->img, b->size);
	else
		free(b->img);
	free(b->segs);
	free(b->secs);
	free(b->funcs);
	free(b->namelen);
	free(b->fromsym);
	free(b->hash);
	free(b->go_version);
	free(b->modinfo);
	free(b->modinfo_raw);
	free(b->mods);
	free(b->path);
	free(b);
}

/* ------------------------------------------------------------------------------------------------ */
/* accessors                                                                                        */

const char *gobin_path(const struct go_binary *b)
{
	return b ? b->path : NULL;
}











bool gobin_has_symtab(const struct go_binary *b)
{
	return b && b->has_symtab;
}

bool gobin_has_dwarf(const struct go_binary *b)
{
	return b && b->has_dwarf;
}

bool gobin_is_stripped(const struct go_binary *b)
{
	return !b || (!b->has_symtab && !b->has_dwarf);
}

Elf *gobin_elf(const struct go_binary *b)
{
	return b ? b->elf : NULL;
}
