/*
 * x509_strict.c: is a certificate's DER one that OpenSSL's decoder certainly
 * accepts (see x509_strict.h)?
 *
 * libpq refuses a whole root file when OpenSSL's d2i_X509 refuses one block of
 * it (trustfile.c). Asking d2i_X509 costs OpenSSL 3.0 about 1.3 million
 * instructions a certificate (its public key goes through the provider
 * decoders, whose outcome d2i_X509 then ignores); this walk costs a few
 * thousand. It follows the ASN.1 templates of X509 in OpenSSL 1.1.1 and 3.x
 * (crypto/x509/x_x509.c, x_name.c, x_algor.c, x_exten.c, x_pubkey.c) and the
 * content rules their primitives enforce (c2i_ASN1_INTEGER, BIT STRING,
 * BOOLEAN, OBJECT IDENTIFIER, the string types a name may hold and their
 * conversion to UTF-8 for the canonical name), and it is stricter wherever
 * that is simpler: anything it is not sure of answers false, and the caller
 * then asks OpenSSL itself.
 */
#include <stdbool.h>

#include "pqtls/der.h"
#include "pqtls/x509_strict.h"

#define TAG_NULL 0x05

/* c2i_ASN1_INTEGER (1.1.0+): contents, and no padding byte that is not needed. */
static bool
integer_ok(const der_item *it)
{
	if (it->len == 0)
		return false;
	if (it->len == 1)
		return true;
	if (it->val[0] == 0x00 && !(it->val[1] & 0x80))
		return false;
	if (it->val[0] == 0xFF && (it->val[1] & 0x80))
		return false;
	return true;
}

/* c2i_ASN1_BIT_STRING: the unused-bits octet, at most 7. */
static bool
bit_string_ok(const der_item *it)
{
	return it->len >= 1 && it->val[0] <= 7;
}

static bool
expect_integer(der_cursor *c)
{
	der_item	it;

	return der_expect(c, TAG_INTEGER, &it) == 0 && integer_ok(&it);
}

/* AlgorithmIdentifier ::= SEQUENCE { OID, parameters ANY OPTIONAL }. */
static bool
algorithm_ok(der_cursor *outer)
{
	der_item	seq,
				oid,
				p;
	der_cursor	c;

	if (der_expect(outer, TAG_SEQUENCE, &seq) < 0)
		return false;
	c = der_enter(&seq);
	if (der_expect_oid(&c, &oid) < 0)
		return false;
	if (c.n == 0)
		return true;
	if (der_read(&c, &p) < 0 || c.n != 0)
		return false;
	/* The parameters seen in certificates: NULL, a curve's OID, a SEQUENCE. */
	return (p.tag == TAG_NULL && p.len == 0) || (p.tag == TAG_OID && oid_valid(&p)) ||
		p.tag == TAG_SEQUENCE;
}

/* Well-formed UTF-8 (RFC 3629: shortest form, no surrogates, at most U+10FFFF). */
static bool
utf8_ok(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n;)
	{
		uint8_t		b = s[i];
		size_t		more;
		uint32_t	cp,
					min;

		if (b < 0x80)
		{
			i++;
			continue;
		}
		if ((b & 0xE0) == 0xC0)
			more = 1, cp = b & 0x1F, min = 0x80;
		else if ((b & 0xF0) == 0xE0)
			more = 2, cp = b & 0x0F, min = 0x800;
		else if ((b & 0xF8) == 0xF0)
			more = 3, cp = b & 0x07, min = 0x10000;
		else
			return false;
		if (n - i <= more)
			return false;
		for (size_t k = 1; k <= more; k++)
		{
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += more + 1;
	}
	return true;
}

/* Code units of `width` bytes (BMPString 2, UniversalString 4), none a surrogate. */
static bool
wide_ok(const uint8_t *s, size_t n, size_t width)
{
	if (n % width != 0)
		return false;
	for (size_t i = 0; i < n; i += width)
	{
		uint32_t	cp = 0;

		for (size_t k = 0; k < width; k++)
			cp = (cp << 8) | s[i + k];
		if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
	}
	return true;
}

/*
 * An attribute value: one of the string types of a DirectoryString (and IA5
 * for e-mail), which OpenSSL converts to UTF-8 for the canonical name.
 */
static bool
name_value_ok(const der_item *v)
{
	switch (v->tag)
	{
		case TAG_UTF8STRING:
			return utf8_ok(v->val, v->len);
		case TAG_BMPSTRING:
			return wide_ok(v->val, v->len, 2);
		case TAG_UNIVERSALSTRING:
			return wide_ok(v->val, v->len, 4);
		case TAG_PRINTABLESTRING:
		case TAG_IA5STRING:
		case TAG_T61STRING:
		case TAG_NUMERICSTRING:
			return true;
		default:
			return false;
	}
}

