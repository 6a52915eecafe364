// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Go binary introspection: probe sites decoded with capstone (RETs, the stack-check JBE, CALL sites). */
#include <capstone/capstone.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "goelf/goelf.h"
#include "goelf/goelf_internal.h"

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


/* The frame size: the immediate of the prologue's SUB $n, SP (48 83 EC ib / 48 81 EC id) right after
 * the stack check. */
struct frame_scan {
	bool after_check;
	int64_t size;
	int n;
};

static int frame_insn(const cs_insn *insn, void *arg)
{
	struct frame_scan *fs = arg;

	if (++fs->n > 8)
		return 2;
	if (insn->id == X86_INS_JBE || insn->id == X86_INS_JB) {
		fs->after_check = true;
		return 0;
	}
	if (!fs->after_check)
		return 0;
	if (insn->size == 4 && insn->bytes[0] == 0x48 && insn->bytes[1] == 0x83 && insn->bytes[2] == 0xec) {
		fs->size = (int8_t)insn->bytes[3];
		return 1;
	}
	if (insn->size == 7 && insn->bytes[0] == 0x48 && insn->bytes[1] == 0x81 && insn->bytes[2] == 0xec) {
		int32_t v;

		memcpy(&v, insn->bytes + 3, 4);
		fs->size = v;
		return 1;
	}
	return 2; /* anything else right after the check: not the standard prologue */
}

int64_t gobin_frame_size(const struct go_binary *b, const struct go_func *fn)
{
	struct frame_scan fs = { false, -1, 0 };
	uint64_t len;

	if (!b || !fn || fn->end <= fn->entry)
		return -EINVAL;
	len = fn->end - fn->entry < 48 ? fn->end - fn->entry : 48;
	if (decode_each(b, fn->entry, len, frame_insn, &fs) != 1 || fs.size <= 0)
		return -ENOENT;
	return fs.size;
}
