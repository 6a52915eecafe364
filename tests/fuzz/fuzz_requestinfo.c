// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* RequestInfo on a random method + target, then path_sanitize and the JSON mapping of the record. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assemble/path_sanitize.h"
#include "assemble/record_json.h"
#include "assemble/requestinfo.h"

static FILE *devnull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = { "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS" };
	struct request_record r;
	struct json_writer w;
	const char *method;
	char *target, *m = NULL, out[64];
	size_t tlen;
	unsigned f;
	uint64_t ns;

	if (!devnull)
		devnull = fopen("/dev/null", "w");
	if (size < 1)
		return 0;
	request_record_init(&r);
	if (data[0] < 0xf0) {
		method = methods[data[0] % 7];
		data++;
		size--;
	} else {
		size_t ml = size > 1 ? data[1] % 32 : 0;

		if (ml > size - 2)
			ml = size > 2 ? size - 2 : 0;
		m = malloc(ml + 1);
		memcpy(m, data + 2 > data + size ? data : data + 2, ml);
		m[ml] = 0;
		method = m;
		data += size >= 2 + ml ? 2 + ml : size;
		size -= size >= 2 + ml ? 2 + ml : size;
	}
	tlen = size;
	target = malloc(tlen ? tlen : 1); /* exact size: no NUL, ASan catches over-reads */
	memcpy(target, data, tlen);
	k8s_request_info_parse(method, target, tlen, &r.ri);
	if (strnlen(r.ri.verb, sizeof(r.ri.verb)) == sizeof(r.ri.verb) ||
	    strnlen(r.ri.name, sizeof(r.ri.name)) == sizeof(r.ri.name))
		abort();
	f = path_sanitize(target, tlen, r.path, sizeof(r.path));
	if (strlen(r.path) >= sizeof(r.path))
		abort();
	/* secrets: no raw control byte survives */
	for (const char *c = r.path; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			abort();
	/* stable on its own output, and with a small buffer */
	{
		char again[REC_PATH_LEN];

		path_sanitize(r.path, strlen(r.path), again, sizeof(again));
		if (!(f & PS_TRUNCATED) && strcmp(again, r.path))
			abort();
	}
	path_sanitize(target, tlen, out, sizeof(out));
	snprintf(r.method, sizeof(r.method), "%s", method);
	snprintf(r.user_agent, sizeof(r.user_agent), "%.*s", (int)(tlen < 255 ? tlen : 255), target);
	if (tlen >= 8) {
		memcpy(&r.start_ns, target, 8);
		r.proto = (enum rec_proto)(target[0] % 3);
	}
	jw_init(&w, devnull, false);
	record_json_request(&w, &r);
	/* ts round trip for any value, parser on random text */
	{
		char ts[RECORD_TS_LEN];

		record_ts_format(r.start_ns, ts, sizeof(ts));
		if (record_ts_parse(ts, strlen(ts), &ns) != 0 || ns != r.start_ns)
			abort();
		record_ts_parse(target, tlen, &ns);
	}
	free(target);
	free(m);
	return 0;
}
