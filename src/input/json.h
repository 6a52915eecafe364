/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Small, strict JSON parser (RFC 8259) producing a flat token array (jsmn style) over the caller's
 * buffer: no allocation per value, strings are unescaped only on request. Every token knows the index
 * just past its subtree, so skipping a value is O(1). Errors carry line/column and a message.
 * Nesting is limited to JSON_MAX_DEPTH (no recursion, no stack overflow on hostile input).
 */
#ifndef KAPIMON_INPUT_JSON_H
#define KAPIMON_INPUT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 256

enum json_type { JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_tok {
	uint8_t type;    /* enum json_type */
	bool escaped;    /* string contains backslash escapes */
	uint32_t start;  /* offset of the first byte (for strings: after the opening quote) */
	uint32_t len;    /* byte length (for strings: raw, without quotes) */
	uint32_t next;   /* index of the first token after this value's subtree */
	uint32_t count;  /* arrays: elements; objects: members (each member = key token + value subtree) */
};

struct json_doc {
	const char *src;
	size_t src_len;
	struct json_tok *toks;
	size_t ntoks, cap;
};

struct json_error {
	size_t line, col; /* 1-based, of the offending byte */
	size_t offset;
	char msg[128];
};

/* Parse exactly one JSON value (surrounding whitespace allowed). Reuses d->toks between calls.
 * Returns 0, or -1 with *err filled in. Inputs over 4 GiB are rejected. */
int json_parse(struct json_doc *d, const char *s, size_t len, struct json_error *err);
void json_doc_free(struct json_doc *d);

/* Member value of object token obj with the given key (first match), or -1. */
int json_obj_get(const struct json_doc *d, int obj, const char *key);
/* Unescape string token tok into buf (NUL-terminated, truncated to cap-1 bytes; invalid \u
 * surrogates become U+FFFD). Returns the full unescaped length, or -1 when tok is not a string. */
long json_str(const struct json_doc *d, int tok, char *buf, size_t cap);
/* Numeric value of a number token (or a string holding a number); false otherwise. */
bool json_num(const struct json_doc *d, int tok, double *out);
/* Raw bytes of a string token when it has no escapes (zero-copy), else NULL. */
const char *json_raw_str(const struct json_doc *d, int tok, size_t *len);

#endif
