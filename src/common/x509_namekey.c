/*
 * x509_namekey.c: comparison keys for X.509 Names that mirror OpenSSL's
 * canonical encoding (x509_name_canon() in crypto/x509/x_name.c), and "the
 * same subject and key" (x509.h).  Hand-written for the reason der.h gives:
 * the bundle index keys every certificate of a bundle by subject and issuer.
 */
#include <stdlib.h>
#include <string.h>

#include "pqtls/json.h"			/* pqtls_buf, for building keys */
#include "pqtls/x509_parts.h"


static bool
is_ascii_space(uint8_t c)
{
	/* OpenSSL's ossl_isspace(): locale-free, the C locale's set. */
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/*
 * The types whose values OpenSSL canonicalizes (ASN1_MASK_CANON in
 * crypto/x509/x_name.c).  NumericString and everything else is compared as
 * it is, type included.
 */
static bool
is_canon_type(uint8_t tag)
{
	switch (tag)
	{
		case TAG_UTF8STRING:
		case TAG_PRINTABLESTRING:
		case TAG_T61STRING:
		case TAG_IA5STRING:
		case TAG_VISIBLESTRING:
		case TAG_UNIVERSALSTRING:
		case TAG_BMPSTRING:
			return true;
		default:
			return false;
	}
}

/*
 * A string value in UTF-8 as OpenSSL's ASN1_STRING_to_UTF8() gives it: one
 * byte per character for the 8-bit types (read as Latin-1), UCS-2 and UCS-4
 * for BMP and Universal strings, and UTF8String checked.  Returns false
 * where OpenSSL refuses the value (and then refuses the whole Name).
 */
static bool
canon_to_utf8(pqtls_buf *out, const der_item *v)
{
	const uint8_t *p = v->val;
	size_t		n = v->len;

	switch (v->tag)
	{
		case TAG_UTF8STRING:
			for (size_t i = 0; i < n;)
			{
				uint32_t	cp;

				if (!x509_utf8_next(p, n, &i, &cp))
					return false;
			}
			buf_append(out, (const char *) p, n);
			return true;
		case TAG_BMPSTRING:
		case TAG_UNIVERSALSTRING:
			{
				size_t		width = v->tag == TAG_BMPSTRING ? 2 : 4;

				if (n % width != 0)
					return false;
				for (size_t i = 0; i < n; i += width)
				{
					uint32_t	cp = 0;

					for (size_t k = 0; k < width; k++)
						cp = (cp << 8) | p[i + k];
					if (!x509_unicode_scalar(cp))
						return false;
					x509_put_utf8(out, cp);
				}
				return true;
			}
		default:
			for (size_t i = 0; i < n; i++)
				x509_put_utf8(out, p[i]);
			return true;
	}
}

/*
 * Append the canonical form of a string value: leading and trailing white
 * space dropped, inner runs of it made one space, ASCII folded to lower
 * case.  Bytes from 0x80 up are copied: OpenSSL does not fold them either.
 */
static void
buf_put_canon_text(pqtls_buf *b, const uint8_t *s, size_t n)
{
	size_t		i = 0;

	while (n > 0 && is_ascii_space(s[n - 1]))
		n--;
	while (i < n && is_ascii_space(s[i]))
		i++;
	while (i < n)
	{
		uint8_t		c = s[i];

		if (is_ascii_space(c))
		{
			buf_putc(b, ' ');
			while (is_ascii_space(s[i]))	/* s[n - 1] is not a space */
				i++;
			continue;
		}
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t) (c - 'A' + 'a');
		buf_putc(b, (char) c);
		i++;
	}
}

static void
buf_put_u32(pqtls_buf *b, size_t v)
{
	char		s[4] = {(char) (v >> 24), (char) (v >> 16), (char) (v >> 8), (char) v};

	buf_append(b, s, 4);
}

/*
 * One member of an RDN in its key form: the OID, the type of the value
 * (UTF8String for every canonicalized type, as in OpenSSL's encoding), and
 * the value, each piece length-prefixed so no two members can run together.
 */
static bool
buf_put_member_key(pqtls_buf *b, const der_item *type, const der_item *value)
{
	pqtls_buf	text;
	bool		ok = true;

	buf_put_u32(b, type->len);
	buf_append(b, (const char *) type->val, type->len);
	if (!is_canon_type(value->tag))
	{
		/* A constructed form of a string type is BER, never DER. */
		if ((value->tag & TAG_CONSTRUCTED) && is_canon_type(value->tag & ~TAG_CONSTRUCTED))
			return false;
		buf_putc(b, (char) value->tag);
		buf_put_u32(b, value->len);
		buf_append(b, (const char *) value->val, value->len);
		return true;
	}

	buf_init(&text);
	if (canon_to_utf8(&text, value) && !text.oom)
	{
		size_t		before;

		buf_putc(b, (char) TAG_UTF8STRING);
		before = b->len;
		buf_put_u32(b, 0);		/* patched below, once the length is known */
		buf_put_canon_text(b, (const uint8_t *) text.data, text.len);
		if (!b->oom)
		{
			size_t		len = b->len - before - 4;

			b->data[before] = (char) (len >> 24);
			b->data[before + 1] = (char) (len >> 16);
			b->data[before + 2] = (char) (len >> 8);
			b->data[before + 3] = (char) len;
		}
	}
	else
		ok = false;
	buf_free(&text);
	return ok;
}

