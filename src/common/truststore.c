/*
 * truststore.c: certificates out of PEM, DER, Java KeyStore and PKCS#12 files
 * (see truststore.h).
 *
 * The Java KeyStore layout, as Sun's JavaKeyStore writes it (all integers big
 * endian; a "UTF" is a 16-bit byte count and that many bytes of Java's modified
 * UTF-8):
 *
 *   u32 magic        0xFEEDFEED (JKS) or 0xCECECECE (JCEKS)
 *   u32 version      1 or 2
 *   u32 count        entries
 *   count times:
 *     u32 tag        1 private key, 2 trusted certificate, 3 secret key (JCEKS)
 *     UTF alias
 *     u64 date       milliseconds since 1970
 *     tag 1:  u32 length + bytes    the protected private key
 *             u32 chain length
 *             chain length times:  [UTF type, version 2]  u32 length + bytes
 *     tag 2:  [UTF type, version 2]  u32 length + bytes
 *   20 bytes         SHA-1 of (password as UTF-16BE, "Mighty Aphrodite",
 *                    every byte before the digest)
 *
 * Version 1 stores carry no certificate type and hold X.509 only.
 */
#include "pqtls/truststore.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pqtls/pem.h"

#ifdef PQTLS_CLI
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/x509.h>
#endif

/* Trust files larger than this are refused rather than read into memory. */
#define TS_MAX_BYTES (64 * 1024 * 1024)

#define JKS_MAGIC 0xFEEDFEEDu
#define JCEKS_MAGIC 0xCECECECEu
#define JKS_TAG_KEY 1
#define JKS_TAG_CERT 2
#define JKS_TAG_SECRET 3
#define JKS_DIGEST_LEN 20
#define JKS_WHITENER "Mighty Aphrodite"

static void
set_error(char **error, const char *fmt,...) __attribute__((format(printf, 2, 3)));

