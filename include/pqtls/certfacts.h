/*
 * certfacts.h: what the `pqtls` command shows of a certificate (subject,
 * issuer, validity, key, CA or not, SHA-256), read with OpenSSL.
 *
 * The command links OpenSSL and has no load budget, so it decodes with
 * d2i_X509() and the X509_* functions rather than the library's own DER
 * walk (x509.h), which exists only because the interposer must index whole
 * bundles cheaply on a program's first connection.  The text is the same as
 * the library's for the same certificate: names as X509_NAME_print_ex()
 * prints them with RFC 2253 escaping in DER order (x509.h), times as
 * RFC 3339 UTC, keys as "RSA 2048", "EC P-256", "Ed25519" or "unknown".
 *
 *     cert_facts *c = cert_facts_read(der, len);   (NULL: not a certificate)
 *     printf("%s\n", c->subject);
 *     cert_facts_free(c);
 */
#ifndef PQTLS_CERTFACTS_H
#define PQTLS_CERTFACTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#define CERT_SHA256_HEX 65		/* 64 lower-case hex digits and a NUL */

typedef struct cert_facts
{
	X509	   *cert;
	char	   *subject;		/* as x509.h describes */
	char	   *issuer;
	time_t		not_before;
	time_t		not_after;
	char		not_before_text[21];	/* RFC 3339 UTC: "2061-05-20T23:00:00Z" */
	char		not_after_text[21];
	char		key_desc[32];	/* "RSA 2048", "EC P-256", "EC P-384", "EC P-521", "Ed25519", "Ed448", "unknown" */
	bool		is_ca;			/* basicConstraints cA */
	bool		self_signed;	/* issuer is subject and the signature verifies with its own key */
	unsigned char *spki;		/* SubjectPublicKeyInfo DER */
	int			spki_len;
} cert_facts;

/* The facts of der[0..len), one certificate; NULL when OpenSSL cannot read it. */
cert_facts *cert_facts_read(const uint8_t *der, size_t len);
void		cert_facts_free(cert_facts *c);

/* The same subject (as OpenSSL compares names) and the same public key. */
bool		cert_facts_same_subject_and_key(const cert_facts *a, const cert_facts *b);

/* A total order on (subject, key), consistent with cert_facts_same_subject_and_key. */
int			cert_facts_cmp_subject_and_key(const cert_facts *a, const cert_facts *b);

/* SHA-256 of der[0..len) in lower-case hex (EVP). */
void		cert_sha256_hex(const uint8_t *der, size_t len, char out[CERT_SHA256_HEX]);

#endif
