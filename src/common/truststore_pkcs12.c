/*
 * truststore_pkcs12.c: the certificates of a PKCS#12 file (truststore.h),
 * through OpenSSL's PKCS12_* functions: command line only (PQTLS_CLI), as the
 * library links no OpenSSL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pqtls/truststore.h"
#include "pqtls/truststore_parts.h"

#ifdef PQTLS_CLI
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/x509.h>
#endif

/* ---------------------------------------------------------------------
 * PKCS#12 (command line only: it needs OpenSSL)
 * --------------------------------------------------------------------- */

/* A DER (or BER) SEQUENCE whose first element is INTEGER 3: PFX of RFC 7292. */
bool
ts_looks_like_pkcs12(const uint8_t *d, size_t len)
{
	size_t		hdr;

	if (len < 5 || d[0] != 0x30)
		return false;
	if (d[1] <= 0x80)
		hdr = 2;				/* short form, or BER indefinite */
	else
	{
		size_t		n = d[1] & 0x7F;

		if (n > 4)
			return false;
		hdr = 2 + n;
	}
	return len >= hdr + 3 && d[hdr] == 0x02 && d[hdr + 1] == 0x01 && d[hdr + 2] == 0x03;
}

#ifdef PQTLS_CLI
static int
add_x509(cert_list *out, X509 *x, bool key_cert)
{
	unsigned char *der = NULL;
	int			n = i2d_X509(x, &der);
	uint8_t    *copy;
	truststore_cert *c;
	int			alias_len = 0;
	const unsigned char *alias;

	if (n <= 0)
		return -1;
	copy = ts_memdup(der, (size_t) n);
	OPENSSL_free(der);
	c = ts_list_add(out, copy, (size_t) n);
	if (c == NULL)
		return -1;
	c->key_entry = key_cert;
	alias = X509_alias_get0(x, &alias_len);
	if (alias != NULL && alias_len >= 0)
	{
		c->alias = ts_alias_string(alias, (size_t) alias_len);
		if (c->alias == NULL)
			return -1;
	}
	return 0;
}

/*
 * Open with one password: 1 done, 0 the MAC says wrong password, 2 the MAC
 * agreed (or there is none) but the contents could not be decrypted or read,
 * -1 out of memory.
 */
static int
pkcs12_try(PKCS12 *p12, const char *pw, cert_list *out)
{
	EVP_PKEY   *pkey = NULL;
	X509	   *cert = NULL;
	STACK_OF(X509) *ca = NULL;
	int			rc = 1;

	if (PKCS12_mac_present(p12) &&
		!PKCS12_verify_mac(p12, pw, -1) &&
		!(pw[0] == '\0' && PKCS12_verify_mac(p12, NULL, 0)))
		return 0;
	if (!PKCS12_parse(p12, pw, &pkey, &cert, &ca))
		return 2;
	if (cert != NULL)
	{
		out->key_entries = 1;
		if (add_x509(out, cert, true) != 0)
			rc = -1;
	}
	for (int i = 0; rc == 1 && ca != NULL && i < sk_X509_num(ca); i++)
		if (add_x509(out, sk_X509_value(ca, i), false) != 0)
			rc = -1;
	EVP_PKEY_free(pkey);
	X509_free(cert);
	sk_X509_pop_free(ca, X509_free);
	return rc;
}

int
ts_parse_pkcs12(const uint8_t *data, size_t len, const char *password, cert_list *out,
			 char **error)
{
	static const char *const defaults[] = {"", "changeit"};
	const char *const *tries = password ? &password : defaults;
	int			ntries = password ? 1 : 2;
	const unsigned char *p = data;
	PKCS12	   *p12;
	int			rc = 0;
	bool		unreadable = false;
	OSSL_PROVIDER *legacy = NULL;

	memset(out, 0, sizeof(*out));
	out->format = TS_FORMAT_PKCS12;
	if (len > LONG_MAX || (p12 = d2i_PKCS12(NULL, &p, (long) len)) == NULL)
	{
		ERR_clear_error();
		ts_set_error(error, "not a PKCS#12 file OpenSSL can read");
		return -1;
	}
	for (int round = 0; round < 2; round++)
	{
		/*
		 * Old stores (RC2, 40-bit RC4) need OpenSSL 3's legacy provider: when a
		 * password passed the MAC but the contents stayed closed, load it and try
		 * again.
		 */
		if (round == 1 && (!unreadable ||
						   (legacy = OSSL_PROVIDER_try_load(NULL, "legacy", 1)) == NULL))
			break;
		for (int i = 0; i < ntries; i++)
		{
			rc = pkcs12_try(p12, tries[i], out);
			if (rc == 1 || rc < 0)
				break;
			unreadable |= rc == 2;
			cert_list_free(out);
			out->format = TS_FORMAT_PKCS12;
		}
		if (rc == 1 || rc < 0)
			break;
	}
	if (rc == 1)
		out->integrity = !PKCS12_mac_present(p12) ? TS_INTEGRITY_ABSENT :
			password ? TS_INTEGRITY_VERIFIED : TS_INTEGRITY_DEFAULT;
	PKCS12_free(p12);
	/* The certificates are copies by now: the provider can go. */
	if (legacy != NULL)
		OSSL_PROVIDER_unload(legacy);
	ERR_clear_error();
	if (rc == 1 && out->n == 0)
	{
		ts_set_error(error, "PKCS#12 holds no certificate");
		rc = 0;
	}
	else if (rc < 0)
		ts_set_error(error, "out of memory reading the PKCS#12");
	else if (rc != 1 && unreadable)
		ts_set_error(error, "PKCS#12 contents cannot be decrypted (an algorithm OpenSSL does "
				  "not support, or a wrong password)");
	else if (rc != 1)
		ts_set_error(error, password ?
				  "PKCS#12 integrity check failed: wrong password, or the file was altered" :
				  "PKCS#12 cannot be opened with the empty password or keytool's default: "
				  "give its password with --password");
	if (rc != 1)
	{
		cert_list_free(out);
		return -1;
	}
	return 0;
}
#endif

