/*
 * pem.h: certificates out of PEM text or DER files, without OpenSSL.
 *
 * Bundles are indexed once per process from their DER; only the certificates a
 * chain needs are ever handed to OpenSSL (see bundle.h).
 */
#ifndef PQTLS_PEM_H
#define PQTLS_PEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Find the next "-----BEGIN CERTIFICATE-----" (also "TRUSTED CERTIFICATE" and
 * "X509 CERTIFICATE") block at or after *pos in text[0..len), decode its base64
 * into a malloc'ed DER buffer and advance *pos past the END line.
 * Returns 1 with *der and *der_len set, 0 when no further block exists, -1 when a
 * block is malformed (*pos is advanced past it, so the caller may go on).
 */
int			pem_next_cert(const char *text, size_t len, size_t *pos,
						  uint8_t **der, size_t *der_len);

/* True when the bytes look like one DER certificate (SEQUENCE spanning all of it). */
int			der_is_single_cert(const uint8_t *data, size_t len);

/*
 * Is the text laid out in the plain form: "-----BEGIN CERTIFICATE-----" blocks
 * of lines of 64 characters but the last, without blanks, headers or blank
 * lines, each marker on a line of its own, lines ending in LF or CRLF, and text
 * between blocks that holds no "-----"? Whether the lines are base64 of a
 * certificate is what decoding them (pem_next_cert) tells: a file laid out so
 * whose every block decodes to a certificate pqtls reads is one every OpenSSL
 * loads as libpq loads a root file (trustfile.c; tests/unit/test_trustfile.c
 * and the rotation rehearsal prove it against each libpq's own). Anything else
 * is not refused on that account, only handed to OpenSSL to decide.
 */
bool		pem_plain(const char *text, size_t len);

#endif
