/*
 * hostname.c: does the server's certificate name the host, by libpq's rules?
 *
 * This mirrors what libpq does under sslmode=verify-full once the chain has
 * verified: pq_verify_peer_name_matches_certificate() and its helpers in
 * fe-secure-common.c, and pgtls_verify_peer_name_matches_certificate_guts()
 * in fe-secure-openssl.c.  The reference is the libpq of PostgreSQL 15
 * (15.18 runs here); tests/integration/test_hostname_judge.py checks this
 * file against it, pair by pair.  The rules, in libpq's order:
 *
 *  1. No host (NULL or "") is an error: "host name must be specified for a
 *     verified SSL connection".  The host is the host string the program gave,
 *     never hostaddr; with only hostaddr, libpq's host is "" and it fails so.
 *
 *  2. The host is an IP address when inet_aton() accepts it (so "127.1",
 *     "0x7f.1", "3221225985" and, with glibc, "192.0.2.1 anything" are IPv4:
 *     glibc's inet_aton stops at white space) or inet_pton(AF_INET6) does;
 *     else it is a DNS name.  The very same libc calls are used here.
 *
 *  3. Every subjectAltName dNSName and iPAddress is examined, in the
 *     certificate's order, whatever the type of the host, until one matches
 *     or one is an error (then the rest is not looked at):
 *       - a dNSName is compared as a string, even with an IP host (an
 *         IP host matches DNS:192.0.2.1 when the strings are equal, so
 *         "192.000.002.001" does not);
 *       - an iPAddress of 4 bytes is compared, as bytes, with what inet_aton()
 *         makes of the host, one of 16 bytes with what inet_pton(AF_INET6)
 *         makes of it; a host that does not parse so simply does not match
 *         (a DNS host against an IP SAN is a mismatch, not an error), and a
 *         16-byte SAN never matches an IPv4 host, nor "::ffff:a.b.c.d" a
 *         4-byte one;
 *       - an iPAddress of any other length is an error ("certificate contains
 *         IP address with invalid length N").
 *
 *  4. The subject's first commonName is consulted only when no SAN matched or
 *     failed and the certificate has no SAN of the host's own type: a DNS host
 *     ignores the CN when there is any dNSName, an IP host when there is any
 *     iPAddress.  So an IP host still checks the CN next to dNSName SANs, and a
 *     DNS host checks it next to iPAddress SANs (RFC 6125 says otherwise; libpq
 *     follows NSS here).  The CN, whatever its string type, is compared as its
 *     raw bytes, as a name (rule 5), never as an address: CN=192.0.2.1 does
 *     not match host "192.000.002.001".
 *
 *  5. A name matches when it equals the host ignoring ASCII case, or when it
 *     is a wildcard: it starts with "*." and is at least 3 bytes long, the host
 *     ends with the name minus its "*" (ignoring ASCII case), and the part of
 *     the host that the "*" stands for has no dot, except that libpq does not
 *     look at its last byte.  So "*.example.com" matches "a.example.com" and
 *     not "a.b.example.com" nor "example.com", and, as libpq does, it matches
 *     "a..example.com" and "..example.com" (the "*" then stands for "a." or
 *     "."): the wildcard covers exactly one label plus, at most, the dot of
 *     an empty label after it.  A "*" anywhere else, or a second one, is a
 *     literal character.  No trailing-dot normalisation: "a.example.com."
 *     matches neither "a.example.com" nor "*.example.com".  Before any
 *     comparison, a name holding a NUL byte is an error ("SSL certificate's
 *     name contains embedded null").
 *
 *  6. When nothing matched, the host fails; libpq then names the first name it
 *     examined and how many others ("could not get server's host name from
 *     server certificate" when it examined none).
 *
 * Differences between libpq versions (hostname_check_for() applies them by the
 * serving libpq's PQlibVersion(); tests/integration/test_versions.py runs 13/14
 * against 15 and later):
 *   - PostgreSQL 15 (commit c1932e5428, "libpq: allow IP address SANs in
 *     server certificates") introduced iPAddress SANs and rule 4 as written.
 *     The stored newer sources (16, 17) have the very same logic; only the
 *     error plumbing changed (libpq_append_conn_error instead of
 *     appendPQExpBuffer with "\n", "%zu" instead of "%lu" for the length).
 *   - Up to PostgreSQL 14, iPAddress SANs were ignored altogether (not even
 *     counted), and the CN was consulted exactly when the certificate had no
 *     dNSName SAN, whatever the host: so under 14, host 192.0.2.1 fails with
 *     a certificate holding only IP:192.0.2.1, and matches a certificate with
 *     CN=192.0.2.1 next to IP SANs (the "ip-cn-and-alt-names" case that 15
 *     rejects).  An IP host equal to a dNSName string matched in 14 as well.
 *   - libpq compares with pg_strcasecmp(), which also folds bytes >= 0x80
 *     with tolower() in single-byte locales (say, a Latin-1 locale); in the
 *     C and UTF-8 locales that programs use, that folds nothing.  Only ASCII
 *     is folded here.
 *
 * What this file cannot see: x509.c keeps at most X509_MAX_SAN names, and only
 * iPAddress entries of 4 or 16 bytes (libpq fails on the others, rule 3); the
 * code below applies rule 3 to any length it is given.
 */
