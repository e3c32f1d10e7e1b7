/*
 * fuzz_x509.c: the DER certificate reader (include/pqtls/x509.h).
 *
 * The input is one certificate in DER (or anything).  x509_parse() must
 * answer without reading outside the input; on success every string and span
 * it returns is checked to lie in the input, and x509_name_key() runs on the
 * subject and the issuer, x509_format_time() on both times.
 *
 * Where OpenSSL (d2i_X509, the decoder libpq's own TLS uses) reads the same
 * bytes, the facts must agree with OpenSSL's, because the judge predicts what
 * libpq and OpenSSL will do from them:
 *   - x509_name_key(subject) == x509_name_key(issuer) exactly when
 *     X509_NAME_cmp() calls the names equal (chain building in a bundle);
 *   - the first commonName, as raw bytes (what libpq compares);
 *   - basicConstraints cA and the dNSName/iPAddress SANs, in order, when
 *     OpenSSL decodes those extensions (a certificate OpenSSL flags as
 *     having an invalid extension never verifies, so it is left out);
 *   - notBefore and notAfter, when OpenSSL's ASN1_TIME_to_tm() reads them;
 *   - the subject and issuer strings, for names whose every attribute type
 *     has one of the short names x509.h lists and whose every value is
 *     printable ASCII: x509.h promises X509_NAME_print_ex()'s output there.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pqtls/x509.h"

#define FAIL(...) do { fprintf(stderr, "fuzz_x509: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

static void
check_span(der_span s, const uint8_t *data, size_t size, const char *what)
{
	if (s.p == NULL)
	{
		if (s.len != 0)
			FAIL("%s: NULL with a length", what);
		return;
	}
	if (s.p < data || s.len > size || s.p + s.len > data + size)
		FAIL("%s: outside the input", what);
}

/* Types x509.h names by short name: OpenSSL prints the same there. */
static bool
known_type(int nid)
{
	switch (nid)
	{
		case NID_countryName:
		case NID_stateOrProvinceName:
		case NID_localityName:
		case NID_organizationName:
		case NID_organizationalUnitName:
		case NID_commonName:
		case NID_pkcs9_emailAddress:
		case NID_domainComponent:
		case NID_serialNumber:
		case NID_streetAddress:
		case NID_title:
		case NID_givenName:
		case NID_surname:
		case NID_userId:
			return true;
		default:
			return false;
	}
}

static bool
plain_name(const X509_NAME *n)
{
	for (int i = 0; i < X509_NAME_entry_count(n); i++)
	{
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(n, i);
		const ASN1_STRING *v = X509_NAME_ENTRY_get_data(e);
		int			t = ASN1_STRING_type(v);

		if (!known_type(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e))))
			return false;
		if (t != V_ASN1_PRINTABLESTRING && t != V_ASN1_UTF8STRING && t != V_ASN1_IA5STRING)
			return false;
		for (int k = 0; k < ASN1_STRING_length(v); k++)
		{
			unsigned char c = ASN1_STRING_get0_data(v)[k];

			if (c < 0x20 || c > 0x7E)
				return false;
		}
	}
	return true;
}

static void
compare_name_string(const X509_NAME *n, const char *ours, const char *what)
{
	BIO		   *bio;
	char	   *text;
	long		len;

	if (!plain_name(n))
		return;
	bio = BIO_new(BIO_s_mem());
	if (X509_NAME_print_ex(bio, n, 0, ASN1_STRFLGS_ESC_2253 | ASN1_STRFLGS_ESC_CTRL |
						   ASN1_STRFLGS_UTF8_CONVERT | ASN1_STRFLGS_DUMP_UNKNOWN |
						   ASN1_STRFLGS_DUMP_DER | XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_FN_SN) < 0)
	{
		BIO_free(bio);
		return;
	}
	len = BIO_get_mem_data(bio, &text);
	if ((size_t) len != strlen(ours) || memcmp(text, ours, len) != 0)
		FAIL("%s: ours \"%s\", OpenSSL's \"%.*s\"", what, ours, (int) len, text);
	BIO_free(bio);
}

static bool
same_key(der_span a, der_span b, bool *ok)
{
	size_t		la = 0,
				lb = 0;
	uint8_t    *ka = x509_name_key(a, &la),
			   *kb = x509_name_key(b, &lb);
	bool		same = ka && kb && la == lb && memcmp(ka, kb, la) == 0;

	*ok = ka != NULL && kb != NULL;
	free(ka);
	free(kb);
	return same;
}

static void
compare_time(time_t ours, const ASN1_TIME *t, const char *what)
{
	struct tm	tm;
	time_t		theirs;

	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return;
	theirs = timegm(&tm);
	if (theirs != ours)
		FAIL("%s: ours %lld, OpenSSL's %lld", what, (long long) ours, (long long) theirs);
}

