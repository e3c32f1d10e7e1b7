/*
 * pem.c: certificates out of PEM text (RFC 7468), without OpenSSL.
 *
 * Bundles come from everywhere: written on Windows (CRLF), pasted into
 * configuration tools (indented, trailing blanks), or published without a
 * final newline (Amazon's RDS global bundle).  The decoder is therefore lax
 * about white space and strict about everything else: a block that is not
 * clean base64 of one certificate is reported as malformed, and the caller
 * may carry on with the next block.
 *
 * Hand-written rather than OpenSSL's PEM_read_bio_X509(): the library links no
 * OpenSSL and indexes bundles before (and mostly without) calling the process's
 * own (bundle.h: decoding the RDS bundle with OpenSSL costs ~150 million
 * instructions).  The `pqtls` command, which could link OpenSSL's PEM reader,
 * splits files with this one too (truststore.c, for `pqtls bundle`) on purpose:
 * the command must see in a bundle the very certificates the library indexes,
 * and count a malformed block and go on to the next, where PEM_read_bio_X509
 * stops at the first bad block.  The certificates it then reads with OpenSSL.
 */
#include "pqtls/pem.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define PEM_BEGIN "-----BEGIN "
#define PEM_END "-----END "
#define PEM_DASHES "-----"
#define PEM_MAX_LABEL 64
#define PEM_TRUSTED "TRUSTED CERTIFICATE"

/*
 * Length of the DER element at data[0..len): tag, length and contents.
 * Returns 0 when the header is not a definite DER length that fits.
 */
static size_t
der_element_size(const uint8_t *data, size_t len)
{
	size_t		hdr = 2;
	size_t		body;

	if (len < 2)
		return 0;
	/* Certificates never use high tag numbers. */
	if ((data[0] & 0x1F) == 0x1F)
		return 0;
	if (data[1] < 0x80)
		body = data[1];
	else
	{
		size_t		nbytes = data[1] & 0x7F;

		/* 0x80 is BER's indefinite length; more than 4 bytes is not a certificate. */
		if (nbytes == 0 || nbytes > 4 || len - 2 < nbytes)
			return 0;
		body = 0;
		for (size_t i = 0; i < nbytes; i++)
			body = (body << 8) | data[2 + i];
		/* DER, as x509.c reads it: the long form only when needed, no leading zeros. */
		if (data[2] == 0 || body < 0x80)
			return 0;
		hdr += nbytes;
	}
	if (body > len - hdr)
		return 0;
	return hdr + body;
}

/*
 * One certificate starts at data[0]: a SEQUENCE whose contents begin with
 * another SEQUENCE (the TBSCertificate) that fits inside it.  Returns the
 * size of the outer SEQUENCE, or 0.
 */
static size_t
der_cert_size(const uint8_t *data, size_t len)
{
	size_t		outer = der_element_size(data, len);
	size_t		hdr;

	if (outer == 0 || data[0] != 0x30)
		return 0;
	hdr = data[1] < 0x80 ? 2 : 2 + (size_t) (data[1] & 0x7F);
	if (outer - hdr < 2 || data[hdr] != 0x30 ||
		der_element_size(data + hdr, outer - hdr) == 0)
		return 0;
	return outer;
}

int
der_is_single_cert(const uint8_t *data, size_t len)
{
	return data != NULL && len > 0 && der_cert_size(data, len) == len;
}

/*
 * What each byte is to the decoder: a base64 digit (0..63), white space
 * (B64_BLANK: ' ', \t, \r, \n, \v, \f; not isspace(), which depends on the
 * locale of the host program), padding, or anything else. One table lookup a
 * character: a bundle of a hundred certificates is about 160,000 of them.
 */
#define B64_BAD 64
#define B64_BLANK 65
#define B64_PAD 66

#define XX B64_BAD
#define SP B64_BLANK
#define PD B64_PAD
static const uint8_t b64_class[256] = {
	XX, XX, XX, XX, XX, XX, XX, XX, XX, SP, SP, SP, SP, SP, XX, XX,	/* 0x00 */
	XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,	/* 0x10 */
	SP, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, 62, XX, XX, XX, 63,	/* 0x20 */
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, XX, XX, XX, PD, XX, XX,	/* 0x30 */
	XX, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,	/* 0x40 */
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, XX, XX, XX, XX, XX,	/* 0x50 */
	XX, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,	/* 0x60 */
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, XX, XX, XX, XX, XX,	/* 0x70 */
	XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,	/* 0x80 */
	XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,	/* 0x90 */
	XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,	/* 0xA0 */
	XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,	/* 0xB0 */
	XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,	/* 0xC0 */
	XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,	/* 0xD0 */
	XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,	/* 0xE0 */
	XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,	/* 0xF0 */
};
#undef XX
#undef SP
#undef PD

