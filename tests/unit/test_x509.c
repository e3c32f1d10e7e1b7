/*
 * test_x509.c: the DER reader against OpenSSL's own view of the same bytes.
 *
 * Every certificate of both RDS bundles is read by both, field by field;
 * name keys are compared with X509_NAME_cmp() over all pairs; certificates
 * built here with OpenSSL's API cover what the bundles lack (SANs of every
 * kind, odd names, odd keys, odd times); and mutated or truncated input must
 * never make the reader misbehave (run this binary under valgrind).
 */
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "check.h"
#include "pqtls/pem.h"
#include "pqtls/x509.h"

/* How X509_NAME_print_ex() prints names the way x509.h describes them. */
#define NAME_FLAGS (ASN1_STRFLGS_ESC_2253 | ASN1_STRFLGS_ESC_CTRL | \
					ASN1_STRFLGS_UTF8_CONVERT | ASN1_STRFLGS_DUMP_UNKNOWN | \
					ASN1_STRFLGS_DUMP_DER | XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_FN_SN)

#define MAX_CERTS 256

typedef struct cert_list
{
	int			n;
	uint8_t    *der[MAX_CERTS];
	size_t		len[MAX_CERTS];
} cert_list;

/* ---------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------
 */

static const char *
fixture_dir(void)
{
	/* The repository's own copy, named by the Makefile. */
	return PQTLS_TEST_FIXTURES;
}

static void
load_bundle(const char *name, cert_list *l)
{
	char		path[1024];
	FILE	   *f;
	char	   *text;
	long		size;
	size_t		pos = 0;
	uint8_t    *der;
	size_t		len;
	int			r;

	l->n = 0;
	snprintf(path, sizeof(path), "%s/%s", fixture_dir(), name);
	f = fopen(path, "rb");
	if (f == NULL)
	{
		fprintf(stderr, "cannot open %s\n", path);
		return;
	}
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	text = malloc((size_t) size + 1);
	if (fread(text, 1, (size_t) size, f) != (size_t) size)
		size = 0;
	fclose(f);
	while ((r = pem_next_cert(text, (size_t) size, &pos, &der, &len)) != 0)
	{
		if (r > 0 && l->n < MAX_CERTS)
		{
			l->der[l->n] = der;
			l->len[l->n++] = len;
		}
		else if (r > 0)
			free(der);
	}
	free(text);
}

static void
list_free(cert_list *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->der[i]);
	l->n = 0;
}

static X509 *
openssl_cert(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;

	return d2i_X509(NULL, &p, (long) len);
}

static char *
openssl_name_string(const X509_NAME *name)
{
	BIO		   *bio = BIO_new(BIO_s_mem());
	char	   *data;
	long		n;
	char	   *s;

	if (X509_NAME_print_ex(bio, name, 0, NAME_FLAGS) < 0)
	{
		BIO_free(bio);
		return strdup("<print failed>");
	}
	n = BIO_get_mem_data(bio, &data);
	s = malloc((size_t) n + 1);
	if (n > 0)
		memcpy(s, data, (size_t) n);
	s[n] = '\0';
	BIO_free(bio);
	return s;
}

static bool
span_is(der_span s, const void *p, size_t n)
{
	return s.p != NULL && s.len == n && memcmp(s.p, p, n) == 0;
}

static time_t
openssl_time(const ASN1_TIME *t)
{
	struct tm	tm;

	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return (time_t) -1;
	return timegm(&tm);
}

static void
openssl_key_desc(X509 *x, char *out, size_t n)
{
	EVP_PKEY   *k = X509_get0_pubkey(x);
	char		group[64];

	snprintf(out, n, "unknown");
	if (k == NULL)
		return;
	switch (EVP_PKEY_get_base_id(k))
	{
		case EVP_PKEY_RSA:
			snprintf(out, n, "RSA %d", EVP_PKEY_get_bits(k));
			break;
		case EVP_PKEY_EC:
			if (EVP_PKEY_get_group_name(k, group, sizeof(group), NULL) != 1)
				break;
			if (strcmp(group, "prime256v1") == 0)
				snprintf(out, n, "EC P-256");
			else if (strcmp(group, "secp384r1") == 0)
				snprintf(out, n, "EC P-384");
			else if (strcmp(group, "secp521r1") == 0)
				snprintf(out, n, "EC P-521");
			break;
		case EVP_PKEY_ED25519:
			snprintf(out, n, "Ed25519");
			break;
		case EVP_PKEY_ED448:
			snprintf(out, n, "Ed448");
			break;
	}
}

#define FIELD(cond, what) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "  cert %s: %s differs\n", label, what); \
			bad++; \
		} \
	} while (0)

/* Compare every field of our reading with OpenSSL's.  Returns the number of differences. */
static int
compare_with_openssl(const uint8_t *der, size_t len, const char *label)
{
	x509_cert	c;
	X509	   *x = openssl_cert(der, len);
	int			bad = 0;
	const unsigned char *enc;
	size_t		enc_len;
	unsigned char *buf = NULL;
	int			n;
	char	   *s;
	char		desc[32];
	uint32_t	flags;
	int			idx;
	GENERAL_NAMES *gens;
	int			k;

	if (x == NULL)
	{
		fprintf(stderr, "  cert %s: OpenSSL cannot read it\n", label);
		return 1;
	}
	if (x509_parse(der, len, &c) != 0)
	{
		fprintf(stderr, "  cert %s: x509_parse failed\n", label);
		X509_free(x);
		return 1;
	}

	FIELD(c.der.p == der && c.der.len == len, "der");

	s = openssl_name_string(X509_get_subject_name(x));
	if (strcmp(s, c.subject) != 0)
		fprintf(stderr, "  ours:   %s\n  theirs: %s\n", c.subject, s);
	FIELD(strcmp(s, c.subject) == 0, "subject");
	free(s);
	s = openssl_name_string(X509_get_issuer_name(x));
	if (strcmp(s, c.issuer) != 0)
		fprintf(stderr, "  ours:   %s\n  theirs: %s\n", c.issuer, s);
	FIELD(strcmp(s, c.issuer) == 0, "issuer");
	free(s);

	X509_NAME_get0_der(X509_get_subject_name(x), &enc, &enc_len);
	FIELD(span_is(c.subject_raw, enc, enc_len), "subject_raw");
	X509_NAME_get0_der(X509_get_issuer_name(x), &enc, &enc_len);
	FIELD(span_is(c.issuer_raw, enc, enc_len), "issuer_raw");

	n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &buf);
	FIELD(n > 0 && span_is(c.spki, buf, (size_t) n), "spki");
	OPENSSL_free(buf);
	buf = NULL;

	/* INTEGER contents: skip the two header bytes (serials are at most 20 bytes). */
	n = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &buf);
	FIELD(n > 2 && span_is(c.serial, buf + 2, (size_t) n - 2), "serial");
	OPENSSL_free(buf);
	buf = NULL;

	FIELD(c.not_before == openssl_time(X509_get0_notBefore(x)), "not_before");
	FIELD(c.not_after == openssl_time(X509_get0_notAfter(x)), "not_after");
	FIELD(ASN1_TIME_cmp_time_t(X509_get0_notAfter(x), c.not_after) == 0, "not_after (cmp)");
	FIELD(ASN1_TIME_cmp_time_t(X509_get0_notBefore(x), c.not_before) == 0, "not_before (cmp)");

	flags = X509_get_extension_flags(x);
	FIELD(c.has_basic_constraints == ((flags & EXFLAG_BCONS) != 0), "has_basic_constraints");
	FIELD(c.is_ca == ((flags & EXFLAG_CA) != 0), "is_ca");
	if (c.has_basic_constraints)
		FIELD(c.is_ca == (X509_check_ca(x) != 0), "is_ca (X509_check_ca)");

	openssl_key_desc(x, desc, sizeof(desc));
	if (strcmp(desc, c.key_desc) != 0)
		fprintf(stderr, "  ours: %s, theirs: %s\n", c.key_desc, desc);
	FIELD(strcmp(desc, c.key_desc) == 0, "key_desc");

	idx = X509_NAME_get_index_by_NID(X509_get_subject_name(x), NID_commonName, -1);
	if (idx < 0)
		FIELD(c.cn.p == NULL && c.cn.len == 0, "cn (none)");
	else
	{
		ASN1_STRING *v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(X509_get_subject_name(x), idx));

		/* OpenSSL keeps a BIT STRING without its unused-bits octet; cn is the raw contents. */
		if (ASN1_STRING_type(v) != V_ASN1_BIT_STRING)
			FIELD(span_is(c.cn, ASN1_STRING_get0_data(v), (size_t) ASN1_STRING_length(v)) ||
				  (ASN1_STRING_length(v) == 0 && c.cn.p != NULL && c.cn.len == 0), "cn");
	}

	/* SANs: the dNSNames and the 4- or 16-byte iPAddresses, in order. */
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	k = 0;
	for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++)
	{
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		int			type;
		ASN1_STRING *v = GENERAL_NAME_get0_value(g, &type);

		/* Every dNSName and iPAddress, a malformed address too (libpq fails on it). */
		if (type != GEN_DNS && type != GEN_IPADD)
			continue;
		if (k >= X509_MAX_SAN)
			break;
		FIELD(k < c.n_san, "san count");
		if (k < c.n_san)
		{
			FIELD(c.san[k].type == (type == GEN_DNS ? SAN_DNS : SAN_IP), "san type");
			FIELD(c.san[k].len == (size_t) ASN1_STRING_length(v) &&
				  memcmp(c.san[k].value, ASN1_STRING_get0_data(v), c.san[k].len) == 0,
				  "san value");
		}
		k++;
	}
	FIELD(k == c.n_san, "san count");
	GENERAL_NAMES_free(gens);

	x509_free(&c);
	CHECK(c.subject == NULL && c.issuer == NULL);
	X509_free(x);
	return bad;
}

