/*
 * fuzz_pem.c: the PEM reader (include/pqtls/pem.h), as bundle_load() drives it.
 *
 * The input is PEM text (or anything): pem_next_cert() is called in a loop
 * until it answers 0, exactly as bundle.c and truststore.c do, each block's
 * DER going through x509_parse() as a bundle would index it.
 *
 * Checked, for every input:
 *   - *pos only moves forward, never past the end, and the loop ends (no
 *     more calls than blocks that can fit in the text);
 *   - every certificate returned is non-empty and is one DER certificate by
 *     der_is_single_cert() (a TRUSTED CERTIFICATE's trust trailer is cut off);
 *   - the input taken as DER and wrapped as PEM the way OpenSSL writes it
 *     (64 columns, or another width from the input, CRLF or LF, indented or
 *     not) reads back as exactly the same bytes when it is one certificate by
 *     der_is_single_cert(), and as a malformed block otherwise; wrapped as a
 *     TRUSTED CERTIFICATE with trailing bytes, it reads back as the
 *     certificate alone.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pqtls/pem.h"
#include "pqtls/x509.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* PEM of data[0..n) with the given label, width and line end; malloc'ed. */
static char *
wrap(const char *label, const uint8_t *data, size_t n, size_t width, const char *eol,
	 const char *indent, size_t *outlen)
{
	size_t		cap = 2 * strlen(label) + 64 + (n / 3 + 1) * 4 * 2 + (n / 3 / (width ? width : 1) + 4) * 16;
	char	   *out = malloc(cap);
	size_t		o = 0,
				col = 0;

	o += sprintf(out + o, "junk before\n-----BEGIN %s-----%s", label, eol);
	for (size_t i = 0; i < n; i += 3)
	{
		uint32_t	v = (uint32_t) data[i] << 16;
		char		q[4];

		if (i + 1 < n)
			v |= (uint32_t) data[i + 1] << 8;
		if (i + 2 < n)
			v |= data[i + 2];
		q[0] = b64[(v >> 18) & 63];
		q[1] = b64[(v >> 12) & 63];
		q[2] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? b64[v & 63] : '=';
		for (int k = 0; k < 4; k++)
		{
			if (col == 0)
				o += sprintf(out + o, "%s", indent);
			out[o++] = q[k];
			if (++col == width)
			{
				o += sprintf(out + o, "%s", eol);
				col = 0;
			}
		}
	}
	if (col != 0)
		o += sprintf(out + o, "%s", eol);
	o += sprintf(out + o, "-----END %s-----%s", label, eol);
	*outlen = o;
	return out;
}

/* Read the single block of text: 1 with the DER, or -1. */
static int
read_one(const char *text, size_t len, uint8_t **der, size_t *der_len)
{
	size_t		pos = 0;
	int			r = pem_next_cert(text, len, &pos, der, der_len);

	if (r == 1)
	{
		uint8_t    *more;
		size_t		more_len;

		if (pem_next_cert(text, len, &pos, &more, &more_len) != 0)
			abort();
	}
	return r;
}

static void
round_trip(const uint8_t *data, size_t size)
{
	size_t		width = size > 0 ? (size_t) (data[0] % 80) : 64;
	const char *eol = size > 1 && (data[1] & 1) ? "\r\n" : "\n";
	const char *indent = size > 1 && (data[1] & 2) ? "  " : "";
	char	   *text;
	size_t		len,
				der_len;
	uint8_t    *der = NULL;
	int			r;
	bool		single = der_is_single_cert(data, size);

	if (width == 0)
		width = 64;
	text = wrap("CERTIFICATE", data, size, width, eol, indent, &len);
	r = read_one(text, len, &der, &der_len);
	if (single)
	{
		if (r != 1 || der_len != size || memcmp(der, data, size) != 0)
			abort();
		free(der);
	}
	else if (r != -1)
		abort();
	free(text);

	/* The certificate (when the input starts with one) and a trust trailer. */
	if (single)
	{
		uint8_t    *withtrust = malloc(size + 12);

		memcpy(withtrust, data, size);
		memcpy(withtrust + size, "\x30\x0a\x30\x08\x06\x06\x2b\x06\x01\x05\x05\x07", 12);
		text = wrap("TRUSTED CERTIFICATE", withtrust, size + 12, width, eol, indent, &len);
		r = read_one(text, len, &der, &der_len);
		if (r != 1 || der_len != size || memcmp(der, data, size) != 0)
			abort();
		free(der);
		free(text);
		free(withtrust);
	}
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *) data;
	size_t		pos = 0,
				calls = 0;

	for (;;)
	{
		uint8_t    *der = NULL;
		size_t		der_len = 0,
					before = pos;
		int			r = pem_next_cert(text, size, &pos, &der, &der_len);

		if (r == 0)
		{
			if (pos != size)
				abort();
			break;
		}
		/* Every call that returns consumed at least a BEGIN line. */
		if (pos <= before || pos > size || ++calls > size / 11 + 1)
			abort();
		if (r == 1)
		{
			x509_cert  *c = malloc(sizeof(*c));

			if (der == NULL || der_len == 0 || !der_is_single_cert(der, der_len))
				abort();
			if (x509_parse(der, der_len, c) == 0)
				x509_free(c);
			free(c);
			free(der);
		}
		else if (r != -1)
			abort();
	}
	/* pos at the end, or past it: no further certificate, and no read. */
	{
		uint8_t    *der;
		size_t		der_len;

		if (pem_next_cert(text, size, &pos, &der, &der_len) != 0)
			abort();
	}
	round_trip(data, size);
	return 0;
}
