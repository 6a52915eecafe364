/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Make a request target safe to output: values of query parameters that can carry credentials are
 * replaced by "REDACTED", raw control bytes (< 0x20, 0x7f) and spaces are percent-encoded, and the result
 * is cut to the buffer with a "...[truncated]" marker.
 */
#ifndef KAPIMON_PATH_SANITIZE_H
#define KAPIMON_PATH_SANITIZE_H

#include <stdbool.h>
#include <stddef.h>

#define PS_REDACTED 0x1  /* at least one query value was replaced */
#define PS_ENCODED 0x2   /* at least one byte was percent-encoded */
#define PS_TRUNCATED 0x4 /* the output was cut and carries PS_TRUNC_MARKER */

#define PS_REDACTED_VALUE "REDACTED"
#define PS_TRUNC_MARKER "...[truncated]"

/*
 * Sanitise in[0..len) into out (cap bytes, always NUL-terminated when cap > 0). Returns PS_* flags.
 * Idempotent: sanitising the output again gives the same string.
 */
unsigned path_sanitize(const char *in, size_t len, char *out, size_t cap);

/* true when a query parameter name (percent-decoded, any case) may carry a secret: it contains one of
 * token, password, passwd, secret, credential, apikey, api_key, api-key, signature, session, jwt, auth,
 * or is one of key, sig, code, pwd. */
bool path_param_is_secret(const char *name, size_t len);

#endif
