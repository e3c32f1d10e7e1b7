/*
 * test_pem.c: PEM blocks to DER, checked against OpenSSL's own PEM reader on
 * the real RDS bundles and on the same bundles reformatted the ways bundles
 * get reformatted (CRLF, indentation, lost padding, keys mixed in).
 */
#include <stdbool.h>
#include <stdint.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "check.h"
#include "pqtls/pem.h"

typedef struct der_list
{
	int			n;
	uint8_t    *der[512];
	size_t		len[512];
} der_list;

static const char *
fixture_dir(void)
{
	/* The repository's own copy, named by the Makefile. */
	return PQTLS_TEST_FIXTURES;
}

static char *
read_fixture(const char *name, size_t *len)
{
	char		path[1024];
	FILE	   *f;
	char	   *data;
	long		size;

	snprintf(path, sizeof(path), "%s/%s", fixture_dir(), name);
	f = fopen(path, "rb");
	if (f == NULL)
	{
		fprintf(stderr, "cannot open %s\n", path);
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc((size_t) size + 1);
	if (fread(data, 1, (size_t) size, f) != (size_t) size)
		size = 0;
	fclose(f);
	data[size] = '\0';
	*len = (size_t) size;
	return data;
}

static void
list_free(der_list *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->der[i]);
	l->n = 0;
}

/* Everything pem_next_cert() finds; malformed blocks are counted apart. */
static void
ours(const char *text, size_t len, der_list *l, int *malformed)
{
	size_t		pos = 0;
	int			r;
	uint8_t    *der;
	size_t		der_len;

	l->n = 0;
	*malformed = 0;
	while ((r = pem_next_cert(text, len, &pos, &der, &der_len)) != 0)
	{
		CHECK(pos <= len);
		if (r < 0)
		{
			(*malformed)++;
			continue;
		}
		if (l->n < 512)
		{
			l->der[l->n] = der;
			l->len[l->n++] = der_len;
		}
		else
			free(der);
	}
	CHECK_INT(pos, len);
}

/* What OpenSSL's PEM reader finds, re-encoded. */
static void
theirs(const char *text, size_t len, der_list *l)
{
	BIO		   *bio = BIO_new_mem_buf(text, (int) len);
	X509	   *x;

	l->n = 0;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL && l->n < 512)
	{
		unsigned char *der = NULL;
		int			n = i2d_X509(x, &der);

		l->der[l->n] = malloc((size_t) n);
		memcpy(l->der[l->n], der, (size_t) n);
		l->len[l->n++] = (size_t) n;
		OPENSSL_free(der);
		X509_free(x);
	}
	BIO_free(bio);
}

static bool
same_lists(const der_list *a, const der_list *b)
{
	if (a->n != b->n)
		return false;
	for (int i = 0; i < a->n; i++)
		if (a->len[i] != b->len[i] || memcmp(a->der[i], b->der[i], a->len[i]) != 0)
			return false;
	return true;
}

/* Apply a line-by-line rewrite to text; returns a malloc'ed copy. */
static char *
rewrite(const char *text, size_t len, const char *prefix, const char *eol,
		bool strip_padding, size_t *out_len)
{
	size_t		cap = len * 3 + 64;
	char	   *out = malloc(cap);
	size_t		o = 0;
	size_t		i = 0;

	while (i < len)
	{
		size_t		e = i;

		while (e < len && text[e] != '\n')
			e++;
		if (text[i] != '-')
		{
			memcpy(out + o, prefix, strlen(prefix));
			o += strlen(prefix);
		}
		for (size_t k = i; k < e; k++)
			if (!(strip_padding && text[k] == '='))
				out[o++] = text[k];
		if (e < len)
		{
			memcpy(out + o, eol, strlen(eol));
			o += strlen(eol);
		}
		i = e + 1;
	}
	out[o] = '\0';
	*out_len = o;
	return out;
}

