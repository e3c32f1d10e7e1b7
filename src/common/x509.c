/*
 * x509.c: a minimal, strict DER reader for X.509 certificates.
 *
 * It reads the handful of facts pqtls reports and indexes bundles by, and
 * nothing else; signatures and chains stay with OpenSSL.  Input comes from
 * files anyone may have edited and from servers anyone may run, so every read
 * is checked against the end of the element that contains it, no length is
 * believed before it has been compared with what is left, and anything that
 * is not plain DER (indefinite lengths, lengths of more than four bytes or in
 * more bytes than needed, high tag numbers) makes the certificate unreadable
 * rather than half read.
 */
#include "pqtls/x509.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pqtls/json.h"			/* pqtls_buf, for building strings */

/* Universal tags, as they appear in the identifier octet. */
#define TAG_BOOLEAN			0x01
#define TAG_INTEGER			0x02
#define TAG_BIT_STRING		0x03
#define TAG_OCTET_STRING	0x04
#define TAG_OID				0x06
#define TAG_UTF8STRING		0x0C
#define TAG_NUMERICSTRING	0x12
#define TAG_PRINTABLESTRING 0x13
#define TAG_T61STRING		0x14
#define TAG_IA5STRING		0x16
#define TAG_UTCTIME			0x17
#define TAG_GENERALIZEDTIME 0x18
#define TAG_VISIBLESTRING	0x1A
#define TAG_UNIVERSALSTRING 0x1C
#define TAG_BMPSTRING		0x1E
#define TAG_SEQUENCE		0x30
#define TAG_SET				0x31
#define TAG_CONSTRUCTED		0x20

/* Context-specific tags of TBSCertificate and GeneralName. */
#define TAG_CERT_VERSION	0xA0
#define TAG_CERT_ISSUER_UID 0x81
#define TAG_CERT_SUBJECT_UID 0x82
#define TAG_CERT_EXTENSIONS 0xA3
#define TAG_GN_DNS			0x82
#define TAG_GN_IP			0x87

/* ---------------------------------------------------------------------
 * Reading DER
 * ---------------------------------------------------------------------
 */

typedef struct der_item
{
	uint8_t		tag;
	const uint8_t *start;		/* the identifier octet */
	const uint8_t *val;			/* the contents */
	size_t		len;			/* of the contents */
	size_t		total;			/* identifier, length and contents */
} der_item;

/* What is left to read of one constructed element. */
typedef struct der_cursor
{
	const uint8_t *p;
	size_t		n;
} der_cursor;

/*
 * Read the element at the cursor and step past it.  Returns 0, or -1 when
 * the header is not DER or the contents run past the end of the cursor.
 */
static int
der_read(der_cursor *c, der_item *it)
{
	const uint8_t *p = c->p;
	size_t		hdr = 2;
	size_t		len;

	if (c->n < 2)
		return -1;
	/* High tag numbers (five low bits all set) have no place in a certificate. */
	if ((p[0] & 0x1F) == 0x1F)
		return -1;
	if (p[1] < 0x80)
		len = p[1];
	else
	{
		size_t		nbytes = p[1] & 0x7F;

		/* 0x80 is BER's indefinite length; over 4 bytes no certificate needs. */
		if (nbytes == 0 || nbytes > 4 || c->n - 2 < nbytes)
			return -1;
		/* DER: the long form only when needed, and without leading zeros. */
		if (p[2] == 0)
			return -1;
		len = 0;
		for (size_t i = 0; i < nbytes; i++)
			len = (len << 8) | p[2 + i];
		if (len < 0x80)
			return -1;
		hdr += nbytes;
	}
	if (len > c->n - hdr)
		return -1;

	it->tag = p[0];
	it->start = p;
	it->val = p + hdr;
	it->len = len;
	it->total = hdr + len;
	c->p += it->total;
	c->n -= it->total;
	return 0;
}

static bool
der_at(const der_cursor *c, uint8_t tag)
{
	return c->n > 0 && c->p[0] == tag;
}

/* Read the next element, which must carry the given tag. */
static int
der_expect(der_cursor *c, uint8_t tag, der_item *it)
{
	if (!der_at(c, tag))
		return -1;
	return der_read(c, it);
}

static der_cursor
der_enter(const der_item *it)
{
	der_cursor	c = {it->val, it->len};

	return c;
}

static der_span
der_whole(const der_item *it)
{
	der_span	s = {it->start, it->total};

	return s;
}