/* A malloc'ed copy of exactly n bytes, so valgrind sees any read past the end. */
static uint8_t *
exact_copy(const uint8_t *p, size_t n)
{
	uint8_t    *q = malloc(n ? n : 1);

	if (n)
		memcpy(q, p, n);
	return q;
}

/* ---------------------------------------------------------------------
 * Building certificates and names with OpenSSL
 * ---------------------------------------------------------------------
 */

typedef struct cert_spec
{
	X509_NAME  *subject;
	X509_NAME  *issuer;			/* NULL: same as subject */
	EVP_PKEY   *key;			/* the certified key */
	EVP_PKEY   *signer;			/* NULL: key signs */
	GENERAL_NAMES *san;
	const char *bc;				/* basicConstraints in openssl.cnf syntax, or NULL */
	const char *not_before;		/* ASN1_TIME_set_string() syntax */
	const char *not_after;
	int			duplicate_bc;	/* add the basicConstraints extension twice */
} cert_spec;

static uint8_t *
make_cert(const cert_spec *s, size_t *len)
{
	X509	   *x = X509_new();
	EVP_PKEY   *signer = s->signer ? s->signer : s->key;
	int			id = EVP_PKEY_get_base_id(signer);
	const EVP_MD *md = (id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448) ? NULL : EVP_sha256();
	unsigned char *der = NULL;
	uint8_t    *out;
	int			n;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 0x12345);
	X509_set_subject_name(x, s->subject);
	X509_set_issuer_name(x, s->issuer ? s->issuer : s->subject);
	ASN1_TIME_set_string(X509_getm_notBefore(x), s->not_before ? s->not_before : "240101000000Z");
	ASN1_TIME_set_string(X509_getm_notAfter(x), s->not_after ? s->not_after : "340101000000Z");
	X509_set_pubkey(x, s->key);
	if (s->san)
		X509_add1_ext_i2d(x, NID_subject_alt_name, s->san, 0, X509V3_ADD_APPEND);
	for (int i = 0; s->bc && i <= s->duplicate_bc; i++)
	{
		X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, NULL, NID_basic_constraints, s->bc);

		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	if (X509_sign(x, signer, md) <= 0)
	{
		X509_free(x);
		return NULL;
	}
	n = i2d_X509(x, &der);
	X509_free(x);
	if (n <= 0)
		return NULL;
	out = exact_copy(der, (size_t) n);
	OPENSSL_free(der);
	*len = (size_t) n;
	return out;
}

static EVP_PKEY *
ec_key(const char *curve)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
}

static X509_NAME *
simple_name(const char *cn)
{
	X509_NAME  *n = X509_NAME_new();

	X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC, (const unsigned char *) "US", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *) cn, -1, -1, 0);
	return n;
}

/* Add one entry of a given ASN.1 string type with raw bytes (not converted). */
static void
add_raw(X509_NAME *n, const char *field, int type, const void *bytes, int len, int set)
{
	int			ok = X509_NAME_add_entry_by_txt(n, field, type, bytes, len, -1, set);

	if (ok != 1)
	{
		fprintf(stderr, "  cannot add %s\n", field);
		ERR_print_errors_fp(stderr);
	}
	CHECK(ok == 1);
}

static GENERAL_NAME *
gn_string(int type, const void *bytes, int len)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_STRING *s = type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();

	ASN1_STRING_set(s, bytes, len);
	GENERAL_NAME_set0_value(g, type, s);
	return g;
}

/* ---------------------------------------------------------------------
 * The RDS bundles
 * ---------------------------------------------------------------------
 */

TEST(rds_bundles_match_openssl)
{
	static const char *const bundles[] = {"global-bundle-2025-g1.pem", "global-bundle-2023.pem"};
	static const int counts[] = {102, 115};

	for (int b = 0; b < 2; b++)
	{
		cert_list	l;
		int			bad = 0;

		load_bundle(bundles[b], &l);
		CHECK_INT(l.n, counts[b]);
		for (int i = 0; i < l.n; i++)
		{
			char		label[128];

			snprintf(label, sizeof(label), "%s #%d", bundles[b], i);
			bad += compare_with_openssl(l.der[i], l.len[i], label);
		}
		CHECK_INT(bad, 0);
		list_free(&l);
	}
}

/*
 * The facts the fixtures' README states: G1 subjects put L=Seattle after CN;
 * RSA2048 G1 roots are valid for 40 years (us-east-1's to 2061), RSA4096 and
 * ECC384 ones for 100 (to 2121 for the first regions).
 */
static int
year_of(time_t t)
{
	char		s[21];

	x509_format_time(t, s);
	return atoi(s);
}

TEST(rds_g1_readme_facts)
{
	cert_list	l;
	int			rsa2048 = 0, rsa4096 = 0, ecc384 = 0;
	bool		found_us_east_1 = false;

	load_bundle("global-bundle-2025-g1.pem", &l);
	CHECK_INT(l.n, 102);
	for (int i = 0; i < l.n; i++)
	{
		x509_cert	c;
		char		expect[256];
		char		after[21];
		const char *cn;
		const char *root;
		const char *kind;
		int			years;

		CHECK_INT(x509_parse(l.der[i], l.len[i], &c), 0);
		if (c.subject == NULL)
			continue;
		/* "CN=Amazon RDS <region, maybe with Beta or Preview> Root CA <kind> G1" */
		cn = strstr(c.subject, "CN=Amazon RDS ");
		root = cn ? strstr(cn, " Root CA ") : NULL;
		CHECK(root != NULL);
		if (root == NULL)
		{
			x509_free(&c);
			continue;
		}
		kind = root + strlen(" Root CA ");
		snprintf(expect, sizeof(expect),
				 "C=US, O=Amazon Web Services\\, Inc., OU=Amazon RDS, ST=WA, "
				 "CN=Amazon RDS %.*s Root CA %.*s G1, L=Seattle",
				 (int) (root - cn - strlen("CN=Amazon RDS ")), cn + strlen("CN=Amazon RDS "),
				 (int) strcspn(kind, " "), kind);
		CHECK_STR(c.subject, expect);
		CHECK_STR(c.issuer, c.subject);	/* roots */
		CHECK(c.has_basic_constraints && c.is_ca);
		CHECK_INT(c.n_san, 0);
		/* cn is the raw value: from after "CN=" up to ", L=" */
		CHECK(c.cn.p != NULL && c.cn.len == (size_t) (strstr(cn, ", L=") - cn) - 3 &&
			  memcmp(c.cn.p, cn + 3, c.cn.len) == 0);
		years = year_of(c.not_after) - year_of(c.not_before);
		if (strncmp(kind, "RSA2048 ", 8) == 0)
		{
			rsa2048++;
			CHECK_STR(c.key_desc, "RSA 2048");
			CHECK_INT(years, 40);
		}
		else if (strncmp(kind, "RSA4096 ", 8) == 0)
		{
			rsa4096++;
			CHECK_STR(c.key_desc, "RSA 4096");
			CHECK_INT(years, 100);
		}
		else if (strncmp(kind, "ECC384 ", 7) == 0)
		{
			ecc384++;
			CHECK_STR(c.key_desc, "EC P-384");
			CHECK_INT(years, 100);
		}
		else
			CHECK(!"unknown kind of G1 root");
		if (strstr(c.subject, "CN=Amazon RDS us-east-1 Root CA RSA2048 G1,") != NULL)
		{
			found_us_east_1 = true;
			CHECK_STR(c.subject, "C=US, O=Amazon Web Services\\, Inc., OU=Amazon RDS, ST=WA, "
					  "CN=Amazon RDS us-east-1 Root CA RSA2048 G1, L=Seattle");
			x509_format_time(c.not_after, after);
			CHECK_STR(after, "2061-05-25T23:34:57Z");
		}
		if (strstr(c.subject, "CN=Amazon RDS us-east-1 Root CA ECC384 G1,") != NULL)
		{
			x509_format_time(c.not_after, after);
			CHECK_STR(after, "2121-05-25T23:41:55Z");
		}
		x509_free(&c);
	}
	CHECK(found_us_east_1);
	CHECK_INT(rsa2048, 34);
	CHECK_INT(rsa4096, 34);
	CHECK_INT(ecc384, 34);
	list_free(&l);
}

