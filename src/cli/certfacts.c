/*
 * certfacts.c: a certificate's facts for the `pqtls` command, read with
 * OpenSSL (certfacts.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pqtls/certfacts.h"

/*
 * The flags that print a Name as x509.h describes: RFC 2253 escaping and
 * control characters as \XX, values converted to UTF-8, unknown types as
 * "#" and their DER in hex, RDNs in DER order joined by ", ", multi-valued
 * RDN members by " + ", types by short name.
 */
#define NAME_FLAGS (ASN1_STRFLGS_ESC_2253 | ASN1_STRFLGS_ESC_CTRL | ASN1_STRFLGS_UTF8_CONVERT | \
					ASN1_STRFLGS_DUMP_UNKNOWN | ASN1_STRFLGS_DUMP_DER | \
					XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_FN_SN)

static char *
name_text(const X509_NAME *name)
{
	BIO		   *bio = BIO_new(BIO_s_mem());
	char	   *data = NULL;
	long		n;
	char	   *out = NULL;

	if (bio == NULL)
		return NULL;
	if (X509_NAME_print_ex(bio, name, 0, NAME_FLAGS) >= 0)
	{
		n = BIO_get_mem_data(bio, &data);
		out = malloc((size_t) (n > 0 ? n : 0) + 1);
		if (out != NULL)
		{
			if (n > 0)
				memcpy(out, data, (size_t) n);
			out[n > 0 ? n : 0] = '\0';
		}
	}
	BIO_free(bio);
	return out;
}

/* ASN1_TIME as time_t and RFC 3339 text; false when it is not a valid time. */
static bool
read_time(const ASN1_TIME *t, time_t *when, char text[21])
{
	struct tm	tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return false;
	*when = timegm(&tm);
	return strftime(text, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) == 20;
}

static void
describe_key(EVP_PKEY *pk, char *out, size_t outsz)
{
	char		group[64];

	snprintf(out, outsz, "unknown");
	if (pk == NULL)
		return;
	switch (EVP_PKEY_get_base_id(pk))
	{
		case EVP_PKEY_RSA:
			snprintf(out, outsz, "RSA %d", EVP_PKEY_get_bits(pk));
			break;
		case EVP_PKEY_EC:
			if (EVP_PKEY_get_group_name(pk, group, sizeof(group), NULL) != 1)
				break;
			if (strcmp(group, "prime256v1") == 0)
				snprintf(out, outsz, "EC P-256");
			else if (strcmp(group, "secp384r1") == 0)
				snprintf(out, outsz, "EC P-384");
			else if (strcmp(group, "secp521r1") == 0)
				snprintf(out, outsz, "EC P-521");
			break;
		case EVP_PKEY_ED25519:
			snprintf(out, outsz, "Ed25519");
			break;
		case EVP_PKEY_ED448:
			snprintf(out, outsz, "Ed448");
			break;
	}
}

/* Everything but the certificate itself; false when a part cannot be read. */
static bool
read_facts(cert_facts *c)
{
	X509	   *x = c->cert;

	c->subject = name_text(X509_get_subject_name(x));
	c->issuer = name_text(X509_get_issuer_name(x));
	if (c->subject == NULL || c->issuer == NULL)
		return false;
	if (!read_time(X509_get0_notBefore(x), &c->not_before, c->not_before_text) ||
		!read_time(X509_get0_notAfter(x), &c->not_after, c->not_after_text))
		return false;
	describe_key(X509_get0_pubkey(x), c->key_desc, sizeof(c->key_desc));
	c->is_ca = (X509_get_extension_flags(x) & EXFLAG_CA) != 0;
	c->self_signed = X509_self_signed(x, 1) == 1;
	c->spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &c->spki);
	return c->spki_len > 0;
}

cert_facts *
cert_facts_read(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	cert_facts *c;

	if (len > 0x7FFFFFFF || (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->cert = d2i_X509(NULL, &p, (long) len);
	/* Exactly one certificate: nothing may follow it. */
	if (c->cert == NULL || p != der + len || !read_facts(c))
	{
		cert_facts_free(c);
		c = NULL;
	}
	ERR_clear_error();
	return c;
}

void
cert_facts_free(cert_facts *c)
{
	if (c == NULL)
		return;
	X509_free(c->cert);
	free(c->subject);
	free(c->issuer);
	OPENSSL_free(c->spki);
	free(c);
}

int
cert_facts_cmp_subject_and_key(const cert_facts *a, const cert_facts *b)
{
	int			cmp = X509_NAME_cmp(X509_get_subject_name(a->cert), X509_get_subject_name(b->cert));

	if (cmp != 0)
		return cmp < 0 ? -1 : 1;
	if (a->spki_len != b->spki_len)
		return a->spki_len < b->spki_len ? -1 : 1;
	return memcmp(a->spki, b->spki, (size_t) a->spki_len);
}

bool
cert_facts_same_subject_and_key(const cert_facts *a, const cert_facts *b)
{
	return cert_facts_cmp_subject_and_key(a, b) == 0;
}

void
cert_sha256_hex(const uint8_t *der, size_t len, char out[CERT_SHA256_HEX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	out[0] = '\0';
	if (EVP_Digest(der, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return;
	for (unsigned int i = 0; i < n; i++)
	{
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0x0F];
	}
	out[2 * n] = '\0';
}
