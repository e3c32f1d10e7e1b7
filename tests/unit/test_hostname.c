/*
 * test_hostname.c: hostname_check() against libpq's rules for verify-full.
 *
 * Certificates are built here with OpenSSL's API (self-signed, EC P-256), so
 * every shape libpq cares about can be made: SANs of both types in any order,
 * names with an embedded NUL, a CN in a BMPString, two CNs, SANs of types libpq
 * ignores.  They go through i2d and x509_parse() exactly as a server's
 * certificate does.  tests/integration/test_hostname_judge.py holds the same
 * rules against the real libpq.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "check.h"
#include "pqtls/hostname.h"
#include "pqtls/x509.h"

/* One subjectAltName entry: kind 'D' dNSName, 'I' iPAddress, 'E' email, 'U' URI. */
typedef struct san_spec
{
	char		kind;
	const char *val;
	size_t		len;			/* 0: strlen(val) */
} san_spec;

/* One subject attribute: a CN (UTF8String unless bmp), or an OU. */
typedef struct rdn_spec
{
	const char *type;			/* "CN" or "OU" */
	const char *val;
	size_t		len;			/* 0: strlen(val) */
	bool		bmp;			/* encode val (ASCII) as a BMPString */
} rdn_spec;

typedef struct test_cert
{
	uint8_t    *der;
	x509_cert	c;
	bool		ok;
} test_cert;

#define D(s) {'D', (s), 0}
#define DN(s) {'D', (s), sizeof(s) - 1}	/* with its embedded NULs */
#define E(s) {'E', (s), 0}
#define U(s) {'U', (s), 0}
#define IP4(a, b, c, d) {'I', (const char []) {(char) (a), (char) (b), (char) (c), (char) (d)}, 4}
#define IP16(...) {'I', (const char []) {__VA_ARGS__}, 16}
#define CN(s) {"CN", (s), 0, false}
#define OU(s) {"OU", (s), 0, false}

/* 2001:db8::1 */
#define IP_2001_DB8_1 IP16(0x20, 0x01, 0x0d, (char) 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)

static bool
add_subject(X509_NAME *name, const rdn_spec *r)
{
	size_t		len = r->len ? r->len : strlen(r->val);

	if (r->bmp)
	{
		/* UCS-2 big-endian: every ASCII character gets a NUL byte first. */
		unsigned char wide[256];

		for (size_t i = 0; i < len; i++)
		{
			wide[2 * i] = 0;
			wide[2 * i + 1] = (unsigned char) r->val[i];
		}
		return X509_NAME_add_entry_by_txt(name, r->type, V_ASN1_BMPSTRING, wide,
										  (int) (2 * len), -1, 0) == 1;
	}
	return X509_NAME_add_entry_by_txt(name, r->type, V_ASN1_UTF8STRING,
									  (const unsigned char *) r->val, (int) len, -1, 0) == 1;
}

static bool
add_sans(X509 *x, const san_spec *sans, int n)
{
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	bool		ok = gens != NULL;

	for (int i = 0; ok && i < n; i++)
	{
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_STRING *s = NULL;
		size_t		len = sans[i].len ? sans[i].len : strlen(sans[i].val);
		int			type;

		switch (sans[i].kind)
		{
			case 'D':
				type = GEN_DNS;
				s = ASN1_IA5STRING_new();
				break;
			case 'E':
				type = GEN_EMAIL;
				s = ASN1_IA5STRING_new();
				break;
			case 'U':
				type = GEN_URI;
				s = ASN1_IA5STRING_new();
				break;
			default:
				type = GEN_IPADD;
				s = ASN1_OCTET_STRING_new();
				break;
		}
		/* An explicit length: the bytes may hold NULs. */
		if (g == NULL || s == NULL || ASN1_STRING_set(s, sans[i].val, (int) len) != 1)
		{
			GENERAL_NAME_free(g);
			ASN1_STRING_free(s);
			ok = false;
			break;
		}
		GENERAL_NAME_set0_value(g, type, s);
		if (!sk_GENERAL_NAME_push(gens, g))
		{
			GENERAL_NAME_free(g);
			ok = false;
		}
	}
	if (ok)
		ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1;
	GENERAL_NAMES_free(gens);
	return ok;
}

