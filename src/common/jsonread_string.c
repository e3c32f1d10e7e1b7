/*
 * jsonread_string.c: the strings of a parsed JSON document, unescaped
 * (jsonread.h).  jsr_parse() checked every escape, surrogate pair and UTF-8
 * sequence already, so unescaping cannot fail and always yields valid UTF-8.
 */
#include <string.h>

#include "pqtls/jsonread.h"
#include "pqtls/jsonread_parts.h"

/*
 * One step of unescaping a (checked) string: the bytes that raw[*i ..]
 * stands for go to out (at most 4), *i moves past them.  Plain bytes come one
 * by one; callers copy runs of them themselves where it matters.
 */
static size_t
unescape_step(const unsigned char *raw, size_t *i, unsigned char out[4])
{
	size_t		k = *i;
	unsigned long cp;

	if (raw[k] != '\\')
	{
		out[0] = raw[k];
		*i = k + 1;
		return 1;
	}
	switch (raw[k + 1])
	{
		case 'b':
			out[0] = '\b';
			break;
		case 'f':
			out[0] = '\f';
			break;
		case 'n':
			out[0] = '\n';
			break;
		case 'r':
			out[0] = '\r';
			break;
		case 't':
			out[0] = '\t';
			break;
		case 'u':
			cp = (unsigned long) hex4(raw, k + 6, k + 2);
			*i = k + 6;
			if (cp >= 0xD800 && cp <= 0xDBFF)
			{
				unsigned long lo = (unsigned long) hex4(raw, k + 12, k + 8);

				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				*i = k + 12;
			}
			if (cp < 0x80)
			{
				out[0] = (unsigned char) cp;
				return 1;
			}
			if (cp < 0x800)
			{
				out[0] = (unsigned char) (0xC0 | (cp >> 6));
				out[1] = (unsigned char) (0x80 | (cp & 0x3F));
				return 2;
			}
			if (cp < 0x10000)
			{
				out[0] = (unsigned char) (0xE0 | (cp >> 12));
				out[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
				out[2] = (unsigned char) (0x80 | (cp & 0x3F));
				return 3;
			}
			out[0] = (unsigned char) (0xF0 | (cp >> 18));
			out[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3F));
			out[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
			out[3] = (unsigned char) (0x80 | (cp & 0x3F));
			return 4;
		default:
			/* '"', '\\' and '/' stand for themselves. */
			out[0] = raw[k + 1];
			break;
	}
	*i = k + 2;
	return 1;
}

size_t
jsr_string(const jsr_doc *d, int t, char *buf, size_t size)
{
	const jsr_token *k = jsr_token_at(d, t);
	const unsigned char *raw;
	size_t		total = 0,
				i = 0;

	if (k == NULL || k->type != JSR_STRING)
	{
		if (size > 0)
			buf[0] = '\0';
		return (size_t) -1;
	}
	raw = (const unsigned char *) d->text + k->start;
	if (!k->escaped)
	{
		if (size > 0)
		{
			size_t		c = k->len < size - 1 ? k->len : size - 1;

			memcpy(buf, raw, c);
			buf[c] = '\0';
		}
		return k->len;
	}
	while (i < k->len)
	{
		unsigned char piece[4];
		size_t		m;

		/* A run of plain bytes at once. */
		if (raw[i] != '\\')
		{
			const unsigned char *bs = memchr(raw + i, '\\', k->len - i);
			size_t		run = bs ? (size_t) (bs - raw) - i : k->len - i;

			if (size > 0 && total < size - 1)
			{
				size_t		c = run < size - 1 - total ? run : size - 1 - total;

				memcpy(buf + total, raw + i, c);
			}
			total += run;
			i += run;
			continue;
		}
		m = unescape_step(raw, &i, piece);
		for (size_t j = 0; j < m; j++, total++)
			if (size > 0 && total < size - 1)
				buf[total] = (char) piece[j];
	}
	if (size > 0)
		buf[total < size - 1 ? total : size - 1] = '\0';
	return total;
}

size_t
jsr_string_len(const jsr_doc *d, int t)
{
	return jsr_string(d, t, NULL, 0);
}

bool
jsr_string_eq(const jsr_doc *d, int t, const char *s, size_t n)
{
	const jsr_token *k = jsr_token_at(d, t);
	const unsigned char *raw;
	size_t		i = 0,
				at = 0;

	if (k == NULL || k->type != JSR_STRING)
		return false;
	raw = (const unsigned char *) d->text + k->start;
	if (!k->escaped)
		return k->len == n && memcmp(raw, s, n) == 0;
	/* Unescaping never makes a string longer. */
	if (n > k->len)
		return false;
	while (i < k->len)
	{
		unsigned char piece[4];
		size_t		m = unescape_step(raw, &i, piece);

		if (at + m > n || memcmp(s + at, piece, m) != 0)
			return false;
		at += m;
	}
	return at == n;
}

