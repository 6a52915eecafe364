/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* SHA-256 (FIPS 180-4), one-shot: small inputs only (Go type names for their type hashes). */
#ifndef KAPIMON_SHA256_H
#define KAPIMON_SHA256_H

#include <stddef.h>
#include <stdint.h>

void sha256(const void *data, size_t len, uint8_t out[32]);

#endif