#include "pqtls/hostname.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pqtls/json.h"			/* pqtls_buf, for building the sentence */

/* libpq's texts for the failures that are not a mismatch. */
#define HN_ERR_NO_HOST "host name must be specified for a verified SSL connection"
#define HN_ERR_NUL "SSL certificate's name contains embedded null"
#define HN_ERR_IPLEN "certificate contains IP address with invalid length %zu"

/* Names listed in a detail, at most; the rest are counted. */
#define HN_MAX_LISTED 32

/* The outcome of comparing one name, as libpq's helpers return it. */
enum hn_rc
{
	HN_ERROR = -1,
	HN_NO = 0,
	HN_YES = 1,
};

/* One name libpq examined, for the sentence. */
typedef struct hn_name
{
	char		kind;			/* 'D' dNSName, 'I' iPAddress, 'C' commonName */
	const uint8_t *value;
	size_t		len;
} hn_name;

/* The host, as libpq classifies and parses it. */
typedef struct hn_host
{
	const char *text;
	size_t		len;
	bool		is_ip;
	bool		v4_ok;			/* inet_aton() accepted it */
	bool		v6_ok;			/* inet_pton(AF_INET6) accepted it */
	struct in_addr v4;
	struct in6_addr v6;
} hn_host;

static unsigned char
hn_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char) (c + ('a' - 'A')) : c;
}

/* a[0..n) and b[0..n) are equal ignoring ASCII case. */
static bool
hn_equal_fold(const uint8_t *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (hn_lower(a[i]) != hn_lower(b[i]))
			return false;
	return true;
}

/*
 * The wildcard rule of libpq (rule 5): pattern "*.rest" against the host.
 * The "*" stands for the first hlen - plen + 1 bytes of the host; of those,
 * all but the last must be free of dots.
 */
static bool
hn_wildcard_match(const uint8_t *pat, size_t plen, const hn_host *h)
{
	const uint8_t *host = (const uint8_t *) h->text;
	size_t		star;

	if (plen < 3 || pat[0] != '*' || pat[1] != '.')
		return false;
	if (plen > h->len)
		return false;
	star = h->len - plen;		/* bytes before the one under the "*"'s last */
	if (!hn_equal_fold(pat + 1, host + star + 1, plen - 1))
		return false;
	return memchr(host, '.', star) == NULL;
}

/* A dNSName or the CN against the host (pq_verify_peer_name_matches_certificate_name). */
static enum hn_rc
hn_match_name(const uint8_t *name, size_t len, const hn_host *h, const char **err)
{
	if (memchr(name, '\0', len) != NULL)
	{
		*err = HN_ERR_NUL;
		return HN_ERROR;
	}
	if (len == h->len && hn_equal_fold(name, (const uint8_t *) h->text, len))
		return HN_YES;
	return hn_wildcard_match(name, len, h) ? HN_YES : HN_NO;
}

