/* hash.h -- SHA-256 and HMAC-SHA256 (OpenSSL), hex encoded. */
#ifndef JP_HASH_H
#define JP_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_HEX_LEN 65 /* 64 hex digits + NUL */

/* Streaming SHA-256; the context is opaque (an OpenSSL EVP_MD_CTX). */
struct hash_sha256;
struct hash_sha256 *hash_sha256_new(void);
void hash_sha256_update(struct hash_sha256 *h, const void *data, size_t n);
/* Writes 32 raw bytes to md (may be NULL) and hex to hex (may be NULL);
 * frees h. */
void hash_sha256_final(struct hash_sha256 *h, unsigned char md[32], char *hex);

void hash_sha256_hex(const void *data, size_t n, char hex[HASH_HEX_LEN]);

/* SHA-256 of a whole file (read with large buffers). Fills hex and *size.
 * Returns 0, or -1 with errno set. */
int hash_sha256_file(const char *path, char hex[HASH_HEX_LEN], uint64_t *size);

/* Lower-case hex HMAC-SHA256(key, data): the X-Jitsi-Signature value and
 * what `openssl dgst -sha256 -hmac KEY` prints. */
void hash_hmac_sha256_hex(const char *key, size_t keylen, const void *data,
    size_t n, char hex[HASH_HEX_LEN]);

/* Constant-time equality of two strings of possibly different lengths;
 * the time depends only on the length of the expected value. */
int hash_equal_ct(const char *expected, const char *given);

#endif
