/*
 * fuzz_truststore.c: trust files of any format (include/pqtls/truststore.h).
 *
 * The input is the content of a trust file.  truststore_parse() detects the
 * format (JKS/JCEKS by magic, one DER certificate, PKCS#12 through OpenSSL,
 * PEM) and lists the certificates; JKS and JCEKS stores are also read with
 * keytool's default password "changeit" given explicitly, so that the
 * integrity digest is checked too, and every PKCS#12 with that password.
 * Passwords are fixed: the fuzzer explores the file, not the password (the
 * seed stores use "changeit" or "").
 *
 * Checked, for every input: no crash and no leak; success means at least one
 * certificate, each with bytes, an alias that is a string, a 1-based entry
 * number only in Java stores and chain positions in range; failure means an
 * error sentence and an empty list; no error names the password; the format
 * name is a string.  Each certificate listed is read as `pqtls bundle` does
 * (x509_parse()).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pqtls/pem.h"
#include "pqtls/truststore.h"
#include "pqtls/x509.h"

#define FAIL(...) do { fprintf(stderr, "fuzz_truststore: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

/* Not "changeit": a password the message could only have got from us. */
#define PASSWORD "fuzz-Pa55word"

static void
check(const uint8_t *data, size_t size, const char *password, int rc, cert_list *l, char *error)
{
	if (truststore_format_name(l->format) == NULL)
		FAIL("no format name");
	if (rc == 0)
	{
		if (l->n < 1 || l->certs == NULL || error != NULL)
			FAIL("success without a certificate, or with an error");
		for (int i = 0; i < l->n; i++)
		{
			truststore_cert *c = &l->certs[i];
			x509_cert  *x = malloc(sizeof(*x));

			if (c->der == NULL || c->der_len == 0)
				FAIL("certificate %d has no bytes", i);
			if (c->alias != NULL)
				(void) strlen(c->alias);
			if (c->entry < 0 || (c->entry > 0 && (l->format != TS_FORMAT_JKS &&
												  l->format != TS_FORMAT_JCEKS)))
				FAIL("entry number %d in a %s", c->entry, truststore_format_name(l->format));
			if (c->entry > l->entries && (l->format == TS_FORMAT_JKS || l->format == TS_FORMAT_JCEKS))
				FAIL("entry %d of %d", c->entry, l->entries);
			if (c->chain_len < 0 || c->chain_pos < 0 || c->chain_pos > c->chain_len)
				FAIL("chain position %d of %d", c->chain_pos, c->chain_len);
			if (x509_parse(c->der, c->der_len, x) == 0)
				x509_free(x);
			free(x);
		}
	}
	else
	{
		if (rc != -1 || error == NULL || l->n != 0)
			FAIL("failure without an error, or with certificates");
		(void) strlen(error);
		if (password != NULL && strstr(error, password) != NULL &&
			memmem(data, size, password, strlen(password)) == NULL)
			FAIL("the error names the password: %s", error);
	}
	cert_list_free(l);
	free(error);
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cert_list	l;
	char	   *error = NULL;
	int			rc;
	bool		java = size >= 4 && ((data[0] == 0xFE && data[1] == 0xED) || (data[0] == 0xCE && data[1] == 0xCE));

	/* Detection, default passwords ("" then "changeit" for PKCS#12). */
	rc = truststore_parse(data, size, NULL, &l, &error);
	check(data, size, NULL, rc, &l, error);

	/* A Java store with its password: the SHA-1 digest is checked. */
	if (java)
	{
		error = NULL;
		rc = truststore_parse_jks(data, size, "changeit", &l, &error);
		check(data, size, "changeit", rc, &l, error);
		error = NULL;
		rc = truststore_parse_jks(data, size, PASSWORD, &l, &error);
		check(data, size, PASSWORD, rc, &l, error);
	}
	else if (size > 0 && data[0] == 0x30 && !der_is_single_cert(data, size))
	{
		/* Possibly PKCS#12: an explicit, wrong password must not be named. */
		error = NULL;
		rc = truststore_parse(data, size, PASSWORD, &l, &error);
		check(data, size, PASSWORD, rc, &l, error);
	}
	return 0;
}