/* The regional 2019 CAs (not Beta, not Preview) and their root end on the same second. */
TEST(rds_2019_cas_expired_2024_08_22)
{
	cert_list	l;
	int			found = 0;

	load_bundle("global-bundle-2023.pem", &l);
	CHECK_INT(l.n, 115);
	for (int i = 0; i < l.n; i++)
	{
		x509_cert	c;
		char		after[21];

		if (x509_parse(l.der[i], l.len[i], &c) != 0)
		{
			CHECK(!"unreadable certificate");
			continue;
		}
		if (strstr(c.subject, " 2019 CA") != NULL && strstr(c.subject, "Beta") == NULL &&
			strstr(c.subject, "Preview") == NULL)
		{
			found++;
			x509_format_time(c.not_after, after);
			CHECK_STR(after, "2024-08-22T17:08:50Z");
			CHECK_STR(c.key_desc, "RSA 2048");
			CHECK(strstr(c.issuer, "CN=Amazon RDS Root 2019 CA") != NULL);
		}
		x509_free(&c);
	}
	CHECK_INT(found, 18);		/* 17 regions and the root */
	list_free(&l);
}

/*
 * x509_name_key() equality must be X509_NAME_cmp() equality: over all pairs
 * of issuer and subject of both bundles (the 2019 intermediates' issuer is
 * the 2019 root's subject, so equal pairs exist).
 */
TEST(rds_name_keys_agree_with_x509_name_cmp)
{
	cert_list	a;
	cert_list	b;
	X509	   *x[2 * MAX_CERTS];
	uint8_t    *subj_key[2 * MAX_CERTS];
	size_t		subj_len[2 * MAX_CERTS];
	uint8_t    *iss_key[2 * MAX_CERTS];
	size_t		iss_len[2 * MAX_CERTS];
	int			n = 0;
	int			mismatches = 0;
	int			equal_pairs = 0;
	int			same_sk = 0;

	load_bundle("global-bundle-2025-g1.pem", &a);
	load_bundle("global-bundle-2023.pem", &b);
	for (int k = 0; k < 2; k++)
	{
		cert_list  *l = k == 0 ? &a : &b;

		for (int i = 0; i < l->n; i++, n++)
		{
			x509_cert	c;

			x[n] = openssl_cert(l->der[i], l->len[i]);
			CHECK_INT(x509_parse(l->der[i], l->len[i], &c), 0);
			subj_key[n] = x509_name_key(c.subject_raw, &subj_len[n]);
			iss_key[n] = x509_name_key(c.issuer_raw, &iss_len[n]);
			CHECK(subj_key[n] != NULL && iss_key[n] != NULL);
			x509_free(&c);
		}
	}
	for (int i = 0; i < n; i++)
	{
		for (int j = 0; j < n; j++)
		{
			bool		theirs = X509_NAME_cmp(X509_get_issuer_name(x[i]), X509_get_subject_name(x[j])) == 0;
			bool		ours = iss_len[i] == subj_len[j] && memcmp(iss_key[i], subj_key[j], iss_len[i]) == 0;
			bool		theirs_s = X509_NAME_cmp(X509_get_subject_name(x[i]), X509_get_subject_name(x[j])) == 0;
			bool		ours_s = subj_len[i] == subj_len[j] && memcmp(subj_key[i], subj_key[j], subj_len[i]) == 0;

			mismatches += theirs != ours;
			mismatches += theirs_s != ours_s;
			equal_pairs += theirs && i != j;
		}
	}
	CHECK_INT(mismatches, 0);
	CHECK(equal_pairs > 100);

	/* The 2023 bundle holds the same G1 roots as the 2025 one. */
	for (int i = 0; i < a.n; i++)
	{
		x509_cert	ci;

		CHECK_INT(x509_parse(a.der[i], a.len[i], &ci), 0);
		for (int j = 0; j < b.n; j++)
		{
			x509_cert	cj;
			bool		theirs;

			if (x509_parse(b.der[j], b.len[j], &cj) != 0)
				continue;
			theirs = X509_NAME_cmp(X509_get_subject_name(x[i]), X509_get_subject_name(x[a.n + j])) == 0 &&
				EVP_PKEY_eq(X509_get0_pubkey(x[i]), X509_get0_pubkey(x[a.n + j])) == 1;
			CHECK(x509_same_subject_and_key(&ci, &cj) == theirs);
			same_sk += theirs;
			x509_free(&cj);
		}
		x509_free(&ci);
	}
	CHECK(same_sk >= 80);

	for (int i = 0; i < n; i++)
	{
		X509_free(x[i]);
		free(subj_key[i]);
		free(iss_key[i]);
	}
	list_free(&a);
	list_free(&b);
}

/* ---------------------------------------------------------------------
 * Names built here
 * ---------------------------------------------------------------------
 */

/* A minimal DER writer, so that names OpenSSL would refuse to encode can be built too. */
typedef struct dw
{
	uint8_t		b[2048];
	size_t		n;
} dw;

static void
dw_tlv(dw *w, uint8_t tag, const void *p, size_t len)
{
	w->b[w->n++] = tag;
	if (len < 0x80)
		w->b[w->n++] = (uint8_t) len;
	else
	{
		w->b[w->n++] = 0x82;
		w->b[w->n++] = (uint8_t) (len >> 8);
		w->b[w->n++] = (uint8_t) len;
	}
	memcpy(w->b + w->n, p, len);
	w->n += len;
}

typedef struct member
{
	int			rdn;			/* members with the same number share an RDN */
	uint8_t		attr;			/* 2.5.4.<attr> */
	uint8_t		tag;			/* ASN.1 tag of the value */
	const char *val;
	size_t		len;			/* 0: strlen(val) */
} member;

/* DER of a Name; n members in order, RDNs formed by runs of the same rdn number. */
static size_t
name_der(const member *m, int n, uint8_t *out)
{
	dw			name = {.n = 0};
	dw			outer = {.n = 0};

	for (int i = 0; i < n;)
	{
		dw			set = {.n = 0};
		int			r = m[i].rdn;

		for (; i < n && m[i].rdn == r; i++)
		{
			dw			atv = {.n = 0};
			uint8_t		oid[3] = {0x55, 0x04, m[i].attr};
			size_t		len = m[i].len ? m[i].len : strlen(m[i].val);

			dw_tlv(&atv, 0x06, oid, 3);
			dw_tlv(&atv, m[i].tag, m[i].val, len);
			dw_tlv(&set, 0x30, atv.b, atv.n);
		}
		dw_tlv(&name, 0x31, set.b, set.n);
	}
	dw_tlv(&outer, 0x30, name.b, name.n);
	memcpy(out, outer.b, outer.n);
	return outer.n;
}

#define CN 3
#define O 10
#define UTF8 0x0C
#define PRINTABLE 0x13
#define T61 0x14
#define IA5 0x16
#define VISIBLE 0x1A
#define UNIVERSAL 0x1C
#define BMP 0x1E
#define NUMERIC 0x12
#define GENERAL 0x1B

typedef struct name_case
{
	const char *what;
	member		m[3];
	int			n;
	/*
	 * OpenSSL 3 refuses to decode VisibleString and GeneralString values in
	 * names at all (they are not in its ASN1_PRINTABLE mask); we read them,
	 * VisibleString canonicalized as x_name.c would.  Nothing to compare.
	 */
	bool		only_we_read;
} name_case;

