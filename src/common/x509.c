/*
 * x509.c: the facts pqtls reports and indexes bundles by, read from a
 * certificate's DER (x509.h): names, validity, key, basic constraints,
 * subjectAltName.  Signatures and chains stay with OpenSSL (judge.c).
 *
 * Hand-written rather than OpenSSL's d2i_X509(): the library indexes whole
 * bundles on the connection path, where OpenSSL's decoding costs some
 * 150 million instructions for the 102 RDS certificates (der.h, SPEC's cost
 * budget).  The pieces: der.h (the DER reader), x509_name.c (Names as text),
 * x509_namekey.c (Names as comparison keys), x509_time.c (validity).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pqtls/x509_parts.h"


static const uint8_t oid_rsa_encryption[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01};
static const uint8_t oid_ec_public_key[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01};
static const uint8_t oid_prime256v1[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};
static const uint8_t oid_secp384r1[] = {0x2B, 0x81, 0x04, 0x00, 0x22};
static const uint8_t oid_secp521r1[] = {0x2B, 0x81, 0x04, 0x00, 0x23};
static const uint8_t oid_ed25519[] = {0x2B, 0x65, 0x70};
static const uint8_t oid_ed448[] = {0x2B, 0x65, 0x71};
static const uint8_t oid_basic_constraints[] = {0x55, 0x1D, 0x13};
static const uint8_t oid_subject_alt_name[] = {0x55, 0x1D, 0x11};


/* ---------------------------------------------------------------------
 * The certificate
 * ---------------------------------------------------------------------
 */

/* Bits of an RSA modulus: RSAPublicKey ::= SEQUENCE { modulus, publicExponent }. */
static int
rsa_modulus_bits(const der_item *key)
{
	der_cursor	c;
	der_item	seq;
	der_item	modulus;
	der_item	exponent;
	const uint8_t *p;
	size_t		n;
	int			bits;

	/* The BIT STRING holds whole bytes: no unused bits. */
	if (key->len < 1 || key->val[0] != 0)
		return -1;
	c.p = key->val + 1;
	c.n = key->len - 1;
	if (der_expect(&c, TAG_SEQUENCE, &seq) < 0 || c.n != 0)
		return -1;
	c = der_enter(&seq);
	if (der_expect(&c, TAG_INTEGER, &modulus) < 0 ||
		der_expect(&c, TAG_INTEGER, &exponent) < 0 || c.n != 0)
		return -1;

	p = modulus.val;
	n = modulus.len;
	if (n == 0 || (p[0] & 0x80) || n > 65536)
		return -1;				/* empty, negative, or absurd */
	while (n > 0 && *p == 0)
	{
		p++;
		n--;
	}
	if (n == 0)
		return -1;
	bits = (int) (n - 1) * 8;
	for (uint8_t top = p[0]; top != 0; top >>= 1)
		bits++;
	return bits;
}

/* SubjectPublicKeyInfo ::= SEQUENCE { AlgorithmIdentifier, BIT STRING }. */
static int
parse_spki(const der_item *spki, x509_cert *out)
{
	der_cursor	c = der_enter(spki);
	der_cursor	alg_in;
	der_item	alg;
	der_item	key;
	der_item	alg_oid;
	const char *desc = "unknown";

	if (der_expect(&c, TAG_SEQUENCE, &alg) < 0 ||
		der_expect(&c, TAG_BIT_STRING, &key) < 0 || c.n != 0)
		return -1;
	alg_in = der_enter(&alg);
	if (der_expect_oid(&alg_in, &alg_oid) < 0)
		return -1;

	if (OID_IS(&alg_oid, oid_rsa_encryption))
	{
		int			bits = rsa_modulus_bits(&key);

		if (bits > 0)
		{
			snprintf(out->key_desc, sizeof(out->key_desc), "RSA %d", bits);
			return 0;
		}
	}
	else if (OID_IS(&alg_oid, oid_ec_public_key))
	{
		der_item	curve;

		/* Only a namedCurve parameter names a curve. */
		if (der_expect_oid(&alg_in, &curve) == 0 && alg_in.n == 0)
		{
			if (OID_IS(&curve, oid_prime256v1))
				desc = "EC P-256";
			else if (OID_IS(&curve, oid_secp384r1))
				desc = "EC P-384";
			else if (OID_IS(&curve, oid_secp521r1))
				desc = "EC P-521";
		}
	}
	else if (OID_IS(&alg_oid, oid_ed25519))
		desc = "Ed25519";
	else if (OID_IS(&alg_oid, oid_ed448))
		desc = "Ed448";

	snprintf(out->key_desc, sizeof(out->key_desc), "%s", desc);
	return 0;
}

/* BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL }. */
static int
parse_basic_constraints(der_cursor value, x509_cert *out)
{
	der_item	seq;
	der_item	item;
	der_cursor	in;

	if (der_expect(&value, TAG_SEQUENCE, &seq) < 0 || value.n != 0)
		return -1;
	in = der_enter(&seq);
	out->is_ca = false;
	if (der_at(&in, TAG_BOOLEAN))
	{
		if (der_read(&in, &item) < 0 || item.len != 1)
			return -1;
		out->is_ca = item.val[0] != 0;
	}
	if (der_at(&in, TAG_INTEGER) && der_read(&in, &item) < 0)
		return -1;
	if (in.n != 0)
		return -1;
	out->has_basic_constraints = true;
	return 0;
}

/*
 * SubjectAltName ::= SEQUENCE OF GeneralName.  Only dNSName and iPAddress
 * matter to libpq; every other form is read past whole, whatever it holds.
 */
static int
parse_subject_alt_name(der_cursor value, x509_cert *out)
{
	der_item	seq;
	der_cursor	in;

	if (der_expect(&value, TAG_SEQUENCE, &seq) < 0 || value.n != 0)
		return -1;
	in = der_enter(&seq);
	while (in.n > 0)
	{
		der_item	gn;

		if (der_read(&in, &gn) < 0)
			return -1;
		if (out->n_san >= X509_MAX_SAN)
			continue;
		if (gn.tag == TAG_GN_DNS)
			out->san[out->n_san].type = SAN_DNS;
		else if (gn.tag == TAG_GN_IP)
		{
			/* Kept whatever its length: libpq fails a certificate with a bad one. */
			out->san[out->n_san].type = SAN_IP;
		}
		else
			continue;
		out->san[out->n_san].value = gn.val;
		out->san[out->n_san].len = gn.len;
		out->n_san++;
	}
	return 0;
}

/* Extensions ::= SEQUENCE OF SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue }. */
static int
parse_extensions(const der_item *wrapper, x509_cert *out)
{
	der_cursor	c = der_enter(wrapper);
	der_item	seq;
	bool		seen_bc = false;
	bool		seen_san = false;

	if (der_expect(&c, TAG_SEQUENCE, &seq) < 0 || c.n != 0)
		return -1;
	c = der_enter(&seq);
	while (c.n > 0)
	{
		der_item	ext;
		der_item	oid;
		der_item	item;
		der_cursor	in;

		if (der_expect(&c, TAG_SEQUENCE, &ext) < 0)
			return -1;
		in = der_enter(&ext);
		if (der_expect_oid(&in, &oid) < 0)
			return -1;
		if (der_at(&in, TAG_BOOLEAN) && (der_read(&in, &item) < 0 || item.len != 1))
			return -1;
		if (der_expect(&in, TAG_OCTET_STRING, &item) < 0 || in.n != 0)
			return -1;

		/* RFC 5280 allows each extension once; two would make the answer a guess. */
		if (OID_IS(&oid, oid_basic_constraints))
		{
			if (seen_bc || parse_basic_constraints(der_enter(&item), out) < 0)
				return -1;
			seen_bc = true;
		}
		else if (OID_IS(&oid, oid_subject_alt_name))
		{
			if (seen_san || parse_subject_alt_name(der_enter(&item), out) < 0)
				return -1;
			seen_san = true;
		}
	}
	return 0;
}

/* Version ::= INTEGER { v1(0), v2(1), v3(2) }, inside [0] EXPLICIT. */
static int
parse_version(const der_item *wrapper)
{
	der_cursor	c = der_enter(wrapper);
	der_item	v;

	if (der_expect(&c, TAG_INTEGER, &v) < 0 || c.n != 0 || v.len != 1 || v.val[0] > 2)
		return -1;
	return 0;
}

/* Validity ::= SEQUENCE { notBefore Time, notAfter Time }. */
static int
parse_validity(const der_item *validity, x509_cert *out)
{
	der_cursor	c = der_enter(validity);
	der_item	t;

	if (der_read(&c, &t) < 0 || x509_parse_time(&t, &out->not_before) < 0 ||
		der_read(&c, &t) < 0 || x509_parse_time(&t, &out->not_after) < 0 || c.n != 0)
		return -1;
	return 0;
}

