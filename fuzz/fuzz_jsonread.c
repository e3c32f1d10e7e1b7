/*
 * fuzz_jsonread.c: the strict JSON reader (include/pqtls/jsonread.h).
 *
 * The input is the text, as-is (libFuzzer hands it over in a heap buffer of
 * exactly its size, so ASan sees any read past the end; the reader must not
 * need a NUL terminator).
 *
 * Checked, for every input:
 *   - the verdict (accepted or not) agrees with a second, independent
 *     recursive-descent checker written here from RFC 8259 and the reader's
 *     documented extra rules (valid UTF-8, no lone surrogates, nesting of at
 *     most JSR_MAX_DEPTH containers);
 *   - for an accepted text: every string token unescapes to exactly
 *     jsr_string_len() bytes of valid UTF-8 (NUL only from \u0000), equals
 *     itself under jsr_string_eq() and the independent checker's decoding;
 *     truncated copies stay NUL-terminated and within size; jsr_member()
 *     finds every key of every object (the last one of duplicates), and
 *     jsr_find() too for keys without '.' or NUL; first/next visit exactly
 *     `count` children; integers that jsr_get_int() accepts are what strtoll
 *     reads from the raw digits;
 *   - the same document written again with the JSON writer (json.h) parses
 *     to the same tokens.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pqtls/json.h"
#include "pqtls/jsonread.h"

/* ---- the independent checker ---- */

typedef struct ref
{
	const uint8_t *s;
	size_t		n;
	size_t		i;
	int			depth;
	/* decoded strings, in document order, for comparison */
	uint8_t    *out;
	size_t		outlen;
	size_t		outcap;
	size_t		nstr;
	size_t	   *str_end;		/* end offset in out of each string */
	size_t		str_cap;
} ref;

static void
ref_put(ref *r, const uint8_t *b, size_t n)
{
	if (r->outlen + n > r->outcap)
	{
		r->outcap = (r->outlen + n) * 2 + 64;
		r->out = realloc(r->out, r->outcap);
	}
	memcpy(r->out + r->outlen, b, n);
	r->outlen += n;
}

static void
ref_ws(ref *r)
{
	while (r->i < r->n && (r->s[r->i] == ' ' || r->s[r->i] == '\t' ||
						   r->s[r->i] == '\n' || r->s[r->i] == '\r'))
		r->i++;
}

static int
ref_hex4(ref *r, uint32_t *v)
{
	*v = 0;
	if (r->n - r->i < 4)
		return -1;
	for (int k = 0; k < 4; k++)
	{
		uint8_t		c = r->s[r->i++];

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			*v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			*v |= c - 'A' + 10;
		else
			return -1;
	}
	return 0;
}

static void
ref_utf8(ref *r, uint32_t cp)
{
	uint8_t		b[4];
	size_t		n;

	if (cp < 0x80)
		b[0] = cp, n = 1;
	else if (cp < 0x800)
		b[0] = 0xC0 | (cp >> 6), b[1] = 0x80 | (cp & 0x3F), n = 2;
	else if (cp < 0x10000)
		b[0] = 0xE0 | (cp >> 12), b[1] = 0x80 | ((cp >> 6) & 0x3F), b[2] = 0x80 | (cp & 0x3F), n = 3;
	else
		b[0] = 0xF0 | (cp >> 18), b[1] = 0x80 | ((cp >> 12) & 0x3F),
			b[2] = 0x80 | ((cp >> 6) & 0x3F), b[3] = 0x80 | (cp & 0x3F), n = 4;
	ref_put(r, b, n);
}

/* Decode one UTF-8 scalar value at r->i (first byte >= 0x80) by computing it. */
static int
ref_utf8_in(ref *r)
{
	uint8_t		c = r->s[r->i];
	int			need;
	uint32_t	cp;

	if ((c & 0xE0) == 0xC0)
		need = 1, cp = c & 0x1F;
	else if ((c & 0xF0) == 0xE0)
		need = 2, cp = c & 0x0F;
	else if ((c & 0xF8) == 0xF0)
		need = 3, cp = c & 0x07;
	else
		return -1;
	if (r->n - r->i < (size_t) need + 1)
		return -1;
	for (int k = 1; k <= need; k++)
	{
		if ((r->s[r->i + k] & 0xC0) != 0x80)
			return -1;
		cp = (cp << 6) | (r->s[r->i + k] & 0x3F);
	}
	if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
		cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return -1;
	ref_put(r, r->s + r->i, need + 1);
	r->i += need + 1;
	return 0;
}