static const name_case name_cases[] = {
	{"utf8", {{0, CN, UTF8, "Foo Bar", 0}}, 1, false},
	{"spaces", {{0, CN, UTF8, "  foo   BAR  ", 0}}, 1, false},
	{"tab", {{0, CN, UTF8, "foo\tbar", 0}}, 1, false},
	{"vt ff cr lf", {{0, CN, UTF8, "\nfoo\v\f\r bar\n", 0}}, 1, false},
	{"printable", {{0, CN, PRINTABLE, "FOO BAR", 0}}, 1, false},
	{"bmp", {{0, CN, BMP, "\0F\0O\0O\0 \0b\0a\0r", 14}}, 1, false},
	{"universal", {{0, CN, UNIVERSAL, "\0\0\0f\0\0\0o\0\0\0o\0\0\0 \0\0\0B\0\0\0a\0\0\0r", 28}}, 1, false},
	{"t61", {{0, CN, T61, "foo bar", 0}}, 1, false},
	{"ia5", {{0, CN, IA5, "foo bar ", 0}}, 1, false},
	{"visible", {{0, CN, VISIBLE, "foo  bar", 0}}, 1, true},
	{"numeric is not canonicalized", {{0, CN, NUMERIC, "foo bar", 0}}, 1, false},
	{"numeric 123", {{0, CN, NUMERIC, "123", 0}}, 1, false},
	{"numeric 123 again", {{0, CN, NUMERIC, "123", 0}}, 1, false},
	{"numeric 123 space", {{0, CN, NUMERIC, "123 ", 0}}, 1, false},
	{"utf8 123", {{0, CN, UTF8, "123", 0}}, 1, false},
	{"general string", {{0, CN, GENERAL, "foo bar", 0}}, 1, true},
	{"bit string", {{0, CN, 0x03, "\0foo bar", 8}}, 1, false},
	{"bit string again", {{0, CN, 0x03, "\0foo bar", 8}}, 1, false},
	{"other text", {{0, CN, UTF8, "Foo Bar2", 0}}, 1, false},
	{"E acute utf8", {{0, CN, UTF8, "\xC3\x89", 0}}, 1, false},
	{"e acute utf8", {{0, CN, UTF8, "\xC3\xA9", 0}}, 1, false},
	{"E acute t61 (Latin-1)", {{0, CN, T61, "\xC9", 0}}, 1, false},
	{"e acute bmp", {{0, CN, BMP, "\0\xE9", 2}}, 1, false},
	{"nbsp is not a space", {{0, CN, UTF8, "foo\xC2\xA0" "bar", 0}}, 1, false},
	{"embedded nul", {{0, CN, UTF8, "foo\0bar", 7}}, 1, false},
	{"empty", {{0, CN, UTF8, "", 0}}, 1, false},
	{"blank", {{0, CN, UTF8, "   ", 0}}, 1, false},
	{"O then CN", {{0, O, UTF8, "x", 0}, {1, CN, UTF8, "y", 0}}, 2, false},
	{"O + CN", {{0, O, UTF8, "x", 0}, {0, CN, UTF8, "y", 0}}, 2, false},
	{"CN + O", {{0, CN, UTF8, "Y", 0}, {0, O, PRINTABLE, " X", 0}}, 2, false},
	{"CN then O", {{0, CN, UTF8, "y", 0}, {1, O, UTF8, "x", 0}}, 2, false},
	{"O as CN", {{0, O, UTF8, "foo bar", 0}}, 1, false},
	{"the empty name", {{0, 0, 0, NULL, 0}}, 0, false},
	/* Values OpenSSL refuses (and so refuses the name): the key must be NULL. */
	{"utf8 surrogate", {{0, CN, UTF8, "a\xED\xA0\x80", 0}}, 1, false},
	{"utf8 overlong", {{0, CN, UTF8, "a\xC0\xAF", 0}}, 1, false},
	{"utf8 truncated", {{0, CN, UTF8, "a\xE2\x82", 0}}, 1, false},
	{"utf8 beyond 10FFFF", {{0, CN, UTF8, "\xF4\x90\x80\x80", 0}}, 1, false},
	{"bmp odd length", {{0, CN, BMP, "\0a\0", 3}}, 1, false},
	{"bmp surrogate", {{0, CN, BMP, "\xD8\x00\xDC\x00", 4}}, 1, false},
	{"universal length", {{0, CN, UNIVERSAL, "\0\0\0a\0", 5}}, 1, false},
	{"universal beyond 10FFFF", {{0, CN, UNIVERSAL, "\0\x11\0\0", 4}}, 1, false},
};

TEST(name_keys_agree_with_x509_name_cmp)
{
	enum
	{
		N = sizeof(name_cases) / sizeof(name_cases[0])
	};
	uint8_t		der[N][1024];
	size_t		der_len[N];
	X509_NAME  *xn[N];
	uint8_t    *key[N];
	size_t		key_len[N];
	int			equal_pairs = 0;

	for (int i = 0; i < N; i++)
	{
		const unsigned char *p;
		der_span	span;

		der_len[i] = name_der(name_cases[i].m, name_cases[i].n, der[i]);
		p = der[i];
		xn[i] = d2i_X509_NAME(NULL, &p, (long) der_len[i]);
		span.p = exact_copy(der[i], der_len[i]);
		span.len = der_len[i];
		key[i] = x509_name_key(span, &key_len[i]);
		free((void *) span.p);
		if ((xn[i] != NULL) != (key[i] != NULL) && !name_cases[i].only_we_read)
			fprintf(stderr, "  %s: OpenSSL %s it, we %s\n", name_cases[i].what,
					xn[i] ? "reads" : "refuses", key[i] ? "read it" : "refuse it");
		if (name_cases[i].only_we_read)
			CHECK(xn[i] == NULL && key[i] != NULL);
		else
			CHECK((xn[i] != NULL) == (key[i] != NULL));
	}
	for (int i = 0; i < N; i++)
	{
		for (int j = 0; j < N; j++)
		{
			bool		theirs;
			bool		ours;

			if (xn[i] == NULL || xn[j] == NULL || key[i] == NULL || key[j] == NULL)
				continue;
			theirs = X509_NAME_cmp(xn[i], xn[j]) == 0;
			ours = key_len[i] == key_len[j] && memcmp(key[i], key[j], key_len[i]) == 0;
			if (theirs != ours)
				fprintf(stderr, "  \"%s\" vs \"%s\": OpenSSL says %s, we say %s\n",
						name_cases[i].what, name_cases[j].what,
						theirs ? "equal" : "different", ours ? "equal" : "different");
			CHECK(theirs == ours);
			equal_pairs += theirs && i != j;
		}
	}
	/* Make sure the interesting equalities were really exercised. */
	CHECK(equal_pairs >= 40);
	for (int i = 0; i < N; i++)
	{
		X509_NAME_free(xn[i]);
		free(key[i]);
	}
}

TEST(name_key_spot_checks)
{
	uint8_t		a[1024];
	uint8_t		b[1024];
	member		ma[] = {{0, CN, UTF8, "  Amazon   RDS ", 0}};
	member		mb[] = {{0, CN, PRINTABLE, "amazon rds", 0}};
	der_span	sa = {a, name_der(ma, 1, a)};
	der_span	sb = {b, name_der(mb, 1, b)};
	size_t		la;
	size_t		lb;
	uint8_t    *ka = x509_name_key(sa, &la);
	uint8_t    *kb = x509_name_key(sb, &lb);
	der_span	garbage = {(const uint8_t *) "\x30\x03\x31\x01\x00", 5};
	der_span	trailing = {a, sa.len + 1};
	/* OpenSSL reads an empty RDN and ignores it: "{}, CN=a" equals "CN=a", "{}" the empty Name. */
	static const uint8_t with_empty[] = {0x30, 0x0E, 0x31, 0x00, 0x31, 0x0A, 0x30, 0x08, 0x06, 0x03,
	0x55, 0x04, 0x03, 0x0C, 0x01, 0x61};
	static const uint8_t without[] = {0x30, 0x0C, 0x31, 0x0A, 0x30, 0x08, 0x06, 0x03,
	0x55, 0x04, 0x03, 0x0C, 0x01, 0x61};
	der_span	s_with = {with_empty, sizeof(with_empty)};
	der_span	s_without = {without, sizeof(without)};
	der_span	empty_rdn = {(const uint8_t *) "\x30\x02\x31\x00", 4};
	const unsigned char *p1 = with_empty;
	const unsigned char *p2 = without;
	X509_NAME  *n1 = d2i_X509_NAME(NULL, &p1, sizeof(with_empty));
	X509_NAME  *n2 = d2i_X509_NAME(NULL, &p2, sizeof(without));

	CHECK(ka != NULL && kb != NULL && la == lb && memcmp(ka, kb, la) == 0);
	free(ka);
	free(kb);
	CHECK(x509_name_key(garbage, &la) == NULL);
	a[sa.len] = 0;
	CHECK(x509_name_key(trailing, &la) == NULL);
	CHECK(n1 != NULL && n2 != NULL && X509_NAME_cmp(n1, n2) == 0);
	ka = x509_name_key(s_with, &la);
	kb = x509_name_key(s_without, &lb);
	CHECK(ka != NULL && kb != NULL && la == lb && memcmp(ka, kb, la) == 0);
	free(ka);
	free(kb);
	ka = x509_name_key(empty_rdn, &la);
	CHECK(ka != NULL && la == 0);
	free(ka);
	X509_NAME_free(n1);
	X509_NAME_free(n2);
	sa.p = NULL;
	CHECK(x509_name_key(sa, &la) == NULL);
}

