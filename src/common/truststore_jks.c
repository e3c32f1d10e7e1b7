/*
 * truststore_jks.c: the certificates of a Java KeyStore or JCEKS file
 * (truststore.h).
 *
 * Hand-written: no C library reads Java's proprietary KeyStore formats
 * (OpenSSL reads PKCS#12 only, which keytool writes since Java 9 but JDBC
 * users still meet JKS), and the layout is small and fixed.  The integrity
 * digest is OpenSSL's SHA-1 (command line only).
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
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pqtls/truststore.h"
#include "pqtls/truststore_parts.h"

#ifdef PQTLS_CLI
#include <openssl/evp.h>
#endif

#define JKS_MAGIC 0xFEEDFEEDu
#define JCEKS_MAGIC 0xCECECECEu
#define JKS_TAG_KEY 1
#define JKS_TAG_CERT 2
#define JKS_TAG_SECRET 3
#define JKS_DIGEST_LEN 20
#define JKS_WHITENER "Mighty Aphrodite"

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
char *
ts_alias_string(const uint8_t *s, size_t n)
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
	c = ts_list_add(out, ts_memdup(der, len), len);
	if (c == NULL)
		return -2;
	c->alias = ts_alias_string(alias, alias_len);
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
		ts_set_error(error, "not a Java KeyStore (no JKS or JCEKS magic number)");
		return -1;
	}
	jceks = magic == JCEKS_MAGIC;
	fmt = jceks ? "JCEKS" : "JKS";
	out->format = jceks ? TS_FORMAT_JCEKS : TS_FORMAT_JKS;
	if (!rd_u32(&r, &version) || !rd_u32(&r, &count))
	{
		ts_set_error(error, "%s header is truncated", fmt);
		goto fail;
	}
	if (version != 1 && version != 2)
	{
		ts_set_error(error, "%s version %u is not one pqtls reads (1 or 2)", fmt, version);
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
			ts_set_error(error, "JCEKS entry %u (at byte %zu) is a secret key, which Java stores "
					  "as a serialized object: pqtls cannot read past it", e, entry_at);
			goto fail;
		}
		else
		{
			ts_set_error(error, "%s entry %u (at byte %zu) has unknown type %u", fmt, e,
					  entry_at, tag);
			goto fail;
		}
		out->entries++;
		continue;

truncated:
		ts_set_error(error, "%s entry %u of %u is truncated or malformed (at byte %zu of %zu)",
				  fmt, e, count, entry_at, len);
		goto fail;
	}

	if (len - r.pos < JKS_DIGEST_LEN)
	{
		ts_set_error(error, "%s integrity digest is missing (file truncated at byte %zu)", fmt, len);
		goto fail;
	}
	out->integrity = TS_INTEGRITY_UNCHECKED;
	if (password != NULL)
	{
		int			ok = jks_digest_ok(data, r.pos, password);

		if (ok < 0)
		{
			ts_set_error(error, "the %s integrity check is not available here", fmt);
			goto fail;
		}
		if (ok == 0)
		{
			ts_set_error(error, "%s integrity check failed: wrong password, or the store was "
					  "altered", fmt);
			goto fail;
		}
		out->integrity = TS_INTEGRITY_VERIFIED;
	}
	if (out->n == 0)
	{
		ts_set_error(error, "%s holds no certificate (%d entr%s)", fmt, out->entries,
				  out->entries == 1 ? "y" : "ies");
		goto fail;
	}
	return 0;

oom:
	ts_set_error(error, "out of memory reading the %s", fmt);
fail:
	cert_list_free(out);
	return -1;
}