/*
 * A self-signed certificate with the given subject attributes (in order) and,
 * when n_san >= 0, a subjectAltName extension holding sans (n_san may be 0:
 * an empty extension is not something libpq distinguishes from none, and is
 * not made here).
 */
static test_cert
make_cert(const rdn_spec *subject, int n_rdn, const san_spec *sans, int n_san)
{
	test_cert	t;
	EVP_PKEY   *key = EVP_EC_gen("P-256");
	X509	   *x = X509_new();
	X509_NAME  *name = X509_NAME_new();
	unsigned char *der = NULL;
	int			len = -1;
	bool		ok = key != NULL && x != NULL && name != NULL;

	memset(&t, 0, sizeof(t));
	ok = ok && X509_set_version(x, 2) == 1 &&
		ASN1_INTEGER_set(X509_get_serialNumber(x), 4242) == 1 &&
		X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL &&
		X509_gmtime_adj(X509_getm_notAfter(x), 86400) != NULL &&
		X509_set_pubkey(x, key) == 1;
	for (int i = 0; ok && i < n_rdn; i++)
		ok = add_subject(name, &subject[i]);
	ok = ok && X509_set_subject_name(x, name) == 1 && X509_set_issuer_name(x, name) == 1;
	if (ok && n_san > 0)
		ok = add_sans(x, sans, n_san);
	ok = ok && X509_sign(x, key, EVP_sha256()) > 0;
	if (ok)
		len = i2d_X509(x, &der);
	if (len > 0)
	{
		t.der = malloc((size_t) len);
		memcpy(t.der, der, (size_t) len);
		t.ok = x509_parse(t.der, (size_t) len, &t.c) == 0;
	}
	OPENSSL_free(der);
	X509_NAME_free(name);
	X509_free(x);
	EVP_PKEY_free(key);
	if (!t.ok)
		fprintf(stderr, "could not build or parse a test certificate\n");
	return t;
}

static void
free_cert(test_cert *t)
{
	if (t->ok)
		x509_free(&t->c);
	free(t->der);
	memset(t, 0, sizeof(*t));
}

/* hostname_check() as a word, its detail checked when want_detail is given. */
static const char *
judge(const test_cert *t, const char *host, const char *want_detail)
{
	char	   *detail = NULL;
	host_match	r;

	if (!t->ok)
		return "no certificate";
	r = hostname_check(host, &t->c, &detail);
	CHECK(detail != NULL);
	if (want_detail != NULL)
		CHECK_STR(detail, want_detail);
	free(detail);
	return r == HOST_MATCH ? "match" : r == HOST_MISMATCH ? "mismatch" : "error";
}

#define JUDGE(t, host, want) CHECK_STR(judge(&(t), (host), NULL), (want))
#define JUDGE_D(t, host, want, detail) CHECK_STR(judge(&(t), (host), (detail)), (want))

/* ----------------------------------------------------------------- rule 1 */

TEST(empty_host_is_an_error)
{
	rdn_spec	s[] = {CN("localhost")};
	san_spec	a[] = {D("localhost")};
	test_cert	t = make_cert(s, 1, a, 1);
	char	   *detail = (char *) "untouched";

	JUDGE_D(t, "", "error", "host name must be specified for a verified SSL connection");
	CHECK_INT(hostname_check(NULL, &t.c, &detail), HOST_ERROR);
	CHECK_STR(detail, "host name must be specified for a verified SSL connection");
	free(detail);
	/* detail may be NULL */
	CHECK_INT(hostname_check("", &t.c, NULL), HOST_ERROR);
	CHECK_INT(hostname_check("localhost", &t.c, NULL), HOST_MATCH);
	CHECK_INT(hostname_check("otherhost", &t.c, NULL), HOST_MISMATCH);
	free_cert(&t);
}

/* ----------------------------------------------------------------- the CN alone */

TEST(cn_only)
{
	rdn_spec	s[] = {CN("common-name.pg-ssltest.test"), OU("PostgreSQL test suite")};
	test_cert	t = make_cert(s, 2, NULL, 0);

	JUDGE_D(t, "common-name.pg-ssltest.test", "match",
			"host name \"common-name.pg-ssltest.test\" matches the certificate's name "
			"CN=common-name.pg-ssltest.test");
	JUDGE(t, "COMMON-NAME.PG-SSLTEST.TEST", "match");
	JUDGE_D(t, "wronghost.test", "mismatch",
			"host name \"wronghost.test\" is not among the certificate's names "
			"(CN=common-name.pg-ssltest.test)");
	/* No trailing-dot normalisation, either way. */
	JUDGE(t, "common-name.pg-ssltest.test.", "mismatch");
	JUDGE(t, "common-name.pg-ssltest", "mismatch");
	/* An IP host is compared with the CN as a string, when there is no IP SAN. */
	JUDGE(t, "192.0.2.1", "mismatch");
	free_cert(&t);
}