/* An iPAddress against the host (pq_verify_peer_name_matches_certificate_ip). */
static enum hn_rc
hn_match_ip(const uint8_t *ip, size_t len, const hn_host *h, size_t *bad_len)
{
	if (len == 4)
		return h->v4_ok && memcmp(ip, &h->v4.s_addr, 4) == 0 ? HN_YES : HN_NO;
	if (len == 16)
		return h->v6_ok && memcmp(ip, h->v6.s6_addr, 16) == 0 ? HN_YES : HN_NO;
	*bad_len = len;
	return HN_ERROR;
}

/* A name from the certificate, printable: control bytes, DEL, '"' and '\' escaped. */
static void
hn_put_text(pqtls_buf *b, const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
	{
		uint8_t		c = s[i];

		if (c < 0x20 || c == 0x7F || c == '\\' || c == '"')
			buf_printf(b, "\\x%02x", c);
		else
			buf_putc(b, (char) c);
	}
}

static void
hn_put_name(pqtls_buf *b, const hn_name *n)
{
	char		addr[X509_IP_TEXT_LEN];

	switch (n->kind)
	{
		case 'D':
			buf_puts(b, "DNS:");
			hn_put_text(b, n->value, n->len);
			break;
		case 'I':
			buf_puts(b, "IP:");
			if (x509_ip_text(n->value, n->len, addr))
				buf_puts(b, addr);
			else
			{
				buf_puts(b, "<");
				for (size_t i = 0; i < n->len; i++)
					buf_printf(b, "%02x", n->value[i]);
				buf_puts(b, ">");
			}
			break;
		default:
			buf_puts(b, "CN=");
			hn_put_text(b, n->value, n->len);
			break;
	}
}

static void
hn_put_host(pqtls_buf *b, const hn_host *h)
{
	buf_puts(b, "host name \"");
	hn_put_text(b, (const uint8_t *) h->text, h->len);
	buf_puts(b, "\"");
}

static char *
hn_finish(pqtls_buf *b)
{
	if (b->oom || b->data == NULL)
	{
		buf_free(b);
		return NULL;
	}
	return b->data;
}

static char *
hn_detail_error(const char *msg)
{
	return strdup(msg);
}

static char *
hn_detail_match(const hn_host *h, const hn_name *n)
{
	pqtls_buf	b;

	buf_init(&b);
	hn_put_host(&b, h);
	buf_puts(&b, " matches the certificate's name ");
	hn_put_name(&b, n);
	return hn_finish(&b);
}

/*
 * The mismatch sentence: every name libpq examined, in its order, and why a
 * CN that is there was not consulted.
 */
static bool
has_ip_san(const x509_cert *leaf)
{
	for (int i = 0; i < leaf->n_san; i++)
		if (leaf->san[i].type == SAN_IP)
			return true;
	return false;
}

static char *
hn_detail_mismatch(const hn_host *h, const x509_cert *leaf, const hn_name *names,
				   int n_names, int examined, bool cn_consulted, bool legacy)
{
	pqtls_buf	b;

	buf_init(&b);
	hn_put_host(&b, h);
	buf_puts(&b, " is not among the certificate's names (");
	if (examined == 0)
		buf_puts(&b, legacy ? "it has none: no DNS subjectAltName and no CN" :
				 "it has none: no DNS or IP subjectAltName and no CN");
	for (int i = 0; i < n_names; i++)
	{
		if (i > 0)
			buf_puts(&b, ", ");
		hn_put_name(&b, &names[i]);
	}
	if (examined > n_names)
		buf_printf(&b, ", and %d more", examined - n_names);
	buf_puts(&b, ")");
	if (!cn_consulted && leaf->cn.p != NULL)
	{
		hn_name		cn = {'C', leaf->cn.p, leaf->cn.len};

		buf_puts(&b, "; libpq ignores its ");
		hn_put_name(&b, &cn);
		buf_puts(&b, h->is_ip && !legacy
				 ? " because the certificate has IP address SANs"
				 : " because the certificate has DNS name SANs");
	}
	if (legacy && has_ip_san(leaf))
		buf_puts(&b, "; this libpq (before 15) ignores IP address SANs");
	return hn_finish(&b);
}