static void
check_bundle(const char *name, int expected)
{
	size_t		len;
	char	   *text = read_fixture(name, &len);
	der_list	a;
	der_list	b;
	int			bad;

	CHECK(text != NULL);
	if (text == NULL)
		return;
	ours(text, len, &a, &bad);
	theirs(text, len, &b);
	CHECK_INT(bad, 0);
	CHECK_INT(a.n, expected);
	CHECK_INT(b.n, expected);
	CHECK(same_lists(&a, &b));
	for (int i = 0; i < a.n; i++)
		CHECK(der_is_single_cert(a.der[i], a.len[i]));
	list_free(&a);
	list_free(&b);
	free(text);
}

TEST(rds_2025_g1_bundle)
{
	size_t		len;
	char	   *text = read_fixture("global-bundle-2025-g1.pem", &len);

	/* The file as published: no newline after the last END line. */
	CHECK(text != NULL && len > 0 && text[len - 1] != '\n');
	free(text);
	check_bundle("global-bundle-2025-g1.pem", 102);
}

TEST(rds_2023_bundle)
{
	check_bundle("global-bundle-2023.pem", 115);
}

/* CRLF, indentation, trailing blanks, lost padding: the same certificates. */
TEST(reformatted_bundles)
{
	static const struct
	{
		const char *prefix;
		const char *eol;
		bool		strip;
	}			forms[] = {
		{"", "\r\n", false},
		{"  \t", "  \n", false},
		{"", "\n\n", true},
		{" ", " \r\n", true},
	};
	size_t		len;
	char	   *text = read_fixture("global-bundle-2023.pem", &len);
	der_list	ref;
	int			bad;

	CHECK(text != NULL);
	if (text == NULL)
		return;
	ours(text, len, &ref, &bad);
	for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++)
	{
		size_t		n;
		char	   *alt = rewrite(text, len, forms[f].prefix, forms[f].eol, forms[f].strip, &n);
		der_list	got;

		ours(alt, n, &got, &bad);
		CHECK_INT(bad, 0);
		CHECK_INT(got.n, 115);
		CHECK(same_lists(&got, &ref));
		list_free(&got);
		free(alt);
	}
	list_free(&ref);
	free(text);
}

/* The first certificate of the 2025 bundle as PEM text. */
static char *
first_cert_pem(void)
{
	size_t		len;
	char	   *text = read_fixture("global-bundle-2025-g1.pem", &len);
	char	   *end;

	if (text == NULL)
		return NULL;
	end = strstr(text, "-----END CERTIFICATE-----");
	end[strlen("-----END CERTIFICATE-----")] = '\0';
	return text;
}

TEST(other_blocks_are_skipped)
{
	char	   *cert = first_cert_pem();
	char	   *text;
	der_list	got;
	int			bad;

	CHECK(cert != NULL);
	if (cert == NULL)
		return;
	text = malloc(3 * strlen(cert) + 1024);
	sprintf(text,
			"Bag Attributes: junk before the first block\n"
			"-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
			"%s\n"
			"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
			"-----BEGIN X509 CRL-----\n!!! not even base64 !!!\n-----END X509 CRL-----\n"
			"-----BEGIN  -----\n"
			"%s",
			cert, cert);
	ours(text, strlen(text), &got, &bad);
	CHECK_INT(got.n, 2);
	CHECK_INT(bad, 0);
	list_free(&got);
	free(text);
	free(cert);
}

TEST(x509_certificate_label)
{
	char	   *cert = first_cert_pem();
	char	   *text;
	char	   *p;
	der_list	got;
	int			bad;

	CHECK(cert != NULL);
	if (cert == NULL)
		return;
	text = malloc(strlen(cert) + 64);
	p = strstr(cert, "-----BEGIN CERTIFICATE-----") + strlen("-----BEGIN CERTIFICATE-----");
	*strstr(p, "-----END") = '\0';
	sprintf(text, "-----BEGIN X509 CERTIFICATE-----%s-----END X509 CERTIFICATE-----", p);
	ours(text, strlen(text), &got, &bad);
	CHECK_INT(got.n, 1);
	CHECK_INT(bad, 0);
	list_free(&got);
	free(text);
	free(cert);
}