static void
set_error(char **error, const char *fmt,...)
{
	char		msg[1024];
	va_list		ap;

	if (error == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	free(*error);
	*error = strdup(msg);
}

const char *
truststore_format_name(enum truststore_format f)
{
	switch (f)
	{
		case TS_FORMAT_PEM:
			return "PEM";
		case TS_FORMAT_DER:
			return "DER";
		case TS_FORMAT_JKS:
			return "JKS";
		case TS_FORMAT_JCEKS:
			return "JCEKS";
		case TS_FORMAT_PKCS12:
			return "PKCS#12";
	}
	return "unknown";
}

void
cert_list_free(cert_list *l)
{
	if (l == NULL)
		return;
	for (int i = 0; i < l->n; i++)
	{
		free(l->certs[i].der);
		free(l->certs[i].alias);
	}
	free(l->certs);
	memset(l, 0, sizeof(*l));
}

/* Append a certificate; der is taken over (freed on failure). NULL when out of memory. */
static truststore_cert *
list_add(cert_list *l, uint8_t *der, size_t der_len)
{
	truststore_cert *c;

	if (der == NULL)
		return NULL;
	if (l->n == l->cap)
	{
		int			ncap = l->cap ? l->cap * 2 : 16;
		truststore_cert *grown;

		if (l->cap > INT_MAX / 4)
		{
			free(der);
			return NULL;
		}
		grown = realloc(l->certs, (size_t) ncap * sizeof(*grown));
		if (grown == NULL)
		{
			free(der);
			return NULL;
		}
		l->certs = grown;
		l->cap = ncap;
	}
	c = &l->certs[l->n++];
	memset(c, 0, sizeof(*c));
	c->der = der;
	c->der_len = der_len;
	return c;
}

static uint8_t *
memdup(const uint8_t *p, size_t n)
{
	uint8_t    *d = malloc(n ? n : 1);

	if (d != NULL && n > 0)
		memcpy(d, p, n);
	return d;
}

/* ---------------------------------------------------------------------
 * Java KeyStore
 * --------------------------------------------------------------------- */

typedef struct reader
{
	const uint8_t *p;
	size_t		len;
	size_t		pos;
} reader;

static bool
rd_bytes(reader *r, size_t n, const uint8_t **out)
{
	if (n > r->len - r->pos)
		return false;
	if (out != NULL)
		*out = r->p + r->pos;
	r->pos += n;
	return true;
}

static bool
rd_u16(reader *r, uint32_t *v)
{
	const uint8_t *b;

	if (!rd_bytes(r, 2, &b))
		return false;
	*v = (uint32_t) b[0] << 8 | b[1];
	return true;
}

static bool
rd_u32(reader *r, uint32_t *v)
{
	const uint8_t *b;

	if (!rd_bytes(r, 4, &b))
		return false;
	*v = (uint32_t) b[0] << 24 | (uint32_t) b[1] << 16 | (uint32_t) b[2] << 8 | b[3];
	return true;
}

/* A Java "UTF": 16-bit length, then bytes. */
static bool
rd_utf(reader *r, const uint8_t **s, size_t *n)
{
	uint32_t	len;

	if (!rd_u16(r, &len) || !rd_bytes(r, len, s))
		return false;
	*n = len;
	return true;
}

/*
 * An alias as UTF-8.  Java writes "modified UTF-8": a character beyond U+FFFF
 * as two 3-byte surrogates (made one 4-byte sequence again here), and U+0000
 * as C0 80 (shown as '?', as is any zero byte, to keep the string whole).
 * Anything else is copied; the JSON writer replaces what is not UTF-8.
 */
static char *
alias_string(const uint8_t *s, size_t n)
{
	char	   *a = malloc(n + 1);	/* the output is never longer than the input */
	size_t		o = 0;

	if (a == NULL)
		return NULL;
	for (size_t i = 0; i < n;)
	{
		if (n - i >= 6 && s[i] == 0xED && (s[i + 1] & 0xF0) == 0xA0 && (s[i + 2] & 0xC0) == 0x80 &&
			s[i + 3] == 0xED && (s[i + 4] & 0xF0) == 0xB0 && (s[i + 5] & 0xC0) == 0x80)
		{
			uint32_t	hi = 0xD000 | (uint32_t) (s[i + 1] & 0x3F) << 6 | (s[i + 2] & 0x3F);
			uint32_t	lo = 0xD000 | (uint32_t) (s[i + 4] & 0x3F) << 6 | (s[i + 5] & 0x3F);
			uint32_t	cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);

			a[o++] = (char) (0xF0 | (cp >> 18));
			a[o++] = (char) (0x80 | ((cp >> 12) & 0x3F));
			a[o++] = (char) (0x80 | ((cp >> 6) & 0x3F));
			a[o++] = (char) (0x80 | (cp & 0x3F));
			i += 6;
		}
		else if (n - i >= 2 && s[i] == 0xC0 && s[i + 1] == 0x80)
		{
			a[o++] = '?';
			i += 2;
		}
		else
		{
			a[o++] = s[i] ? (char) s[i] : '?';
			i++;
		}
	}
	a[o] = '\0';
	return a;
}

/*
 * One certificate of an entry: [type] length bytes.  Returns 1 when added,
 * 0 when skipped (not X.509), -1 truncated or malformed, -2 out of memory.
 */
static int
jks_cert(reader *r, int version, cert_list *out, const uint8_t *alias, size_t alias_len,
		 int entry, truststore_cert **added)
{
	const uint8_t *type = NULL;
	size_t		type_len = 0;
	uint32_t	len;
	const uint8_t *der;
	truststore_cert *c;

	*added = NULL;
	if (version == 2 && !rd_utf(r, &type, &type_len))
		return -1;
	if (!rd_u32(r, &len) || len == 0 || !rd_bytes(r, len, &der))
		return -1;
	if (type != NULL && !(type_len == 5 && memcmp(type, "X.509", 5) == 0))
	{
		out->skipped++;
		return 0;
	}
	c = list_add(out, memdup(der, len), len);
	if (c == NULL)
		return -2;
	c->alias = alias_string(alias, alias_len);
	if (c->alias == NULL)
		return -2;
	c->entry = entry;
	*added = c;
	return 1;
}

#ifdef PQTLS_CLI
/*
 * The password as Java hands it to the digest: UTF-16 code units, big endian.
 * The command line gives UTF-8; a byte that does not start a valid sequence
 * stands for itself (Latin-1).
 */
