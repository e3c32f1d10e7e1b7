/*
 * truststore_parts.h: what the files of the trust-store reader share among
 * themselves (truststore.c, truststore_jks.c, truststore_pkcs12.c).  Not for
 * other modules: they use truststore.h.
 */
#ifndef PQTLS_TRUSTSTORE_PARTS_H
#define PQTLS_TRUSTSTORE_PARTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pqtls/truststore.h"

/* Replace *error (when error is not NULL) by the message. */
void		ts_set_error(char **error, const char *fmt,...) __attribute__((format(printf, 2, 3)));

/* Append a certificate; der is taken over (freed on failure). NULL when out of memory. */
truststore_cert *ts_list_add(cert_list *l, uint8_t *der, size_t der_len);

/* A malloc'ed copy of p[0..n); NULL when out of memory. */
uint8_t    *ts_memdup(const uint8_t *p, size_t n);

/*
 * An alias as UTF-8 from Java's "modified UTF-8" (truststore_jks.c): a
 * surrogate pair made one 4-byte sequence, U+0000 and zero bytes shown as
 * '?'.  Malloc'ed; NULL when out of memory.
 */
char	   *ts_alias_string(const uint8_t *s, size_t n);

/* A DER (or BER) SEQUENCE whose first element is INTEGER 3: PFX of RFC 7292. */
bool		ts_looks_like_pkcs12(const uint8_t *d, size_t len);

#ifdef PQTLS_CLI
/* A PKCS#12 file (truststore_pkcs12.c); 0, or -1 with *error set. */
int			ts_parse_pkcs12(const uint8_t *data, size_t len, const char *password,
							cert_list *out, char **error);
#endif

#endif
