/*
 * fuzz_hostname.c: the host-name judge (include/pqtls/hostname.h).
 *
 * Input: the host string up to the first '\n' (a C string: it ends at a NUL
 * too), then the certificate.  Two forms of certificate:
 *   - DER (the input does not start with 0x00): read with x509_parse(), then
 *     hostname_check();
 *   - a list of names (the input starts with 0x00, the host follows it):
 *     entries of one type byte (0 dNSName, 1 iPAddress, 2 the commonName),
 *     one length byte and the bytes; the judge gets an x509_cert with exactly
 *     those names, so that it can be driven through every rule without the
 *     fuzzer having to keep a certificate well formed.
 *
 * Checked, for every input: no crash, the detail is a string; and the answer
 * (match, mismatch, error) equals that of a second implementation written
 * here, line by line from libpq 15's
 * pq_verify_peer_name_matches_certificate*() and
 * pgtls_verify_peer_name_matches_certificate_guts() (fe-secure-common.c,
 * fe-secure-openssl.c).  For DER that reference reads the names the way
 * libpq does, through OpenSSL (X509_get_ext_d2i of the SAN extension, the
 * first CN by X509_NAME_get_index_by_NID), so the comparison also covers
 * x509.c's reading of the names; certificates OpenSSL refuses, or flags with
 * an invalid extension (they never verify, so libpq never compares their
 * names), or with more SANs than x509.h keeps, are left out.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pqtls/hostname.h"
#include "pqtls/x509.h"

#define FAIL(...) do { fprintf(stderr, "fuzz_hostname: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

/* ---- the reference: libpq 15, transcribed ---- */

/* pg_strcasecmp() in the C locale. */
static int
ref_strcasecmp(const char *s1, const char *s2)
{
	for (;;)
	{
		unsigned char ch1 = (unsigned char) *s1++;
		unsigned char ch2 = (unsigned char) *s2++;

		if (ch1 != ch2)
		{
			if (ch1 >= 'A' && ch1 <= 'Z')
				ch1 += 'a' - 'A';
			if (ch2 >= 'A' && ch2 <= 'Z')
				ch2 += 'a' - 'A';
			if (ch1 != ch2)
				return (int) ch1 - (int) ch2;
		}
		if (ch1 == 0)
			break;
	}
	return 0;
}

static bool
ref_wildcard_certificate_match(const char *pattern, const char *string)
{
	int			lenpat = strlen(pattern);
	int			lenstr = strlen(string);

	if (lenpat < 3 || pattern[0] != '*' || pattern[1] != '.')
		return false;
	if (lenpat > lenstr)
		return false;
	if (ref_strcasecmp(pattern + 1, string + lenstr - lenpat + 1) != 0)
		return false;
	if (strchr(string, '.') < string + lenstr - lenpat)
		return false;
	return true;
}

static int
ref_name(const uint8_t *namedata, size_t namelen, const char *host)
{
	char	   *name;
	int			result;

	if (!(host && host[0] != '\0'))
		return -1;
	name = malloc(namelen + 1);
	memcpy(name, namedata, namelen);
	name[namelen] = '\0';
	if (namelen != strlen(name))
		result = -1;
	else if (ref_strcasecmp(name, host) == 0)
		result = 1;
	else if (ref_wildcard_certificate_match(name, host))
		result = 1;
	else
		result = 0;
	free(name);
	return result;
}

static int
ref_ip(const uint8_t *ipdata, size_t iplen, const char *host)
{
	int			match = 0;

	if (!(host && host[0] != '\0'))
		return -1;
	if (iplen == 4)
	{
		struct in_addr addr;

		if (inet_aton(host, &addr) && memcmp(ipdata, &addr.s_addr, iplen) == 0)
			match = 1;
	}
	else if (iplen == 16)
	{
		struct in6_addr addr;

		if (inet_pton(AF_INET6, host, &addr) == 1 && memcmp(ipdata, &addr.s6_addr, iplen) == 0)
			match = 1;
	}
	else
		return -1;
	return match;
}

typedef struct ref_cert
{
	int			n;
	int			type[1024];		/* 'D' or 'I' */
	const uint8_t *val[1024];
	size_t		len[1024];
	const uint8_t *cn;			/* NULL: no CN */
	size_t		cn_len;
} ref_cert;

static host_match
ref_check(const char *host, const ref_cert *c)
{
	bool		is_ip;
	bool		check_cn = true;
	int			rc = 0;
	struct in_addr a4;
	struct in6_addr a6;

	if (!(host && host[0] != '\0'))
		return HOST_ERROR;
	is_ip = inet_aton(host, &a4) || inet_pton(AF_INET6, host, &a6) == 1;
	for (int i = 0; i < c->n; i++)
	{
		if (c->type[i] == 'D')
		{
			if (!is_ip)
				check_cn = false;
			rc = ref_name(c->val[i], c->len[i], host);
		}
		else
		{
			if (is_ip)
				check_cn = false;
			rc = ref_ip(c->val[i], c->len[i], host);
		}
		if (rc != 0)
		{
			check_cn = false;
			break;
		}
	}
	if (check_cn && c->cn != NULL)
		rc = ref_name(c->cn, c->cn_len, host);
	return rc == 1 ? HOST_MATCH : rc == -1 ? HOST_ERROR : HOST_MISMATCH;
}