/* Subjects shown as OpenSSL shows them, and as x509.h documents. */
TEST(subject_strings)
{
	static const struct
	{
		const char *field;
		int			type;
		const char *val;
		int			len;
		int			set;
	}			entries[][4] = {
		{{"CN", MBSTRING_ASC, "a,b+c\"d\\e<f>g;h=i", -1, 0}},
		{{"CN", MBSTRING_ASC, "#lead", -1, 0}, {"O", MBSTRING_ASC, " both ", -1, 0}},
		{{"CN", MBSTRING_ASC, "mid#dle", -1, 0}, {"OU", MBSTRING_ASC, " ", -1, 0}},
		{{"CN", MBSTRING_ASC, "ctl\x01\x1f\x7f" "end", -1, 0}},
		{{"CN", MBSTRING_ASC, "x", -1, 0}, {"O", MBSTRING_ASC, "y", -1, -1}, {"C", MBSTRING_ASC, "US", -1, 0}},
		{{"CN", V_ASN1_BMPSTRING, "\0\xE9\x20\xAC", 4, 0}},
		{{"CN", V_ASN1_UNIVERSALSTRING, "\0\x01\xD1\x1E", 4, 0}},
		{{"CN", MBSTRING_UTF8, "caf\xC3\xA9", -1, 0}},
		{{"CN", V_ASN1_BIT_STRING, "bits", 4, 0}},
		{{"1.2.3.4", MBSTRING_ASC, "unknown oid", -1, 0}},
		{{"2.25.329800735698586629295641978511506172918", MBSTRING_ASC, "uuid arc", -1, 0}},
		{{"2.999999999999999999999999.7", MBSTRING_ASC, "big first arc", -1, 0}},
		{{"1.39.127.128.16383.16384", MBSTRING_ASC, "arc edges", -1, 0}},
		{{"emailAddress", MBSTRING_ASC, "a@b", -1, 0}, {"DC", MBSTRING_ASC, "com", -1, 0},
		 {"serialNumber", MBSTRING_ASC, "42", -1, 0}, {"street", MBSTRING_ASC, "Main", -1, 0}},
		{{"title", MBSTRING_ASC, "t", -1, 0}, {"GN", MBSTRING_ASC, "g", -1, 0},
		 {"SN", MBSTRING_ASC, "s", -1, 0}, {"UID", MBSTRING_ASC, "u", -1, 0}},
		{{"ST", MBSTRING_ASC, "WA", -1, 0}, {"L", MBSTRING_ASC, "Seattle", -1, 0}},
		{{"CN", V_ASN1_NUMERICSTRING, "123 45", -1, 0}},
	};
	EVP_PKEY   *key = ec_key("P-256");

	CHECK(key != NULL);
	for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++)
	{
		X509_NAME  *n = X509_NAME_new();
		cert_spec	s = {.subject = n, .key = key};
		uint8_t    *der;
		size_t		len;
		char		label[32];

		for (int k = 0; k < 4 && entries[i][k].field; k++)
			add_raw(n, entries[i][k].field, entries[i][k].type, entries[i][k].val,
					entries[i][k].len, entries[i][k].set);
		der = make_cert(&s, &len);
		CHECK(der != NULL);
		snprintf(label, sizeof(label), "subject case %zu", i);
		if (der)
			CHECK_INT(compare_with_openssl(der, len, label), 0);
		free(der);
		X509_NAME_free(n);
	}

	/*
	 * And the format spelled out, not only "as OpenSSL does".  Two values
	 * OpenSSL refuses to build are patched into the DER afterwards (nothing
	 * here checks signatures): a GeneralString, and a BMPString holding a
	 * surrogate pair and a lone surrogate.
	 */
	{
		X509_NAME  *n = X509_NAME_new();
		cert_spec	s = {.subject = n, .key = key};
		uint8_t    *der;
		size_t		len;
		x509_cert	c;
		int			patched = 0;

		add_raw(n, "C", MBSTRING_ASC, "US", -1, 0);
		add_raw(n, "O", MBSTRING_ASC, "A, Inc.", -1, 0);
		add_raw(n, "CN", MBSTRING_ASC, " x+y ", -1, 0);
		add_raw(n, "OU", MBSTRING_ASC, "#1", -1, -1);
		add_raw(n, "CN", V_ASN1_UTF8STRING, "gen", 3, 0);
		add_raw(n, "CN", V_ASN1_BMPSTRING, "\0a\0b\0c", 6, 0);
		add_raw(n, "2.25.329800735698586629295641978511506172918", MBSTRING_ASC, "a\nb", -1, 0);
		der = make_cert(&s, &len);
		CHECK(der != NULL);
		for (size_t i = 0; der && i + 8 <= len; i++)
		{
			if (memcmp(der + i, "\x0C\x03gen", 5) == 0)
			{
				der[i] = 0x1B;
				patched++;
			}
			if (memcmp(der + i, "\x1E\x06\0a\0b\0c", 8) == 0)
			{
				memcpy(der + i + 2, "\xD8\x34\xDD\x1E\xD8\x00", 6);
				patched++;
			}
		}
		CHECK_INT(patched, 4);	/* subject and issuer */
		CHECK(der != NULL && x509_parse(der, len, &c) == 0);
		if (der != NULL && c.subject != NULL)
		{
			CHECK_STR(c.subject,
					  "C=US, O=A\\, Inc., OU=\\#1 + CN=\\ x\\+y\\ , CN=#1B0367656E, "
					  "CN=\xF0\x9D\x84\x9E\xEF\xBF\xBD, "
					  "2.25.329800735698586629295641978511506172918=a\\0Ab");
			CHECK_STR(c.issuer, c.subject);
			CHECK(c.cn.p != NULL && c.cn.len == 5 && memcmp(c.cn.p, " x+y ", 5) == 0);
			x509_free(&c);
		}
		free(der);
		X509_NAME_free(n);
	}
	EVP_PKEY_free(key);
}

TEST(empty_subject_and_no_cn)
{
	EVP_PKEY   *key = ec_key("P-256");
	X509_NAME  *empty = X509_NAME_new();
	X509_NAME  *issuer = X509_NAME_new();
	cert_spec	s = {.subject = empty, .issuer = issuer, .key = key};
	uint8_t    *der;
	size_t		len;
	x509_cert	c;
	uint8_t    *k;
	size_t		klen = 99;

	add_raw(issuer, "O", MBSTRING_ASC, "No CN here", -1, 0);
	der = make_cert(&s, &len);
	CHECK(der != NULL);
	CHECK_INT(compare_with_openssl(der, len, "empty subject"), 0);
	CHECK_INT(x509_parse(der, len, &c), 0);
	CHECK_STR(c.subject, "");
	CHECK_STR(c.issuer, "O=No CN here");
	CHECK(c.cn.p == NULL);
	k = x509_name_key(c.subject_raw, &klen);
	CHECK(k != NULL && klen == 0);
	free(k);
	x509_free(&c);
	free(der);
	X509_NAME_free(empty);
	X509_NAME_free(issuer);
	EVP_PKEY_free(key);
}

TEST(first_cn_wins)
{
	EVP_PKEY   *key = ec_key("P-256");
	X509_NAME  *n = X509_NAME_new();
	cert_spec	s = {.subject = n, .key = key};
	uint8_t    *der;
	size_t		len;
	x509_cert	c;

	add_raw(n, "O", MBSTRING_ASC, "org", -1, 0);
	add_raw(n, "CN", MBSTRING_ASC, "first", -1, 0);
	add_raw(n, "CN", MBSTRING_ASC, "second", -1, 0);
	der = make_cert(&s, &len);
	CHECK_INT(x509_parse(der, len, &c), 0);
	CHECK(c.cn.len == 5 && memcmp(c.cn.p, "first", 5) == 0);
	CHECK_INT(compare_with_openssl(der, len, "two CNs"), 0);
	x509_free(&c);
	free(der);
	X509_NAME_free(n);
	EVP_PKEY_free(key);
}

/* ---------------------------------------------------------------------
 * Extensions, keys, times
 * ---------------------------------------------------------------------
 */