typedef struct key_piece
{
	const uint8_t *p;
	size_t		len;
} key_piece;

/* Any total order will do: equal multisets of members must sort alike. */
static int
key_piece_cmp(const void *a, const void *b)
{
	const key_piece *x = a;
	const key_piece *y = b;
	int			r = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);

	if (r != 0)
		return r;
	return (x->len > y->len) - (x->len < y->len);
}

/*
 * Append the key of one RDN.  Its members are a SET, which OpenSSL's
 * canonical encoding sorts, so their order in the certificate must not
 * matter here either: the member keys are sorted before they are appended.
 */
static bool
buf_put_rdn_key(pqtls_buf *key, der_cursor members)
{
	pqtls_buf	all;
	size_t		count = 0;
	size_t	   *ends = NULL;
	key_piece  *pieces = NULL;
	der_cursor	walk = members;
	bool		ok = false;

	/* Count first, so that the pieces are found again after all reallocs. */
	while (walk.n > 0)
	{
		der_item	type;
		der_item	value;

		if (x509_rdn_next_member(&walk, &type, &value) < 0)
			return false;
		count++;
	}

	buf_init(&all);
	ends = malloc(count * sizeof(*ends));
	pieces = malloc(count * sizeof(*pieces));
	if (ends == NULL || pieces == NULL)
		goto done;
	for (size_t i = 0; i < count; i++)
	{
		der_item	type;
		der_item	value;

		(void) x509_rdn_next_member(&members, &type, &value);
		if (!buf_put_member_key(&all, &type, &value))
			goto done;
		ends[i] = all.len;
	}
	if (all.oom)
		goto done;
	for (size_t i = 0; i < count; i++)
	{
		size_t		start = i == 0 ? 0 : ends[i - 1];

		pieces[i].p = (const uint8_t *) all.data + start;
		pieces[i].len = ends[i] - start;
	}
	if (count > 1)
		qsort(pieces, count, sizeof(*pieces), key_piece_cmp);

	buf_put_u32(key, count);
	for (size_t i = 0; i < count; i++)
		buf_append(key, (const char *) pieces[i].p, pieces[i].len);
	ok = !key->oom;

done:
	free(ends);
	free(pieces);
	buf_free(&all);
	return ok;
}

uint8_t *
x509_name_key(der_span name, size_t *key_len)
{
	pqtls_buf	key;
	der_cursor	rdns;

	if (x509_name_open(name, &rdns) < 0)
		return NULL;
	buf_init(&key);
	while (rdns.n > 0)
	{
		der_cursor	members;

		if (x509_name_next_rdn(&rdns, &members) < 0)
		{
			buf_free(&key);
			return NULL;
		}
		if (members.n == 0)
			continue;
		if (!buf_put_rdn_key(&key, members))
		{
			buf_free(&key);
			return NULL;
		}
	}
	if (key.oom)
	{
		buf_free(&key);
		return NULL;
	}
	if (key.data == NULL)
	{
		/* The empty Name: a zero-length key, but still something to free. */
		*key_len = 0;
		return calloc(1, 1);
	}
	*key_len = key.len;
	return (uint8_t *) key.data;
}

bool
x509_same_subject_and_key(const x509_cert *a, const x509_cert *b)
{
	uint8_t    *ka;
	uint8_t    *kb;
	size_t		la = 0;
	size_t		lb = 0;
	bool		same;

	if (a->spki.len != b->spki.len || a->spki.len == 0 ||
		memcmp(a->spki.p, b->spki.p, a->spki.len) != 0)
		return false;
	if (a->subject_raw.len == b->subject_raw.len &&
		memcmp(a->subject_raw.p, b->subject_raw.p, a->subject_raw.len) == 0)
		return true;

	/* Same key, differently encoded subject: compare the way OpenSSL would. */
	ka = x509_name_key(a->subject_raw, &la);
	kb = x509_name_key(b->subject_raw, &lb);
	same = ka != NULL && kb != NULL && la == lb && memcmp(ka, kb, la) == 0;
	free(ka);
	free(kb);
	return same;
}

