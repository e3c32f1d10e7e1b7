/*
 * test_truststore.c: trust files in every format, and the Java KeyStore reader
 * under every truncation and byte corruption of a store written here by hand
 * (following the layout described in src/common/truststore.c).  Certificates
 * and PKCS#12 files are made with OpenSSL in the test itself.
 */
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "check.h"
#include "pqtls/truststore.h"

/* ------------------------------------------------------------------ certificates */

typedef struct tcert
{
	X509	   *x;
	EVP_PKEY   *key;
	uint8_t    *der;
	size_t		len;
} tcert;

static tcert *
make_cert(const char *cn, bool ca)
{
	static long serial = 1;
	tcert	   *c = calloc(1, sizeof(*c));
	X509_NAME  *name;
	X509V3_CTX	ctx;
	X509_EXTENSION *ext;
	unsigned char *p = NULL;
	int			n;

	c->key = EVP_EC_gen("P-256");
	c->x = X509_new();
	X509_set_version(c->x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c->x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(c->x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(c->x), 86400L * 365);
	name = X509_get_subject_name(c->x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *) cn, -1, -1, 0);
	X509_set_issuer_name(c->x, name);
	X509_set_pubkey(c->x, c->key);
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, c->x, c->x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
							  ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	X509_add_ext(c->x, ext, -1);
	X509_EXTENSION_free(ext);
	X509_sign(c->x, c->key, EVP_sha256());
	n = i2d_X509(c->x, &p);
	c->der = malloc((size_t) n);
	memcpy(c->der, p, (size_t) n);
	c->len = (size_t) n;
	OPENSSL_free(p);
	return c;
}

static void
free_cert(tcert *c)
{
	X509_free(c->x);
	EVP_PKEY_free(c->key);
	free(c->der);
	free(c);
}

/* ------------------------------------------------------------------ bytes */

typedef struct bytes
{
	uint8_t    *p;
	size_t		len;
	size_t		cap;
} bytes;