TEST(subject_alt_names)
{
	static const uint8_t v4[4] = {192, 0, 2, 1};
	static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	static const uint8_t v4_mask[8] = {10, 0, 0, 0, 255, 0, 0, 0};
	static const char nul_dns[] = "evil.example\0.good.example";
	EVP_PKEY   *key = ec_key("P-256");
	X509_NAME  *n = simple_name("db.example.com");
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *g;
	ASN1_TYPE  *other = ASN1_TYPE_new();
	ASN1_UTF8STRING *upn = ASN1_UTF8STRING_new();
	cert_spec	s = {.subject = n, .key = key, .san = gens};
	uint8_t    *der;
	size_t		len;
	x509_cert	c;

	/* Every GeneralName form, the two we keep in between the others. */
	ASN1_STRING_set(upn, "user@example.com", -1);
	ASN1_TYPE_set(other, V_ASN1_UTF8STRING, upn);
	g = GENERAL_NAME_new();
	GENERAL_NAME_set0_othername(g, OBJ_txt2obj("1.3.6.1.4.1.311.20.2.3", 1), other);
	sk_GENERAL_NAME_push(gens, g);
	sk_GENERAL_NAME_push(gens, gn_string(GEN_DNS, "db.example.com", 14));
	sk_GENERAL_NAME_push(gens, gn_string(GEN_EMAIL, "dba@example.com", 15));
	sk_GENERAL_NAME_push(gens, gn_string(GEN_IPADD, v4, 4));
	g = GENERAL_NAME_new();
	GENERAL_NAME_set0_value(g, GEN_DIRNAME, simple_name("dir"));
	sk_GENERAL_NAME_push(gens, g);
	sk_GENERAL_NAME_push(gens, gn_string(GEN_URI, "https://example.com/", 20));
	sk_GENERAL_NAME_push(gens, gn_string(GEN_IPADD, v6, 16));
	g = GENERAL_NAME_new();
	GENERAL_NAME_set0_value(g, GEN_RID, OBJ_txt2obj("1.2.3.4", 1));
	sk_GENERAL_NAME_push(gens, g);
	sk_GENERAL_NAME_push(gens, gn_string(GEN_IPADD, v4_mask, 8));
	sk_GENERAL_NAME_push(gens, gn_string(GEN_DNS, nul_dns, sizeof(nul_dns) - 1));
	sk_GENERAL_NAME_push(gens, gn_string(GEN_DNS, "*.example.com", 13));

	der = make_cert(&s, &len);
	CHECK(der != NULL);
	CHECK_INT(compare_with_openssl(der, len, "sans"), 0);
	CHECK_INT(x509_parse(der, len, &c), 0);
	CHECK_INT(c.n_san, 6);
	if (c.n_san == 6)
	{
		CHECK(c.san[0].type == SAN_DNS && c.san[0].len == 14 && memcmp(c.san[0].value, "db.example.com", 14) == 0);
		CHECK(c.san[1].type == SAN_IP && c.san[1].len == 4 && memcmp(c.san[1].value, v4, 4) == 0);
		CHECK(c.san[2].type == SAN_IP && c.san[2].len == 16 && memcmp(c.san[2].value, v6, 16) == 0);
		CHECK(c.san[3].type == SAN_IP && c.san[3].len == 8);
		CHECK(c.san[4].type == SAN_DNS && c.san[4].len == sizeof(nul_dns) - 1 &&
			  memcmp(c.san[4].value, nul_dns, sizeof(nul_dns) - 1) == 0);
		CHECK(c.san[5].type == SAN_DNS && c.san[5].len == 13);
	}
	CHECK(!c.has_basic_constraints && !c.is_ca);
	x509_free(&c);
	free(der);
	GENERAL_NAMES_free(gens);
	X509_NAME_free(n);
	EVP_PKEY_free(key);
}

TEST(no_san_and_san_overflow)
{
	EVP_PKEY   *key = ec_key("P-256");
	X509_NAME  *n = simple_name("host");
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	cert_spec	s = {.subject = n, .key = key};
	uint8_t    *der;
	size_t		len;
	x509_cert	c;

	der = make_cert(&s, &len);
	CHECK_INT(x509_parse(der, len, &c), 0);
	CHECK_INT(c.n_san, 0);
	CHECK(c.cn.len == 4 && memcmp(c.cn.p, "host", 4) == 0);
	x509_free(&c);
	free(der);

	/* More names than the struct holds: the first X509_MAX_SAN are kept. */
	for (int i = 0; i < X509_MAX_SAN + 44; i++)
	{
		char		dns[32];

		snprintf(dns, sizeof(dns), "h%d.example.com", i);
		sk_GENERAL_NAME_push(gens, gn_string(GEN_DNS, dns, (int) strlen(dns)));
	}
	s.san = gens;
	der = make_cert(&s, &len);
	CHECK_INT(x509_parse(der, len, &c), 0);
	CHECK_INT(c.n_san, X509_MAX_SAN);
	CHECK(c.san[X509_MAX_SAN - 1].len == strlen("h255.example.com") &&
		  memcmp(c.san[X509_MAX_SAN - 1].value, "h255.example.com", c.san[X509_MAX_SAN - 1].len) == 0);
	CHECK_INT(compare_with_openssl(der, len, "many sans"), 0);
	x509_free(&c);
	free(der);
	GENERAL_NAMES_free(gens);
	X509_NAME_free(n);
	EVP_PKEY_free(key);
}

TEST(basic_constraints)
{
	static const struct
	{
		const char *bc;
		bool		has;
		bool		ca;
	}			cases[] = {
		{NULL, false, false},
		{"CA:TRUE", true, true},
		{"critical,CA:TRUE,pathlen:0", true, true},
		{"CA:FALSE", true, false},
		{"critical,CA:FALSE", true, false},
	};
	EVP_PKEY   *key = ec_key("P-256");
	X509_NAME  *n = simple_name("bc");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		cert_spec	s = {.subject = n, .key = key, .bc = cases[i].bc};
		uint8_t    *der;
		size_t		len;
		x509_cert	c;

		der = make_cert(&s, &len);
		CHECK_INT(x509_parse(der, len, &c), 0);
		CHECK(c.has_basic_constraints == cases[i].has);
		CHECK(c.is_ca == cases[i].ca);
		CHECK_INT(compare_with_openssl(der, len, cases[i].bc ? cases[i].bc : "no bc"), 0);
		x509_free(&c);
		free(der);
	}

	/* Twice the same extension: refused rather than guessed. */
	{
		cert_spec	s = {.subject = n, .key = key, .bc = "CA:TRUE", .duplicate_bc = 1};
		uint8_t    *der;
		size_t		len;
		x509_cert	c;

		der = make_cert(&s, &len);
		CHECK_INT(x509_parse(der, len, &c), -1);
		free(der);
	}
	X509_NAME_free(n);
	EVP_PKEY_free(key);
}

TEST(key_descriptions)
{
	static const struct
	{
		const char *type;
		const char *param;
		const char *want;
	}			keys[] = {
		{"EC", "P-256", "EC P-256"},
		{"EC", "P-384", "EC P-384"},
		{"EC", "P-521", "EC P-521"},
		{"EC", "secp256k1", "unknown"},
		{"ED25519", NULL, "Ed25519"},
		{"ED448", NULL, "Ed448"},
		{"X25519", NULL, "unknown"},
		{"RSA", NULL, "RSA 1001"},
		{"RSA-PSS", NULL, "unknown"},
	};
	EVP_PKEY   *signer = ec_key("P-256");
	X509_NAME  *n = simple_name("keys");

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
	{
		EVP_PKEY   *k;
		cert_spec	s = {.subject = n, .signer = signer};
		uint8_t    *der;
		size_t		len;
		x509_cert	c;

		if (strcmp(keys[i].type, "EC") == 0)
			k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", keys[i].param);
		else if (strcmp(keys[i].type, "RSA") == 0)
			k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 1001);
		else if (strcmp(keys[i].type, "RSA-PSS") == 0)
		{
			EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA-PSS", NULL);

			k = NULL;
			if (EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 1024) == 1)
				EVP_PKEY_generate(ctx, &k);
			EVP_PKEY_CTX_free(ctx);
		}
		else
			k = EVP_PKEY_Q_keygen(NULL, NULL, keys[i].type);
		CHECK(k != NULL);
		if (k == NULL)
			continue;
		s.key = k;
		der = make_cert(&s, &len);
		CHECK(der != NULL);
		CHECK_INT(x509_parse(der, len, &c), 0);
		CHECK_STR(c.key_desc, keys[i].want);
		x509_free(&c);
		if (strcmp(keys[i].want, "unknown") != 0)
			CHECK_INT(compare_with_openssl(der, len, keys[i].want), 0);
		free(der);
		EVP_PKEY_free(k);
	}
	X509_NAME_free(n);
	EVP_PKEY_free(signer);
}