/* ---- driving the judge ---- */

static const char *const names[] = {"match", "mismatch", "error"};

static void
judge(const char *host, const x509_cert *c, host_match want)
{
	char	   *detail = (char *) 1;
	host_match got = hostname_check(host, c, &detail);

	if (detail == NULL || detail == (char *) 1)
		FAIL("no detail");
	(void) strlen(detail);
	free(detail);
	if (hostname_check(host, c, NULL) != got)
		FAIL("a different answer without a detail");
	if (got != want)
		FAIL("host \"%s\": the judge says %s, libpq's rules %s", host, names[got], names[want]);
}

/* The names of an OpenSSL certificate as libpq reads them; false to skip it. */
static bool
ref_from_openssl(const uint8_t *der, size_t len, ref_cert *r)
{
	const unsigned char *p = der;
	X509	   *x = d2i_X509(NULL, &p, (long) len);
	GENERAL_NAMES *gens;
	X509_NAME  *subject;
	int			i;
	bool		ok = false;

	if (x == NULL)
		return false;
	if (p != der + len || (X509_get_extension_flags(x) & EXFLAG_INVALID))
		goto done;
	r->n = 0;
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	if (gens != NULL)
	{
		for (int k = 0; k < sk_GENERAL_NAME_num(gens); k++)
		{
			const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, k);
			const ASN1_STRING *v;

			if (g->type == GEN_DNS)
				v = g->d.dNSName;
			else if (g->type == GEN_IPADD)
				v = g->d.iPAddress;
			else
				continue;
			if (r->n >= X509_MAX_SAN)
			{
				GENERAL_NAMES_free(gens);
				goto done;		/* beyond what x509.h keeps (documented) */
			}
			r->type[r->n] = g->type == GEN_DNS ? 'D' : 'I';
			/* ASN1_STRING data lives in gens: copy it out. */
			r->len[r->n] = ASN1_STRING_length(v);
			r->val[r->n] = memcpy(malloc(r->len[r->n] + 1), ASN1_STRING_get0_data(v), r->len[r->n]);
			r->n++;
		}
		GENERAL_NAMES_free(gens);
	}
	subject = X509_get_subject_name(x);
	i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
	r->cn = NULL;
	if (i >= 0)
	{
		const ASN1_STRING *v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));

		r->cn_len = ASN1_STRING_length(v);
		r->cn = memcpy(malloc(r->cn_len + 1), ASN1_STRING_get0_data(v), r->cn_len);
	}
	ok = true;
done:
	X509_free(x);
	return ok;
}

static void
ref_free(ref_cert *r)
{
	for (int i = 0; i < r->n; i++)
		free((void *) r->val[i]);
	free((void *) r->cn);
	r->n = 0;
	r->cn = NULL;
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ref_cert r;
	bool		synthetic = size > 0 && data[0] == 0;
	const uint8_t *p = data + (synthetic ? 1 : 0),
			   *end = data + size,
			   *nl;
	char	   *host;
	x509_cert  *c = calloc(1, sizeof(*c));

	nl = memchr(p, '\n', end - p);
	if (nl == NULL)
		nl = end;
	host = strndup((const char *) p, nl - p);
	p = nl < end ? nl + 1 : end;

	if (!synthetic)
	{
		if (x509_parse(p, end - p, c) == 0)
		{
			if (ref_from_openssl(p, end - p, &r))
			{
				judge(host, c, ref_check(host, &r));
				ref_free(&r);
			}
			else
				(void) hostname_check(host, c, NULL);
			x509_free(c);
		}
		/* Without a certificate: an error, whatever the host. */
		if (hostname_check(host, NULL, NULL) != HOST_ERROR)
			FAIL("no certificate, and no error");
	}
	else
	{
		memset(&r, 0, sizeof(r));
		while (end - p >= 2 && c->n_san < X509_MAX_SAN)
		{
			int			type = p[0] % 3;
			size_t		len = p[1];

			p += 2;
			if (len > (size_t) (end - p))
				len = end - p;
			if (type == 2)
			{
				if (c->cn.p == NULL)
				{
					c->cn.p = p;
					c->cn.len = len;
					r.cn = p;
					r.cn_len = len;
				}
			}
			else
			{
				c->san[c->n_san].type = type == 0 ? SAN_DNS : SAN_IP;
				c->san[c->n_san].value = p;
				c->san[c->n_san].len = len;
				c->n_san++;
				r.type[r.n] = type == 0 ? 'D' : 'I';
				r.val[r.n] = p;
				r.len[r.n] = len;
				r.n++;
			}
			p += len;
		}
		judge(host, c, ref_check(host, &r));
		memset(&r, 0, sizeof(r));
	}
	free(c);
	free(host);
	return 0;
}