/*
 * Decode the base64 in s[0..n), skipping white space anywhere.  Padding is
 * optional, but once it starts only padding and white space may follow.
 * Returns a malloc'ed buffer (*outlen set), or NULL.
 */
static uint8_t *
base64_decode(const char *s, size_t n, size_t *outlen)
{
	uint8_t    *out;
	size_t		o = 0;
	uint32_t	acc = 0;
	int			have = 0;		/* sextets in acc */
	bool		padding = false;

	out = malloc(n / 4 * 3 + 3);
	if (out == NULL)
		return NULL;

	for (size_t i = 0; i < n; i++)
	{
		uint8_t		v;

		/* Four digits on a group boundary (nearly all of a PEM body): one step. */
		while (have == 0 && !padding && n - i >= 4)
		{
			uint32_t	a = b64_class[(unsigned char) s[i]],
						b = b64_class[(unsigned char) s[i + 1]],
						c = b64_class[(unsigned char) s[i + 2]],
						d = b64_class[(unsigned char) s[i + 3]];

			if ((a | b | c | d) >= B64_BAD)
				break;
			acc = (a << 18) | (b << 12) | (c << 6) | d;
			out[o++] = (uint8_t) (acc >> 16);
			out[o++] = (uint8_t) (acc >> 8);
			out[o++] = (uint8_t) acc;
			acc = 0;
			i += 4;
		}
		if (i >= n)
			break;
		v = b64_class[(unsigned char) s[i]];

		if (v >= B64_BAD)
		{
			if (v == B64_BLANK)
				continue;
			if (v == B64_PAD)
			{
				padding = true;
				continue;
			}
			goto bad;
		}
		if (padding)
			goto bad;
		acc = (acc << 6) | v;
		if (++have == 4)
		{
			out[o++] = (uint8_t) (acc >> 16);
			out[o++] = (uint8_t) (acc >> 8);
			out[o++] = (uint8_t) acc;
			acc = 0;
			have = 0;
		}
	}

	/* A final group of two or three characters carries one or two bytes. */
	if (have == 1 || (padding && have == 0))
		goto bad;
	if (have == 2)
		out[o++] = (uint8_t) (acc >> 4);
	else if (have == 3)
	{
		out[o++] = (uint8_t) (acc >> 10);
		out[o++] = (uint8_t) (acc >> 2);
	}
	*outlen = o;
	return out;

bad:
	free(out);
	return NULL;
}

static bool
is_cert_label(const char *label, size_t n)
{
	/* In place, not pointers: no relocation at load (nametab.h). */
	static const char labels[][24] = {
		"CERTIFICATE", PEM_TRUSTED, "X509 CERTIFICATE",
	};

	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		if (strlen(labels[i]) == n && memcmp(labels[i], label, n) == 0)
			return true;
	return false;
}

/*
 * Decode the body of a certificate block.  An OpenSSL "TRUSTED CERTIFICATE"
 * carries its trust settings after the certificate: only the certificate is
 * kept.  Returns 1 or -1, as pem_next_cert().
 */
static int
decode_cert_body(const char *body, size_t n, bool trusted,
				 uint8_t **der, size_t *der_len)
{
	size_t		len;
	size_t		cert;
	uint8_t    *buf = base64_decode(body, n, &len);

	if (buf == NULL)
		return -1;
	cert = der_cert_size(buf, len);
	if (cert == 0 || (!trusted && cert != len))
	{
		free(buf);
		return -1;
	}
	*der = buf;
	*der_len = cert;
	return 1;
}