TEST(validity_times)
{
	static const struct
	{
		const char *nb;
		const char *na;
		long long	want_nb;
		long long	want_na;
	}			cases[] = {
		{"500101000000Z", "491231235959Z", -631152000LL, 2524607999LL},
		{"20240229120000Z", "99991231235959Z", 1709208000LL, 253402300799LL},
		{"000301000000Z", "20610520230000Z", 951868800LL, 2883855600LL},
		{"19691231235959Z", "21210101000000Z", -1LL, 4765132800LL},
	};
	EVP_PKEY   *key = ec_key("P-256");
	X509_NAME  *n = simple_name("time");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		cert_spec	s = {.subject = n, .key = key, .not_before = cases[i].nb, .not_after = cases[i].na};
		uint8_t    *der;
		size_t		len;
		x509_cert	c;

		der = make_cert(&s, &len);
		CHECK(der != NULL);
		CHECK_INT(x509_parse(der, len, &c), 0);
		CHECK_INT(c.not_before, cases[i].want_nb);
		CHECK_INT(c.not_after, cases[i].want_na);
		CHECK_INT(compare_with_openssl(der, len, cases[i].na), 0);
		x509_free(&c);
		free(der);
	}
	X509_NAME_free(n);
	EVP_PKEY_free(key);
}

/* Times that are not DER for a certificate make it unreadable. */
TEST(invalid_times)
{
	static const struct
	{
		int			type;
		const char *s;
	}			cases[] = {
		{V_ASN1_GENERALIZEDTIME, "20230229120000Z"},	/* no such day */
		{V_ASN1_GENERALIZEDTIME, "20231301000000Z"},
		{V_ASN1_GENERALIZEDTIME, "20230100000000Z"},
		{V_ASN1_GENERALIZEDTIME, "20230101240000Z"},
		{V_ASN1_GENERALIZEDTIME, "20230101006000Z"},
		{V_ASN1_GENERALIZEDTIME, "20230101000060Z"},
		{V_ASN1_GENERALIZEDTIME, "2023010100000Z"},
		{V_ASN1_GENERALIZEDTIME, "20230101000000.5Z"},
		{V_ASN1_GENERALIZEDTIME, "20230101000000+0100"},
		{V_ASN1_GENERALIZEDTIME, "2023010100000 Z"},
		{V_ASN1_GENERALIZEDTIME, "20230101000000z"},
		{V_ASN1_UTCTIME, "2301010000Z"},
		{V_ASN1_UTCTIME, "230101000000+0000"},
		{V_ASN1_UTCTIME, "230431000000Z"},
		{V_ASN1_UTCTIME, "-30101000000Z"},
		{V_ASN1_OCTET_STRING, "230101000000Z"},
	};
	EVP_PKEY   *key = ec_key("P-256");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		X509	   *x = X509_new();
		X509_NAME  *n = simple_name("bad time");
		ASN1_TIME  *t;
		unsigned char *der = NULL;
		int			len;
		x509_cert	c;
		uint8_t    *copy;

		X509_set_version(x, 2);
		X509_set_subject_name(x, n);
		X509_set_issuer_name(x, n);
		ASN1_TIME_set_string(X509_getm_notBefore(x), "230101000000Z");
		t = X509_getm_notAfter(x);
		ASN1_TIME_set_string(t, "330101000000Z");
		ASN1_STRING_set(t, cases[i].s, -1);
		t->type = cases[i].type;
		X509_set_pubkey(x, key);
		X509_sign(x, key, EVP_sha256());
		len = i2d_X509(x, &der);
		CHECK(len > 0);
		copy = exact_copy(der, (size_t) len);
		if (x509_parse(copy, (size_t) len, &c) != -1)
		{
			fprintf(stderr, "  accepted time %s\n", cases[i].s);
			CHECK(!"invalid time accepted");
			x509_free(&c);
		}
		free(copy);
		OPENSSL_free(der);
		X509_NAME_free(n);
		X509_free(x);
	}
	EVP_PKEY_free(key);
}

TEST(format_time)
{
	char		out[21];
	uint32_t	seed = 2024;

	x509_format_time(0, out);
	CHECK_STR(out, "1970-01-01T00:00:00Z");
	x509_format_time(2883855600, out);
	CHECK_STR(out, "2061-05-20T23:00:00Z");
	x509_format_time(-1, out);
	CHECK_STR(out, "1969-12-31T23:59:59Z");
	x509_format_time(951782400, out);
	CHECK_STR(out, "2000-02-29T00:00:00Z");
	x509_format_time(253402300799LL, out);
	CHECK_STR(out, "9999-12-31T23:59:59Z");
	x509_format_time(253402300800LL, out);
	CHECK_STR(out, "9999-12-31T23:59:59Z");	/* clamped */
	x509_format_time(-62167219200LL, out);
	CHECK_STR(out, "0000-01-01T00:00:00Z");
	x509_format_time(-62167219201LL, out);
	CHECK_STR(out, "0000-01-01T00:00:00Z");	/* clamped */

	/* Against the C library, which has no such limits to think about. */
	for (int i = 0; i < 20000; i++)
	{
		long long	t;
		time_t		tt;
		struct tm	tm;
		char		want[80];

		seed = seed * 1103515245u + 12345u;
		t = ((long long) (seed >> 1) * 97 + (long long) (seed & 0xFFFF)) % (253402300799LL + 62135596800LL) - 62135596800LL;
		if (i < 2000)
			t = (long long) (int32_t) (seed) * 3;
		tt = (time_t) t;
		gmtime_r(&tt, &tm);
		snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
				 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		x509_format_time(tt, out);
		if (strcmp(out, want) != 0)
		{
			CHECK_STR(out, want);
			break;
		}
	}
}

/* ---------------------------------------------------------------------
 * Same subject and key
 * ---------------------------------------------------------------------
 */

TEST(same_subject_and_key)
{
	EVP_PKEY   *k1 = ec_key("P-256");
	EVP_PKEY   *k2 = ec_key("P-256");
	X509_NAME  *n1 = X509_NAME_new();
	X509_NAME  *n2 = X509_NAME_new();
	X509_NAME  *n3 = simple_name("Other CA");
	cert_spec	s1 = {.subject = n1, .key = k1, .bc = "CA:TRUE", .not_after = "20610101000000Z"};
	cert_spec	s2 = {.subject = n2, .key = k1, .bc = "CA:TRUE"};
	cert_spec	s3 = {.subject = n1, .key = k2, .bc = "CA:TRUE"};
	cert_spec	s4 = {.subject = n3, .key = k1, .bc = "CA:TRUE"};
	uint8_t    *d1, *d2, *d3, *d4;
	size_t		l1, l2, l3, l4;
	x509_cert	c1, c2, c3, c4;

	add_raw(n1, "C", MBSTRING_ASC, "US", -1, 0);
	add_raw(n1, "CN", MBSTRING_ASC, "Example Root CA", -1, 0);
	/* The same name to OpenSSL: other string type, case and spacing. */
	add_raw(n2, "C", V_ASN1_UTF8STRING, "us", -1, 0);
	add_raw(n2, "CN", V_ASN1_PRINTABLESTRING, "  EXAMPLE  root CA", -1, 0);
	CHECK(X509_NAME_cmp(n1, n2) == 0);

	d1 = make_cert(&s1, &l1);
	d2 = make_cert(&s2, &l2);
	d3 = make_cert(&s3, &l3);
	d4 = make_cert(&s4, &l4);
	CHECK_INT(x509_parse(d1, l1, &c1), 0);
	CHECK_INT(x509_parse(d2, l2, &c2), 0);
	CHECK_INT(x509_parse(d3, l3, &c3), 0);
	CHECK_INT(x509_parse(d4, l4, &c4), 0);

	CHECK(x509_same_subject_and_key(&c1, &c1));
	CHECK(x509_same_subject_and_key(&c1, &c2));	/* re-issued, name re-encoded */
	CHECK(x509_same_subject_and_key(&c2, &c1));
	CHECK(!x509_same_subject_and_key(&c1, &c3));	/* same name, new key */
	CHECK(!x509_same_subject_and_key(&c1, &c4));	/* same key, other name */
	CHECK(strcmp(c1.subject, c2.subject) != 0);

	x509_free(&c1);
	x509_free(&c2);
	x509_free(&c3);
	x509_free(&c4);
	free(d1);
	free(d2);
	free(d3);
	free(d4);
	X509_NAME_free(n1);
	X509_NAME_free(n2);
	X509_NAME_free(n3);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
}

/* ---------------------------------------------------------------------
 * Malformed input
 * ---------------------------------------------------------------------
 */