/* OpenSSL's TRUSTED CERTIFICATE: the certificate, then trust settings; we keep the certificate. */
TEST(trusted_certificate_keeps_only_the_certificate)
{
	char	   *cert = first_cert_pem();
	BIO		   *in;
	BIO		   *out;
	X509	   *x;
	char	   *pem;
	long		pem_len;
	unsigned char *der = NULL;
	int			der_len;
	uint8_t    *got = NULL;
	size_t		got_len = 0;
	size_t		pos = 0;

	CHECK(cert != NULL);
	if (cert == NULL)
		return;
	in = BIO_new_mem_buf(cert, -1);
	x = PEM_read_bio_X509(in, NULL, NULL, NULL);
	CHECK(x != NULL);
	CHECK(X509_add1_trust_object(x, OBJ_nid2obj(NID_server_auth)) == 1);
	out = BIO_new(BIO_s_mem());
	CHECK(PEM_write_bio_X509_AUX(out, x) == 1);
	pem_len = BIO_get_mem_data(out, &pem);
	CHECK(strstr(pem, "-----BEGIN TRUSTED CERTIFICATE-----") != NULL);
	der_len = i2d_X509(x, &der);

	CHECK_INT(pem_next_cert(pem, (size_t) pem_len, &pos, &got, &got_len), 1);
	CHECK_INT(got_len, der_len);
	CHECK(got != NULL && memcmp(got, der, (size_t) der_len) == 0);
	CHECK_INT(pem_next_cert(pem, (size_t) pem_len, &pos, &got, &got_len), 0);

	free(got);
	OPENSSL_free(der);
	BIO_free(out);
	BIO_free(in);
	X509_free(x);
	free(cert);
}

TEST(malformed_blocks_are_reported_and_skipped)
{
	char	   *cert = first_cert_pem();
	char	   *body;
	char	   *text;
	der_list	got;
	int			bad;
	char	   *p;

	CHECK(cert != NULL);
	if (cert == NULL)
		return;
	/* Room for the few bytes the cases below insert. */
	body = malloc(strlen(cert) + 16);
	strcpy(body, cert);
	text = malloc(8 * strlen(cert) + 1024);

	/* A character that is not base64 in the middle of a block. */
	p = strchr(strchr(body, '\n') + 1, '\n') + 5;
	*p = '*';
	sprintf(text, "%s\n%s\n%s", body, cert, body);
	ours(text, strlen(text), &got, &bad);
	CHECK_INT(got.n, 1);
	CHECK_INT(bad, 2);
	list_free(&got);

	/* Data after the padding. */
	strcpy(body, cert);
	p = strstr(body, "=\n-----END");
	if (p == NULL)
		p = strstr(body, "\n-----END");
	memmove(p + 3, p, strlen(p) + 1);
	memcpy(p, "==A", 3);
	sprintf(text, "%s\n%s", body, cert);
	ours(text, strlen(text), &got, &bad);
	CHECK_INT(got.n, 1);
	CHECK_INT(bad, 1);
	list_free(&got);

	/* No END line before the next BEGIN, and none at all at the end. */
	strcpy(body, cert);
	*strstr(body, "-----END") = '\0';
	sprintf(text, "%s%s\n%s", body, cert, body);
	ours(text, strlen(text), &got, &bad);
	CHECK_INT(got.n, 1);
	CHECK_INT(bad, 2);
	list_free(&got);

	/* An END line for another label. */
	strcpy(body, cert);
	p = strstr(body, "-----END CERTIFICATE");
	memcpy(p, "-----END CERTIFICATX", 20);
	sprintf(text, "%s\n%s", body, cert);
	ours(text, strlen(text), &got, &bad);
	CHECK_INT(got.n, 1);
	CHECK_INT(bad, 1);
	list_free(&got);

	/* Clean base64 of something that is not a certificate, and of nothing. */
	sprintf(text,
			"-----BEGIN CERTIFICATE-----\nAgEF\n-----END CERTIFICATE-----\n"
			"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"
			"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"
			"-----BEGIN CERTIFICATE-----\nM\n-----END CERTIFICATE-----\n"
			"%s", cert);
	ours(text, strlen(text), &got, &bad);
	CHECK_INT(got.n, 1);
	CHECK_INT(bad, 4);
	list_free(&got);

	free(text);
	free(body);
	free(cert);
}

