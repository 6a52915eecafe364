/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Streaming JSON writer (bpftool json_writer style). Handles commas and nesting; every string is
 * escaped: quotes, backslash, all control bytes (< 0x20 and 0x7f) and invalid UTF-8 (replaced by
 * U+FFFD), so untrusted bytes from the wire always give valid JSON.
 *
 * Output is built in the writer's own buffer and handed to the FILE with one fwrite per top-level
 * value (or when the buffer fills): per-record cost is a few memcpy, not a stdio call per byte.
 * Writing to the FILE directly is fine between top-level values (e.g. the newline of JSON lines);
 * call jw_flush() before doing so in the middle of one.
 */
#ifndef KAPIMON_JSON_WRITER_H
#define KAPIMON_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define JW_MAX_DEPTH 32
#define JW_BUF_SIZE 4096

struct json_writer {
	FILE *out;
	int depth;
	bool pretty;
	bool first[JW_MAX_DEPTH]; /* no element written yet at this depth */
	bool after_key;
	size_t len;               /* bytes in buf not yet written to out */
	char buf[JW_BUF_SIZE];
};

void jw_init(struct json_writer *w, FILE *out, bool pretty);
/* Hand what is buffered to out (done automatically after each top-level value). */
void jw_flush(struct json_writer *w);
void jw_obj_begin(struct json_writer *w);
void jw_obj_end(struct json_writer *w);
void jw_arr_begin(struct json_writer *w);
void jw_arr_end(struct json_writer *w);
void jw_key(struct json_writer *w, const char *key);

void jw_str(struct json_writer *w, const char *s);
/* Escape exactly len bytes (may contain NULs, which are escaped as \u0000). */
void jw_strn(struct json_writer *w, const char *s, size_t len);
/* A string the caller formatted from bytes JSON never escapes (digits, '-', ':', '.', letters): written
 * without the escape scan. */
void jw_strn_noscan(struct json_writer *w, const char *s, size_t len);
void jw_int(struct json_writer *w, int64_t v);
void jw_uint(struct json_writer *w, uint64_t v);
/* Non-finite values are written as null (JSON has no NaN/Inf). */
void jw_double(struct json_writer *w, double v);
void jw_bool(struct json_writer *w, bool v);
void jw_null(struct json_writer *w);

/* key + value shorthands */
void jw_kv_str(struct json_writer *w, const char *k, const char *v);
void jw_kv_strn(struct json_writer *w, const char *k, const char *v, size_t len);
void jw_kv_int(struct json_writer *w, const char *k, int64_t v);
void jw_kv_uint(struct json_writer *w, const char *k, uint64_t v);
void jw_kv_double(struct json_writer *w, const char *k, double v);
void jw_kv_bool(struct json_writer *w, const char *k, bool v);

/* Length of the valid UTF-8 sequence at s (n >= 1 bytes available), or 0 when it is invalid (overlong,
 * surrogate, above U+10FFFF, cut). Shared with the OTLP encoder, whose strings must be valid UTF-8. */
size_t utf8_seq_len(const unsigned char *s, size_t n);

/*
 * A key that is a string literal of plain characters (letters, digits, '_', '-', '.'; nothing JSON
 * escapes): quotes and colon are added at compile time and nothing is scanned. For per-record
 * writers; jw_key() for anything else.
 */
#define JW_KEY(w, lit) jw_key_lit(w, lit, "\"" lit "\":", sizeof(lit) + 2)

static inline void jw_key_lit(struct json_writer *w, const char *key, const char *quoted, size_t n)
{
	char *p;

	if (w->pretty || w->after_key || w->len + n + 1 > JW_BUF_SIZE) {
		jw_key(w, key);
		return;
	}
	p = w->buf + w->len;
	if (!w->first[w->depth])
		*p++ = ',';
	w->first[w->depth] = false;
	memcpy(p, quoted, n);
	w->len = (size_t)(p + n - w->buf);
	w->after_key = true;
}

/* Write the escaped form of s (with surrounding quotes) to out; usable without a writer. */
void json_write_escaped(FILE *out, const char *s, size_t len);

#endif
