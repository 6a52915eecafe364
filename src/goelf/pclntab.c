// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Go binary introspection: functions from .gopclntab (every Go version's layout) and .symtab, the name index. */
#include <errno.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "goelf/goelf.h"
#include "goelf/goelf_internal.h"

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
	const struct gobin_seg *s = goelf_seg_for_vaddr(b, va);

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

int goelf_load_pclntab(struct go_binary *b, unsigned flags, char *err, size_t errlen)
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

void goelf_load_symtab(struct go_binary *b)
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

int goelf_cmp_func_entry(const void *a, const void *b)
{
	const struct go_func *x = a, *y = b;

	if (x->entry != y->entry)
		return x->entry < y->entry ? -1 : 1;
	return strcmp(x->name, y->name);
}

int goelf_build_index(struct go_binary *b)
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
