/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Go internal register ABI (Go >= 1.17, amd64): integer arguments and results in
 * RAX, RBX, RCX, RDI, RSI, R8, R9, R10, R11; the current goroutine (g) in R14.
 * Valid at a function's entry (arguments) and at its RET instructions (results).
 */
#ifndef KAPIMON_GO_ABI_H
#define KAPIMON_GO_ABI_H

#define GO_REG1(ctx) ((ctx)->ax)
#define GO_REG2(ctx) ((ctx)->bx)
#define GO_REG3(ctx) ((ctx)->cx)
#define GO_REG4(ctx) ((ctx)->di)
#define GO_REG5(ctx) ((ctx)->si)
#define GO_REG6(ctx) ((ctx)->r8)
#define GO_REG7(ctx) ((ctx)->r9)
#define GO_REG8(ctx) ((ctx)->r10)
#define GO_REG9(ctx) ((ctx)->r11)
#define GO_G(ctx) ((ctx)->r14)

/* A Go string header as laid out in memory. */
struct go_string {
	const char *ptr;
	__s64 len;
};

struct go_slice {
	const void *ptr;
	__s64 len;
	__s64 cap;
};

struct go_iface {
	const void *tab;
	const void *data;
};

#endif