static void
put(bytes *b, const void *s, size_t n)
{
	if (b->len + n > b->cap)
	{
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void
put_u16(bytes *b, uint32_t v)
{
	uint8_t		x[2] = {(uint8_t) (v >> 8), (uint8_t) v};

	put(b, x, 2);
}

static void
put_u32(bytes *b, uint32_t v)
{
	uint8_t		x[4] = {(uint8_t) (v >> 24), (uint8_t) (v >> 16), (uint8_t) (v >> 8), (uint8_t) v};

	put(b, x, 4);
}

static void
put_utf(bytes *b, const char *s)
{
	put_u16(b, (uint32_t) strlen(s));
	put(b, s, strlen(s));
}

static void
put_date(bytes *b)
{
	put_u32(b, 0x0000018C);		/* some time in 2023, in milliseconds */
	put_u32(b, 0x12345678);
}

/* ------------------------------------------------------------------ Java KeyStores */

typedef struct jks_entry
{
	uint32_t	tag;
	const char *alias;
	const char *type;			/* certificate type in version 2; NULL "X.509" */
	tcert	   *certs[3];
	int			ncerts;
	size_t		key_len;		/* tag 1: bytes of (pretend) protected key */
} jks_entry;

/* The password as Java digests it, for ASCII passwords. */
static size_t
ascii_utf16be(const char *pw, uint8_t *out)
{
	size_t		n = 0;

	for (const char *p = pw; *p; p++)
	{
		out[n++] = 0;
		out[n++] = (uint8_t) *p;
	}
	return n;
}

static bytes
jks_build(uint32_t magic, uint32_t version, const jks_entry *e, int n,
		  const uint8_t *pw16, size_t pw16_len)
{
	bytes		b = {0};
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	put_u32(&b, magic);
	put_u32(&b, version);
	put_u32(&b, (uint32_t) n);
	for (int i = 0; i < n; i++)
	{
		put_u32(&b, e[i].tag);
		put_utf(&b, e[i].alias);
		put_date(&b);
		if (e[i].tag == 1)
		{
			put_u32(&b, (uint32_t) e[i].key_len);
			for (size_t k = 0; k < e[i].key_len; k++)
				put(&b, "\x42", 1);
			put_u32(&b, (uint32_t) e[i].ncerts);
		}
		for (int k = 0; k < e[i].ncerts; k++)
		{
			if (version == 2)
				put_utf(&b, e[i].type ? e[i].type : "X.509");
			put_u32(&b, (uint32_t) e[i].certs[k]->len);
			put(&b, e[i].certs[k]->der, e[i].certs[k]->len);
		}
	}
	EVP_DigestInit_ex(ctx, EVP_sha1(), NULL);
	EVP_DigestUpdate(ctx, pw16, pw16_len);
	EVP_DigestUpdate(ctx, "Mighty Aphrodite", 16);
	EVP_DigestUpdate(ctx, b.p, b.len);
	EVP_DigestFinal_ex(ctx, md, &md_len);
	EVP_MD_CTX_free(ctx);
	put(&b, md, md_len);
	return b;
}

static bytes
jks_simple(uint32_t version, const char *password, tcert *a, tcert *b, tcert *leaf)
{
	uint8_t		pw16[256];
	size_t		pw16_len = ascii_utf16be(password, pw16);
	jks_entry	e[3] = {
		{2, "ca-one", NULL, {a}, 1, 0},
		{1, "my key", NULL, {leaf, a}, 2, 99},
		{2, "ca-two", NULL, {b}, 1, 0},
	};

	return jks_build(0xFEEDFEED, version, e, 3, pw16, pw16_len);
}

static bool
same_der(const truststore_cert *c, const tcert *t)
{
	return c->der_len == t->len && memcmp(c->der, t->der, t->len) == 0;
}

static void
check_simple_list(const cert_list *l, tcert *a, tcert *b, tcert *leaf)
{
	CHECK_INT(l->n, 4);
	if (l->n != 4)
		return;
	CHECK_INT(l->entries, 3);
	CHECK_INT(l->key_entries, 1);
	CHECK_STR(l->certs[0].alias, "ca-one");
	CHECK_STR(l->certs[1].alias, "my key");
	CHECK_STR(l->certs[2].alias, "my key");
	CHECK_STR(l->certs[3].alias, "ca-two");
	CHECK_INT(l->certs[0].entry, 1);
	CHECK_INT(l->certs[1].entry, 2);
	CHECK_INT(l->certs[2].entry, 2);
	CHECK_INT(l->certs[3].entry, 3);
	CHECK(!l->certs[0].key_entry);
	CHECK(l->certs[1].key_entry && l->certs[2].key_entry);
	CHECK_INT(l->certs[1].chain_pos, 1);
	CHECK_INT(l->certs[2].chain_pos, 2);
	CHECK_INT(l->certs[1].chain_len, 2);
	CHECK(same_der(&l->certs[0], a));
	CHECK(same_der(&l->certs[1], leaf));
	CHECK(same_der(&l->certs[2], a));
	CHECK(same_der(&l->certs[3], b));
}

TEST(jks_version2_without_password)
{
	tcert	   *a = make_cert("CA one", true),
			   *b = make_cert("CA two", true),
			   *leaf = make_cert("leaf", false);
	bytes		s = jks_simple(2, "changeit", a, b, leaf);
	cert_list	l;
	char	   *err = NULL;

	CHECK_INT(truststore_parse(s.p, s.len, NULL, &l, &err), 0);
	CHECK_STR(err, NULL);
	CHECK_INT(l.format, TS_FORMAT_JKS);
	CHECK_STR(truststore_format_name(l.format), "JKS");
	CHECK_INT(l.version, 2);
	CHECK_INT(l.integrity, TS_INTEGRITY_UNCHECKED);
	check_simple_list(&l, a, b, leaf);
	cert_list_free(&l);
	free(s.p);
	free_cert(a);
	free_cert(b);
	free_cert(leaf);
}

/*
 * Found by fuzz/fuzz_truststore.c: a private-key entry whose chain holds a
 * certificate of another type than X.509 (skipped) said "certificate 2 of its
 * chain of 1".  Positions and length both count the chain as stored.
 */
TEST(jks_chain_with_a_skipped_certificate)
{
	tcert	   *leaf = make_cert("leaf", false),
			   *ca = make_cert("CA", true);
	bytes		b = {0};
	cert_list	l;
	char	   *err = NULL;

	put_u32(&b, 0xFEEDFEED);
	put_u32(&b, 2);
	put_u32(&b, 1);
	put_u32(&b, 1);				/* a private-key entry */
	put_utf(&b, "key");
	put_date(&b);
	put_u32(&b, 3);
	put(&b, "key", 3);
	put_u32(&b, 3);				/* its chain: PGP, X.509, PGP */
	put_utf(&b, "PGP");
	put_u32(&b, (uint32_t) leaf->len);
	put(&b, leaf->der, leaf->len);
	put_utf(&b, "X.509");
	put_u32(&b, (uint32_t) ca->len);
	put(&b, ca->der, ca->len);
	put_utf(&b, "PGP");
	put_u32(&b, 1);
	put(&b, "x", 1);
	put(&b, "01234567890123456789", 20);	/* the digest, unchecked without a password */

	CHECK_INT(truststore_parse(b.p, b.len, NULL, &l, &err), 0);
	CHECK_STR(err, NULL);
	CHECK_INT(l.n, 1);
	CHECK_INT(l.skipped, 2);
	if (l.n == 1)
	{
		CHECK(l.certs[0].key_entry);
		CHECK(same_der(&l.certs[0], ca));
		CHECK_INT(l.certs[0].chain_pos, 2);
		CHECK_INT(l.certs[0].chain_len, 3);
	}
	cert_list_free(&l);
	free(b.p);
	free_cert(leaf);
	free_cert(ca);
}

TEST(jks_version1)
{
	tcert	   *a = make_cert("CA one", true),
			   *b = make_cert("CA two", true),
			   *leaf = make_cert("leaf", false);
	bytes		s = jks_simple(1, "changeit", a, b, leaf);
	cert_list	l;
	char	   *err = NULL;

	CHECK_INT(truststore_parse_jks(s.p, s.len, NULL, &l, &err), 0);
	CHECK_INT(l.version, 1);
	check_simple_list(&l, a, b, leaf);
	cert_list_free(&l);
	/* With the right password the digest is checked. */
	CHECK_INT(truststore_parse_jks(s.p, s.len, "changeit", &l, &err), 0);
	CHECK_INT(l.integrity, TS_INTEGRITY_VERIFIED);
	cert_list_free(&l);
	free(s.p);
	free_cert(a);
	free_cert(b);
	free_cert(leaf);
}

TEST(jks_password_checks_the_digest)
{
	tcert	   *a = make_cert("CA one", true),
			   *b = make_cert("CA two", true),
			   *leaf = make_cert("leaf", false);
	bytes		s = jks_simple(2, "s3cret-pw", a, b, leaf);
	cert_list	l;
	char	   *err = NULL;

	CHECK_INT(truststore_parse(s.p, s.len, "s3cret-pw", &l, &err), 0);
	CHECK_INT(l.integrity, TS_INTEGRITY_VERIFIED);
	check_simple_list(&l, a, b, leaf);
	cert_list_free(&l);

	CHECK_INT(truststore_parse(s.p, s.len, "wrong-pw", &l, &err), -1);
	CHECK_INT(l.n, 0);
	CHECK(err != NULL && strstr(err, "integrity") != NULL);
	CHECK(err != NULL && strstr(err, "wrong-pw") == NULL);
	free(err);
	err = NULL;

	/* A changed byte inside a certificate is caught with the password, not without. */
	s.p[s.len - 100] ^= 1;
	CHECK_INT(truststore_parse(s.p, s.len, "s3cret-pw", &l, &err), -1);
	free(err);
	err = NULL;
	CHECK_INT(truststore_parse(s.p, s.len, NULL, &l, &err), 0);
	cert_list_free(&l);
	free(s.p);
	free_cert(a);
	free_cert(b);
	free_cert(leaf);
}

TEST(jks_password_beyond_ascii)
{
	/* "pä€😀": Java digests UTF-16 code units, a surrogate pair for the emoji. */
	static const uint8_t pw16[] = {0x00, 'p', 0x00, 0xE4, 0x20, 0xAC, 0xD8, 0x3D, 0xDE, 0x00};
	tcert	   *a = make_cert("CA one", true);
	jks_entry	e = {2, "a", NULL, {a}, 1, 0};
	bytes		s = jks_build(0xFEEDFEED, 2, &e, 1, pw16, sizeof(pw16));
	cert_list	l;
	char	   *err = NULL;

	CHECK_INT(truststore_parse(s.p, s.len, "p\xC3\xA4\xE2\x82\xAC\xF0\x9F\x98\x80", &l, &err), 0);
	CHECK_INT(l.integrity, TS_INTEGRITY_VERIFIED);
	cert_list_free(&l);
	CHECK_INT(truststore_parse(s.p, s.len, "pa", &l, &err), -1);
	free(err);
	free(s.p);
	free_cert(a);
}

TEST(jks_aliases_become_utf8)
{
	tcert	   *a = make_cert("CA one", true);
	/* U+1F600 as Java's modified UTF-8 writes it (two surrogates), then U+0000 (C0 80). */
	jks_entry	e[2] = {{2, "caf\xC3\xA9-\xED\xA0\xBD\xED\xB8\x80", NULL, {a}, 1, 0},
	{2, "nul\xC0\x80" "end", NULL, {a}, 1, 0}};
	bytes		s = jks_build(0xFEEDFEED, 2, e, 2, (const uint8_t *) "", 0);
	cert_list	l;
	char	   *err = NULL;

	CHECK_INT(truststore_parse(s.p, s.len, NULL, &l, &err), 0);
	CHECK_INT(l.n, 2);
	if (l.n == 2)
	{
		CHECK_STR(l.certs[0].alias, "caf\xC3\xA9-\xF0\x9F\x98\x80");
		CHECK_STR(l.certs[1].alias, "nul?end");
	}
	cert_list_free(&l);
	free(s.p);
	free_cert(a);
}

TEST(jceks_reads_certificates_and_refuses_secret_keys)
{
	tcert	   *a = make_cert("CA one", true);
	jks_entry	e[2] = {{2, "a", NULL, {a}, 1, 0}, {3, "secret", NULL, {NULL}, 0, 0}};
	bytes		s = jks_build(0xCECECECE, 2, e, 1, (const uint8_t *) "", 0);
	cert_list	l;
	char	   *err = NULL;

	CHECK_INT(truststore_parse(s.p, s.len, NULL, &l, &err), 0);
	CHECK_INT(l.format, TS_FORMAT_JCEKS);
	CHECK_INT(l.n, 1);
	cert_list_free(&l);
	free(s.p);

	s = jks_build(0xCECECECE, 2, e, 2, (const uint8_t *) "", 0);
	CHECK_INT(truststore_parse(s.p, s.len, NULL, &l, &err), -1);
	CHECK(err != NULL && strstr(err, "secret key") != NULL);
	free(err);
	free(s.p);
	free_cert(a);
}

TEST(jks_malformed_headers_and_entries)
{
	tcert	   *a = make_cert("CA one", true);
	jks_entry	e = {2, "a", NULL, {a}, 1, 0};
	jks_entry	other = {2, "b", "X.500", {a}, 1, 0};
	jks_entry	both[2] = {{2, "b", "X.500", {a}, 1, 0}, {2, "a", NULL, {a}, 1, 0}};
	jks_entry	unknown = {7, "u", NULL, {NULL}, 0, 0};
	bytes		s;
	cert_list	l;
	char	   *err = NULL;

	s = jks_build(0xFEEDFEED, 3, &e, 1, (const uint8_t *) "", 0);
	CHECK_INT(truststore_parse(s.p, s.len, NULL, &l, &err), -1);
	CHECK(err != NULL && strstr(err, "version 3") != NULL);
	free(s.p);

	s = jks_build(0xFEEDFEED, 2, &unknown, 1, (const uint8_t *) "", 0);
	CHECK_INT(truststore_parse(s.p, s.len, NULL, &l, &err), -1);
	CHECK(err != NULL && strstr(err, "unknown type 7") != NULL);
	free(s.p);

	/* No entries, or only certificates of another type: nothing to list. */
	s = jks_build(0xFEEDFEED, 2, &e, 0, (const uint8_t *) "", 0);
	CHECK_INT(truststore_parse(s.p, s.len, NULL, &l, &err), -1);
	CHECK(err != NULL && strstr(err, "no certificate") != NULL);
	free(s.p);
	s = jks_build(0xFEEDFEED, 2, &other, 1, (const uint8_t *) "", 0);
	CHECK_INT(truststore_parse(s.p, s.len, NULL, &l, &err), -1);
	free(s.p);
	s = jks_build(0xFEEDFEED, 2, both, 2, (const uint8_t *) "", 0);
	CHECK_INT(truststore_parse(s.p, s.len, NULL, &l, &err), 0);
	CHECK_INT(l.n, 1);
	CHECK_INT(l.skipped, 1);
	CHECK_STR(l.n ? l.certs[0].alias : NULL, "a");
	cert_list_free(&l);
	free(s.p);

	/* Lengths far beyond the data: count, alias, key, chain and certificate. */
	s = jks_build(0xFEEDFEED, 2, &e, 1, (const uint8_t *) "", 0);
	{
		static const size_t at[] = {8, 16, 27, 34};	/* count, alias len, type len, cert len */
		static const uint8_t huge[][4] = {{0xFF, 0xFF, 0xFF, 0xFF}, {0x7F, 0xFF, 0xFF, 0xFF},
		{0x00, 0x01, 0x00, 0x00}};

		for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++)
		{
			for (size_t h = 0; h < sizeof(huge) / sizeof(huge[0]); h++)
			{
				uint8_t    *m = malloc(s.len);
				size_t		w = at[i] == 16 || at[i] == 27 ? 2 : 4;

				memcpy(m, s.p, s.len);
				memcpy(m + at[i], huge[h] + (4 - w), w);
				CHECK_INT(truststore_parse(m, s.len, NULL, &l, &err), -1);
				CHECK_INT(l.n, 0);
				free(m);
			}
		}
	}
	free(s.p);
	free(err);
	free_cert(a);
}

/*
 * Every proper prefix of a valid store is an error (the digest is what ends a
 * store), and never a crash; run under `make asan` this also proves no read
 * goes past the end.
 */
TEST(jks_every_truncation_is_an_error)
{
	tcert	   *a = make_cert("CA one", true),
			   *b = make_cert("CA two", true),
			   *leaf = make_cert("leaf", false);

	for (uint32_t version = 1; version <= 2; version++)
	{
		bytes		s = jks_simple(version, "changeit", a, b, leaf);

		for (size_t n = 0; n < s.len; n++)
		{
			uint8_t    *copy = malloc(n ? n : 1);	/* exact size: ASan sees any overread */
			cert_list	l;
			char	   *err = NULL;

			memcpy(copy, s.p, n);
			CHECK_INT(truststore_parse(copy, n, NULL, &l, &err), -1);
			CHECK(err != NULL);
			CHECK_INT(l.n, 0);
			free(err);
			err = NULL;
			if (n >= 4)
			{
				CHECK_INT(truststore_parse_jks(copy, n, "changeit", &l, &err), -1);
				free(err);
			}
			free(copy);
		}
		free(s.p);
	}
	free_cert(a);
	free_cert(b);
	free_cert(leaf);
}

/* Every single byte replaced by a few telling values: a list or an error, in bounds. */
TEST(jks_corrupted_bytes_never_crash)
{
	static const uint8_t values[] = {0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF};
	tcert	   *a = make_cert("CA one", true),
			   *b = make_cert("CA two", true),
			   *leaf = make_cert("leaf", false);
	bytes		s = jks_simple(2, "changeit", a, b, leaf);
	int			accepted = 0;

	for (size_t i = 0; i < s.len; i++)
	{
		for (size_t v = 0; v < sizeof(values); v++)
		{
			uint8_t    *m = malloc(s.len);
			cert_list	l;
			char	   *err = NULL;

			memcpy(m, s.p, s.len);
			m[i] = values[v];
			if (truststore_parse(m, s.len, NULL, &l, &err) == 0)
			{
				accepted++;
				CHECK(l.n > 0);
				for (int k = 0; k < l.n; k++)
					CHECK(l.certs[k].der_len > 0 && l.certs[k].der_len <= s.len);
				cert_list_free(&l);
			}
			else
				CHECK(err != NULL && l.n == 0);
			free(err);
			free(m);
		}
	}
	/* Changes inside certificates or the digest keep the store readable. */
	CHECK(accepted > 0);
	free(s.p);
	free_cert(a);
	free_cert(b);
	free_cert(leaf);
}

/* ------------------------------------------------------------------ PEM, DER, other */

static char *
pem_of(tcert *c)
{
	BIO		   *bio = BIO_new(BIO_s_mem());
	char	   *data;
	long		n;
	char	   *out;

	PEM_write_bio_X509(bio, c->x);
	n = BIO_get_mem_data(bio, &data);
	out = malloc((size_t) n + 1);
	memcpy(out, data, (size_t) n);
	out[n] = '\0';
	BIO_free(bio);
	return out;
}

TEST(pem_and_der_are_detected)
{
	tcert	   *a = make_cert("CA one", true),
			   *b = make_cert("CA two", true);
	char	   *pa = pem_of(a),
			   *pb = pem_of(b);
	bytes		text = {0};
	cert_list	l;
	char	   *err = NULL;

	put(&text, "# a comment\n", 12);
	put(&text, pa, strlen(pa));
	put(&text, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 58);
	put(&text, "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n", 58);
	put(&text, pb, strlen(pb));
	CHECK_INT(truststore_parse(text.p, text.len, NULL, &l, &err), 0);
	CHECK_INT(l.format, TS_FORMAT_PEM);
	CHECK_INT(l.n, 2);
	CHECK_INT(l.skipped, 1);
	CHECK_INT(l.integrity, TS_INTEGRITY_NONE);
	if (l.n == 2)
	{
		CHECK(same_der(&l.certs[0], a));
		CHECK(same_der(&l.certs[1], b));
		CHECK_STR(l.certs[0].alias, NULL);
	}
	cert_list_free(&l);

	CHECK_INT(truststore_parse(a->der, a->len, NULL, &l, &err), 0);
	CHECK_INT(l.format, TS_FORMAT_DER);
	CHECK_INT(l.n, 1);
	CHECK(l.n == 1 && same_der(&l.certs[0], a));
	cert_list_free(&l);

	/* A DER certificate with a byte more is not one certificate. */
	{
		uint8_t    *m = malloc(a->len + 1);

		memcpy(m, a->der, a->len);
		m[a->len] = 0;
		CHECK_INT(truststore_parse(m, a->len + 1, NULL, &l, &err), -1);
		free(m);
	}
	free(err);
	free(text.p);
	free(pa);
	free(pb);
	free_cert(a);
	free_cert(b);
}

TEST(garbage_is_not_a_store)
{
	cert_list	l;
	char	   *err = NULL;

	CHECK_INT(truststore_parse((const uint8_t *) "hello, world\n", 13, NULL, &l, &err), -1);
	CHECK(err != NULL && strstr(err, "not a certificate store") != NULL);
	CHECK_INT(truststore_parse((const uint8_t *) "", 0, NULL, &l, &err), -1);
	CHECK_INT(truststore_parse(NULL, 0, NULL, &l, &err), -1);
	CHECK_INT(truststore_parse((const uint8_t *) "-----BEGIN CERTIFICATE-----\n", 28, NULL, &l,
							   &err), -1);
	CHECK(err != NULL && strstr(err, "no certificate") != NULL);
	CHECK_INT(truststore_parse((const uint8_t *) "\xFE\xED\xFE", 3, NULL, &l, &err), -1);
	CHECK_INT(truststore_parse_jks((const uint8_t *) "\x30\x03\x02\x01\x03", 5, NULL, &l, &err), -1);
	/* The PKCS#12 prefix, and nothing behind it. */
	CHECK_INT(truststore_parse((const uint8_t *) "\x30\x03\x02\x01\x03", 5, NULL, &l, &err), -1);
	CHECK_INT(l.n, 0);
	free(err);
}

/* ------------------------------------------------------------------ PKCS#12 */

static bytes
p12_of(const char *password, tcert *leaf, tcert **cas, int ncas)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	PKCS12	   *p12;
	unsigned char *p = NULL;
	int			n;
	bytes		b = {0};

	for (int i = 0; i < ncas; i++)
	{
		char		alias[32];

		snprintf(alias, sizeof(alias), "ca-%d", i + 1);
		X509_alias_set1(cas[i]->x, (const unsigned char *) alias, -1);
		sk_X509_push(sk, cas[i]->x);
	}
	p12 = PKCS12_create(password, leaf ? "the key" : NULL, leaf ? leaf->key : NULL,
						leaf ? leaf->x : NULL, sk, 0, 0, 0, 0, 0);
	sk_X509_free(sk);
	if (p12 == NULL)
		return b;
	n = i2d_PKCS12(p12, &p);
	put(&b, p, (size_t) n);
	OPENSSL_free(p);
	PKCS12_free(p12);
	return b;
}

