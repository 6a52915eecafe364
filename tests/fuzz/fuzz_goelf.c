// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* libFuzzer: random bytes as an ELF through open (build info + pclntab + symtab), lookup, RET sites,
 * offsets and the report. Seed with real Go binaries' prefixes, e.g.
 *   build/fuzz/fuzz_goelf -max_len=2000000 corpus/ */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "goelf/goelf.h"
#include "goelf/offsets.h"
#include "goelf/resolve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct go_binary *b = NULL;
	char err[256];
	uint64_t r[16];

	for (unsigned flags = 0; flags < 4; flags += 2) {
		if (gobin_open_mem(data, size, flags, &b, err, sizeof(err)))
			continue;
		for (size_t i = 0; i < gobin_func_count(b) && i < 64; i++)
			(void)gobin_ret_sites(b, gobin_func_at(b, i), r, 16);
		(void)gobin_find_func(b, "net/http.(*conn).readRequest");
		(void)gobin_find_func(b, "readRequest");
		struct resolved_target res[PT__COUNT];
		goelf_resolve_all(b, res);
		struct go_offsets o;
		go_offsets_fill(b, 0, &o);
		FILE *f = fopen("/dev/null", "w");
		if (f) {
			goelf_report_binary(NULL, f, b);
			fclose(f);
		}
		gobin_close(b);
	}
	return 0;
}
