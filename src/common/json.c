/*
 * json.c: a growable text buffer and a JSON writer on top of it.
 *
 * Everything that reaches a record passes through json_escape(), so this is
 * the one place that guarantees "one record, one line of valid UTF-8": control
 * characters are escaped, and malformed UTF-8 is replaced by U+FFFD following
 * the "maximal subpart" practice of the Unicode standard (chapter 3, U+FFFD
 * substitution), which is also what Python and the WHATWG decoders do, so a
 * reader sees the same text whatever it decodes with.
 *
 * No locale-dependent function is used for JSON output: the interposer runs
 * inside programs that may have called setlocale().
 *
 * Hand-written rather than a JSON library (jansson, json-c): the writer runs in
 * the interposer, which links nothing but the C library and must not bring a
 * library of its own into every program it is preloaded into; and a record is
 * written straight into one buffer, with the U+FFFD rule above, which those
 * libraries do differently (jansson refuses invalid UTF-8 outright).
 */
#include "pqtls/json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_INITIAL_CAP 256

static const char hex_lower[] = "0123456789abcdef";

/* The UTF-8 encoding of U+FFFD REPLACEMENT CHARACTER. */
static const char replacement_char[] = "\xEF\xBF\xBD";

void
buf_init(pqtls_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->oom = false;
}

void
buf_free(pqtls_buf *b)
{
	free(b->data);
	buf_init(b);
}

/*
 * Empty the buffer but keep its memory, and forget an earlier allocation
 * failure: the next record gets a fresh chance.
 */
void
buf_reset(pqtls_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
	b->oom = false;
}

/*
 * Make room for n more bytes plus the terminating NUL.  Returns false (and
 * leaves the buffer as it was, with oom set) when that is impossible.
 */
static bool
buf_reserve(pqtls_buf *b, size_t n)
{
	size_t		need;
	size_t		newcap;
	char	   *p;

	if (b->oom)
		return false;
	if (n >= SIZE_MAX - b->len)
	{
		b->oom = true;
		return false;
	}
	need = b->len + n + 1;
	if (need <= b->cap)
		return true;

	newcap = b->cap ? b->cap : BUF_INITIAL_CAP;
	while (newcap < need)
	{
		if (newcap > SIZE_MAX / 2)
		{
			newcap = need;
			break;
		}
		newcap *= 2;
	}
	p = realloc(b->data, newcap);
	if (p == NULL)
	{
		b->oom = true;
		return false;
	}
	b->data = p;
	b->cap = newcap;
	return true;
}