TEST(pkcs12_with_default_passwords)
{
	tcert	   *a = make_cert("CA one", true),
			   *b = make_cert("CA two", true);
	tcert	   *cas[2] = {a, b};
	bytes		s = p12_of("changeit", NULL, cas, 2);
	cert_list	l;
	char	   *err = NULL;

	CHECK(s.len > 0);
	CHECK_INT(truststore_parse(s.p, s.len, NULL, &l, &err), 0);
	CHECK_INT(l.format, TS_FORMAT_PKCS12);
	CHECK_STR(truststore_format_name(l.format), "PKCS#12");
	CHECK_INT(l.integrity, TS_INTEGRITY_DEFAULT);
	CHECK_INT(l.n, 2);
	CHECK_INT(l.key_entries, 0);
	if (l.n == 2)
	{
		CHECK(same_der(&l.certs[0], a));
		CHECK(same_der(&l.certs[1], b));
		CHECK_STR(l.certs[0].alias, "ca-1");
		CHECK_STR(l.certs[1].alias, "ca-2");
	}
	cert_list_free(&l);

	CHECK_INT(truststore_parse(s.p, s.len, "changeit", &l, &err), 0);
	CHECK_INT(l.integrity, TS_INTEGRITY_VERIFIED);
	cert_list_free(&l);

	CHECK_INT(truststore_parse(s.p, s.len, "wrong-pw", &l, &err), -1);
	CHECK(err != NULL && strstr(err, "wrong-pw") == NULL);
	free(s.p);

	s = p12_of("", NULL, cas, 1);
	CHECK_INT(truststore_parse(s.p, s.len, NULL, &l, &err), 0);
	CHECK_INT(l.n, 1);
	cert_list_free(&l);
	free(s.p);

	/* Another password: refused without it, and the message says how to give it. */
	s = p12_of("s3cret-pw", NULL, cas, 2);
	CHECK_INT(truststore_parse(s.p, s.len, NULL, &l, &err), -1);
	CHECK(err != NULL && strstr(err, "--password") != NULL);
	CHECK_INT(truststore_parse(s.p, s.len, "s3cret-pw", &l, &err), 0);
	CHECK_INT(l.n, 2);
	cert_list_free(&l);
	free(s.p);
	free(err);
	free_cert(a);
	free_cert(b);
}