/*
 * TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber,
 * signature, issuer, validity, subject, subjectPublicKeyInfo,
 * [1] issuerUniqueID OPTIONAL, [2] subjectUniqueID OPTIONAL,
 * [3] extensions OPTIONAL }
 */
static int
parse_tbs(const der_item *tbs, x509_cert *out)
{
	der_cursor	c = der_enter(tbs);
	der_item	item;

	if (der_at(&c, TAG_CERT_VERSION))
	{
		if (der_read(&c, &item) < 0 || parse_version(&item) < 0)
			return -1;
	}

	if (der_expect(&c, TAG_INTEGER, &item) < 0 || item.len == 0)
		return -1;
	out->serial.p = item.val;
	out->serial.len = item.len;

	if (der_expect(&c, TAG_SEQUENCE, &item) < 0)	/* signature algorithm */
		return -1;

	if (der_expect(&c, TAG_SEQUENCE, &item) < 0)
		return -1;
	out->issuer_raw = der_whole(&item);

	if (der_expect(&c, TAG_SEQUENCE, &item) < 0 || parse_validity(&item, out) < 0)
		return -1;

	if (der_expect(&c, TAG_SEQUENCE, &item) < 0)
		return -1;
	out->subject_raw = der_whole(&item);

	if (der_expect(&c, TAG_SEQUENCE, &item) < 0 || parse_spki(&item, out) < 0)
		return -1;
	out->spki = der_whole(&item);

	if (der_at(&c, TAG_CERT_ISSUER_UID) && der_read(&c, &item) < 0)
		return -1;
	if (der_at(&c, TAG_CERT_SUBJECT_UID) && der_read(&c, &item) < 0)
		return -1;
	if (der_at(&c, TAG_CERT_EXTENSIONS))
	{
		if (der_read(&c, &item) < 0 || parse_extensions(&item, out) < 0)
			return -1;
	}
	return c.n == 0 ? 0 : -1;
}

int
x509_parse(const uint8_t *der, size_t len, x509_cert *out)
{
	der_cursor	c = {der, len};
	der_item	cert;
	der_item	tbs;
	der_item	item;

	memset(out, 0, sizeof(*out));
	if (der == NULL)
		return -1;

	/* Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } */
	if (der_expect(&c, TAG_SEQUENCE, &cert) < 0 || c.n != 0)
		goto fail;
	out->der = der_whole(&cert);
	c = der_enter(&cert);
	if (der_expect(&c, TAG_SEQUENCE, &tbs) < 0 ||
		der_expect(&c, TAG_SEQUENCE, &item) < 0 ||
		der_expect(&c, TAG_BIT_STRING, &item) < 0 || c.n != 0)
		goto fail;
	if (parse_tbs(&tbs, out) < 0)
		goto fail;

	/* The strings last: everything they depend on has been checked by now. */
	out->subject = x509_name_to_string(out->subject_raw, &out->cn);
	/* A self-signed certificate (every root of a CA bundle) names itself twice. */
	if (out->subject != NULL && out->issuer_raw.len == out->subject_raw.len &&
		memcmp(out->issuer_raw.p, out->subject_raw.p, out->subject_raw.len) == 0)
		out->issuer = strdup(out->subject);
	else
		out->issuer = x509_name_to_string(out->issuer_raw, NULL);
	if (out->subject == NULL || out->issuer == NULL)
		goto fail;
	return 0;

fail:
	x509_free(out);
	memset(out, 0, sizeof(*out));
	return -1;
}

void
x509_free(x509_cert *c)
{
	if (c == NULL)
		return;
	free(c->subject);
	free(c->issuer);
	c->subject = NULL;
	c->issuer = NULL;
}

/*
 * The one place a SAN's address octets become text (the record's "san" list in
 * record.c, the host-name judge's sentences in hostname.c): inet_ntop's forms, so
 * they read as libpq's own messages and psql's do.  The `pqtls` command prints no
 * SANs; were it to, it would ask OpenSSL (it reads certificates with it, certfacts.c).
 */
bool
x509_ip_text(const uint8_t *octets, size_t len, char out[X509_IP_TEXT_LEN])
{
	if (len == 4)
		return inet_ntop(AF_INET, octets, out, X509_IP_TEXT_LEN) != NULL;
	if (len == 16)
		return inet_ntop(AF_INET6, octets, out, X509_IP_TEXT_LEN) != NULL;
	return false;
}