static uint8_t *
password_utf16be(const char *pw, size_t *n)
{
	static const uint32_t least[4] = {0, 0x80, 0x800, 0x10000};
	const unsigned char *s = (const unsigned char *) pw;
	size_t		len = strlen(pw);
	uint8_t    *out = malloc(len * 2 + 1);	/* never more than 2 bytes per input byte */
	size_t		o = 0;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len;)
	{
		uint32_t	cp = s[i];
		size_t		extra = (cp >= 0xF0 && cp <= 0xF4) ? 3 :
			(cp >= 0xE0 && cp <= 0xEF) ? 2 : (cp >= 0xC2 && cp <= 0xDF) ? 1 : 0;
		size_t		used = 1;

		if (extra > 0 && extra < len - i)
		{
			uint32_t	v = cp & (0x3Fu >> extra);
			bool		ok = true;

			for (size_t k = 1; k <= extra && ok; k++)
			{
				if ((s[i + k] & 0xC0) != 0x80)
					ok = false;
				else
					v = (v << 6) | (s[i + k] & 0x3F);
			}
			if (ok && v >= least[extra] && v <= 0x10FFFF && !(v >= 0xD800 && v <= 0xDFFF))
			{
				cp = v;
				used = extra + 1;
			}
		}
		i += used;
		if (cp >= 0x10000)
		{
			uint32_t	u = cp - 0x10000;
			uint32_t	hi = 0xD800 | (u >> 10);
			uint32_t	lo = 0xDC00 | (u & 0x3FF);

			out[o++] = (uint8_t) (hi >> 8);
			out[o++] = (uint8_t) hi;
			out[o++] = (uint8_t) (lo >> 8);
			out[o++] = (uint8_t) lo;
		}
		else
		{
			out[o++] = (uint8_t) (cp >> 8);
			out[o++] = (uint8_t) cp;
		}
	}
	*n = o;
	return out;
}
#endif

/* Does the digest at data[body_len..body_len+20) match the password? -1 when it cannot be checked. */
static int
jks_digest_ok(const uint8_t *data, size_t body_len, const char *password)
{
#ifdef PQTLS_CLI
	size_t		pw_len = 0;
	uint8_t    *pw = password_utf16be(password, &pw_len);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	int			ok = -1;

	if (pw != NULL && ctx != NULL &&
		EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
		EVP_DigestUpdate(ctx, pw, pw_len) == 1 &&
		EVP_DigestUpdate(ctx, JKS_WHITENER, strlen(JKS_WHITENER)) == 1 &&
		EVP_DigestUpdate(ctx, data, body_len) == 1 &&
		EVP_DigestFinal_ex(ctx, md, &md_len) == 1 && md_len == JKS_DIGEST_LEN)
		ok = memcmp(md, data + body_len, JKS_DIGEST_LEN) == 0;
	EVP_MD_CTX_free(ctx);
	if (pw != NULL)
		memset(pw, 0, pw_len);
	free(pw);
	return ok;
#else
	(void) data;
	(void) body_len;
	(void) password;
	return -1;
#endif
}

