/*
 * x509_name.c: X.509 Names as text (x509.h, x509_cert.subject), and the walk
 * over a Name's RDNs that x509_namekey.c shares.  Hand-written for the reason
 * der.h gives; the text mirrors OpenSSL's X509_NAME_print_ex() (see x509.h).
 */
#include <stdlib.h>
#include <string.h>

#include "pqtls/json.h"			/* pqtls_buf, for building strings */
#include "pqtls/x509_parts.h"

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

void
x509_put_utf8(pqtls_buf *b, uint32_t cp)
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

bool
x509_unicode_scalar(uint32_t cp)
{
	return cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
}

/*
 * Decode one well-formed UTF-8 sequence at s[*i] (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF) and step past it.
 */
bool
x509_utf8_next(const uint8_t *s, size_t n, size_t *i, uint32_t *cp)
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
	if (v < min || !x509_unicode_scalar(v))
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
		x509_put_utf8(&tmp, x509_unicode_scalar(cp) ? cp : 0xFFFD);
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
int
x509_name_open(der_span name, der_cursor *rdns)
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
int
x509_name_next_rdn(der_cursor *rdns, der_cursor *members)
{
	der_item	set;

	if (der_expect(rdns, TAG_SET, &set) < 0)
		return -1;
	*members = der_enter(&set);
	return 0;
}

/* The next AttributeTypeAndValue of an RDN: SEQUENCE { OID, ANY }. */
int
x509_rdn_next_member(der_cursor *members, der_item *type, der_item *value)
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
char *
x509_name_to_string(der_span name, der_span *cn)
{
	pqtls_buf	b;
	der_cursor	rdns;
	bool		first_rdn = true;

	if (x509_name_open(name, &rdns) < 0)
		return NULL;
	buf_init(&b);
	while (rdns.n > 0)
	{
		der_cursor	members;
		bool		first_member = true;

		if (x509_name_next_rdn(&rdns, &members) < 0)
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

			if (x509_rdn_next_member(&members, &type, &value) < 0)
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