/*
 * An OBJECT IDENTIFIER's contents: at least one subidentifier, each in the
 * fewest base-128 digits (no leading 0x80), the last one complete.
 */
static bool
oid_valid(const der_item *it)
{
	if (it->len == 0 || (it->val[it->len - 1] & 0x80))
		return false;
	for (size_t i = 0; i < it->len; i++)
		if (it->val[i] == 0x80 && (i == 0 || !(it->val[i - 1] & 0x80)))
			return false;
	return true;
}

static int
der_expect_oid(der_cursor *c, der_item *it)
{
	if (der_expect(c, TAG_OID, it) < 0 || !oid_valid(it))
		return -1;
	return 0;
}

static bool
oid_is(const der_item *it, const uint8_t *oid, size_t len)
{
	return it->len == len && memcmp(it->val, oid, len) == 0;
}

#define OID_IS(it, oid) oid_is((it), (oid), sizeof(oid))

static const uint8_t oid_rsa_encryption[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01};
static const uint8_t oid_ec_public_key[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01};
static const uint8_t oid_prime256v1[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};
static const uint8_t oid_secp384r1[] = {0x2B, 0x81, 0x04, 0x00, 0x22};
static const uint8_t oid_secp521r1[] = {0x2B, 0x81, 0x04, 0x00, 0x23};
static const uint8_t oid_ed25519[] = {0x2B, 0x65, 0x70};
static const uint8_t oid_ed448[] = {0x2B, 0x65, 0x71};
static const uint8_t oid_basic_constraints[] = {0x55, 0x1D, 0x13};
static const uint8_t oid_subject_alt_name[] = {0x55, 0x1D, 0x11};
static const uint8_t oid_common_name[] = {0x55, 0x04, 0x03};

/*
 * The attribute types shown by short name, as OpenSSL names them. Names in
 * place, not pointers: no relocation when the library loads (nametab.h).
 */
static const struct
{
	uint8_t		len;
	uint8_t		oid[10];
	char		name[13];
}			attr_names[] = {
	{3, {0x55, 0x04, 0x06}, "C"},
	{3, {0x55, 0x04, 0x08}, "ST"},
	{3, {0x55, 0x04, 0x07}, "L"},
	{3, {0x55, 0x04, 0x0A}, "O"},
	{3, {0x55, 0x04, 0x0B}, "OU"},
	{3, {0x55, 0x04, 0x03}, "CN"},
	{9, {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x01}, "emailAddress"},
	{10, {0x09, 0x92, 0x26, 0x89, 0x93, 0xF2, 0x2C, 0x64, 0x01, 0x19}, "DC"},
	{3, {0x55, 0x04, 0x05}, "serialNumber"},
	{3, {0x55, 0x04, 0x09}, "street"},
	{3, {0x55, 0x04, 0x0C}, "title"},
	{3, {0x55, 0x04, 0x2A}, "GN"},
	{3, {0x55, 0x04, 0x04}, "SN"},
	{10, {0x09, 0x92, 0x26, 0x89, 0x93, 0xF2, 0x2C, 0x64, 0x01, 0x01}, "UID"},
};

/* ---------------------------------------------------------------------
 * Text helpers
 * ---------------------------------------------------------------------
 */

static const char hex_upper[] = "0123456789ABCDEF";

