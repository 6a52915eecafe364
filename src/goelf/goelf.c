// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Go binary introspection: ELF layout via libelf, Go/module versions from build info, functions from
 * .gopclntab (+ .symtab), RET sites via capstone. Everything read from the file is bounds-checked:
 * a malformed or truncated binary gives an error string, never a crash. See docs/go-introspection.md.
 */
#include <capstone/capstone.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "goelf/goelf.h"
#include "goelf/goelf_internal.h"

/* ------------------------------------------------------------------------------------------------ */
/* small helpers                                                                                    */

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static uint64_t rd_le(const unsigned char *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* In-bounds check for [off, off+len) in a buffer of size sz, overflow-safe. */
static bool in_bounds(uint64_t off, uint64_t len, uint64_t sz)
{
	return off <= sz && len <= sz - off;
}

static char *xstrndup(const char *s, size_t n)
{
	char *r = malloc(n + 1);

	if (!r)
		return NULL;
	memcpy(r, s, n);
	r[n] = 0;
	return r;
}

/* ------------------------------------------------------------------------------------------------ */
/* ELF layout                                                                                       */

static const struct gobin_seg *seg_for_vaddr(const struct go_binary *b, uint64_t vaddr)
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
	s = seg_for_vaddr(b, vaddr);
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
	s = seg_for_vaddr(b, vaddr);
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

static int load_elf(struct go_binary *b, char *err, size_t errlen)
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
/* build info                                                                                       */

static const unsigned char bi_magic[14] = "\xff Go buildinf:";
static const unsigned char modinfo_start[16] = { 0x30, 0x77, 0xaf, 0x0c, 0x92, 0x74, 0x08, 0x02,
						  0x41, 0xe1, 0xc1, 0x07, 0xe6, 0xd6, 0x18, 0xe6 };
static const unsigned char modinfo_end[16] = { 0xf9, 0x32, 0x43, 0x31, 0x86, 0x18, 0x20, 0x72,
						0x00, 0x82, 0x42, 0x10, 0x41, 0x16, 0xd8, 0xf2 };

#define MAX_BI_STRING (1u << 20)

/* Go string header {ptr, len} at vaddr -> malloc'd copy. */
static char *read_go_string(const struct go_binary *b, uint64_t hdr_vaddr, unsigned psz, size_t *lenp)
{
	const unsigned char *h = gobin_ptr(b, hdr_vaddr, 2 * psz);
	const unsigned char *d;
	uint64_t ptr, len;

	if (!h)
		return NULL;
	ptr = rd_le(h, psz);
	len = rd_le(h + psz, psz);
	if (len > MAX_BI_STRING)
		return NULL;
	d = gobin_ptr(b, ptr, len);
	if (!d)
		return NULL;
	if (lenp)
		*lenp = len;
	return xstrndup((const char *)d, len);
}

static bool read_uvarint(const unsigned char *p, size_t avail, uint64_t *v, size_t *used)
{
	uint64_t x = 0;

	for (size_t i = 0; i < avail && i < 10; i++) {
		x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80)) {
			*v = x;
			*used = i + 1;
			return true;
		}
	}
	return false;
}

/* Parse the 32-byte header at p (avail bytes until the end of the segment's file bytes). */
static bool parse_buildinfo_blob(struct go_binary *b, const unsigned char *p, size_t avail,
				 char **ver, char **mod, size_t *modlen)
{
	unsigned psz = p[14], flags = p[15];

	*ver = *mod = NULL;
	if (avail < 32)
		return false;
	if (flags & 0x2) { /* inline strings (Go 1.18+) */
		size_t pos = 32, used;
		uint64_t n;

		if (!read_uvarint(p + pos, avail - pos, &n, &used) || n > MAX_BI_STRING ||
		    !in_bounds(pos + used, n, avail))
			return false;
		*ver = xstrndup((const char *)p + pos + used, n);
		pos += used + n;
		if (read_uvarint(p + pos, avail - pos, &n, &used) && n <= MAX_BI_STRING &&
		    in_bounds(pos + used, n, avail)) {
			*mod = xstrndup((const char *)p + pos + used, n);
			*modlen = n;
		}
		return *ver != NULL;
	}
	if (flags & 0x1) /* big-endian pointers */
		return false;
	if (psz != 4 && psz != 8)
		return false;
	*ver = read_go_string(b, rd_le(p + 16, psz), psz, NULL);
	*mod = read_go_string(b, rd_le(p + 16 + psz, psz), psz, modlen);
	return *ver != NULL;
}

