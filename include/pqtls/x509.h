/*
 * x509.h: what pqtls needs from an X.509 certificate, read straight from its DER.
 *
 * Decoding a certificate with OpenSSL costs about 1.5 million instructions; this
 * reader takes a few thousand, so a 102-certificate bundle can be indexed on the
 * connection path of the first connection. It is a reader for facts, not a
 * validator: signatures and chains are OpenSSL's job (judge.c).  The `pqtls`
 * command, which has no such budget, reads certificates with OpenSSL's X509_*
 * functions instead (src/cli/certfacts.c).
 */
#ifndef PQTLS_X509_H
#define PQTLS_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "pqtls/der.h"

enum x509_san_type
{
	SAN_DNS,
	SAN_IP,
};

typedef struct x509_san
{
	enum x509_san_type type;
	const uint8_t *value;		/* DNS: IA5String bytes (may hold NUL); IP: the octets (4 or 16 when well formed) */
	size_t		len;
} x509_san;

#define X509_MAX_SAN 256

typedef struct x509_cert
{
	der_span	der;			/* the whole certificate */
	der_span	issuer_raw;		/* the DER of the Name, tag and length included */
	der_span	subject_raw;
	der_span	spki;			/* SubjectPublicKeyInfo, tag and length included */
	der_span	serial;			/* INTEGER content octets */
	/*
	 * subject and issuer as text, RDNs in DER order (not reversed as RFC 4514
	 * does), joined by ", "; members of a multi-valued RDN joined by " + ":
	 * "C=US, O=Amazon Web Services\, Inc., OU=Amazon RDS, ST=WA, CN=..., L=Seattle".
	 * Types by OpenSSL's short name (C ST L O OU CN emailAddress DC serialNumber
	 * street title GN SN UID), else dotted OID.  Values escaped as RFC 4514
	 * 2.4: a backslash before , + " \ < > ; anywhere, before # or space in
	 * front and before a space at the end; control characters (and DEL) as
	 * \XX.  UTF8/Printable/IA5/T61/Visible/NumericString values are copied as
	 * bytes (not made valid UTF-8: the JSON writer does that), BMPString and
	 * UniversalString are converted to UTF-8, any other type is "#" and the
	 * upper-case hex of the value's whole DER.  For ASCII values this is what
	 * X509_NAME_print_ex() prints with ESC_2253|ESC_CTRL|UTF8_CONVERT|
	 * DUMP_UNKNOWN|DUMP_DER|XN_FLAG_SEP_CPLUS_SPC|XN_FLAG_FN_SN.
	 * The empty Name is "".
	 */
	char	   *subject;
	char	   *issuer;
	time_t		not_before;
	time_t		not_after;
	bool		has_basic_constraints;
	bool		is_ca;
	char		key_desc[32];	/* "RSA 2048", "EC P-256", "EC P-384", "Ed25519", "unknown" */
	/* The first commonName of the subject (what libpq checks without a SAN). */
	der_span	cn;
	int			n_san;
	x509_san	san[X509_MAX_SAN];
} x509_cert;

/*
 * Parse der[0..len), which must be exactly one certificate in DER.  Returns 0
 * on success, -1 when it is not a certificate (then *out holds nothing to
 * free).  The spans point into der, which must outlive *out.
 */
int			x509_parse(const uint8_t *der, size_t len, x509_cert *out);
void		x509_free(x509_cert *c);

/* The same subject and the same public key: "holds this CA" in after_rotation. */
bool		x509_same_subject_and_key(const x509_cert *a, const x509_cert *b);

/*
 * A comparison key for a Name that mirrors OpenSSL's canonical encoding
 * (x509_name_canon in crypto/x509/x_name.c): string values of the canonical types
 * are folded to lower-case ASCII with runs of white space collapsed and ends
 * trimmed, so two names OpenSSL considers equal get equal keys. Malloc'ed,
 * key_len set; NULL on malformed input.
 */
uint8_t    *x509_name_key(der_span name, size_t *key_len);

/*
 * An iPAddress SAN as text ("192.0.2.1", "2001:db8::1"): true for 4 or 16 octets,
 * false for any other length (out untouched).
 */
#define X509_IP_TEXT_LEN 46		/* INET6_ADDRSTRLEN */
bool		x509_ip_text(const uint8_t *octets, size_t len, char out[X509_IP_TEXT_LEN]);

/* RFC 3339 UTC, "2061-05-20T23:00:00Z"; out needs 21 bytes. */
void		x509_format_time(time_t t, char out[21]);

#endif
