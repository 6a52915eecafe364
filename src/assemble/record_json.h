/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The JSON mapping of records (one object per record; the caller ends the line). The contract is
 * docs/records.md. Strings are escaped by the JSON writer; the path is sanitised again on the way out,
 * so no query credential can leave even if a producer forgot.
 */
#ifndef KAPIMON_RECORD_JSON_H
#define KAPIMON_RECORD_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "assemble/record.h"
#include "assemble/stats.h"
#include "output/json_writer.h"

#define RECORD_TS_LEN 31 /* "2026-11-21T15:04:05.123456789Z" + NUL */

/* Name of one enum rec_trunc bit in the "truncated" array ("method", "path", "user_agent", "client");
 * NULL for anything else. */
const char *rec_trunc_name(unsigned bit);

void record_json_request(struct json_writer *w, const struct request_record *r);
void record_json_etcd(struct json_writer *w, const struct etcd_record *r);
/* "kind":"conn": opens and closes only (REC_CONN_RETRANS/RESET are for sinks that count, not written). */
void record_json_conn(struct json_writer *w, const struct conn_record *r);
void record_json_stats(struct json_writer *w, const struct record_stats *s);

/* ns since the epoch -> "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" (always 9 fraction digits). buf >= RECORD_TS_LEN. */
void record_ts_format(uint64_t ns, char *buf, size_t cap);
/* RFC 3339 ("T"/"t", fraction of 0-9 digits, "Z"/"z" or +hh:mm/-hh:mm) -> ns since the epoch.
 * Returns 0, or -1 when malformed, out of range (before 1970 or past 2554) or a leap second. */
int record_ts_parse(const char *s, size_t len, uint64_t *ns);

#endif