TEST(no_blocks)
{
	size_t		pos = 0;
	uint8_t    *der = NULL;
	size_t		len = 0;

	CHECK_INT(pem_next_cert("", 0, &pos, &der, &len), 0);
	CHECK_INT(pem_next_cert("hello\n-----BEGIN", 16, &pos, &der, &len), 0);
	CHECK_INT(pos, 16);
	pos = 0;
	CHECK_INT(pem_next_cert("-----BEGIN CERTIFICATE", 22, &pos, &der, &len), 0);
	CHECK(der == NULL);
}

/* Every prefix of a real bundle: no crash, no read past the end (valgrind). */
TEST(every_prefix_of_a_bundle)
{
	size_t		len;
	char	   *text = read_fixture("global-bundle-2025-g1.pem", &len);
	size_t		stop;

	CHECK(text != NULL);
	if (text == NULL)
		return;
	stop = len < 6000 ? len : 6000;
	for (size_t n = 0; n <= stop; n++)
	{
		char	   *copy = malloc(n ? n : 1);
		der_list	got;
		int			bad;

		memcpy(copy, text, n);
		ours(copy, n, &got, &bad);
		CHECK(got.n <= 4);
		list_free(&got);
		free(copy);
	}
	free(text);
}

TEST(der_is_single_cert)
{
	char	   *cert = first_cert_pem();
	uint8_t    *der = NULL;
	size_t		len = 0;
	size_t		pos = 0;
	uint8_t    *copy;
	static const uint8_t indefinite[] = {0x30, 0x80, 0x30, 0x00, 0x00, 0x00};
	static const uint8_t not_tbs[] = {0x30, 0x03, 0x02, 0x01, 0x00};
	static const uint8_t tiny[] = {0x30, 0x02, 0x30, 0x00};
	static const uint8_t five_byte_len[] = {0x30, 0x85, 0x00, 0x00, 0x00, 0x00, 0x02, 0x30, 0x00};
	static const uint8_t non_minimal[] = {0x30, 0x81, 0x02, 0x30, 0x00};

	CHECK(cert != NULL);
	if (cert == NULL)
		return;
	CHECK_INT(pem_next_cert(cert, strlen(cert), &pos, &der, &len), 1);
	CHECK(der_is_single_cert(der, len));
	CHECK(!der_is_single_cert(der, len - 1));
	CHECK(!der_is_single_cert(der, 0));
	CHECK(!der_is_single_cert((const uint8_t *) cert, strlen(cert)));
	copy = malloc(len + 1);
	memcpy(copy, der, len);
	copy[len] = 0;
	CHECK(!der_is_single_cert(copy, len + 1));
	free(copy);
	CHECK(!der_is_single_cert(indefinite, sizeof(indefinite)));
	CHECK(!der_is_single_cert(not_tbs, sizeof(not_tbs)));
	CHECK(der_is_single_cert(tiny, sizeof(tiny)));
	CHECK(!der_is_single_cert(five_byte_len, sizeof(five_byte_len)));
	CHECK(!der_is_single_cert(non_minimal, sizeof(non_minimal)));
	free(der);
	free(cert);
}