int
truststore_parse_jks(const uint8_t *data, size_t len, const char *password,
					 cert_list *out, char **error)
{
	reader		r = {data, len, 0};
	uint32_t	magic,
				version,
				count;
	bool		jceks;
	const char *fmt;
	int			rc;

	memset(out, 0, sizeof(*out));
	if (data == NULL || !rd_u32(&r, &magic) || (magic != JKS_MAGIC && magic != JCEKS_MAGIC))
	{
		set_error(error, "not a Java KeyStore (no JKS or JCEKS magic number)");
		return -1;
	}
	jceks = magic == JCEKS_MAGIC;
	fmt = jceks ? "JCEKS" : "JKS";
	out->format = jceks ? TS_FORMAT_JCEKS : TS_FORMAT_JKS;
	if (!rd_u32(&r, &version) || !rd_u32(&r, &count))
	{
		set_error(error, "%s header is truncated", fmt);
		goto fail;
	}
	if (version != 1 && version != 2)
	{
		set_error(error, "%s version %u is not one pqtls reads (1 or 2)", fmt, version);
		goto fail;
	}
	out->version = (int) version;

	for (uint32_t e = 1; e <= count && e != 0; e++)
	{
		uint32_t	tag;
		const uint8_t *alias;
		size_t		alias_len;
		size_t		entry_at = r.pos;
		truststore_cert *c;

		if (!rd_u32(&r, &tag) || !rd_utf(&r, &alias, &alias_len) || !rd_bytes(&r, 8, NULL))
			goto truncated;
		if (e > (uint32_t) INT_MAX)
			goto truncated;
		if (tag == JKS_TAG_CERT)
		{
			rc = jks_cert(&r, (int) version, out, alias, alias_len, (int) e, &c);
			if (rc == -1)
				goto truncated;
			if (rc == -2)
				goto oom;
		}
		else if (tag == JKS_TAG_KEY)
		{
			uint32_t	key_len,
						chain;
			int			first = out->n;

			if (!rd_u32(&r, &key_len) || !rd_bytes(&r, key_len, NULL) || !rd_u32(&r, &chain))
				goto truncated;
			out->key_entries++;
			for (uint32_t k = 0; k < chain; k++)
			{
				rc = jks_cert(&r, (int) version, out, alias, alias_len, (int) e, &c);
				if (rc == -1)
					goto truncated;
				if (rc == -2)
					goto oom;
				if (c != NULL)
				{
					c->key_entry = true;
					c->chain_pos = (int) (k + 1 < INT_MAX ? k + 1 : INT_MAX);
				}
			}
			/*
			 * The chain's length as stored, like chain_pos: a certificate of
			 * another type is skipped, but still holds its place in the chain.
			 */
			for (int i = first; i < out->n; i++)
				out->certs[i].chain_len = (int) (chain < INT_MAX ? chain : INT_MAX);
		}
		else if (tag == JKS_TAG_SECRET && jceks)
		{
			set_error(error, "JCEKS entry %u (at byte %zu) is a secret key, which Java stores "
					  "as a serialized object: pqtls cannot read past it", e, entry_at);
			goto fail;
		}
		else
		{
			set_error(error, "%s entry %u (at byte %zu) has unknown type %u", fmt, e,
					  entry_at, tag);
			goto fail;
		}
		out->entries++;
		continue;

truncated:
		set_error(error, "%s entry %u of %u is truncated or malformed (at byte %zu of %zu)",
				  fmt, e, count, entry_at, len);
		goto fail;
	}

	if (len - r.pos < JKS_DIGEST_LEN)
	{
		set_error(error, "%s integrity digest is missing (file truncated at byte %zu)", fmt, len);
		goto fail;
	}
	out->integrity = TS_INTEGRITY_UNCHECKED;
	if (password != NULL)
	{
		int			ok = jks_digest_ok(data, r.pos, password);

		if (ok < 0)
		{
			set_error(error, "the %s integrity check is not available here", fmt);
			goto fail;
		}
		if (ok == 0)
		{
			set_error(error, "%s integrity check failed: wrong password, or the store was "
					  "altered", fmt);
			goto fail;
		}
		out->integrity = TS_INTEGRITY_VERIFIED;
	}
	if (out->n == 0)
	{
		set_error(error, "%s holds no certificate (%d entr%s)", fmt, out->entries,
				  out->entries == 1 ? "y" : "ies");
		goto fail;
	}
	return 0;

oom:
	set_error(error, "out of memory reading the %s", fmt);
fail:
	cert_list_free(out);
	return -1;
}

/* ---------------------------------------------------------------------
 * PKCS#12 (command line only: it needs OpenSSL)
 * --------------------------------------------------------------------- */