void
buf_append(pqtls_buf *b, const char *s, size_t n)
{
	/* The common case, room already there: no call but the copy. */
	if (n > 0 && !b->oom && b->cap - b->len > n)
	{
		memcpy(b->data + b->len, s, n);
		b->len += n;
		b->data[b->len] = '\0';
		return;
	}
	if (!buf_reserve(b, n))
		return;
	if (n > 0)
		memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
buf_puts(pqtls_buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void
buf_putc(pqtls_buf *b, char c)
{
	/* Called once per character by the DER name readers: keep it short. */
	if (!b->oom && b->cap - b->len > 1)
	{
		b->data[b->len++] = c;
		b->data[b->len] = '\0';
		return;
	}
	buf_append(b, &c, 1);
}

/*
 * printf into the buffer.  Callers keep to integer and string conversions:
 * floating point output would depend on LC_NUMERIC of the host program.
 */
void
buf_printf(pqtls_buf *b, const char *fmt,...)
{
	va_list		ap;
	int			n;
	size_t		avail;

	if (b->oom)
		return;

	/* First try to format into whatever room is already there. */
	avail = b->cap > b->len ? b->cap - b->len : 0;
	va_start(ap, fmt);
	n = vsnprintf(avail ? b->data + b->len : NULL, avail, fmt, ap);
	va_end(ap);
	if (n < 0)
	{
		/* A format error: the record would be wrong, so drop it. */
		b->oom = true;
		return;
	}
	if ((size_t) n < avail)
	{
		b->len += (size_t) n;
		return;
	}

	if (!buf_reserve(b, (size_t) n))
	{
		/* The first attempt may have overwritten the terminator. */
		if (b->data)
			b->data[b->len] = '\0';
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
	va_end(ap);
	if (n < 0)
	{
		b->data[b->len] = '\0';
		b->oom = true;
		return;
	}
	b->len += (size_t) n;
}

/*
 * Length of the well-formed UTF-8 sequence that starts at s[0] (at least one
 * byte available, s[0] >= 0x80).  Returns 0 when it is ill-formed, with *bad
 * set to the length of its maximal subpart: the longest prefix that could
 * still have begun a well-formed sequence, or 1 if there is none.  That whole
 * prefix becomes one U+FFFD and decoding resumes right after it.
 */
static size_t
utf8_sequence(const unsigned char *s, size_t n, size_t *bad)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80;
	unsigned char hi = 0xBF;
	size_t		trail;

	/* Table 3-7 of the Unicode standard, "well-formed UTF-8 byte sequences". */
	if (c >= 0xC2 && c <= 0xDF)
		trail = 1;
	else if (c == 0xE0)
	{
		trail = 2;
		lo = 0xA0;				/* no overlongs */
	}
	else if (c == 0xED)
	{
		trail = 2;
		hi = 0x9F;				/* no surrogates */
	}
	else if (c >= 0xE1 && c <= 0xEF)
		trail = 2;
	else if (c == 0xF0)
	{
		trail = 3;
		lo = 0x90;				/* no overlongs */
	}
	else if (c >= 0xF1 && c <= 0xF3)
		trail = 3;
	else if (c == 0xF4)
	{
		trail = 3;
		hi = 0x8F;				/* nothing above U+10FFFF */
	}
	else
	{
		/* 0x80-0xC1 and 0xF5-0xFF never start a sequence. */
		*bad = 1;
		return 0;
	}

	for (size_t i = 1; i <= trail; i++)
	{
		if (i >= n || s[i] < lo || s[i] > hi)
		{
			*bad = i;
			return 0;
		}
		/* Only the second byte has a narrowed range. */
		lo = 0x80;
		hi = 0xBF;
	}
	return trail + 1;
}

void
json_escape(pqtls_buf *b, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *) str;
	size_t		run = 0;		/* start of bytes not yet copied */
	size_t		i = 0;

	buf_putc(b, '"');
	while (i < n && !b->oom)
	{
		unsigned char c = s[i];
		char		esc[6];
		size_t		esclen = 2;

		if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\')
		{
			i++;
			continue;
		}
		if (c >= 0x80)
		{
			size_t		bad;
			size_t		seq = utf8_sequence(s + i, n - i, &bad);

			if (seq > 0)
			{
				i += seq;
				continue;
			}
			buf_append(b, (const char *) s + run, i - run);
			buf_append(b, replacement_char, 3);
			i += bad;
			run = i;
			continue;
		}

		/* Something to escape: a quote, a backslash or a control character. */
		esc[0] = '\\';
		switch (c)
		{
			case '"':
				esc[1] = '"';
				break;
			case '\\':
				esc[1] = '\\';
				break;
			case '\n':
				esc[1] = 'n';
				break;
			case '\r':
				esc[1] = 'r';
				break;
			case '\t':
				esc[1] = 't';
				break;
			case '\b':
				esc[1] = 'b';
				break;
			case '\f':
				esc[1] = 'f';
				break;
			default:
				/* Other C0 controls, NUL, and DEL (legal in JSON, but not in a log line). */
				esc[1] = 'u';
				esc[2] = '0';
				esc[3] = '0';
				esc[4] = hex_lower[c >> 4];
				esc[5] = hex_lower[c & 0x0F];
				esclen = 6;
				break;
		}
		buf_append(b, (const char *) s + run, i - run);
		buf_append(b, esc, esclen);
		i++;
		run = i;
	}
	buf_append(b, (const char *) s + run, n - run);
	buf_putc(b, '"');
}

void
json_init(json_writer *w, pqtls_buf *out)
{
	w->out = out;
	w->depth = 0;
	memset(w->need_comma, 0, sizeof(w->need_comma));
	w->after_key = false;
}

/*
 * Everything written before a value: the comma that separates it from the
 * previous member or element, unless a key has just been written.  Returns
 * false when nothing should be written any more.
 */
static bool
json_value_prefix(json_writer *w)
{
	if (w->out->oom)
		return false;
	if (w->after_key)
		w->after_key = false;
	else if (w->need_comma[w->depth])
		buf_putc(w->out, ',');
	w->need_comma[w->depth] = true;
	return !w->out->oom;
}

/*
 * A misuse of the writer (nesting too deep, closing what is not open) would
 * produce invalid JSON.  Marking the buffer as failed makes the caller drop
 * the record, the same way it drops one that ran out of memory.
 */
static void
json_broken(json_writer *w)
{
	w->out->oom = true;
}

static void
json_begin(json_writer *w, char open)
{
	if (!json_value_prefix(w))
		return;
	if (w->depth + 1 >= JSON_MAX_DEPTH)
	{
		json_broken(w);
		return;
	}
	buf_putc(w->out, open);
	w->depth++;
	w->need_comma[w->depth] = false;
}

static void
json_end(json_writer *w, char close)
{
	if (w->out->oom)
		return;
	if (w->depth <= 0 || w->after_key)
	{
		json_broken(w);
		return;
	}
	buf_putc(w->out, close);
	w->depth--;
}

void
json_begin_object(json_writer *w)
{
	json_begin(w, '{');
}

void
json_end_object(json_writer *w)
{
	json_end(w, '}');
}

void
json_begin_array(json_writer *w)
{
	json_begin(w, '[');
}

void
json_end_array(json_writer *w)
{
	json_end(w, ']');
}

void
json_key(json_writer *w, const char *key)
{
	if (w->out->oom)
		return;
	if (w->after_key)
	{
		/* Two keys in a row: the first one would have no value. */
		json_broken(w);
		return;
	}
	if (w->need_comma[w->depth])
		buf_putc(w->out, ',');
	json_escape(w->out, key, strlen(key));
	buf_putc(w->out, ':');
	w->need_comma[w->depth] = true;
	w->after_key = true;
}

void
json_string(json_writer *w, const char *s)
{
	if (s == NULL)
		json_null(w);
	else
		json_stringn(w, s, strlen(s));
}

void
json_stringn(json_writer *w, const char *s, size_t n)
{
	if (!json_value_prefix(w))
		return;
	json_escape(w->out, s, n);
}

void
json_int(json_writer *w, long long v)
{
	char		digits[24];
	size_t		pos = sizeof(digits);
	unsigned long long u;

	if (!json_value_prefix(w))
		return;
	/* Negate in unsigned arithmetic so that LLONG_MIN works too. */
	u = v < 0 ? 0ULL - (unsigned long long) v : (unsigned long long) v;
	do
	{
		digits[--pos] = (char) ('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		digits[--pos] = '-';
	buf_append(w->out, digits + pos, sizeof(digits) - pos);
}

void
json_bool(json_writer *w, bool v)
{
	if (!json_value_prefix(w))
		return;
	buf_puts(w->out, v ? "true" : "false");
}

void
json_null(json_writer *w)
{
	if (!json_value_prefix(w))
		return;
	buf_puts(w->out, "null");
}

void
json_kv_string(json_writer *w, const char *key, const char *s)
{
	json_key(w, key);
	json_string(w, s);
}

void
json_kv_int(json_writer *w, const char *key, long long v)
{
	json_key(w, key);
	json_int(w, v);
}

void
json_kv_bool(json_writer *w, const char *key, bool v)
{
	json_key(w, key);
	json_bool(w, v);
}