static void
buf_put_utf8(pqtls_buf *b, uint32_t cp)
{
	char		s[4];

	if (cp < 0x80)
		buf_putc(b, (char) cp);
	else if (cp < 0x800)
	{
		s[0] = (char) (0xC0 | (cp >> 6));
		s[1] = (char) (0x80 | (cp & 0x3F));
		buf_append(b, s, 2);
	}
	else if (cp < 0x10000)
	{
		s[0] = (char) (0xE0 | (cp >> 12));
		s[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
		s[2] = (char) (0x80 | (cp & 0x3F));
		buf_append(b, s, 3);
	}
	else
	{
		s[0] = (char) (0xF0 | (cp >> 18));
		s[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
		s[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
		s[3] = (char) (0x80 | (cp & 0x3F));
		buf_append(b, s, 4);
	}
}

static bool
unicode_scalar(uint32_t cp)
{
	return cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
}

/*
 * Decode one well-formed UTF-8 sequence at s[*i] (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF) and step past it.
 */
static bool
utf8_next(const uint8_t *s, size_t n, size_t *i, uint32_t *cp)
{
	uint8_t		c = s[*i];
	size_t		trail;
	uint32_t	v;
	uint32_t	min;

	if (c < 0x80)
	{
		*cp = c;
		(*i)++;
		return true;
	}
	if (c >= 0xC2 && c <= 0xDF)
	{
		trail = 1;
		v = c & 0x1F;
		min = 0x80;
	}
	else if (c >= 0xE0 && c <= 0xEF)
	{
		trail = 2;
		v = c & 0x0F;
		min = 0x800;
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		trail = 3;
		v = c & 0x07;
		min = 0x10000;
	}
	else
		return false;
	if (n - *i <= trail)
		return false;
	for (size_t k = 1; k <= trail; k++)
	{
		uint8_t		t = s[*i + k];

		if ((t & 0xC0) != 0x80)
			return false;
		v = (v << 6) | (t & 0x3F);
	}
	if (v < min || !unicode_scalar(v))
		return false;
	*cp = v;
	*i += trail + 1;
	return true;
}

/*
 * One value of a distinguished name, escaped as RFC 4514 asks (section
 * 2.4): the specials anywhere, '#' or a space in front, a space at the end;
 * and control characters as a backslash and two hex digits, so the string
 * stays on one line.  Bytes from 0x80 up pass through as they are.
 */
static void
buf_put_dn_escaped(pqtls_buf *b, const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
	{
		uint8_t		c = s[i];

		if (c < 0x20 || c == 0x7F)
		{
			char		esc[3] = {'\\', hex_upper[c >> 4], hex_upper[c & 0x0F]};

			buf_append(b, esc, 3);
			continue;
		}
		if (c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' || c == ';' ||
			(i == 0 && (c == '#' || c == ' ')) ||
			(i == n - 1 && c == ' '))
			buf_putc(b, '\\');
		buf_putc(b, (char) c);
	}
}

/* RFC 4514's form for a value that is not text: '#' and the hex of its whole DER. */
static void
buf_put_hex_value(pqtls_buf *b, const der_item *v)
{
	buf_putc(b, '#');
	for (size_t i = 0; i < v->total; i++)
	{
		char		h[2] = {hex_upper[v->start[i] >> 4], hex_upper[v->start[i] & 0x0F]};

		buf_append(b, h, 2);
	}
}

/*
 * A BMPString (width 2, UCS-2) or UniversalString (width 4, UCS-4), shown
 * in UTF-8.  What is not a character (an unpaired surrogate, a value past
 * U+10FFFF) shows as U+FFFD; a length that is not a whole number of
 * characters shows the value in hex.
 */
static void
buf_put_wide_value(pqtls_buf *b, const der_item *v, size_t width)
{
	pqtls_buf	tmp;

	if (v->len % width != 0)
	{
		buf_put_hex_value(b, v);
		return;
	}
	buf_init(&tmp);
	for (size_t i = 0; i < v->len; i += width)
	{
		uint32_t	cp = 0;

		for (size_t k = 0; k < width; k++)
			cp = (cp << 8) | v->val[i + k];
		/* UCS-2 has no surrogates, but UTF-16 writers put them there anyway. */
		if (width == 2 && cp >= 0xD800 && cp <= 0xDBFF && i + 2 * width <= v->len)
		{
			uint32_t	lo = ((uint32_t) v->val[i + 2] << 8) | v->val[i + 3];

			if (lo >= 0xDC00 && lo <= 0xDFFF)
			{
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				i += width;
			}
		}
		buf_put_utf8(&tmp, unicode_scalar(cp) ? cp : 0xFFFD);
	}
	if (tmp.oom)
		b->oom = true;
	else
		buf_put_dn_escaped(b, (const uint8_t *) tmp.data, tmp.len);
	buf_free(&tmp);
}

static void
buf_put_dn_value(pqtls_buf *b, const der_item *v)
{
	switch (v->tag)
	{
		case TAG_UTF8STRING:
		case TAG_NUMERICSTRING:
		case TAG_PRINTABLESTRING:
		case TAG_T61STRING:
		case TAG_IA5STRING:
		case TAG_VISIBLESTRING:
			/* Shown as the bytes they are; the JSON writer repairs bad UTF-8. */
			buf_put_dn_escaped(b, v->val, v->len);
			break;
		case TAG_BMPSTRING:
			buf_put_wide_value(b, v, 2);
			break;
		case TAG_UNIVERSALSTRING:
			buf_put_wide_value(b, v, 4);
			break;
		default:
			buf_put_hex_value(b, v);
			break;
	}
}

/*
 * Append the decimal value of one base-128 subidentifier, less `minus`
 * (which the caller knows to be no larger).  Arcs can be far wider than 64
 * bits (2.25.<UUID>), so the conversion works on decimal digits.
 */
static void
buf_put_subidentifier(pqtls_buf *b, const uint8_t *p, size_t n, unsigned minus)
{
	uint8_t		stack_digits[128];
	uint8_t    *d;
	size_t		cap = 3 * n + 2;	/* 128^n < 10^(3n) */
	size_t		nd = 1;
	unsigned	borrow = 0;

	d = cap <= sizeof(stack_digits) ? stack_digits : malloc(cap);
	if (d == NULL)
	{
		b->oom = true;
		return;
	}

	/* Little-endian decimal digits: d = d * 128 + next base-128 digit. */
	d[0] = 0;
	for (size_t i = 0; i < n; i++)
	{
		unsigned	carry = p[i] & 0x7F;

		for (size_t k = 0; k < nd; k++)
		{
			unsigned	v = d[k] * 128u + carry;

			d[k] = (uint8_t) (v % 10);
			carry = v / 10;
		}
		while (carry != 0)
		{
			d[nd++] = (uint8_t) (carry % 10);
			carry /= 10;
		}
	}

	for (size_t k = 0; k < nd && (minus != 0 || borrow != 0); k++)
	{
		int			v = (int) d[k] - (int) (minus % 10) - (int) borrow;

		minus /= 10;
		borrow = v < 0;
		d[k] = (uint8_t) (v < 0 ? v + 10 : v);
	}
	while (nd > 1 && d[nd - 1] == 0)
		nd--;

	while (nd > 0)
		buf_putc(b, (char) ('0' + d[--nd]));
	if (d != stack_digits)
		free(d);
}

/* An OID in dotted decimal; the first subidentifier holds two arcs (X.690 8.19.4). */
static void
buf_put_dotted_oid(pqtls_buf *b, const der_item *oid)
{
	const uint8_t *p = oid->val;
	size_t		n = oid->len;
	size_t		i = 0;
	bool		first = true;

	while (i < n)
	{
		size_t		start = i;

		while (p[i] & 0x80)
			i++;
		i++;					/* oid_valid() made sure the last byte ends one */

		if (first)
		{
			/* One byte below 80 is "0.x" or "1.x"; anything else is "2.(v-80)". */
			if (i - start == 1 && p[start] < 80)
			{
				buf_putc(b, p[start] < 40 ? '0' : '1');
				buf_putc(b, '.');
				buf_put_subidentifier(b, p + start, 1, p[start] < 40 ? 0 : 40);
			}
			else
			{
				buf_puts(b, "2.");
				buf_put_subidentifier(b, p + start, i - start, 80);
			}
			first = false;
		}
		else
		{
			buf_putc(b, '.');
			buf_put_subidentifier(b, p + start, i - start, 0);
		}
	}
}

static void
buf_put_attr_type(pqtls_buf *b, const der_item *oid)
{
	for (size_t i = 0; i < sizeof(attr_names) / sizeof(attr_names[0]); i++)
	{
		if (oid_is(oid, attr_names[i].oid, attr_names[i].len))
		{
			buf_puts(b, attr_names[i].name);
			return;
		}
	}
	buf_put_dotted_oid(b, oid);
}

/* ---------------------------------------------------------------------
 * Names
 * ---------------------------------------------------------------------
 */

/* Open a Name given as its whole DER (a SEQUENCE and nothing after it). */
static int
name_open(der_span name, der_cursor *rdns)
{
	der_cursor	all = {name.p, name.len};
	der_item	seq;

	if (name.p == NULL || der_expect(&all, TAG_SEQUENCE, &seq) < 0 || all.n != 0)
		return -1;
	*rdns = der_enter(&seq);
	return 0;
}

/*
 * The next RelativeDistinguishedName, a SET.  X.501 wants at least one
 * member, but OpenSSL reads an empty SET and then ignores it (it has no
 * entry to show or compare), and so do we.
 */
static int
name_next_rdn(der_cursor *rdns, der_cursor *members)
{
	der_item	set;

	if (der_expect(rdns, TAG_SET, &set) < 0)
		return -1;
	*members = der_enter(&set);
	return 0;
}

/* The next AttributeTypeAndValue of an RDN: SEQUENCE { OID, ANY }. */
static int
rdn_next_member(der_cursor *members, der_item *type, der_item *value)
{
	der_item	atv;
	der_cursor	in;

	if (der_expect(members, TAG_SEQUENCE, &atv) < 0)
		return -1;
	in = der_enter(&atv);
	if (der_expect_oid(&in, type) < 0 || der_read(&in, value) < 0 || in.n != 0)
		return -1;
	return 0;
}

/*
 * The Name as a string, in DER order (see x509.h).  When cn is given, it is
 * set to the first commonName value.  Returns a malloc'ed string or NULL.
 */
static char *
name_to_string(der_span name, der_span *cn)
{
	pqtls_buf	b;
	der_cursor	rdns;
	bool		first_rdn = true;

	if (name_open(name, &rdns) < 0)
		return NULL;
	buf_init(&b);
	while (rdns.n > 0)
	{
		der_cursor	members;
		bool		first_member = true;

		if (name_next_rdn(&rdns, &members) < 0)
			goto fail;
		if (members.n == 0)
			continue;
		if (!first_rdn)
			buf_puts(&b, ", ");
		first_rdn = false;

		while (members.n > 0)
		{
			der_item	type;
			der_item	value;

			if (rdn_next_member(&members, &type, &value) < 0)
				goto fail;
			if (!first_member)
				buf_puts(&b, " + ");
			first_member = false;

			buf_put_attr_type(&b, &type);
			buf_putc(&b, '=');
			buf_put_dn_value(&b, &value);

			if (cn != NULL && cn->p == NULL && OID_IS(&type, oid_common_name))
			{
				cn->p = value.val;
				cn->len = value.len;
			}
		}
	}
	if (b.oom)
		goto fail;
	if (b.data == NULL)
		return strdup("");		/* the empty Name */
	return b.data;

fail:
	buf_free(&b);
	if (cn != NULL)
	{
		cn->p = NULL;
		cn->len = 0;
	}
	return NULL;
}

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

				if (!utf8_next(p, n, &i, &cp))
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
					if (!unicode_scalar(cp))
						return false;
					buf_put_utf8(out, cp);
				}
				return true;
			}
		default:
			for (size_t i = 0; i < n; i++)
				buf_put_utf8(out, p[i]);
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

		if (rdn_next_member(&walk, &type, &value) < 0)
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

		(void) rdn_next_member(&members, &type, &value);
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

	if (name_open(name, &rdns) < 0)
		return NULL;
	buf_init(&key);
	while (rdns.n > 0)
	{
		der_cursor	members;

		if (name_next_rdn(&rdns, &members) < 0)
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

/* ---------------------------------------------------------------------
 * Time
 * ---------------------------------------------------------------------
 */

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t		q = a / b;

	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static bool
is_leap_year(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int64_t y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap_year(y) ? 29 : days[m - 1];
}

/* Leap years among 1..y of the proleptic Gregorian calendar (negative below 1). */
static int64_t
leap_years_through(int64_t y)
{
	return floor_div(y, 4) - floor_div(y, 100) + floor_div(y, 400);
}

/* Days from 1970-01-01 to y-m-d: timegm() without the TZ environment. */
static int64_t
days_from_epoch(int64_t y, int m, int d)
{
	static const int before[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
	int64_t		days;

	days = 365 * (y - 1970) + leap_years_through(y - 1) - leap_years_through(1969);
	days += before[m - 1] + (m > 2 && is_leap_year(y)) + d - 1;
	return days;
}

static bool
read_digits(const uint8_t *s, size_t n, int *out)
{
	int			v = 0;

	for (size_t i = 0; i < n; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/*
 * A Time of RFC 5280 (4.1.2.5): UTCTime "YYMMDDHHMMSSZ", years 1950-2049,
 * or GeneralizedTime "YYYYMMDDHHMMSSZ".  Nothing else is DER for a
 * certificate: no fractions, no offsets, seconds always present.
 */
static int
parse_time(const der_item *it, time_t *out)
{
	const uint8_t *s = it->val;
	size_t		ylen;
	int			year, mon, day, hour, min, sec;

	if (it->tag == TAG_UTCTIME && it->len == 13)
		ylen = 2;
	else if (it->tag == TAG_GENERALIZEDTIME && it->len == 15)
		ylen = 4;
	else
		return -1;
	if (s[it->len - 1] != 'Z' ||
		!read_digits(s, ylen, &year) ||
		!read_digits(s + ylen, 2, &mon) ||
		!read_digits(s + ylen + 2, 2, &day) ||
		!read_digits(s + ylen + 4, 2, &hour) ||
		!read_digits(s + ylen + 6, 2, &min) ||
		!read_digits(s + ylen + 8, 2, &sec))
		return -1;
	if (ylen == 2)
		year += year < 50 ? 2000 : 1900;
	if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) ||
		hour > 23 || min > 59 || sec > 59)
		return -1;

	*out = (time_t) (days_from_epoch(year, mon, day) * 86400 +
					 hour * 3600 + min * 60 + sec);
	return 0;
}

static void
put_decimal(char *out, int v, int width)
{
	for (int i = width - 1; i >= 0; i--)
	{
		out[i] = (char) ('0' + v % 10);
		v /= 10;
	}
}

void
x509_format_time(time_t t, char out[21])
{
	int64_t		lo = days_from_epoch(0, 1, 1) * 86400;
	int64_t		hi = days_from_epoch(9999, 12, 31) * 86400 + 86399;
	int64_t		secs = (int64_t) t;
	int64_t		days;
	int64_t		rem;
	int64_t		year;
	int			mon = 1;

	/* Four digits of year is all the format has room for. */
	if (secs < lo)
		secs = lo;
	if (secs > hi)
		secs = hi;
	days = floor_div(secs, 86400);
	rem = secs - days * 86400;

	/* Estimate the year, then correct the estimate by whole years. */
	year = 1970 + floor_div(days * 400, 146097);
	while (days_from_epoch(year, 1, 1) > days)
		year--;
	while (days_from_epoch(year + 1, 1, 1) <= days)
		year++;
	days -= days_from_epoch(year, 1, 1);
	while (days >= days_in_month(year, mon))
	{
		days -= days_in_month(year, mon);
		mon++;
	}

	put_decimal(out, (int) year, 4);
	out[4] = '-';
	put_decimal(out + 5, mon, 2);
	out[7] = '-';
	put_decimal(out + 8, (int) days + 1, 2);
	out[10] = 'T';
	put_decimal(out + 11, (int) (rem / 3600), 2);
	out[13] = ':';
	put_decimal(out + 14, (int) (rem / 60 % 60), 2);
	out[16] = ':';
	put_decimal(out + 17, (int) (rem % 60), 2);
	out[19] = 'Z';
	out[20] = '\0';
}

/* ---------------------------------------------------------------------
 * The certificate
 * ---------------------------------------------------------------------
 */

/* Bits of an RSA modulus: RSAPublicKey ::= SEQUENCE { modulus, publicExponent }. */
static int
rsa_modulus_bits(const der_item *key)
{
	der_cursor	c;
	der_item	seq;
	der_item	modulus;
	der_item	exponent;
	const uint8_t *p;
	size_t		n;
	int			bits;

	/* The BIT STRING holds whole bytes: no unused bits. */
	if (key->len < 1 || key->val[0] != 0)
		return -1;
	c.p = key->val + 1;
	c.n = key->len - 1;
	if (der_expect(&c, TAG_SEQUENCE, &seq) < 0 || c.n != 0)
		return -1;
	c = der_enter(&seq);
	if (der_expect(&c, TAG_INTEGER, &modulus) < 0 ||
		der_expect(&c, TAG_INTEGER, &exponent) < 0 || c.n != 0)
		return -1;

	p = modulus.val;
	n = modulus.len;
	if (n == 0 || (p[0] & 0x80) || n > 65536)
		return -1;				/* empty, negative, or absurd */
	while (n > 0 && *p == 0)
	{
		p++;
		n--;
	}
	if (n == 0)
		return -1;
	bits = (int) (n - 1) * 8;
	for (uint8_t top = p[0]; top != 0; top >>= 1)
		bits++;
	return bits;
}

/* SubjectPublicKeyInfo ::= SEQUENCE { AlgorithmIdentifier, BIT STRING }. */
static int
parse_spki(const der_item *spki, x509_cert *out)
{
	der_cursor	c = der_enter(spki);
	der_cursor	alg_in;
	der_item	alg;
	der_item	key;
	der_item	alg_oid;
	const char *desc = "unknown";

	if (der_expect(&c, TAG_SEQUENCE, &alg) < 0 ||
		der_expect(&c, TAG_BIT_STRING, &key) < 0 || c.n != 0)
		return -1;
	alg_in = der_enter(&alg);
	if (der_expect_oid(&alg_in, &alg_oid) < 0)
		return -1;

	if (OID_IS(&alg_oid, oid_rsa_encryption))
	{
		int			bits = rsa_modulus_bits(&key);

		if (bits > 0)
		{
			snprintf(out->key_desc, sizeof(out->key_desc), "RSA %d", bits);
			return 0;
		}
	}
	else if (OID_IS(&alg_oid, oid_ec_public_key))
	{
		der_item	curve;

		/* Only a namedCurve parameter names a curve. */
		if (der_expect_oid(&alg_in, &curve) == 0 && alg_in.n == 0)
		{
			if (OID_IS(&curve, oid_prime256v1))
				desc = "EC P-256";
			else if (OID_IS(&curve, oid_secp384r1))
				desc = "EC P-384";
			else if (OID_IS(&curve, oid_secp521r1))
				desc = "EC P-521";
		}
	}
	else if (OID_IS(&alg_oid, oid_ed25519))
		desc = "Ed25519";
	else if (OID_IS(&alg_oid, oid_ed448))
		desc = "Ed448";

	snprintf(out->key_desc, sizeof(out->key_desc), "%s", desc);
	return 0;
}

/* BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL }. */
static int
parse_basic_constraints(der_cursor value, x509_cert *out)
{
	der_item	seq;
	der_item	item;
	der_cursor	in;

	if (der_expect(&value, TAG_SEQUENCE, &seq) < 0 || value.n != 0)
		return -1;
	in = der_enter(&seq);
	out->is_ca = false;
	if (der_at(&in, TAG_BOOLEAN))
	{
		if (der_read(&in, &item) < 0 || item.len != 1)
			return -1;
		out->is_ca = item.val[0] != 0;
	}
	if (der_at(&in, TAG_INTEGER) && der_read(&in, &item) < 0)
		return -1;
	if (in.n != 0)
		return -1;
	out->has_basic_constraints = true;
	return 0;
}

/*
 * SubjectAltName ::= SEQUENCE OF GeneralName.  Only dNSName and iPAddress
 * matter to libpq; every other form is read past whole, whatever it holds.
 */
static int
parse_subject_alt_name(der_cursor value, x509_cert *out)
{
	der_item	seq;
	der_cursor	in;

	if (der_expect(&value, TAG_SEQUENCE, &seq) < 0 || value.n != 0)
		return -1;
	in = der_enter(&seq);
	while (in.n > 0)
	{
		der_item	gn;

		if (der_read(&in, &gn) < 0)
			return -1;
		if (out->n_san >= X509_MAX_SAN)
			continue;
		if (gn.tag == TAG_GN_DNS)
			out->san[out->n_san].type = SAN_DNS;
		else if (gn.tag == TAG_GN_IP)
		{
			/* Kept whatever its length: libpq fails a certificate with a bad one. */
			out->san[out->n_san].type = SAN_IP;
		}
		else
			continue;
		out->san[out->n_san].value = gn.val;
		out->san[out->n_san].len = gn.len;
		out->n_san++;
	}
	return 0;
}

/* Extensions ::= SEQUENCE OF SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue }. */
static int
parse_extensions(const der_item *wrapper, x509_cert *out)
{
	der_cursor	c = der_enter(wrapper);
	der_item	seq;
	bool		seen_bc = false;
	bool		seen_san = false;

	if (der_expect(&c, TAG_SEQUENCE, &seq) < 0 || c.n != 0)
		return -1;
	c = der_enter(&seq);
	while (c.n > 0)
	{
		der_item	ext;
		der_item	oid;
		der_item	item;
		der_cursor	in;

		if (der_expect(&c, TAG_SEQUENCE, &ext) < 0)
			return -1;
		in = der_enter(&ext);
		if (der_expect_oid(&in, &oid) < 0)
			return -1;
		if (der_at(&in, TAG_BOOLEAN) && (der_read(&in, &item) < 0 || item.len != 1))
			return -1;
		if (der_expect(&in, TAG_OCTET_STRING, &item) < 0 || in.n != 0)
			return -1;

		/* RFC 5280 allows each extension once; two would make the answer a guess. */
		if (OID_IS(&oid, oid_basic_constraints))
		{
			if (seen_bc || parse_basic_constraints(der_enter(&item), out) < 0)
				return -1;
			seen_bc = true;
		}
		else if (OID_IS(&oid, oid_subject_alt_name))
		{
			if (seen_san || parse_subject_alt_name(der_enter(&item), out) < 0)
				return -1;
			seen_san = true;
		}
	}
	return 0;
}

/* Version ::= INTEGER { v1(0), v2(1), v3(2) }, inside [0] EXPLICIT. */
static int
parse_version(const der_item *wrapper)
{
	der_cursor	c = der_enter(wrapper);
	der_item	v;

	if (der_expect(&c, TAG_INTEGER, &v) < 0 || c.n != 0 || v.len != 1 || v.val[0] > 2)
		return -1;
	return 0;
}

/* Validity ::= SEQUENCE { notBefore Time, notAfter Time }. */
static int
parse_validity(const der_item *validity, x509_cert *out)
{
	der_cursor	c = der_enter(validity);
	der_item	t;

	if (der_read(&c, &t) < 0 || parse_time(&t, &out->not_before) < 0 ||
		der_read(&c, &t) < 0 || parse_time(&t, &out->not_after) < 0 || c.n != 0)
		return -1;
	return 0;
}

/*
 * TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber,
 * signature, issuer, validity, subject, subjectPublicKeyInfo,
 * [1] issuerUniqueID OPTIONAL, [2] subjectUniqueID OPTIONAL,
 * [3] extensions OPTIONAL }
 */
static int
parse_tbs(const der_item *tbs, x509_cert *out)
{
	der_cursor	c = der_enter(tbs);
	der_item	item;

	if (der_at(&c, TAG_CERT_VERSION))
	{
		if (der_read(&c, &item) < 0 || parse_version(&item) < 0)
			return -1;
	}

	if (der_expect(&c, TAG_INTEGER, &item) < 0 || item.len == 0)
		return -1;
	out->serial.p = item.val;
	out->serial.len = item.len;

	if (der_expect(&c, TAG_SEQUENCE, &item) < 0)	/* signature algorithm */
		return -1;

	if (der_expect(&c, TAG_SEQUENCE, &item) < 0)
		return -1;
	out->issuer_raw = der_whole(&item);

	if (der_expect(&c, TAG_SEQUENCE, &item) < 0 || parse_validity(&item, out) < 0)
		return -1;

	if (der_expect(&c, TAG_SEQUENCE, &item) < 0)
		return -1;
	out->subject_raw = der_whole(&item);

	if (der_expect(&c, TAG_SEQUENCE, &item) < 0 || parse_spki(&item, out) < 0)
		return -1;
	out->spki = der_whole(&item);

	if (der_at(&c, TAG_CERT_ISSUER_UID) && der_read(&c, &item) < 0)
		return -1;
	if (der_at(&c, TAG_CERT_SUBJECT_UID) && der_read(&c, &item) < 0)
		return -1;
	if (der_at(&c, TAG_CERT_EXTENSIONS))
	{
		if (der_read(&c, &item) < 0 || parse_extensions(&item, out) < 0)
			return -1;
	}
	return c.n == 0 ? 0 : -1;
}

int
x509_parse(const uint8_t *der, size_t len, x509_cert *out)
{
	der_cursor	c = {der, len};
	der_item	cert;
	der_item	tbs;
	der_item	item;

	memset(out, 0, sizeof(*out));
	if (der == NULL)
		return -1;

	/* Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } */
	if (der_expect(&c, TAG_SEQUENCE, &cert) < 0 || c.n != 0)
		goto fail;
	out->der = der_whole(&cert);
	c = der_enter(&cert);
	if (der_expect(&c, TAG_SEQUENCE, &tbs) < 0 ||
		der_expect(&c, TAG_SEQUENCE, &item) < 0 ||
		der_expect(&c, TAG_BIT_STRING, &item) < 0 || c.n != 0)
		goto fail;
	if (parse_tbs(&tbs, out) < 0)
		goto fail;

	/* The strings last: everything they depend on has been checked by now. */
	out->subject = name_to_string(out->subject_raw, &out->cn);
	/* A self-signed certificate (every root of a CA bundle) names itself twice. */
	if (out->subject != NULL && out->issuer_raw.len == out->subject_raw.len &&
		memcmp(out->issuer_raw.p, out->subject_raw.p, out->subject_raw.len) == 0)
		out->issuer = strdup(out->subject);
	else
		out->issuer = name_to_string(out->issuer_raw, NULL);
	if (out->subject == NULL || out->issuer == NULL)
		goto fail;
	return 0;

fail:
	x509_free(out);
	memset(out, 0, sizeof(*out));
	return -1;
}

void
x509_free(x509_cert *c)
{
	if (c == NULL)
		return;
	free(c->subject);
	free(c->issuer);
	c->subject = NULL;
	c->issuer = NULL;
}