/* A DER (or BER) SEQUENCE whose first element is INTEGER 3: PFX of RFC 7292. */
static bool
looks_like_pkcs12(const uint8_t *d, size_t len)
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
	copy = memdup(der, (size_t) n);
	OPENSSL_free(der);
	c = list_add(out, copy, (size_t) n);
	if (c == NULL)
		return -1;
	c->key_entry = key_cert;
	alias = X509_alias_get0(x, &alias_len);
	if (alias != NULL && alias_len >= 0)
	{
		c->alias = alias_string(alias, (size_t) alias_len);
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

static int
parse_pkcs12(const uint8_t *data, size_t len, const char *password, cert_list *out,
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
		set_error(error, "not a PKCS#12 file OpenSSL can read");
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
		set_error(error, "PKCS#12 holds no certificate");
		rc = 0;
	}
	else if (rc < 0)
		set_error(error, "out of memory reading the PKCS#12");
	else if (rc != 1 && unreadable)
		set_error(error, "PKCS#12 contents cannot be decrypted (an algorithm OpenSSL does "
				  "not support, or a wrong password)");
	else if (rc != 1)
		set_error(error, password ?
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

/* ---------------------------------------------------------------------
 * Detection
 * --------------------------------------------------------------------- */

static int
parse_pem(const uint8_t *data, size_t len, cert_list *out, char **error)
{
	size_t		pos = 0;
	int			r;
	uint8_t    *der;
	size_t		der_len;

	out->format = TS_FORMAT_PEM;
	while ((r = pem_next_cert((const char *) data, len, &pos, &der, &der_len)) != 0)
	{
		if (r < 0)
		{
			out->skipped++;
			continue;
		}
		if (list_add(out, der, der_len) == NULL)
		{
			set_error(error, "out of memory reading the PEM file");
			cert_list_free(out);
			return -1;
		}
	}
	if (out->n == 0)
	{
		if (out->skipped)
			set_error(error, "PEM holds no certificate that can be read (%d malformed "
					  "certificate block%s)", out->skipped, out->skipped == 1 ? "" : "s");
		else
			set_error(error, "PEM holds no certificate");
		cert_list_free(out);
		return -1;
	}
	return 0;
}

int
truststore_parse(const uint8_t *data, size_t len, const char *password,
				 cert_list *out, char **error)
{
	memset(out, 0, sizeof(*out));
	if (data == NULL || len == 0)
	{
		set_error(error, "empty file: not a certificate store");
		return -1;
	}
	if (len >= 4 && ((data[0] == 0xFE && data[1] == 0xED && data[2] == 0xFE && data[3] == 0xED) ||
					 (data[0] == 0xCE && data[1] == 0xCE && data[2] == 0xCE && data[3] == 0xCE)))
		return truststore_parse_jks(data, len, password, out, error);
	if (der_is_single_cert(data, len))
	{
		out->format = TS_FORMAT_DER;
		if (list_add(out, memdup(data, len), len) == NULL)
		{
			set_error(error, "out of memory");
			return -1;
		}
		return 0;
	}
	if (looks_like_pkcs12(data, len))
	{
#ifdef PQTLS_CLI
		return parse_pkcs12(data, len, password, out, error);
#else
		set_error(error, "PKCS#12 is read by the pqtls command line only");
		return -1;
#endif
	}
	if (memmem(data, len, "-----BEGIN ", 11) != NULL)
		return parse_pem(data, len, out, error);
	set_error(error, "not a certificate store pqtls can read "
			  "(PEM, DER certificate, JKS, JCEKS or PKCS#12)");
	return -1;
}

/* ---------------------------------------------------------------------
 * Files
 * --------------------------------------------------------------------- */

static uint8_t *
read_fd(int fd, size_t *len, int *err)
{
	size_t		cap = 64 * 1024,
				got = 0;
	uint8_t    *data = malloc(cap);

	*err = 0;
	if (data == NULL)
	{
		*err = ENOMEM;
		return NULL;
	}
	for (;;)
	{
		ssize_t		n;

		if (got == cap)
		{
			uint8_t    *grown;

			if (cap >= TS_MAX_BYTES)
			{
				*err = EFBIG;
				free(data);
				return NULL;
			}
			cap = cap * 2 > TS_MAX_BYTES ? TS_MAX_BYTES : cap * 2;
			grown = realloc(data, cap);
			if (grown == NULL)
			{
				*err = ENOMEM;
				free(data);
				return NULL;
			}
			data = grown;
		}
		n = read(fd, data + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
		{
			*err = errno;
			free(data);
			return NULL;
		}
		if (n == 0)
			break;
		got += (size_t) n;
	}
	*len = got;
	return data;
}

int
truststore_read(const char *path, const char *password, cert_list *out, char **error)
{
	bool		is_stdin = strcmp(path, "-") == 0;
	const char *name = is_stdin ? "standard input" : path;
	int			fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	uint8_t    *data;
	size_t		len = 0;
	int			err = 0;
	char	   *why = NULL;
	int			rc;

	memset(out, 0, sizeof(*out));
	if (fd < 0)
	{
		set_error(error, "cannot read %s: %s", name, strerror(errno));
		return -1;
	}
	data = read_fd(fd, &len, &err);
	if (!is_stdin)
		close(fd);
	if (data == NULL)
	{
		if (err == EFBIG)
			set_error(error, "%s is larger than %d MiB", name, TS_MAX_BYTES >> 20);
		else
			set_error(error, "cannot read %s: %s", name, strerror(err));
		return -1;
	}
	rc = truststore_parse(data, len, password, out, &why);
	free(data);
	if (rc != 0)
	{
		set_error(error, "%s: %s", name, why ? why : "cannot be read");
		free(why);
		return -1;
	}
	free(why);
	return 0;
}