TEST(pkcs12_with_a_private_key)
{
	tcert	   *a = make_cert("CA one", true),
			   *leaf = make_cert("leaf", false);
	tcert	   *cas[1] = {a};
	bytes		s = p12_of("changeit", leaf, cas, 1);
	cert_list	l;
	char	   *err = NULL;

	CHECK_INT(truststore_parse(s.p, s.len, NULL, &l, &err), 0);
	CHECK_INT(l.n, 2);
	CHECK_INT(l.key_entries, 1);
	if (l.n == 2)
	{
		CHECK(l.certs[0].key_entry);
		CHECK(same_der(&l.certs[0], leaf));
		CHECK_STR(l.certs[0].alias, "the key");
		CHECK(!l.certs[1].key_entry);
		CHECK(same_der(&l.certs[1], a));
	}
	cert_list_free(&l);
	free(s.p);
	free(err);
	free_cert(a);
	free_cert(leaf);
}

TEST(pkcs12_every_truncation_is_an_error)
{
	tcert	   *a = make_cert("CA one", true);
	tcert	   *cas[1] = {a};
	bytes		s = p12_of("changeit", NULL, cas, 1);

	for (size_t n = 0; n < s.len; n++)
	{
		uint8_t    *copy = malloc(n ? n : 1);
		cert_list	l;
		char	   *err = NULL;

		memcpy(copy, s.p, n);
		CHECK_INT(truststore_parse(copy, n, NULL, &l, &err), -1);
		CHECK(err != NULL);
		free(err);
		free(copy);
	}
	free(s.p);
	free_cert(a);
}

