/*
 * x509_parts.h: what the files of the certificate reader share among
 * themselves (x509.c, x509_name.c, x509_namekey.c, x509_time.c).  Not for
 * other modules: they use x509.h.
 */
#ifndef PQTLS_X509_PARTS_H
#define PQTLS_X509_PARTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "pqtls/der.h"
#include "pqtls/json.h"
#include "pqtls/x509.h"

/* Names (x509_name.c) */

/*
 * The Name as a string, in DER order (see x509.h).  When cn is given, it is
 * set to the first commonName value.  Returns a malloc'ed string or NULL.
 */
char	   *x509_name_to_string(der_span name, der_span *cn);

/* Open a Name given as its whole DER (a SEQUENCE and nothing after it). */
int			x509_name_open(der_span name, der_cursor *rdns);

/* The next RelativeDistinguishedName (a SET; an empty one is read too). */
int			x509_name_next_rdn(der_cursor *rdns, der_cursor *members);

/* The next AttributeTypeAndValue of an RDN: SEQUENCE { OID, ANY }. */
int			x509_rdn_next_member(der_cursor *members, der_item *type, der_item *value);

/* Unicode text (x509_name.c) */

/* Append code point cp as UTF-8. */
void		x509_put_utf8(pqtls_buf *b, uint32_t cp);

/* A Unicode scalar value: at most U+10FFFF and not a surrogate. */
bool		x509_unicode_scalar(uint32_t cp);

/* Decode the UTF-8 character at s[*i] (well formed, shortest form) and step past it. */
bool		x509_utf8_next(const uint8_t *s, size_t n, size_t *i, uint32_t *cp);

/* Time (x509_time.c) */

/* UTCTime or GeneralizedTime as time_t; 0, or -1 when it is not one. */
int			x509_parse_time(const der_item *it, time_t *out);

#endif