TEST(ip_cn_only)
{
	rdn_spec	s[] = {CN("192.0.2.1"), OU("PostgreSQL test suite")};
	test_cert	t = make_cert(s, 2, NULL, 0);

	JUDGE(t, "192.0.2.1", "match");
	/* The CN is a string: the same address written otherwise does not match. */
	JUDGE_D(t, "192.000.002.001", "mismatch",
			"host name \"192.000.002.001\" is not among the certificate's names (CN=192.0.2.1)");
	JUDGE(t, "3221225985", "mismatch");
	free_cert(&t);
}

TEST(no_names)
{
	rdn_spec	s[] = {OU("PostgreSQL test suite")};
	test_cert	t = make_cert(s, 1, NULL, 0);

	JUDGE_D(t, "common-name.pg-ssltest.test", "mismatch",
			"host name \"common-name.pg-ssltest.test\" is not among the certificate's names "
			"(it has none: no DNS or IP subjectAltName and no CN)");
	JUDGE(t, "192.0.2.1", "mismatch");
	free_cert(&t);
}

TEST(first_cn_is_the_one)
{
	rdn_spec	s[] = {CN("first.example.com"), OU("x"), CN("second.example.com")};
	test_cert	t = make_cert(s, 3, NULL, 0);

	JUDGE(t, "first.example.com", "match");
	JUDGE_D(t, "second.example.com", "mismatch",
			"host name \"second.example.com\" is not among the certificate's names "
			"(CN=first.example.com)");
	free_cert(&t);
}

TEST(cn_is_compared_as_raw_bytes)
{
	/* A BMPString CN is UCS-2: libpq sees its NUL bytes and refuses it. */
	rdn_spec	s[] = {{"CN", "localhost", 0, true}};
	test_cert	t = make_cert(s, 1, NULL, 0);

	JUDGE_D(t, "localhost", "error", "SSL certificate's name contains embedded null");
	free_cert(&t);
}

/* ----------------------------------------------------------------- dNSName SANs */

TEST(multiple_alt_names)
{
	rdn_spec	s[] = {OU("PostgreSQL test suite")};
	san_spec	a[] = {D("dns1.alt-name.pg-ssltest.test"), D("dns2.alt-name.pg-ssltest.test"),
	D("*.wildcard.pg-ssltest.test")};
	test_cert	t = make_cert(s, 1, a, 3);

	JUDGE(t, "dns1.alt-name.pg-ssltest.test", "match");
	JUDGE(t, "dns2.alt-name.pg-ssltest.test", "match");
	JUDGE_D(t, "foo.wildcard.pg-ssltest.test", "match",
			"host name \"foo.wildcard.pg-ssltest.test\" matches the certificate's name "
			"DNS:*.wildcard.pg-ssltest.test");
	JUDGE_D(t, "wronghost.alt-name.pg-ssltest.test", "mismatch",
			"host name \"wronghost.alt-name.pg-ssltest.test\" is not among the certificate's "
			"names (DNS:dns1.alt-name.pg-ssltest.test, DNS:dns2.alt-name.pg-ssltest.test, "
			"DNS:*.wildcard.pg-ssltest.test)");
	JUDGE(t, "deep.subdomain.wildcard.pg-ssltest.test", "mismatch");
	free_cert(&t);
}

TEST(single_alt_name)
{
	rdn_spec	s[] = {OU("PostgreSQL test suite")};
	san_spec	a[] = {D("single.alt-name.pg-ssltest.test")};
	test_cert	t = make_cert(s, 1, a, 1);

	JUDGE(t, "single.alt-name.pg-ssltest.test", "match");
	JUDGE(t, "Single.Alt-Name.PG-SSLTest.Test", "match");
	JUDGE_D(t, "wronghost.alt-name.pg-ssltest.test", "mismatch",
			"host name \"wronghost.alt-name.pg-ssltest.test\" is not among the certificate's "
			"names (DNS:single.alt-name.pg-ssltest.test)");
	JUDGE(t, "deep.subdomain.wildcard.pg-ssltest.test", "mismatch");
	free_cert(&t);
}