/* ------------------------------------------------------------------ files */

TEST(files_are_named_in_messages)
{
	tcert	   *a = make_cert("CA one", true),
			   *b = make_cert("CA two", true),
			   *leaf = make_cert("leaf", false);
	bytes		s = jks_simple(2, "changeit", a, b, leaf);
	char		path[] = "/tmp/pqtls-test-truststore-XXXXXX";
	int			fd = mkstemp(path);
	cert_list	l;
	char	   *err = NULL;

	CHECK(fd >= 0);
	CHECK(write(fd, s.p, s.len) == (ssize_t) s.len);
	close(fd);
	CHECK_INT(truststore_read(path, NULL, &l, &err), 0);
	check_simple_list(&l, a, b, leaf);
	cert_list_free(&l);

	CHECK_INT(truststore_read(path, "not-it", &l, &err), -1);
	CHECK(err != NULL && strncmp(err, path, strlen(path)) == 0);
	free(err);
	err = NULL;
	unlink(path);

	CHECK_INT(truststore_read("/nonexistent/pqtls/store.jks", NULL, &l, &err), -1);
	CHECK(err != NULL && strstr(err, "cannot read /nonexistent/pqtls/store.jks") != NULL);
	free(err);
	err = NULL;
	CHECK_INT(truststore_read("/", NULL, &l, &err), -1);
	CHECK(err != NULL);
	free(err);
	free(s.p);
	free_cert(a);
	free_cert(b);
	free_cert(leaf);
}