/* Search [p, p+len) for the build info magic at 16-byte aligned vaddrs (as debug/buildinfo does). */
static bool scan_buildinfo(struct go_binary *b, uint64_t vaddr, const unsigned char *p, uint64_t len,
			   char **ver, char **mod, size_t *modlen)
{
	uint64_t start = (16 - (vaddr & 15)) & 15;

	for (uint64_t i = start; i + 32 <= len; i += 16) {
		if (p[i] != 0xff || memcmp(p + i, bi_magic, sizeof(bi_magic)))
			continue;
		if (parse_buildinfo_blob(b, p + i, len - i, ver, mod, modlen))
			return true;
		free(*ver);
		free(*mod);
		*ver = *mod = NULL;
	}
	return false;
}

static bool is_version_char(unsigned char c)
{
	return (c >= '0' && c <= '9') || c == '.';
}

/*
 * Go 1.26 binaries may carry no "\xff Go buildinf:" blob. Fall back to runtime.buildVersion: a
 * "go1.N[.P]" string in a read-only segment whose string header {ptr, len} is stored in a writable
 * segment. Requiring the header makes random "go1." text in rodata not match.
 */
static char *scan_build_version(struct go_binary *b)
{
	enum { MAXC = 64 };
	uint64_t cva[MAXC], clen[MAXC];
	size_t nc = 0;
	unsigned psz = b->elfclass == ELFCLASS32 ? 4 : 8;

	for (size_t i = 0; i < b->nsegs && nc < MAXC; i++) {
		const struct gobin_seg *s = &b->segs[i];
		const unsigned char *base = b->img + s->off, *p = base, *end = base + s->filesz;

		if (s->flags & (PF_W | PF_X))
			continue;
		while (nc < MAXC && (p = memmem(p, end - p, "go1.", 4))) {
			const unsigned char *q = p + 4;

			while (q < end && is_version_char(*q) && q - p < 24)
				q++;
			if (q > p + 4 && (p == base || !is_version_char(p[-1])) && q[-1] != '.') {
				cva[nc] = s->vaddr + (p - base);
				clen[nc] = q - p;
				nc++;
			}
			p += 4;
		}
	}
	if (!nc)
		return NULL;
	for (size_t i = 0; i < b->nsegs; i++) {
		const struct gobin_seg *s = &b->segs[i];
		const unsigned char *base = b->img + s->off;

		if (!(s->flags & PF_W))
			continue;
		for (uint64_t o = (psz - (s->vaddr % psz)) % psz; o + 2 * psz <= s->filesz; o += psz) {
			uint64_t w = rd_le(base + o, psz);

			for (size_t c = 0; c < nc; c++) {
				if (w == cva[c] && rd_le(base + o + psz, psz) == clen[c]) {
					const unsigned char *d = gobin_ptr(b, cva[c], clen[c]);
					return d ? xstrndup((const char *)d, clen[c]) : NULL;
				}
			}
		}
	}
	return NULL;
}

/* Modinfo by its sentinels anywhere in the loaded file bytes (runtime.modinfo). */
static char *scan_modinfo(struct go_binary *b, size_t *lenp)
{
	for (size_t i = 0; i < b->nsegs; i++) {
		const struct gobin_seg *s = &b->segs[i];
		const unsigned char *base = b->img + s->off, *p = base, *end = base + s->filesz;

		if (s->flags & PF_X)
			continue;
		while ((p = memmem(p, end - p, modinfo_start, sizeof(modinfo_start)))) {
			const unsigned char *body = p + 16;
			size_t maxlen = end - body < MAX_BI_STRING ? (size_t)(end - body) : MAX_BI_STRING;
			const unsigned char *e = memmem(body, maxlen, modinfo_end, sizeof(modinfo_end));

			if (e && (e - body >= 5) && (!memcmp(body, "path\t", 5) || !memcmp(body, "go\t", 3))) {
				*lenp = (size_t)(e - body) + 32;
				/* return with sentinels, like runtime.modinfo, for the common strip below */
				return xstrndup((const char *)p, *lenp);
			}
			p += 16;
		}
	}
	return NULL;
}

static bool parse_go_version(const char *v, int *maj, int *min, int *pat)
{
	int a = 0, c = 0, n = 0;
	char *e;
	long x;

	if (!v || strncmp(v, "go", 2))
		return false;
	v += 2;
	x = strtol(v, &e, 10);
	if (e == v || *e != '.' || x < 0 || x > 1000)
		return false;
	a = (int)x;
	v = e + 1;
	x = strtol(v, &e, 10);
	if (e == v || x < 0 || x > 1000)
		return false;
	n = (int)x;
	if (*e == '.') {
		v = e + 1;
		x = strtol(v, &e, 10);
		if (e != v && x >= 0 && x < 100000)
			c = (int)x;
	}
	*maj = a;
	*min = n;
	*pat = c;
	return true;
}