int
pem_next_cert(const char *text, size_t len, size_t *pos,
			  uint8_t **der, size_t *der_len)
{
	while (text != NULL && *pos < len)
	{
		const char *start = text + *pos;
		const char *end = text + len;
		const char *begin;
		const char *label;
		const char *label_end;
		const char *body;
		const char *endline;
		const char *next;
		char		marker[sizeof(PEM_END) + PEM_MAX_LABEL + sizeof(PEM_DASHES)];
		size_t		label_len;
		size_t		marker_len;
		bool		cert;

		begin = memmem(start, (size_t) (end - start), PEM_BEGIN, strlen(PEM_BEGIN));
		if (begin == NULL)
			break;
		label = begin + strlen(PEM_BEGIN);
		label_end = memmem(label, (size_t) (end - label), PEM_DASHES, strlen(PEM_DASHES));
		label_len = label_end ? (size_t) (label_end - label) : 0;

		/* "-----BEGIN " without a label on the same line: not a block, look further. */
		if (label_end == NULL || label_len == 0 || label_len > PEM_MAX_LABEL ||
			memchr(label, '\n', label_len) != NULL)
		{
			*pos = (size_t) (label - text);
			continue;
		}
		body = label_end + strlen(PEM_DASHES);
		cert = is_cert_label(label, label_len);

		/* The END line must name the same label. */
		marker_len = 0;
		memcpy(marker, PEM_END, strlen(PEM_END));
		marker_len += strlen(PEM_END);
		memcpy(marker + marker_len, label, label_len);
		marker_len += label_len;
		memcpy(marker + marker_len, PEM_DASHES, strlen(PEM_DASHES));
		marker_len += strlen(PEM_DASHES);

		/* Look for the END line only up to the next BEGIN: linear on any input. */
		next = memmem(body, (size_t) (end - body), PEM_BEGIN, strlen(PEM_BEGIN));
		endline = memmem(body, (size_t) ((next ? next : end) - body), marker, marker_len);
		if (endline == NULL)
		{
			/* An unterminated block: resume at the next BEGIN, if any. */
			*pos = next ? (size_t) (next - text) : len;
			if (cert)
				return -1;
			continue;
		}
		*pos = (size_t) (endline + marker_len - text);
		if (!cert)
			continue;			/* a key, a CRL, parameters: not ours */

		return decode_cert_body(body, (size_t) (endline - body),
								label_len == strlen(PEM_TRUSTED) &&
								memcmp(label, PEM_TRUSTED, label_len) == 0,
								der, der_len);
	}
	if (text != NULL)
		*pos = len;
	return 0;
}

/* ---- the plain form ------------------------------------------------------ */

#define PLAIN_BEGIN "-----BEGIN CERTIFICATE-----"
#define PLAIN_END "-----END CERTIFICATE-----"
/*
 * RFC 7468's strict form: 64 characters a line, the last one shorter or equal.
 * OpenSSL's PEM reader takes a line of another length as the last one.
 */
#define PLAIN_B64_LINE 64
/* Text lines longer than this may be read in pieces by a line reader. */
#define PLAIN_TEXT_LINE 200

static bool
is_line(const char *s, size_t n, const char *want, size_t want_len)
{
	return n == want_len && memcmp(s, want, n) == 0;
}

/*
 * No byte below '+' in s[0..n): no blank, no CR, no control character. Every
 * base64 character and '=' are above it. Eight bytes a step (the RDS bundle has
 * 2,800 body lines: this runs for every connection process that reads it).
 */
static bool
no_low_bytes(const char *s, size_t n)
{
	const uint64_t ones = 0x0101010101010101ULL,
				high = 0x8080808080808080ULL;
	size_t		i = 0;

	for (; i + 8 <= n; i += 8)
	{
		uint64_t	w;

		memcpy(&w, s + i, 8);
		/* A byte below 0x2B (or above 0x7F) sets its high bit here. */
		if (((w - ones * '+') | w) & high)
			return false;
	}
	for (; i < n; i++)
		if ((unsigned char) s[i] < '+' || (unsigned char) s[i] > 0x7F)
			return false;
	return true;
}

bool
pem_plain(const char *text, size_t len)
{
	static const size_t begin_len = sizeof(PLAIN_BEGIN) - 1,
				end_len = sizeof(PLAIN_END) - 1;
	size_t		pos = 0;
	bool		inside = false;
	bool		last = false;	/* the block's last base64 line was read */
	int			blocks = 0;

	if (text == NULL)
		return false;
	while (pos < len)
	{
		const char *line = text + pos;
		const char *nl;
		size_t		n;

		/* A full body line ends at a known place: no search needed. */
		if (inside && len - pos > PLAIN_B64_LINE && line[PLAIN_B64_LINE] == '\n')
			nl = line + PLAIN_B64_LINE;
		else if (inside && len - pos > PLAIN_B64_LINE + 1 && line[PLAIN_B64_LINE + 1] == '\n')
			nl = line + PLAIN_B64_LINE + 1;
		else
			nl = memchr(line, '\n', len - pos);
		n = nl ? (size_t) (nl - line) : len - pos;
		pos += n + (nl != NULL);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (!inside)
		{
			if (is_line(line, n, PLAIN_BEGIN, begin_len))
			{
				inside = true;
				last = false;
				blocks++;
			}
			/* Another label, a marker not on a line of its own, a bare CR, a NUL. */
			else if (n > PLAIN_TEXT_LINE || memmem(line, n, "-----", 5) != NULL ||
					 memchr(line, '\r', n) != NULL || memchr(line, '\0', n) != NULL)
				return false;
		}
		else if (is_line(line, n, PLAIN_END, end_len))
			inside = false;
		/* Headers, blank lines, blanks inside a line, lines after a short one. */
		else if (last || n == 0 || n > PLAIN_B64_LINE || !no_low_bytes(line, n))
			return false;
		else
			last = n != PLAIN_B64_LINE || line[n - 1] == '=';
	}
	return !inside && blocks > 0;
}