TEST(dns_sans_hide_the_cn_from_dns_hosts)
{
	rdn_spec	s[] = {CN("common-name.pg-ssltest.test"), OU("PostgreSQL test suite")};
	san_spec	a[] = {D("dns1.alt-name.pg-ssltest.test"), D("dns2.alt-name.pg-ssltest.test")};
	test_cert	t = make_cert(s, 2, a, 2);

	JUDGE(t, "dns1.alt-name.pg-ssltest.test", "match");
	JUDGE(t, "dns2.alt-name.pg-ssltest.test", "match");
	JUDGE_D(t, "common-name.pg-ssltest.test", "mismatch",
			"host name \"common-name.pg-ssltest.test\" is not among the certificate's names "
			"(DNS:dns1.alt-name.pg-ssltest.test, DNS:dns2.alt-name.pg-ssltest.test); libpq "
			"ignores its CN=common-name.pg-ssltest.test because the certificate has DNS name "
			"SANs");
	free_cert(&t);
}

TEST(wildcard_rules)
{
	rdn_spec	s[] = {OU("x")};
	san_spec	a[] = {D("*.Example.COM")};
	test_cert	t = make_cert(s, 1, a, 1);

	JUDGE(t, "db.example.com", "match");
	JUDGE(t, "DB.EXAMPLE.COM", "match");
	JUDGE(t, "x.example.com", "match");
	/* Exactly one label: not none, not two. */
	JUDGE(t, "example.com", "mismatch");
	JUDGE(t, ".example.com", "mismatch");
	JUDGE(t, "a.b.example.com", "mismatch");
	/* No trailing-dot normalisation. */
	JUDGE(t, "db.example.com.", "mismatch");
	/* The name itself matches, as a string. */
	JUDGE(t, "*.example.com", "match");
	/* A suffix that is not at a label boundary. */
	JUDGE(t, "dbexample.com", "mismatch");
	JUDGE(t, "db.example.co", "mismatch");
	/*
	 * libpq's quirk: the last byte the "*" stands for is not checked for a dot,
	 * so an empty label right after the wildcard's is let through.
	 */
	JUDGE(t, "db..example.com", "match");
	JUDGE(t, "..example.com", "match");
	JUDGE(t, "a.b..example.com", "mismatch");
	free_cert(&t);
}

TEST(wildcard_only_as_whole_leftmost_label)
{
	rdn_spec	s[] = {OU("x")};
	san_spec	a[] = {D("f*.example.com"), D("a.*.example.net"), D("*"), D("*."),
	D("*.*.example.org"), D("**.example.edu")};
	test_cert	t = make_cert(s, 1, a, 6);

	JUDGE(t, "foo.example.com", "mismatch");
	JUDGE(t, "f.example.com", "mismatch");
	JUDGE(t, "a.b.example.net", "mismatch");
	JUDGE(t, "anything", "mismatch");
	JUDGE(t, "a.", "mismatch");
	JUDGE(t, "x.y.example.org", "mismatch");
	JUDGE(t, "x.example.edu", "mismatch");
	/* ... where each is still a literal name. */
	JUDGE(t, "f*.example.com", "match");
	JUDGE(t, "*", "match");
	JUDGE(t, "*.", "match");
	/* "*.*.example.org": the second "*" is a literal, the first one a wildcard. */
	JUDGE(t, "x.*.example.org", "match");
	free_cert(&t);
}

TEST(wildcard_in_the_cn)
{
	rdn_spec	s[] = {CN("*.cluster.example.com")};
	test_cert	t = make_cert(s, 1, NULL, 0);

	JUDGE(t, "db.cluster.example.com", "match");
	JUDGE(t, "cluster.example.com", "mismatch");
	free_cert(&t);
}

TEST(trailing_dot_in_the_certificate)
{
	rdn_spec	s[] = {OU("x")};
	san_spec	a[] = {D("db.example.com.")};
	test_cert	t = make_cert(s, 1, a, 1);

	JUDGE(t, "db.example.com", "mismatch");
	JUDGE(t, "db.example.com.", "match");
	free_cert(&t);
}

