/*
 * der.h: a minimal, strict DER reader (X.690), for the certificate facts
 * x509.c reads.
 *
 * Hand-written rather than OpenSSL's d2i_X509(): the library indexes whole CA
 * bundles (102 certificates for the RDS bundle) on the first connection, and
 * decoding them with OpenSSL costs about 1.5 million instructions each, some
 * 150 million in all (SPEC, cost budget); walking the DER takes a few
 * thousand.  Input comes from files anyone may have edited and from servers
 * anyone may run, so every read is checked against the end of the element
 * that contains it, no length is believed before it has been compared with
 * what is left, and anything that is not plain DER (indefinite lengths,
 * lengths of more than four bytes or in more bytes than needed, high tag
 * numbers) is refused rather than half read.
 *
 * The readers are inline: they run for every element of every certificate
 * of a bundle, on the connection path.
 */
#ifndef PQTLS_DER_H
#define PQTLS_DER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct der_span
{
	const uint8_t *p;			/* points into the certificate's DER */
	size_t		len;
} der_span;

/* Universal tags, as they appear in the identifier octet. */
#define TAG_BOOLEAN			0x01
#define TAG_INTEGER			0x02
#define TAG_BIT_STRING		0x03
#define TAG_OCTET_STRING	0x04
#define TAG_OID				0x06
#define TAG_UTF8STRING		0x0C
#define TAG_NUMERICSTRING	0x12
#define TAG_PRINTABLESTRING 0x13
#define TAG_T61STRING		0x14
#define TAG_IA5STRING		0x16
#define TAG_UTCTIME			0x17
#define TAG_GENERALIZEDTIME 0x18
#define TAG_VISIBLESTRING	0x1A
#define TAG_UNIVERSALSTRING 0x1C
#define TAG_BMPSTRING		0x1E
#define TAG_SEQUENCE		0x30
#define TAG_SET				0x31
#define TAG_CONSTRUCTED		0x20

/* Context-specific tags of TBSCertificate and GeneralName. */
#define TAG_CERT_VERSION	0xA0
#define TAG_CERT_ISSUER_UID 0x81
#define TAG_CERT_SUBJECT_UID 0x82
#define TAG_CERT_EXTENSIONS 0xA3
#define TAG_GN_DNS			0x82
#define TAG_GN_IP			0x87

/* ---------------------------------------------------------------------
 * Reading DER
 * ---------------------------------------------------------------------
 */

typedef struct der_item
{
	uint8_t		tag;
	const uint8_t *start;		/* the identifier octet */
	const uint8_t *val;			/* the contents */
	size_t		len;			/* of the contents */
	size_t		total;			/* identifier, length and contents */
} der_item;

/* What is left to read of one constructed element. */
typedef struct der_cursor
{
	const uint8_t *p;
	size_t		n;
} der_cursor;

/*
 * Read the element at the cursor and step past it.  Returns 0, or -1 when
 * the header is not DER or the contents run past the end of the cursor.
 */
static inline int
der_read(der_cursor *c, der_item *it)
{
	const uint8_t *p = c->p;
	size_t		hdr = 2;
	size_t		len;

	if (c->n < 2)
		return -1;
	/* High tag numbers (five low bits all set) have no place in a certificate. */
	if ((p[0] & 0x1F) == 0x1F)
		return -1;
	if (p[1] < 0x80)
		len = p[1];
	else
	{
		size_t		nbytes = p[1] & 0x7F;

		/* 0x80 is BER's indefinite length; over 4 bytes no certificate needs. */
		if (nbytes == 0 || nbytes > 4 || c->n - 2 < nbytes)
			return -1;
		/* DER: the long form only when needed, and without leading zeros. */
		if (p[2] == 0)
			return -1;
		len = 0;
		for (size_t i = 0; i < nbytes; i++)
			len = (len << 8) | p[2 + i];
		if (len < 0x80)
			return -1;
		hdr += nbytes;
	}
	if (len > c->n - hdr)
		return -1;

	it->tag = p[0];
	it->start = p;
	it->val = p + hdr;
	it->len = len;
	it->total = hdr + len;
	c->p += it->total;
	c->n -= it->total;
	return 0;
}

static inline bool
der_at(const der_cursor *c, uint8_t tag)
{
	return c->n > 0 && c->p[0] == tag;
}

/* Read the next element, which must carry the given tag. */
static inline int
der_expect(der_cursor *c, uint8_t tag, der_item *it)
{
	if (!der_at(c, tag))
		return -1;
	return der_read(c, it);
}

static inline der_cursor
der_enter(const der_item *it)
{
	der_cursor	c = {it->val, it->len};

	return c;
}

static inline der_span
der_whole(const der_item *it)
{
	der_span	s = {it->start, it->total};

	return s;
}

/*
 * An OBJECT IDENTIFIER's contents: at least one subidentifier, each in the
 * fewest base-128 digits (no leading 0x80), the last one complete.
 */
static inline bool
oid_valid(const der_item *it)
{
	if (it->len == 0 || (it->val[it->len - 1] & 0x80))
		return false;
	for (size_t i = 0; i < it->len; i++)
		if (it->val[i] == 0x80 && (i == 0 || !(it->val[i - 1] & 0x80)))
			return false;
	return true;
}

static inline int
der_expect_oid(der_cursor *c, der_item *it)
{
	if (der_expect(c, TAG_OID, it) < 0 || !oid_valid(it))
		return -1;
	return 0;
}

static inline bool
oid_is(const der_item *it, const uint8_t *oid, size_t len)
{
	return it->len == len && memcmp(it->val, oid, len) == 0;
}

#define OID_IS(it, oid) oid_is((it), (oid), sizeof(oid))

#endif
