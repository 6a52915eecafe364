/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Streaming CSV reader (RFC 4180): comma separated, optional double-quoted fields with "" escapes and
 * embedded newlines, CRLF or LF line ends, UTF-8 BOM skipped. Memory is one record. Errors (unterminated
 * quote, garbage after a closing quote, NUL bytes) carry the line and column.
 */
#ifndef KAPIMON_INPUT_CSV_H
#define KAPIMON_INPUT_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct csv_reader {
	FILE *f;
	char delim;
	size_t lineno;     /* physical line of the last line read (1-based) */
	size_t rec_line;   /* physical line where the current record starts */
	/* current record */
	char **fields;
	bool *quoted;      /* field was quoted (so "" is an empty string, not a missing value) */
	size_t nfields;
	/* internals */
	char *line;
	size_t line_cap;
	char *buf;
	size_t buf_len, buf_cap;
	size_t *offs;
	size_t fcap;
	bool first;
};

struct csv_error {
	size_t line, col;
	char msg[128];
};

void csv_init(struct csv_reader *r, FILE *f, char delim);
/* Next record: 1 (fields in r->fields / r->nfields), 0 at end of input, -1 on error. Blank lines are
 * skipped. Fields stay valid until the next call. */
int csv_next(struct csv_reader *r, struct csv_error *err);
void csv_free(struct csv_reader *r);

/* Index of the column named name (exact, then case-insensitive), or -1. */
int csv_find_col(char *const *hdr, size_t n, const char *name);
/* A cell that means "no value": empty (unquoted), NA, N/A, NaN, null, None, - (case-insensitive). */
bool csv_is_missing(const char *s);

#endif