/* ----------------------------------------------------------------- embedded NUL */

TEST(embedded_nul_in_a_dns_name)
{
	rdn_spec	s[] = {CN("good.example.com")};
	san_spec	evil[] = {DN("good.example.com\0.evil.example")};
	san_spec	after_match[] = {D("good.example.com"), DN("good.example.com\0.evil.example")};
	san_spec	before_match[] = {DN("x\0y"), D("good.example.com")};
	test_cert	t1 = make_cert(s, 1, evil, 1);
	test_cert	t2 = make_cert(s, 1, after_match, 2);
	test_cert	t3 = make_cert(s, 1, before_match, 2);

	CHECK(t1.ok && t1.c.n_san == 1 && t1.c.san[0].len == 30);
	JUDGE_D(t1, "good.example.com", "error", "SSL certificate's name contains embedded null");
	/* Whatever the host: the name is refused before it is compared. */
	JUDGE(t1, "other.example.com", "error");
	JUDGE(t1, "192.0.2.1", "error");
	/* libpq stops at the first match, and at the first error. */
	JUDGE(t2, "good.example.com", "match");
	JUDGE(t2, "other.example.com", "error");
	JUDGE(t3, "good.example.com", "error");
	free_cert(&t1);
	free_cert(&t2);
	free_cert(&t3);
}

TEST(embedded_nul_in_the_cn)
{
	rdn_spec	s[] = {{"CN", "good.example.com\0.evil.example", 30, false}};
	san_spec	a[] = {D("good.example.com")};
	san_spec	ip[] = {IP4(192, 0, 2, 1)};
	test_cert	t1 = make_cert(s, 1, NULL, 0);
	test_cert	t2 = make_cert(s, 1, a, 1);
	test_cert	t3 = make_cert(s, 1, ip, 1);

	JUDGE_D(t1, "good.example.com", "error", "SSL certificate's name contains embedded null");
	/* A CN libpq does not consult cannot fail it. */
	JUDGE(t2, "good.example.com", "match");
	JUDGE(t2, "bad.example.com", "mismatch");
	/* ... but a DNS host next to IP SANs consults it. */
	JUDGE(t3, "good.example.com", "error");
	JUDGE(t3, "192.0.2.1", "match");
	JUDGE(t3, "192.0.2.2", "mismatch");
	free_cert(&t1);
	free_cert(&t2);
	free_cert(&t3);
}

/* ----------------------------------------------------------------- iPAddress SANs */

TEST(ip_alt_names)
{
	rdn_spec	s[] = {OU("PostgreSQL test suite")};
	san_spec	a[] = {IP4(192, 0, 2, 1), IP_2001_DB8_1};
	test_cert	t = make_cert(s, 1, a, 2);

	JUDGE_D(t, "192.0.2.1", "match",
			"host name \"192.0.2.1\" matches the certificate's name IP:192.0.2.1");
	/* inet_aton() forms: octal parts, hex, fewer parts, a single number. */
	JUDGE(t, "192.000.002.001", "match");
	JUDGE(t, "0300.0.2.1", "match");
	JUDGE(t, "0xc0.0.2.1", "match");
	JUDGE(t, "192.0.513", "match");
	JUDGE(t, "3221225985", "match");
	/* glibc's inet_aton() stops at white space. */
	JUDGE(t, "192.0.2.1 trailing", "match");
	JUDGE_D(t, "192.0.2.2", "mismatch",
			"host name \"192.0.2.2\" is not among the certificate's names "
			"(IP:192.0.2.1, IP:2001:db8::1)");
	JUDGE(t, "192.0.2.1/32", "mismatch");
	JUDGE(t, "2001:DB8::1", "match");
	JUDGE(t, "2001:db8:0:0:0:0:0:1", "match");
	JUDGE(t, "2001:db8::0.0.0.1", "match");
	JUDGE(t, "::1", "mismatch");
	JUDGE(t, "2001:DB8::1/128", "mismatch");
	/* An IPv4-mapped address is 16 bytes: it never matches a 4-byte SAN. */
	JUDGE(t, "::ffff:192.0.2.1", "mismatch");
	/* A DNS host against IP SANs is a mismatch, not an error. */
	JUDGE(t, "common-name.pg-ssltest.test", "mismatch");
	free_cert(&t);
}