static void parse_modinfo(struct go_binary *b)
{
	char *m = b->modinfo, *line, *save = NULL;
	size_t cap = 0;

	if (!m)
		return;
	for (line = strtok_r(m, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[4] = { 0 };
		int nf = 0;
		char *p = line;

		while (nf < 4) {
			f[nf++] = p;
			p = strchr(p, '\t');
			if (!p)
				break;
			*p++ = 0;
		}
		if (!strcmp(f[0], "path") && nf >= 2) {
			if (!b->main_path)
				b->main_path = f[1];
		} else if (!strcmp(f[0], "mod") && nf >= 2) {
			b->main_module = f[1];
		} else if (!strcmp(f[0], "dep") && nf >= 3) {
			if (b->nmods == cap) {
				size_t nc = cap ? cap * 2 : 32;
				struct go_module *nm = realloc(b->mods, nc * sizeof(*nm));

				if (!nm)
					return;
				b->mods = nm;
				cap = nc;
			}
			b->mods[b->nmods++] = (struct go_module){ .path = f[1], .version = f[2] };
		} else if (!strcmp(f[0], "=>") && nf >= 3 && b->nmods) {
			/* replacement of the previous dep: report the version actually built */
			b->mods[b->nmods - 1].version = f[2];
		} else if (!strcmp(f[0], "build") && nf >= 2) {
			if (!strncmp(f[1], "GOEXPERIMENT=", 13))
				b->goexperiment = f[1] + 13;
		}
	}
}

static void load_buildinfo(struct go_binary *b)
{
	char *ver = NULL, *mod = NULL;
	size_t modlen = 0;
	const struct gobin_sec *s = gobin_section(b, ".go.buildinfo");

	if (s && s->in_file &&
	    scan_buildinfo(b, s->addr, b->img + s->off, s->size, &ver, &mod, &modlen)) {
		b->buildinfo_source = "section .go.buildinfo";
	} else {
		for (size_t i = 0; i < b->nsegs && !ver; i++) {
			const struct gobin_seg *g = &b->segs[i];

			if ((g->flags & (PF_W | PF_X)) != PF_W)
				continue;
			if (scan_buildinfo(b, g->vaddr, b->img + g->off, g->filesz, &ver, &mod, &modlen))
				b->buildinfo_source = "build info magic in writable segment";
		}
	}
	if (!ver) {
		ver = scan_build_version(b);
		if (ver)
			b->buildinfo_source = "runtime.buildVersion string (no build info blob)";
	}
	if (!mod || modlen < 33) {
		free(mod);
		mod = scan_modinfo(b, &modlen);
	}
	/* Strip the 16-byte sentinels (debug/buildinfo: len >= 33 && mod[len-17] == '\n'). */
	if (mod && modlen >= 33 && mod[modlen - 17] == '\n') {
		memmove(mod, mod + 16, modlen - 32);
		mod[modlen - 32] = 0;
	} else if (mod) {
		mod[0] = 0; /* GOPATH build: empty modinfo */
	}
	b->go_version = ver;
	if (ver)
		b->have_vnum = parse_go_version(ver, &b->vmaj, &b->vmin, &b->vpat);
	b->modinfo_raw = mod ? strdup(mod) : NULL;
	b->modinfo = mod;
	parse_modinfo(b);
}

/* ------------------------------------------------------------------------------------------------ */
/* pclntab                                                                                          */

static int add_func(struct go_binary *b, const char *name, uint32_t nlen, uint64_t entry, uint64_t end,
		    bool from_symtab)
{
	if (b->nfuncs == b->capfuncs) {
		size_t nc = b->capfuncs ? b->capfuncs * 2 : 1024;
		struct go_func *nf = realloc(b->funcs, nc * sizeof(*nf));
		uint32_t *nl;

		if (!nf)
			return -ENOMEM;
		b->funcs = nf;
		nl = realloc(b->namelen, nc * sizeof(*nl));
		if (!nl)
			return -ENOMEM;
		b->namelen = nl;
		uint8_t *ns = realloc(b->fromsym, nc);
		if (!ns)
			return -ENOMEM;
		b->fromsym = ns;
		b->capfuncs = nc;
	}
	b->funcs[b->nfuncs] = (struct go_func){ .name = name, .entry = entry, .end = end };
	b->namelen[b->nfuncs] = nlen;
	b->fromsym[b->nfuncs] = from_symtab;
	b->nfuncs++;
	return 0;
}

/* NUL-terminated name at tab[off] with the NUL inside tab[0, tablen). */
static const char *name_at(const unsigned char *tab, uint64_t tablen, uint64_t off, uint32_t *len)
{
	const unsigned char *nul;

	if (off >= tablen)
		return NULL;
	nul = memchr(tab + off, 0, tablen - off);
	if (!nul || nul - (tab + off) > 65535)
		return NULL;
	*len = (uint32_t)(nul - (tab + off));
	return (const char *)tab + off;
}

/*
 * moduledata (runtime.firstmoduledata) starts with pcHeader pointer then funcnametab slice; minpc is
 * word 20 for Go 1.16+ (pcHeader, 6 slices of 3 words, findfunctab, minpc). Used when the pclntab
 * header's textStart is 0 (Go 1.26) and to locate the pclntab without section headers.
 */
static bool find_moduledata_minpc(struct go_binary *b, uint64_t pcln_va, uint64_t nameoff, unsigned psz,
				  uint64_t *minpc, uint64_t *maxpc)
{
	for (size_t i = 0; i < b->nsegs; i++) {
		const struct gobin_seg *s = &b->segs[i];
		const unsigned char *base = b->img + s->off;

		if (!(s->flags & PF_W))
			continue;
		for (uint64_t o = (psz - (s->vaddr % psz)) % psz; o + 22 * psz <= s->filesz; o += psz) {
			if (rd_le(base + o, psz) != pcln_va || rd_le(base + o + psz, psz) != pcln_va + nameoff)
				continue;
			*minpc = rd_le(base + o + 20 * psz, psz);
			*maxpc = rd_le(base + o + 21 * psz, psz);
			return true;
		}
	}
	return false;
}

static bool exec_vaddr(const struct go_binary *b, uint64_t va)
{
	const struct gobin_seg *s = seg_for_vaddr(b, va);

	return s && (s->flags & PF_X);
}

/*
 * Parse a pclntab at tab (len bytes available) located at vaddr tab_va. Returns 0 and fills funcs,
 * or a negative error with reason. Validation is strict enough that a magic-search false positive
 * fails here.
 */
static int parse_pclntab(struct go_binary *b, const unsigned char *tab, uint64_t len, uint64_t tab_va,
			 char *err, size_t errlen)
{
	uint32_t magic;
	unsigned psz, quantum;
	uint64_t nfunc, nameoff = 0, pclnoff = 0, text = 0;
	const unsigned char *ftab;
	uint64_t ftablen, fesz;
	int ver;

	if (len < 16) {
		seterr(err, errlen, "pclntab truncated (%llu bytes)", (unsigned long long)len);
		return -EINVAL;
	}
	magic = (uint32_t)rd_le(tab, 4);
	quantum = tab[6];
	psz = tab[7];
	switch (magic) {
	case 0xfffffffb: ver = 12; break;
	case 0xfffffffa: ver = 116; break;
	case 0xfffffff0: ver = 118; break;
	case 0xfffffff1: ver = 120; break;
	default:
		seterr(err, errlen, "unknown pclntab magic 0x%08x", magic);
		return -ENOTSUP;
	}
	if (tab[4] || tab[5] || (quantum != 1 && quantum != 2 && quantum != 4) || (psz != 4 && psz != 8)) {
		seterr(err, errlen, "bad pclntab header (pad %u %u, quantum %u, ptrsize %u)", tab[4], tab[5],
		       quantum, psz);
		return -EINVAL;
	}
	if (!in_bounds(8, 8 * (uint64_t)psz, len)) {
		seterr(err, errlen, "pclntab header truncated");
		return -EINVAL;
	}
	nfunc = rd_le(tab + 8, psz);
	if (ver == 12) {
		ftab = tab + 8 + psz;
		ftablen = len - (8 + psz);
		fesz = 2 * psz;
	} else {
		unsigned h = ver >= 118 ? 1 : 0; /* textStart word */
		if (h)
			text = rd_le(tab + 8 + 2 * psz, psz);
		nameoff = rd_le(tab + 8 + (2 + h) * psz, psz);
		pclnoff = rd_le(tab + 8 + (6 + h) * psz, psz);
		if (nameoff >= len || pclnoff >= len) {
			seterr(err, errlen, "pclntab offsets out of range (funcname 0x%llx, pcln 0x%llx, size 0x%llx)",
			       (unsigned long long)nameoff, (unsigned long long)pclnoff, (unsigned long long)len);
			return -EINVAL;
		}
		ftab = tab + pclnoff;
		ftablen = len - pclnoff;
		fesz = ver >= 118 ? 8 : 2 * psz;
	}
	if (nfunc == 0 || nfunc > ftablen / fesz || !in_bounds(0, (nfunc + 1) * fesz, ftablen)) {
		seterr(err, errlen, "pclntab function table does not fit (nfunc %llu)", (unsigned long long)nfunc);
		return -EINVAL;
	}
	if (ver >= 118 && text == 0) {
		/* Go 1.26 leaves textStart 0 (the runtime fills it in): take it from moduledata. */
		uint64_t minpc, maxpc, e0 = rd_le(ftab, 4), en = rd_le(ftab + nfunc * 8, 4);

		if (find_moduledata_minpc(b, tab_va, nameoff, psz, &minpc, &maxpc) && minpc >= e0 &&
		    maxpc - (minpc - e0) == en) {
			text = minpc - e0;
			b->text_source = "runtime.firstmoduledata.minpc";
		} else {
			const struct gobin_sec *ts = gobin_section(b, ".text");

			if (!ts) {
				seterr(err, errlen, "pclntab textStart is 0 and neither moduledata nor .text found");
				return -EINVAL;
			}
			text = ts->addr;
			b->text_source = "section .text";
		}
	} else if (ver >= 118) {
		b->text_source = "pclntab header";
	}

	b->pcln_magic = magic;
	b->pcln_vaddr = tab_va;
	b->pcln_ptrsize = psz;
	for (uint64_t i = 0; i < nfunc; i++) {
		const unsigned char *e = ftab + i * fesz;
		uint64_t entry, next, funcoff, nmoff;
		const unsigned char *fn;
		const char *name;
		uint32_t nl;

		if (ver >= 118) {
			entry = text + rd_le(e, 4);
			next = text + rd_le(e + 8, 4);
			funcoff = rd_le(e + 4, 4);
		} else {
			entry = rd_le(e, psz);
			next = rd_le(e + fesz, psz);
			funcoff = rd_le(e + psz, psz);
		}
		if (next < entry) {
			seterr(err, errlen, "pclntab function table not sorted at %llu", (unsigned long long)i);
			return -EINVAL;
		}
		/* _func: entry(off) then nameoff int32 */
		if (ver == 12) {
			if (!in_bounds(funcoff, psz + 4, len))
				goto badfunc;
			fn = tab + funcoff;
			nmoff = (uint32_t)rd_le(fn + psz, 4);
			name = name_at(tab, len, nmoff, &nl);
		} else {
			unsigned eo = ver >= 118 ? 4 : psz;

			if (!in_bounds(funcoff, eo + 4, ftablen))
				goto badfunc;
			fn = ftab + funcoff;
			nmoff = (uint32_t)rd_le(fn + eo, 4);
			name = name_at(tab + nameoff, len - nameoff, nmoff, &nl);
		}
		if (!name)
			goto badfunc;
		if (add_func(b, name, nl, entry, next, false))
			return -ENOMEM;
		continue;
badfunc:
		seterr(err, errlen, "pclntab entry %llu points outside the table", (unsigned long long)i);
		return -EINVAL;
	}
	/* Sanity: the first function must be in an executable segment (catches false positives). */
	if (b->nfuncs && !exec_vaddr(b, b->funcs[0].entry)) {
		seterr(err, errlen, "pclntab functions are not in an executable segment (entry 0x%llx)",
		       (unsigned long long)b->funcs[0].entry);
		return -EINVAL;
	}
	b->npcln = b->nfuncs;
	return 0;
}

static void reset_funcs(struct go_binary *b)
{
	b->nfuncs = 0;
	b->npcln = 0;
}

static int load_pclntab(struct go_binary *b, unsigned flags, char *err, size_t errlen)
{
	const struct gobin_sec *s = (flags & GOBIN_FORCE_PCLNTAB_SCAN) ? NULL : gobin_section(b, ".gopclntab");
	char why[256] = "";
	int rc;

	if (s && s->in_file) {
		rc = parse_pclntab(b, b->img + s->off, s->size, s->addr, why, sizeof(why));
		if (!rc) {
			b->pcln_source = "section .gopclntab";
			return 0;
		}
		reset_funcs(b);
	}
	/* No (usable) section: search read-only/data segments for the magic at 4-byte alignment, the way
	 * tools that handle stripped/PIE Go binaries (and runtime.firstmoduledata.pcHeader) find it. */
	static const uint32_t magics[] = { 0xfffffff1, 0xfffffff0, 0xfffffffa, 0xfffffffb };
	for (size_t i = 0; i < b->nsegs; i++) {
		const struct gobin_seg *g = &b->segs[i];
		const unsigned char *base = b->img + g->off;

		if (g->flags & PF_X)
			continue;
		for (uint64_t o = (4 - (g->vaddr & 3)) & 3; o + 16 <= g->filesz; o += 4) {
			const unsigned char *p = base + o;
			uint32_t m;

			if (p[1] != 0xff || p[2] != 0xff || p[3] != 0xff || p[4] || p[5])
				continue;
			m = (uint32_t)rd_le(p, 4);
			bool known = false;
			for (size_t k = 0; k < sizeof(magics) / sizeof(magics[0]); k++)
				known |= m == magics[k];
			if (!known || (p[7] != 4 && p[7] != 8))
				continue;
			char e2[256];
			if (!parse_pclntab(b, p, g->filesz - o, g->vaddr + o, e2, sizeof(e2))) {
				b->pcln_source = "magic search in data segments";
				return 0;
			}
			reset_funcs(b);
			if (!why[0])
				snprintf(why, sizeof(why), "%s", e2);
		}
	}
	if (why[0])
		seterr(err, errlen, "no usable Go pclntab: %s", why);
	else
		seterr(err, errlen, "no Go pclntab found (not a Go binary?)");
	return -ENOEXEC;
}

static void load_symtab(struct go_binary *b)
{
	for (size_t i = 0; i < b->nsecs; i++) {
		const struct gobin_sec *s = &b->secs[i];
		Elf_Data *d;
		GElf_Shdr sh;

		if (s->type != SHT_SYMTAB || !s->in_file || !gelf_getshdr(s->scn, &sh))
			continue;
		d = elf_getdata(s->scn, NULL);
		if (!d || !sh.sh_entsize)
			continue;
		size_t n = d->d_size / sh.sh_entsize;
		for (size_t k = 0; k < n; k++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(d, (int)k, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC || !sym.st_value)
				continue;
			name = elf_strptr(b->elf, sh.sh_link, sym.st_name);
			if (!name || !*name || gobin_find_exact(b, name))
				continue;
			size_t nl = strlen(name);
			if (nl > 65535)
				continue;
			/* Only symbols pclntab does not describe (cgo/C code): insert after the index is built. */
			if (add_func(b, name, (uint32_t)nl, sym.st_value, sym.st_value + sym.st_size, true))
				return;
		}
	}
}

/* ------------------------------------------------------------------------------------------------ */
/* index                                                                                            */

static uint64_t hash_name(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

static int cmp_func_entry(const void *a, const void *b)
{
	const struct go_func *x = a, *y = b;

	if (x->entry != y->entry)
		return x->entry < y->entry ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int build_index(struct go_binary *b)
{
	size_t sz = 16;

	free(b->hash);
	b->hash = NULL;
	while (sz < b->nfuncs * 2)
		sz <<= 1;
	b->hash = calloc(sz, sizeof(*b->hash));
	if (!b->hash)
		return -ENOMEM;
	b->hmask = sz - 1;
	for (size_t i = 0; i < b->nfuncs; i++) {
		size_t h = hash_name(b->funcs[i].name, b->namelen[i]) & b->hmask;

		while (b->hash[h]) {
			const struct go_func *o = &b->funcs[b->hash[h] - 1];

			if (!strcmp(o->name, b->funcs[i].name))
				goto next; /* keep the first */
			h = (h + 1) & b->hmask;
		}
		b->hash[h] = (uint32_t)(i + 1);
next:;
	}
	return 0;
}

const struct go_func *gobin_find_exact(const struct go_binary *b, const char *name)
{
	size_t n, h;

	if (!b || !name || !b->hash)
		return NULL;
	n = strlen(name);
	h = hash_name(name, n) & b->hmask;
	while (b->hash[h]) {
		const struct go_func *f = &b->funcs[b->hash[h] - 1];

		if (b->namelen[b->hash[h] - 1] == n && !memcmp(f->name, name, n))
			return f;
		h = (h + 1) & b->hmask;
	}
	return NULL;
}

const struct go_func *gobin_find_func(const struct go_binary *b, const char *name)
{
	const struct go_func *f, *best = NULL;
	size_t n, bestlen = SIZE_MAX;

	if (!b || !name || !*name)
		return NULL;
	f = gobin_find_exact(b, name);
	if (f)
		return f;
	n = strlen(name);
	for (size_t i = 0; i < b->nfuncs; i++) {
		size_t l = b->namelen[i];
		const char *s = b->funcs[i].name;

		if (l <= n || s[l - n - 1] != '/' || memcmp(s + l - n, name, n))
			continue;
		/* Prefer an application copy over Go's own std "vendor/..." copy, then the shortest name. */
		bool stdv = !strncmp(s, "vendor/", 7);
		size_t rank = l + (stdv ? 1u << 20 : 0);
		if (rank < bestlen) {
			bestlen = rank;
			best = &b->funcs[i];
		}
	}
	return best;
}

size_t gobin_func_count(const struct go_binary *b)
{
	return b ? b->nfuncs : 0;
}

const struct go_func *gobin_func_at(const struct go_binary *b, size_t i)
{
	return b && i < b->nfuncs ? &b->funcs[i] : NULL;
}

bool gobin_func_from_symtab(const struct go_binary *b, const struct go_func *fn)
{
	if (!b || !fn || fn < b->funcs || fn >= b->funcs + b->nfuncs)
		return false;
	return b->fromsym[fn - b->funcs];
}

/* ------------------------------------------------------------------------------------------------ */
/* RET sites                                                                                        */

int gobin_ret_sites(const struct go_binary *b, const struct go_func *fn, uint64_t *vaddrs, size_t max)
{
	struct go_binary *mb = (struct go_binary *)b; /* lazily opened capstone handle */
	const unsigned char *code;
	uint64_t addr, len;
	size_t left;
	cs_insn *insn;
	int n = 0;

	if (!b || !fn || fn->end <= fn->entry)
		return -EINVAL;
	if (b->machine != EM_X86_64 && b->machine != EM_386)
		return -ENOTSUP;
	len = fn->end - fn->entry;
	if (len > (64u << 20))
		return -E2BIG;
	code = gobin_ptr(b, fn->entry, len);
	if (!code)
		return -EFAULT;
	if (!mb->cs_ready) {
		if (cs_open(CS_ARCH_X86, b->machine == EM_386 ? CS_MODE_32 : CS_MODE_64, &mb->cs) != CS_ERR_OK)
			return -EIO;
		mb->cs_ready = true;
	}
	insn = cs_malloc(mb->cs);
	if (!insn)
		return -ENOMEM;
	addr = fn->entry;
	left = len;
	while (left) {
		const uint8_t *p = code + (len - left);

		if (!cs_disasm_iter(mb->cs, &p, &left, &addr, insn)) {
			/* undecodable byte (data or padding): skip it, as objdump does with (bad) */
			left--;
			addr++;
			continue;
		}
		if (insn->id == X86_INS_RET) {
			if ((size_t)n < max && vaddrs)
				vaddrs[n] = insn->address;
			if (n < INT32_MAX)
				n++;
		}
	}
	cs_free(insn, 1);
	return n;
}

/* Shared decode loop: calls fn(insn, arg) for every instruction of [entry, entry+len); stops when fn
 * returns non-zero (and returns that value). */
static int decode_each(const struct go_binary *b, uint64_t entry, uint64_t len,
		       int (*fn)(const cs_insn *insn, void *arg), void *arg)
{
	struct go_binary *mb = (struct go_binary *)b;
	const unsigned char *code;
	uint64_t addr;
	size_t left;
	cs_insn *insn;
	int rc = 0;

	if (b->machine != EM_X86_64)
		return -ENOTSUP;
	if (len > (64u << 20))
		return -E2BIG;
	code = gobin_ptr(b, entry, len);
	if (!code)
		return -EFAULT;
	if (!mb->cs_ready) {
		if (cs_open(CS_ARCH_X86, CS_MODE_64, &mb->cs) != CS_ERR_OK)
			return -EIO;
		mb->cs_ready = true;
	}
	insn = cs_malloc(mb->cs);
	if (!insn)
		return -ENOMEM;
	addr = entry;
	left = len;
	while (left && !rc) {
		const uint8_t *p = code + (len - left);

		if (!cs_disasm_iter(mb->cs, &p, &left, &addr, insn)) {
			left--;
			addr++;
			continue;
		}
		rc = fn(insn, arg);
	}
	cs_free(insn, 1);
	return rc;
}

struct prologue_scan {
	int seen;
	bool cmp_seen;
	uint64_t jcc;
};

static int prologue_insn(const cs_insn *insn, void *arg)
{
	struct prologue_scan *ps = arg;

	if (insn->id == X86_INS_CMP) {
		ps->cmp_seen = true;
	} else if (ps->cmp_seen && (insn->id == X86_INS_JBE || insn->id == X86_INS_JB)) {
		ps->jcc = insn->address;
		return 1;
	} else if (insn->id != X86_INS_LEA && insn->id != X86_INS_MOV) {
		return 2; /* something else first: not a stack-check prologue */
	}
	return ++ps->seen >= 4 ? 2 : 0;
}

uint64_t gobin_entry_probe_vaddr(const struct go_binary *b, const struct go_func *fn, bool *cheap)
{
	struct prologue_scan ps = { 0 };
	uint64_t len;

	if (cheap)
		*cheap = false;
	if (!b || !fn || fn->end <= fn->entry)
		return 0;
	len = fn->end - fn->entry < 32 ? fn->end - fn->entry : 32;
	if (decode_each(b, fn->entry, len, prologue_insn, &ps) == 1) {
		if (cheap)
			*cheap = true;
		return ps.jcc;
	}
	return fn->entry;
}

struct callsite_scan {
	uint64_t target;
	uint64_t *out;
	size_t max;
	int n;
};

static int callsite_insn(const cs_insn *insn, void *arg)
{
	struct callsite_scan *cs = arg;
	if (insn->id != X86_INS_CALL || insn->size != 5 || insn->bytes[0] != 0xe8)
		return 0;
	{
		int32_t rel;

		memcpy(&rel, insn->bytes + 1, 4);
		if (insn->address + 5 + (int64_t)rel != cs->target)
			return 0;
	}
	if ((size_t)cs->n < cs->max && cs->out)
		cs->out[cs->n] = insn->address;
	cs->n++;
	return 0;
}

int gobin_call_sites(const struct go_binary *b, const struct go_func *caller, uint64_t callee_entry,
		     uint64_t *vaddrs, size_t max)
{
	struct callsite_scan cs = { callee_entry, vaddrs, max, 0 };
	int rc;

	if (!b || !caller || caller->end <= caller->entry)
		return -EINVAL;
	rc = decode_each(b, caller->entry, caller->end - caller->entry, callsite_insn, &cs);
	return rc < 0 ? rc : cs.n;
}

/* ------------------------------------------------------------------------------------------------ */
/* open / close                                                                                     */

static int open_common(struct go_binary *b, unsigned flags, char *err, size_t errlen)
{
	int rc = load_elf(b, err, errlen);

	if (rc)
		return rc;
	if (!b->nsegs) {
		seterr(err, errlen, "ELF has no PT_LOAD segments");
		return -ENOEXEC;
	}
	load_buildinfo(b);
	rc = load_pclntab(b, flags, err, errlen);
	if (rc)
		return rc;
	rc = build_index(b);
	if (rc)
		return rc;
	if (b->has_symtab && !(flags & GOBIN_NO_SYMTAB)) {
		size_t before = b->nfuncs;

		load_symtab(b);
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
		qsort(v, b->nfuncs, sizeof(*v), cmp_func_entry); /* go_func is the first member */
		for (size_t i = 0; i < b->nfuncs; i++) {
			b->funcs[i] = v[i].f;
			b->namelen[i] = v[i].l;
			b->fromsym[i] = v[i].s;
		}
		free(v);
		rc = build_index(b);
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

const char *gobin_go_version(const struct go_binary *b)
{
	return b ? b->go_version : NULL;
}

bool gobin_go_version_num(const struct go_binary *b, int *major, int *minor, int *patch)
{
	if (!b || !b->have_vnum)
		return false;
	if (major)
		*major = b->vmaj;
	if (minor)
		*minor = b->vmin;
	if (patch)
		*patch = b->vpat;
	return true;
}

const char *gobin_main_module(const struct go_binary *b)
{
	return b && b->main_module ? b->main_module : "";
}

const char *gobin_main_path(const struct go_binary *b)
{
	return b && b->main_path ? b->main_path : "";
}

size_t gobin_modules(const struct go_binary *b, const struct go_module **mods)
{
	if (mods)
		*mods = b ? b->mods : NULL;
	return b ? b->nmods : 0;
}

const char *gobin_module_version(const struct go_binary *b, const char *mod_path)
{
	if (!b || !mod_path)
		return NULL;
	for (size_t i = 0; i < b->nmods; i++)
		if (!strcmp(b->mods[i].path, mod_path))
			return b->mods[i].version;
	return NULL;
}

const char *gobin_modinfo(const struct go_binary *b)
{
	return b && b->modinfo_raw ? b->modinfo_raw : "";
}

const char *gobin_goexperiment(const struct go_binary *b)
{
	return b ? b->goexperiment : NULL;
}

const char *gobin_buildinfo_source(const struct go_binary *b)
{
	return b && b->buildinfo_source ? b->buildinfo_source : "none";
}

void gobin_pclntab_info(const struct go_binary *b, struct gobin_pclntab_info *info)
{
	memset(info, 0, sizeof(*info));
	if (!b)
		return;
	info->magic = b->pcln_magic;
	info->vaddr = b->pcln_vaddr;
	info->ptrsize = b->pcln_ptrsize;
	info->nfuncs = b->npcln;
	info->source = b->pcln_source ? b->pcln_source : "none";
	info->text_source = b->text_source ? b->text_source : "n/a";
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
