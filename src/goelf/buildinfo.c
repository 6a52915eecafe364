// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Go binary introspection: the Go and module versions from the build info blob (or the version string). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "goelf/goelf.h"
#include "goelf/goelf_internal.h"

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

void goelf_load_buildinfo(struct go_binary *b)
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