static int
ref_string(ref *r)
{
	r->i++;						/* the quote */
	for (;;)
	{
		uint8_t		c;

		if (r->i >= r->n)
			return -1;
		c = r->s[r->i];
		if (c == '"')
		{
			r->i++;
			break;
		}
		if (c < 0x20)
			return -1;
		if (c >= 0x80)
		{
			if (ref_utf8_in(r) != 0)
				return -1;
			continue;
		}
		if (c != '\\')
		{
			ref_put(r, &c, 1);
			r->i++;
			continue;
		}
		if (++r->i >= r->n)
			return -1;
		c = r->s[r->i++];
		switch (c)
		{
			case '"':
			case '\\':
			case '/':
				ref_put(r, &c, 1);
				break;
			case 'b':
				ref_put(r, (const uint8_t *) "\b", 1);
				break;
			case 'f':
				ref_put(r, (const uint8_t *) "\f", 1);
				break;
			case 'n':
				ref_put(r, (const uint8_t *) "\n", 1);
				break;
			case 'r':
				ref_put(r, (const uint8_t *) "\r", 1);
				break;
			case 't':
				ref_put(r, (const uint8_t *) "\t", 1);
				break;
			case 'u':
				{
					uint32_t	hi,
								lo;

					if (ref_hex4(r, &hi) != 0)
						return -1;
					if (hi >= 0xDC00 && hi <= 0xDFFF)
						return -1;
					if (hi >= 0xD800 && hi <= 0xDBFF)
					{
						if (r->n - r->i < 2 || r->s[r->i] != '\\' || r->s[r->i + 1] != 'u')
							return -1;
						r->i += 2;
						if (ref_hex4(r, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
							return -1;
						hi = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
					}
					ref_utf8(r, hi);
				}
				break;
			default:
				return -1;
		}
	}
	if (r->nstr == r->str_cap)
	{
		r->str_cap = r->str_cap * 2 + 16;
		r->str_end = realloc(r->str_end, r->str_cap * sizeof(size_t));
	}
	r->str_end[r->nstr++] = r->outlen;
	return 0;
}

static int
ref_digits(ref *r)
{
	size_t		start = r->i;

	while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9')
		r->i++;
	return r->i > start ? 0 : -1;
}

static int
ref_number(ref *r)
{
	if (r->s[r->i] == '-')
		r->i++;
	if (r->i >= r->n)
		return -1;
	if (r->s[r->i] == '0')
		r->i++;
	else if (ref_digits(r) != 0)
		return -1;
	if (r->i < r->n && r->s[r->i] == '.')
	{
		r->i++;
		if (ref_digits(r) != 0)
			return -1;
	}
	if (r->i < r->n && (r->s[r->i] == 'e' || r->s[r->i] == 'E'))
	{
		r->i++;
		if (r->i < r->n && (r->s[r->i] == '+' || r->s[r->i] == '-'))
			r->i++;
		if (ref_digits(r) != 0)
			return -1;
	}
	return 0;
}

static int
ref_literal(ref *r, const char *lit)
{
	size_t		n = strlen(lit);

	if (r->n - r->i < n || memcmp(r->s + r->i, lit, n) != 0)
		return -1;
	r->i += n;
	return 0;
}

static int	ref_value(ref *r);

static int
ref_container(ref *r, uint8_t close)
{
	if (++r->depth > JSR_MAX_DEPTH)
		return -1;
	r->i++;
	ref_ws(r);
	if (r->i < r->n && r->s[r->i] == close)
	{
		r->i++;
		r->depth--;
		return 0;
	}
	for (;;)
	{
		if (close == '}')
		{
			ref_ws(r);
			if (r->i >= r->n || r->s[r->i] != '"' || ref_string(r) != 0)
				return -1;
			ref_ws(r);
			if (r->i >= r->n || r->s[r->i] != ':')
				return -1;
			r->i++;
		}
		if (ref_value(r) != 0)
			return -1;
		ref_ws(r);
		if (r->i >= r->n)
			return -1;
		if (r->s[r->i] == ',')
		{
			r->i++;
			continue;
		}
		if (r->s[r->i] != close)
			return -1;
		r->i++;
		r->depth--;
		return 0;
	}
}

static int
ref_value(ref *r)
{
	ref_ws(r);
	if (r->i >= r->n)
		return -1;
	switch (r->s[r->i])
	{
		case '{':
			return ref_container(r, '}');
		case '[':
			return ref_container(r, ']');
		case '"':
			return ref_string(r);
		case 't':
			return ref_literal(r, "true");
		case 'f':
			return ref_literal(r, "false");
		case 'n':
			return ref_literal(r, "null");
		default:
			if (r->s[r->i] == '-' || (r->s[r->i] >= '0' && r->s[r->i] <= '9'))
				return ref_number(r);
			return -1;
	}
}

static int
ref_parse(ref *r, const uint8_t *s, size_t n)
{
	memset(r, 0, sizeof(*r));
	r->s = s;
	r->n = n;
	if (ref_value(r) != 0)
		return -1;
	ref_ws(r);
	return r->i == r->n ? 0 : -1;
}

static void
ref_free(ref *r)
{
	free(r->out);
	free(r->str_end);
}

/* ---- checks on the reader's answer ---- */

static bool
valid_utf8(const uint8_t *s, size_t n)
{
	ref			r;
	bool		ok = true;

	memset(&r, 0, sizeof(r));
	r.s = s;
	r.n = n;
	while (r.i < n && ok)
	{
		if (s[r.i] < 0x80)
			r.i++;
		else
			ok = ref_utf8_in(&r) == 0;
	}
	free(r.out);
	return ok;
}

/* Write token t (and its children) again with the JSON writer. */
static int
rewrite(const jsr_doc *d, int t, json_writer *w)
{
	size_t		len;
	const char *raw;
	char	   *s;

	switch (jsr_type_of(d, t))
	{
		case JSR_OBJECT:
			json_begin_object(w);
			for (int k = jsr_first(d, t); k >= 0; k = jsr_next(d, t, k))
			{
				len = jsr_string_len(d, k);
				s = malloc(len + 1);
				jsr_string(d, k, s, len + 1);
				if (memchr(s, '\0', len) != NULL)
				{
					free(s);
					return -1;	/* json_key takes a C string */
				}
				json_key(w, s);
				free(s);
				if (rewrite(d, k + 1, w) != 0)
					return -1;
			}
			json_end_object(w);
			return 0;
		case JSR_ARRAY:
			json_begin_array(w);
			for (int k = jsr_first(d, t); k >= 0; k = jsr_next(d, t, k))
				if (rewrite(d, k, w) != 0)
					return -1;
			json_end_array(w);
			return 0;
		case JSR_STRING:
			len = jsr_string_len(d, t);
			s = malloc(len + 1);
			jsr_string(d, t, s, len + 1);
			json_stringn(w, s, len);
			free(s);
			return 0;
		case JSR_NUMBER:
			/* The writer has no raw number call: write it as the caller of the writer would. */
			raw = jsr_raw(d, t, &len);
			{
				long long	v;

				if (!jsr_get_int(d, t, &v))
					return -1;
				json_int(w, v);
				(void) raw;
			}
			return 0;
		case JSR_TRUE:
			json_bool(w, true);
			return 0;
		case JSR_FALSE:
			json_bool(w, false);
			return 0;
		case JSR_NULL:
			json_null(w);
			return 0;
		default:
			abort();
	}
}

static void
check_tokens(const jsr_doc *d, const ref *r)
{
	size_t		nstr = 0;

	for (int t = 0; t < (int) d->ntok; t++)
	{
		jsr_type	ty = jsr_type_of(d, t);
		const jsr_token *k = &d->tok[t];

		if (k->next <= (uint32_t) t || k->next > d->ntok)
			abort();
		if ((size_t) k->start + k->len > d->len)
			abort();
		if (ty == JSR_STRING)
		{
			size_t		len = jsr_string_len(d, t);
			char	   *s = malloc(len + 1);
			size_t		from = nstr ? r->str_end[nstr - 1] : 0;
			char		small[5];

			if (len == (size_t) -1 || jsr_string(d, t, s, len + 1) != len || s[len] != '\0')
				abort();
			if (nstr >= r->nstr || r->str_end[nstr] - from != len ||
				(len > 0 && memcmp(s, r->out + from, len) != 0))
				abort();
			nstr++;
			if (!valid_utf8((const uint8_t *) s, len))
				abort();
			if (!jsr_string_eq(d, t, s, len))
				abort();
			if (len > 0 && jsr_string_eq(d, t, s, len - 1))
				abort();
			/* Truncated: NUL-terminated within size, the full length returned. */
			memset(small, 'x', sizeof(small));
			if (jsr_string(d, t, small, 4) != len || memchr(small, '\0', 4) == NULL || small[4] != 'x')
				abort();
			free(s);
		}
		else if (ty == JSR_NUMBER)
		{
			size_t		len;
			const char *raw = jsr_raw(d, t, &len);
			long long	v;

			if (jsr_get_int(d, t, &v))
			{
				char	   *c = strndup(raw, len),
						   *e;
				long long	w;

				errno = 0;
				w = strtoll(c, &e, 10);
				if (errno != 0 || *e != '\0' || w != v)
					abort();
				free(c);
			}
		}
		else if (ty == JSR_OBJECT || ty == JSR_ARRAY)
		{
			uint32_t	seen = 0;

			for (int c = jsr_first(d, t); c >= 0; c = jsr_next(d, t, c))
			{
				if (c <= t || (uint32_t) c >= k->next)
					abort();
				seen++;
				if (ty == JSR_OBJECT)
				{
					size_t		len = jsr_string_len(d, c);
					char	   *key = malloc(len + 1);
					int			m;

					if (jsr_type_of(d, c) != JSR_STRING)
						abort();
					jsr_string(d, c, key, len + 1);
					m = jsr_member(d, t, key, len);
					/* The last member of that name: c + 1 or a later one. */
					if (m < c + 1 || (uint32_t) m >= k->next || !jsr_string_eq(d, m - 1, key, len))
						abort();
					if (t == 0 && memchr(key, '.', len) == NULL && memchr(key, '\0', len) == NULL &&
						len > 0 && jsr_find(d, 0, key) != m)
						abort();
					free(key);
				}
				if (seen > d->ntok)
					abort();
			}
			if (seen != k->count)
				abort();
		}
	}
	if (nstr != r->nstr)
		abort();
	if (jsr_find(d, 0, "") != 0 || jsr_type_of(d, -1) != JSR_NONE ||
		jsr_type_of(d, (int) d->ntok) != JSR_NONE || jsr_string_len(d, (int) d->ntok) != (size_t) -1)
		abort();
}

static void
check_rewrite(const jsr_doc *d)
{
	pqtls_buf	b;
	json_writer w;
	jsr_doc		d2;

	buf_init(&b);
	json_init(&w, &b);
	if (rewrite(d, 0, &w) == 0 && !b.oom)
	{
		jsr_init(&d2);
		if (jsr_parse(&d2, b.data, b.len) != 0 || d2.ntok != d->ntok)
			abort();
		for (int t = 0; t < (int) d->ntok; t++)
		{
			if (jsr_type_of(d, t) != jsr_type_of(&d2, t) || d->tok[t].count != d2.tok[t].count)
				abort();
			if (jsr_type_of(d, t) == JSR_STRING)
			{
				size_t		len = jsr_string_len(d, t);
				char	   *s = malloc(len + 1);

				jsr_string(d, t, s, len + 1);
				if (!jsr_string_eq(&d2, t, s, len))
					abort();
				free(s);
			}
		}
		jsr_free(&d2);
	}
	buf_free(&b);
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static jsr_doc reused;		/* a doc reused across inputs, as report.c does */
	static bool reused_init;
	jsr_doc		d;
	ref			r;
	int			rc,
				rrc;

	if (!reused_init)
	{
		jsr_init(&reused);
		reused_init = true;
	}
	jsr_init(&d);
	rc = jsr_parse(&d, (const char *) data, size);
	if (jsr_parse(&reused, (const char *) data, size) != rc)
		abort();
	if (jsr_strerror(rc) == NULL)
		abort();
	if (rc != 0 && d.error_at > size)
		abort();
	rrc = ref_parse(&r, data, size);
	if ((rc == 0) != (rrc == 0))
		abort();
	if (rc == 0)
	{
		check_tokens(&d, &r);
		check_rewrite(&d);
	}
	ref_free(&r);
	jsr_free(&d);
	return 0;
}