TEST(short_ipv4_forms)
{
	rdn_spec	s[] = {OU("x")};
	san_spec	a[] = {IP4(127, 0, 0, 1)};
	test_cert	t = make_cert(s, 1, a, 1);

	JUDGE(t, "127.1", "match");
	JUDGE(t, "127.0.1", "match");
	JUDGE(t, "0x7f000001", "match");
	JUDGE(t, "127.0.0.1", "match");
	JUDGE(t, "localhost", "mismatch");
	free_cert(&t);
}

TEST(ip_in_dnsname)
{
	rdn_spec	s[] = {OU("PostgreSQL test suite")};
	san_spec	a[] = {D("192.0.2.1")};
	test_cert	t = make_cert(s, 1, a, 1);

	JUDGE(t, "192.0.2.1", "match");
	/* A dNSName is a string, even against an IP host. */
	JUDGE_D(t, "192.000.002.001", "mismatch",
			"host name \"192.000.002.001\" is not among the certificate's names (DNS:192.0.2.1)");
	free_cert(&t);
}

TEST(ipv6_host_against_a_dnsname)
{
	rdn_spec	s[] = {OU("x")};
	san_spec	a[] = {D("2001:db8::1")};
	test_cert	t = make_cert(s, 1, a, 1);

	JUDGE(t, "2001:DB8::1", "match");	/* ASCII case folded */
	JUDGE(t, "2001:db8:0::1", "mismatch");
	free_cert(&t);
}

TEST(cn_and_ip_alt_names)
{
	rdn_spec	s[] = {CN("common-name.pg-ssltest.test"), OU("PostgreSQL test suite")};
	san_spec	a[] = {IP4(192, 0, 2, 1), IP_2001_DB8_1};
	test_cert	t = make_cert(s, 2, a, 2);

	/* A DNS host consults the CN: there is no dNSName. */
	JUDGE(t, "common-name.pg-ssltest.test", "match");
	JUDGE(t, "192.0.2.1", "match");
	JUDGE(t, "2001:db8::1", "match");
	JUDGE_D(t, "wronghost.test", "mismatch",
			"host name \"wronghost.test\" is not among the certificate's names "
			"(IP:192.0.2.1, IP:2001:db8::1, CN=common-name.pg-ssltest.test)");
	/* An IP host does not: there are iPAddress SANs. */
	JUDGE_D(t, "192.0.2.9", "mismatch",
			"host name \"192.0.2.9\" is not among the certificate's names "
			"(IP:192.0.2.1, IP:2001:db8::1); libpq ignores its "
			"CN=common-name.pg-ssltest.test because the certificate has IP address SANs");
	free_cert(&t);
}

TEST(ip_cn_and_alt_names)
{
	rdn_spec	s[] = {CN("192.0.2.1"), OU("PostgreSQL test suite")};
	san_spec	a[] = {IP4(192, 0, 2, 2), IP_2001_DB8_1};
	test_cert	t = make_cert(s, 2, a, 2);

	JUDGE(t, "192.0.2.2", "match");
	JUDGE(t, "2001:db8::1", "match");
	JUDGE_D(t, "192.0.2.1", "mismatch",
			"host name \"192.0.2.1\" is not among the certificate's names "
			"(IP:192.0.2.2, IP:2001:db8::1); libpq ignores its CN=192.0.2.1 because the "
			"certificate has IP address SANs");
	free_cert(&t);
}

TEST(ip_cn_and_dns_alt_names)
{
	rdn_spec	s[] = {CN("192.0.2.1"), OU("PostgreSQL test suite")};
	san_spec	a[] = {D("dns1.alt-name.pg-ssltest.test"), D("dns2.alt-name.pg-ssltest.test")};
	test_cert	t = make_cert(s, 2, a, 2);

	/* An IP host consults the CN next to dNSName SANs (libpq follows NSS). */
	JUDGE(t, "192.0.2.1", "match");
	JUDGE(t, "dns1.alt-name.pg-ssltest.test", "match");
	JUDGE(t, "dns2.alt-name.pg-ssltest.test", "match");
	JUDGE_D(t, "192.0.2.3", "mismatch",
			"host name \"192.0.2.3\" is not among the certificate's names "
			"(DNS:dns1.alt-name.pg-ssltest.test, DNS:dns2.alt-name.pg-ssltest.test, "
			"CN=192.0.2.1)");
	JUDGE(t, "192.000.002.001", "mismatch");
	free_cert(&t);
}