/* Name ::= SEQUENCE OF SET OF SEQUENCE { OID, value }. */
static bool
name_ok(der_cursor *outer)
{
	der_item	name,
				set,
				atv,
				oid,
				value;
	der_cursor	rdns,
				members,
				in;

	if (der_expect(outer, TAG_SEQUENCE, &name) < 0)
		return false;
	rdns = der_enter(&name);
	while (rdns.n > 0)
	{
		if (der_expect(&rdns, TAG_SET, &set) < 0)
			return false;
		members = der_enter(&set);
		if (members.n == 0)
			return false;		/* an empty RDN: leave it to OpenSSL */
		while (members.n > 0)
		{
			if (der_expect(&members, TAG_SEQUENCE, &atv) < 0)
				return false;
			in = der_enter(&atv);
			if (der_expect_oid(&in, &oid) < 0 || der_read(&in, &value) < 0 || in.n != 0 ||
				!name_value_ok(&value))
				return false;
		}
	}
	return true;
}

/* Validity ::= SEQUENCE { Time, Time }, each UTCTime or GeneralizedTime. */
static bool
validity_ok(der_cursor *outer)
{
	der_item	seq,
				t;
	der_cursor	c;

	if (der_expect(outer, TAG_SEQUENCE, &seq) < 0)
		return false;
	c = der_enter(&seq);
	for (int i = 0; i < 2; i++)
		if (der_read(&c, &t) < 0 || (t.tag != TAG_UTCTIME && t.tag != TAG_GENERALIZEDTIME))
			return false;
	return c.n == 0;
}

/* SubjectPublicKeyInfo ::= SEQUENCE { AlgorithmIdentifier, BIT STRING }. */
static bool
spki_ok(der_cursor *outer)
{
	der_item	seq,
				key;
	der_cursor	c;

	if (der_expect(outer, TAG_SEQUENCE, &seq) < 0)
		return false;
	c = der_enter(&seq);
	return algorithm_ok(&c) && der_expect(&c, TAG_BIT_STRING, &key) == 0 &&
		bit_string_ok(&key) && c.n == 0;
}

/* [3] EXPLICIT SEQUENCE OF SEQUENCE { OID, BOOLEAN DEFAULT FALSE, OCTET STRING }. */
static bool
extensions_ok(const der_item *wrapper)
{
	der_cursor	c = der_enter(wrapper),
				list,
				in;
	der_item	seq,
				ext,
				it;

	if (der_expect(&c, TAG_SEQUENCE, &seq) < 0 || c.n != 0)
		return false;
	list = der_enter(&seq);
	while (list.n > 0)
	{
		if (der_expect(&list, TAG_SEQUENCE, &ext) < 0)
			return false;
		in = der_enter(&ext);
		if (der_expect_oid(&in, &it) < 0)
			return false;
		if (der_at(&in, TAG_BOOLEAN) && (der_read(&in, &it) < 0 || it.len != 1))
			return false;
		if (der_expect(&in, TAG_OCTET_STRING, &it) < 0 || in.n != 0)
			return false;
	}
	return true;
}

static bool
tbs_ok(const der_item *tbs)
{
	der_cursor	c = der_enter(tbs);
	der_item	it;

	if (der_at(&c, TAG_CERT_VERSION))
	{
		der_cursor	v;

		if (der_read(&c, &it) < 0)
			return false;
		v = der_enter(&it);
		if (!expect_integer(&v) || v.n != 0)
			return false;
	}
	if (!expect_integer(&c) || !algorithm_ok(&c) || !name_ok(&c) || !validity_ok(&c) ||
		!name_ok(&c) || !spki_ok(&c))
		return false;
	if (der_at(&c, TAG_CERT_ISSUER_UID) && (der_read(&c, &it) < 0 || !bit_string_ok(&it)))
		return false;
	if (der_at(&c, TAG_CERT_SUBJECT_UID) && (der_read(&c, &it) < 0 || !bit_string_ok(&it)))
		return false;
	if (der_at(&c, TAG_CERT_EXTENSIONS) && (der_read(&c, &it) < 0 || !extensions_ok(&it)))
		return false;
	return c.n == 0;
}

bool
x509_strict(const uint8_t *der, size_t len)
{
	der_cursor	c = {der, len},
				in;
	der_item	cert,
				tbs,
				sig;

	if (der == NULL || der_expect(&c, TAG_SEQUENCE, &cert) < 0 || c.n != 0)
		return false;
	in = der_enter(&cert);
	return der_expect(&in, TAG_SEQUENCE, &tbs) == 0 && tbs_ok(&tbs) && algorithm_ok(&in) &&
		der_expect(&in, TAG_BIT_STRING, &sig) == 0 && bit_string_ok(&sig) && in.n == 0;
}