/* Parse a copy of exactly these bytes, and use whatever came out. */
static int
parse_and_use(const uint8_t *p, size_t n)
{
	uint8_t    *copy = exact_copy(p, n);
	x509_cert	c;
	int			r = x509_parse(copy, n, &c);

	if (r == 0)
	{
		size_t		kl;
		uint8_t    *k1 = x509_name_key(c.subject_raw, &kl);
		uint8_t    *k2 = x509_name_key(c.issuer_raw, &kl);
		char		t[21];

		/* Touch every byte the spans claim, so valgrind checks them. */
		volatile uint8_t sink = 0;

		for (size_t i = 0; i < c.spki.len; i++)
			sink ^= c.spki.p[i];
		for (size_t i = 0; i < c.serial.len; i++)
			sink ^= c.serial.p[i];
		for (size_t i = 0; i < c.cn.len; i++)
			sink ^= c.cn.p[i];
		for (int s = 0; s < c.n_san; s++)
			for (size_t i = 0; i < c.san[s].len; i++)
				sink ^= c.san[s].value[i];
		(void) sink;
		CHECK(c.subject != NULL && c.issuer != NULL);
		CHECK(strlen(c.subject) < 64 * n + 1);
		x509_format_time(c.not_after, t);
		free(k1);
		free(k2);
		x509_free(&c);
	}
	else
		CHECK(c.subject == NULL && c.issuer == NULL);
	free(copy);
	return r;
}

static void
first_certs(uint8_t **rsa, size_t *rsa_len, uint8_t **ec, size_t *ec_len)
{
	cert_list	l;

	*rsa = *ec = NULL;
	load_bundle("global-bundle-2025-g1.pem", &l);
	for (int i = 0; i < l.n; i++)
	{
		x509_cert	c;

		if (x509_parse(l.der[i], l.len[i], &c) != 0)
			continue;
		if (*rsa == NULL && strncmp(c.key_desc, "RSA", 3) == 0)
		{
			*rsa = exact_copy(l.der[i], l.len[i]);
			*rsa_len = l.len[i];
		}
		if (*ec == NULL && strncmp(c.key_desc, "EC", 2) == 0)
		{
			*ec = exact_copy(l.der[i], l.len[i]);
			*ec_len = l.len[i];
		}
		x509_free(&c);
	}
	list_free(&l);
}

TEST(every_truncation_fails_cleanly)
{
	uint8_t    *certs[2];
	size_t		lens[2];

	first_certs(&certs[0], &lens[0], &certs[1], &lens[1]);
	CHECK(certs[0] != NULL && certs[1] != NULL);
	for (int k = 0; k < 2 && certs[k]; k++)
	{
		CHECK_INT(parse_and_use(certs[k], lens[k]), 0);
		for (size_t n = 0; n < lens[k]; n++)
			CHECK_INT(parse_and_use(certs[k], n), -1);
	}
	free(certs[0]);
	free(certs[1]);
}

/*
 * Truncations inside: keep the outer header consistent (rewritten for the
 * shorter length), so the reader has to notice deeper down.
 */
TEST(inner_truncations)
{
	uint8_t    *certs[2];
	size_t		lens[2];

	first_certs(&certs[0], &lens[0], &certs[1], &lens[1]);
	for (int k = 0; k < 2 && certs[k]; k++)
	{
		size_t		hdr = 2 + (certs[k][1] & 0x7F);
		uint8_t    *buf = malloc(lens[k] + 8);

		for (size_t body = 0; body + hdr < lens[k]; body++)
		{
			size_t		o = 0;

			buf[o++] = 0x30;
			if (body < 0x80)
				buf[o++] = (uint8_t) body;
			else if (body < 0x100)
			{
				buf[o++] = 0x81;
				buf[o++] = (uint8_t) body;
			}
			else
			{
				buf[o++] = 0x82;
				buf[o++] = (uint8_t) (body >> 8);
				buf[o++] = (uint8_t) body;
			}
			memcpy(buf + o, certs[k] + hdr, body);
			CHECK_INT(parse_and_use(buf, o + body), -1);
		}
		free(buf);
	}
	free(certs[0]);
	free(certs[1]);
}

TEST(byte_mutations_never_crash)
{
	static const uint8_t values[] = {0x00, 0x01, 0x7F, 0x80, 0x81, 0x82, 0x84, 0x85, 0xFF};
	uint8_t    *certs[2];
	size_t		lens[2];
	uint32_t	seed = 77;
	int			accepted = 0;

	first_certs(&certs[0], &lens[0], &certs[1], &lens[1]);
	for (int k = 0; k < 2 && certs[k]; k++)
	{
		uint8_t    *m = malloc(lens[k]);

		/* Every byte set to each interesting value. */
		for (size_t i = 0; i < lens[k]; i++)
		{
			for (size_t v = 0; v < sizeof(values); v++)
			{
				memcpy(m, certs[k], lens[k]);
				m[i] = values[v];
				accepted += parse_and_use(m, lens[k]) == 0;
			}
		}
		/* Random bursts of mutations, with random lengths. */
		for (int round = 0; round < 3000; round++)
		{
			size_t		n = lens[k];

			memcpy(m, certs[k], lens[k]);
			for (int j = 0; j < 1 + round % 4; j++)
			{
				seed = seed * 1103515245u + 12345u;
				m[(seed >> 8) % lens[k]] = (uint8_t) (seed >> 24);
			}
			if (round % 3 == 0)
				n = (seed >> 4) % lens[k] + 1;
			accepted += parse_and_use(m, n) == 0;
		}
		free(m);
	}
	/* Changes inside the signature or key bytes still parse. */
	CHECK(accepted > 0);
	free(certs[0]);
	free(certs[1]);
}

TEST(crafted_headers)
{
	static const uint8_t indefinite[] = {0x30, 0x80, 0x30, 0x00, 0x00, 0x00};
	static const uint8_t non_minimal[] = {0x30, 0x81, 0x02, 0x30, 0x00};
	static const uint8_t leading_zero[] = {0x30, 0x82, 0x00, 0x02, 0x30, 0x00};
	static const uint8_t five_bytes[] = {0x30, 0x85, 0x00, 0x00, 0x00, 0x00, 0x02, 0x30, 0x00};
	static const uint8_t huge[] = {0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF, 0x30, 0x00};
	static const uint8_t high_tag[] = {0x3F, 0x01, 0x00};
	static const uint8_t empty_seq[] = {0x30, 0x00};
	uint8_t    *rsa;
	size_t		rsa_len;
	uint8_t    *ec;
	size_t		ec_len;
	uint8_t    *longer;
	x509_cert	c;

	CHECK_INT(parse_and_use(indefinite, sizeof(indefinite)), -1);
	CHECK_INT(parse_and_use(non_minimal, sizeof(non_minimal)), -1);
	CHECK_INT(parse_and_use(leading_zero, sizeof(leading_zero)), -1);
	CHECK_INT(parse_and_use(five_bytes, sizeof(five_bytes)), -1);
	CHECK_INT(parse_and_use(huge, sizeof(huge)), -1);
	CHECK_INT(parse_and_use(high_tag, sizeof(high_tag)), -1);
	CHECK_INT(parse_and_use(empty_seq, sizeof(empty_seq)), -1);
	CHECK_INT(x509_parse(NULL, 0, &c), -1);

	/* A trailing byte after a good certificate. */
	first_certs(&rsa, &rsa_len, &ec, &ec_len);
	if (rsa)
	{
		longer = malloc(rsa_len + 1);
		memcpy(longer, rsa, rsa_len);
		longer[rsa_len] = 0;
		CHECK_INT(parse_and_use(longer, rsa_len + 1), -1);
		free(longer);
	}
	free(rsa);
	free(ec);
}

TEST(name_key_on_garbage)
{
	uint32_t	seed = 5;
	uint8_t		buf[64];

	for (int round = 0; round < 20000; round++)
	{
		size_t		n;
		uint8_t    *copy;
		uint8_t    *k;
		size_t		kl;
		der_span	s;

		seed = seed * 1103515245u + 12345u;
		n = 2 + (seed >> 16) % (sizeof(buf) - 2);
		for (size_t i = 0; i < n; i++)
		{
			seed = seed * 1103515245u + 12345u;
			buf[i] = (uint8_t) (seed >> 24);
		}
		/* Mostly plausible headers, so that the walk goes somewhere. */
		buf[0] = 0x30;
		buf[1] = (uint8_t) (n - 2);
		if (n > 4 && round % 2)
		{
			buf[2] = 0x31;
			buf[3] = (uint8_t) (n - 4);
		}
		copy = exact_copy(buf, n);
		s.p = copy;
		s.len = n;
		k = x509_name_key(s, &kl);
		free(k);
		free(copy);
	}
	CHECK(1);
}