static void
compare_with_openssl(const uint8_t *data, size_t size, const x509_cert *c)
{
	const unsigned char *p = data;
	X509	   *x = d2i_X509(NULL, &p, (long) size);
	int			crit,
				idx = -1;		/* X509_get_ext_d2i() searches after *idx */
	bool		keys_ok;

	if (x == NULL)
		return;
	if (p != data + size)
		goto done;				/* OpenSSL read a shorter certificate: not the same thing */

	/* The canonical name comparison, as chain building does it. */
	{
		bool		ours = same_key(c->subject_raw, c->issuer_raw, &keys_ok);
		bool		theirs = X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;

		if (keys_ok && ours != theirs)
			FAIL("subject and issuer: ours say %s, X509_NAME_cmp says %s",
				 ours ? "equal" : "different", theirs ? "equal" : "different");
	}

	/* The first commonName, as libpq reads it. */
	{
		X509_NAME  *s = X509_get_subject_name(x);
		int			i = X509_NAME_get_index_by_NID(s, NID_commonName, -1);

		if (i < 0)
		{
			if (c->cn.p != NULL)
				FAIL("commonName: ours has one, OpenSSL none");
		}
		else
		{
			const ASN1_STRING *v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(s, i));

			if (c->cn.p == NULL || c->cn.len != (size_t) ASN1_STRING_length(v) ||
				memcmp(c->cn.p, ASN1_STRING_get0_data(v), c->cn.len) != 0)
				FAIL("commonName: ours differs from OpenSSL's");
		}
	}

	compare_time(c->not_before, X509_get0_notBefore(x), "notBefore");
	compare_time(c->not_after, X509_get0_notAfter(x), "notAfter");
	compare_name_string(X509_get_subject_name(x), c->subject, "subject");
	compare_name_string(X509_get_issuer_name(x), c->issuer, "issuer");

	/* Extensions, where OpenSSL finds them valid. */
	if (X509_get_extension_flags(x) & EXFLAG_INVALID)
		goto done;
	{
		BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, &idx);

		if (bc != NULL)
		{
			if (!c->has_basic_constraints || c->is_ca != (bc->ca != 0))
				FAIL("basicConstraints: ours %d/%d, OpenSSL's cA %d",
					 c->has_basic_constraints, c->is_ca, bc->ca);
			BASIC_CONSTRAINTS_free(bc);
		}
		else if (crit == -1 && c->has_basic_constraints)
			FAIL("basicConstraints: ours has one, OpenSSL none");
	}
	{
		GENERAL_NAMES *gens;

		idx = -1;
		gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, &idx);
		int			k = 0;

		if (gens != NULL)
		{
			for (int i = 0; i < sk_GENERAL_NAME_num(gens) && k < X509_MAX_SAN; i++)
			{
				const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
				const ASN1_STRING *v;
				int			type;

				if (g->type == GEN_DNS)
					v = g->d.dNSName, type = SAN_DNS;
				else if (g->type == GEN_IPADD)
					v = g->d.iPAddress, type = SAN_IP;
				else
					continue;
				if (k >= c->n_san || (int) c->san[k].type != type ||
					c->san[k].len != (size_t) ASN1_STRING_length(v) ||
					(c->san[k].len > 0 && memcmp(c->san[k].value, ASN1_STRING_get0_data(v), c->san[k].len) != 0))
					FAIL("subjectAltName %d differs from OpenSSL's", k);
				k++;
			}
			if (k != c->n_san)
				FAIL("subjectAltName: ours %d names, OpenSSL %d", c->n_san, k);
			GENERAL_NAMES_free(gens);
		}
		else if (crit == -1 && c->n_san != 0)
			FAIL("subjectAltName: ours has names, OpenSSL none");
	}
done:
	X509_free(x);
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	x509_cert  *c = malloc(sizeof(*c));
	char		when[21];
	uint8_t    *key;
	size_t		key_len;

	if (x509_parse(data, size, c) != 0)
	{
		free(c);
		return 0;
	}
	check_span(c->der, data, size, "der");
	check_span(c->issuer_raw, data, size, "issuer_raw");
	check_span(c->subject_raw, data, size, "subject_raw");
	check_span(c->spki, data, size, "spki");
	check_span(c->serial, data, size, "serial");
	check_span(c->cn, data, size, "cn");
	if (c->subject == NULL || c->issuer == NULL)
		FAIL("no subject or issuer string");
	(void) strlen(c->subject);
	(void) strlen(c->issuer);
	if (c->n_san < 0 || c->n_san > X509_MAX_SAN)
		FAIL("n_san %d", c->n_san);
	for (int i = 0; i < c->n_san; i++)
		check_span((der_span) {c->san[i].value, c->san[i].len}, data, size, "san");
	if (memchr(c->key_desc, '\0', sizeof(c->key_desc)) == NULL)
		FAIL("key_desc not terminated");
	x509_format_time(c->not_before, when);
	if (strlen(when) != 20)
		FAIL("time format");
	x509_format_time(c->not_after, when);

	key = x509_name_key(c->subject_raw, &key_len);
	free(key);
	key = x509_name_key(c->issuer_raw, &key_len);
	free(key);
	if (!x509_same_subject_and_key(c, c) && c->spki.len > 0)
	{
		/* Equal to itself, unless its subject has no key (malformed for OpenSSL too). */
		size_t		l;
		uint8_t    *k = x509_name_key(c->subject_raw, &l);

		if (k != NULL)
			FAIL("not the same subject and key as itself");
	}

	compare_with_openssl(data, size, c);
	x509_free(c);
	free(c);
	return 0;
}