host_match
hostname_check(const char *host, const x509_cert *leaf, char **detail)
{
	return hostname_check_for(host, leaf, 0, detail);
}

/*
 * libpq 13 and 14 (pgtls_verify_peer_name_matches_certificate_guts() before
 * c1932e5428) look at dNSName SANs only and at the CN exactly when there is
 * none: rule 3 skips iPAddress entries, rule 4 depends on dNSNames alone.
 */
static bool
legacy_names(int libpq_version)
{
	return libpq_version > 0 && libpq_version < 150000;
}

host_match
hostname_check_for(const char *host, const x509_cert *leaf, int libpq_version, char **detail)
{
	bool		legacy = legacy_names(libpq_version);
	hn_host		h;
	hn_name		listed[HN_MAX_LISTED];
	int			n_listed = 0;
	int			examined = 0;
	bool		check_cn = true;
	bool		cn_consulted = false;
	enum hn_rc	rc = HN_NO;
	const char *err = NULL;
	size_t		bad_len = 0;
	hn_name		hit = {0, NULL, 0};
	char	   *msg = NULL;

	if (detail != NULL)
		*detail = NULL;

	/* Rule 1: nothing to compare with. */
	if (host == NULL || host[0] == '\0')
	{
		if (detail != NULL)
			*detail = hn_detail_error(HN_ERR_NO_HOST);
		return HOST_ERROR;
	}
	if (leaf == NULL)
	{
		if (detail != NULL)
			*detail = hn_detail_error("no server certificate to check the host name against");
		return HOST_ERROR;
	}

	/* Rule 2: an address or a name, as libpq decides it. */
	memset(&h, 0, sizeof(h));
	h.text = host;
	h.len = strlen(host);
	h.v4_ok = inet_aton(host, &h.v4) != 0;
	h.v6_ok = inet_pton(AF_INET6, host, &h.v6) == 1;
	h.is_ip = h.v4_ok || h.v6_ok;

	/* Rule 3: the SANs, in order, until a match or an error. */
	for (int i = 0; i < leaf->n_san && rc == HN_NO; i++)
	{
		const x509_san *s = &leaf->san[i];
		hn_name		n = {s->type == SAN_IP ? 'I' : 'D', s->value, s->len};

		if (legacy && s->type == SAN_IP)
			continue;			/* not even counted before 15 */
		if (legacy || (s->type == SAN_IP) == h.is_ip)
			check_cn = false;	/* a SAN of the host's own type (before 15: any dNSName): no CN */
		examined++;
		if (s->type == SAN_IP)
			rc = hn_match_ip(s->value, s->len, &h, &bad_len);
		else
			rc = hn_match_name(s->value, s->len, &h, &err);
		if (rc == HN_YES)
			hit = n;
		else if (n_listed < HN_MAX_LISTED)
			listed[n_listed++] = n;
	}
	if (rc != HN_NO)
		check_cn = false;

	/* Rule 4: the first commonName, when libpq would look at it. */
	if (check_cn && leaf->cn.p != NULL)
	{
		hn_name		n = {'C', leaf->cn.p, leaf->cn.len};

		cn_consulted = true;
		examined++;
		rc = hn_match_name(leaf->cn.p, leaf->cn.len, &h, &err);
		if (rc == HN_YES)
			hit = n;
		else if (n_listed < HN_MAX_LISTED)
			listed[n_listed++] = n;
	}

	if (rc == HN_YES)
	{
		if (detail != NULL)
			*detail = hn_detail_match(&h, &hit);
		return HOST_MATCH;
	}
	if (rc == HN_ERROR)
	{
		if (detail != NULL)
		{
			if (err != NULL)
				*detail = hn_detail_error(err);
			else if (asprintf(&msg, HN_ERR_IPLEN, bad_len) >= 0)
				*detail = msg;
		}
		return HOST_ERROR;
	}
	if (detail != NULL)
		*detail = hn_detail_mismatch(&h, leaf, listed, n_listed, examined, cn_consulted,
									 legacy);
	return HOST_MISMATCH;
}
