/* sha256.h: SHA-256 (FIPS 180-4), for certificate fingerprints without OpenSSL. */
#ifndef PQTLS_SHA256_H
#define PQTLS_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

typedef struct sha256_ctx
{
	uint32_t	h[8];
	uint64_t	total;
	uint8_t		block[64];
	size_t		used;
} sha256_ctx;

void		sha256_init(sha256_ctx *c);
void		sha256_update(sha256_ctx *c, const void *data, size_t n);
void		sha256_final(sha256_ctx *c, uint8_t out[SHA256_LEN]);
void		sha256(const void *data, size_t n, uint8_t out[SHA256_LEN]);
/* Lower-case hex, 64 characters plus NUL. */
void		sha256_hex(const void *data, size_t n, char out[2 * SHA256_LEN + 1]);

#endif