TEST(mixed_sans_in_order)
{
	rdn_spec	s[] = {CN("cn.example.com")};
	san_spec	a[] = {E("admin@example.com"), IP4(10, 0, 0, 1), U("https://example.com/"),
	D("*.cluster.example.com"), IP_2001_DB8_1};
	test_cert	t = make_cert(s, 1, a, 5);

	/* Email and URI SANs are not looked at, nor shown. */
	CHECK_INT(t.c.n_san, 3);
	JUDGE(t, "db.cluster.example.com", "match");
	JUDGE(t, "10.0.0.1", "match");
	JUDGE(t, "2001:db8::1", "match");
	JUDGE_D(t, "db.example.com", "mismatch",
			"host name \"db.example.com\" is not among the certificate's names "
			"(IP:10.0.0.1, DNS:*.cluster.example.com, IP:2001:db8::1); libpq ignores its "
			"CN=cn.example.com because the certificate has DNS name SANs");
	free_cert(&t);
}

TEST(only_ignored_san_types_leave_the_cn)
{
	rdn_spec	s[] = {CN("db.example.com")};
	san_spec	a[] = {E("admin@example.com"), U("https://example.com/")};
	test_cert	t = make_cert(s, 1, a, 2);

	CHECK_INT(t.c.n_san, 0);
	JUDGE(t, "db.example.com", "match");
	JUDGE(t, "other.example.com", "mismatch");
	free_cert(&t);
}

/*
 * An iPAddress of another length than 4 or 16 is an error in libpq.  x509.c
 * keeps only lengths 4 and 16, so this rule is checked on a hand-made x509_cert.
 */
TEST(ip_san_of_invalid_length)
{
	x509_cert	c;
	static const uint8_t five[5] = {192, 0, 2, 1, 0};
	static const uint8_t good[4] = {192, 0, 2, 1};
	char	   *detail = NULL;

	memset(&c, 0, sizeof(c));
	c.n_san = 2;
	c.san[0] = (x509_san) {SAN_IP, five, 5};
	c.san[1] = (x509_san) {SAN_IP, good, 4};
	CHECK_INT(hostname_check("192.0.2.1", &c, &detail), HOST_ERROR);
	CHECK_STR(detail, "certificate contains IP address with invalid length 5");
	free(detail);
	/* Error or not, it is examined for a DNS host too. */
	CHECK_INT(hostname_check("db.example.com", &c, NULL), HOST_ERROR);

	/* After a match it is never reached. */
	c.san[0] = (x509_san) {SAN_IP, good, 4};
	c.san[1] = (x509_san) {SAN_IP, five, 5};
	CHECK_INT(hostname_check("192.0.2.1", &c, NULL), HOST_MATCH);
	CHECK_INT(hostname_check("192.0.2.2", &c, NULL), HOST_ERROR);
}

TEST(no_leaf)
{
	char	   *detail = NULL;

	CHECK_INT(hostname_check("db.example.com", NULL, &detail), HOST_ERROR);
	CHECK(detail != NULL);
	free(detail);
}

TEST(detail_escapes_and_caps)
{
	rdn_spec	s[] = {CN("quote\"back\\slash\x01")};
	san_spec	many[40];
	char		names[40][32];
	test_cert	t1 = make_cert(s, 1, NULL, 0);
	test_cert	t2;
	char	   *detail = NULL;

	JUDGE_D(t1, "tab\there", "mismatch",
			"host name \"tab\\x09here\" is not among the certificate's names "
			"(CN=quote\\x22back\\x5cslash\\x01)");
	for (int i = 0; i < 40; i++)
	{
		snprintf(names[i], sizeof(names[i]), "n%d.example.com", i);
		many[i] = (san_spec) {'D', names[i], 0};
	}
	t2 = make_cert(s, 1, many, 40);
	CHECK_INT(t2.c.n_san, 40);
	CHECK_INT(hostname_check("n39.example.com", &t2.c, NULL), HOST_MATCH);
	CHECK_INT(hostname_check("x.example.com", &t2.c, &detail), HOST_MISMATCH);
	CHECK(detail != NULL && strstr(detail, "DNS:n31.example.com, and 8 more)") != NULL);
	free(detail);
	free_cert(&t1);
	free_cert(&t2);
}
