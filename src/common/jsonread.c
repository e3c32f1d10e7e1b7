/*
 * jsonread.c: a small, strict JSON reader (see jsonread.h).
 *
 * One pass over the text, without recursion: an explicit stack of the open
 * containers (JSR_MAX_DEPTH deep) and a state that says what may come next.
 * Every read of the text is guarded by the length, so truncated or hostile
 * input ends in an error, never outside the buffer.  Strings are checked
 * completely while they are scanned (escapes, surrogate pairs, UTF-8), so that
 * unescaping later cannot fail and always yields valid UTF-8.
 *
 * Hand-written rather than a JSON library (jansson, json-c), although only the
 * `pqtls` command uses it (report): `pqtls report` reads millions of records,
 * and this reader allocates nothing per record once the largest has been seen
 * (tokens point into the line, jsonread.h), where those libraries build a tree
 * of allocated nodes per value; its speed and flat memory are figures of the
 * README (692,203 records/s; RSS the same for 100,000 and 1,000,000 records).
 * It is one of the fuzz targets (fuzz/fuzz_jsonread.c).
 */
#include "pqtls/jsonread.h"
#include "pqtls/jsonread_parts.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define JSR_INITIAL_TOKENS 64

/*
 * Bytes a string can hold as they are: everything from 0x20 to 0x7F except
 * the quote and the backslash.  Controls, the two specials and every byte of
 * a multi-byte UTF-8 sequence need a closer look.
 */
static const uint8_t plain_string_byte[256] = {
	['\x20'] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x20-0x2F, no '"' */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x30-0x3F */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x40-0x4F */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,	/* 0x50-0x5F, no '\\' */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x60-0x6F */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x70-0x7F */
};

static inline bool
is_ws(unsigned char c)
{
	/* One comparison for the usual case, a byte that is not whitespace. */
	return c <= ' ' && (c == ' ' || c == '\t' || c == '\n' || c == '\r');
}
/*
 * Length of the well-formed UTF-8 sequence at s[0] (s[0] >= 0x80, n >= 1
 * bytes available), or 0 when it is not one: Table 3-7 of the Unicode
 * standard, so no overlong forms, no surrogates, nothing above U+10FFFF.
 */
static size_t
utf8_length(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80,
				hi = 0xBF;
	size_t		trail;

	if (c >= 0xC2 && c <= 0xDF)
		trail = 1;
	else if (c == 0xE0)
	{
		trail = 2;
		lo = 0xA0;
	}
	else if (c == 0xED)
	{
		trail = 2;
		hi = 0x9F;
	}
	else if (c >= 0xE1 && c <= 0xEF)
		trail = 2;
	else if (c == 0xF0)
	{
		trail = 3;
		lo = 0x90;
	}
	else if (c >= 0xF1 && c <= 0xF3)
		trail = 3;
	else if (c == 0xF4)
	{
		trail = 3;
		hi = 0x8F;
	}
	else
		return 0;
	if (n <= trail)
		return 0;
	for (size_t i = 1; i <= trail; i++)
	{
		if (s[i] < lo || s[i] > hi)
			return 0;
		lo = 0x80;
		hi = 0xBF;
	}
	return trail + 1;
}

/* Double the token array; false when it cannot grow. */
static bool __attribute__((noinline))
grow_tokens(jsr_doc *d)
{
	uint32_t	cap = d->cap ? d->cap * 2 : JSR_INITIAL_TOKENS;
	jsr_token  *p;

	if (d->cap > UINT32_MAX / 2)
		return false;
	p = realloc(d->tok, (size_t) cap * sizeof(jsr_token));
	if (p == NULL)
		return false;
	d->tok = p;
	d->cap = cap;
	return true;
}

/* A new token at the end of the array; -1 when it cannot grow. */
static inline int
new_token(jsr_doc *d, jsr_type type, size_t start)
{
	jsr_token  *t;

	if (d->ntok == d->cap && !grow_tokens(d))
		return -1;
	t = &d->tok[d->ntok];
	t->start = (uint32_t) start;
	t->len = 0;
	t->next = d->ntok + 1;
	t->count = 0;
	t->type = (uint8_t) type;
	t->escaped = 0;
	return (int) d->ntok++;
}

/*
 * The bytes of w (eight bytes of text, loaded in memory order) that are not
 * plain string bytes (plain_string_byte): each term sets the high bit of a
 * byte that is a control (below 0x20), a quote, a backslash, or 0x80 and
 * above.  A subtraction can also flag a byte above one that borrowed, but
 * only a special byte borrows, so the lowest flagged byte is always the
 * first special one; and no special byte goes unflagged.
 */
static inline uint64_t
special_bytes(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t high = 0x8080808080808080ULL;
	uint64_t	quote = w ^ (ones * '"');
	uint64_t	backslash = w ^ (ones * '\\');

	return ((w - ones * 0x20) | (quote - ones) | (backslash - ones) | w) & high;
}

/* Skip plain string bytes from s[i]; returns the index of the first other one (or n). */
static inline size_t
skip_plain(const unsigned char *s, size_t n, size_t i)
{
#ifdef __SSE2__
	/*
	 * Sixteen bytes a step: a signed "less than 0x20" catches the controls
	 * and, being signed, every byte from 0x80 up as well.
	 */
	const __m128i quote = _mm_set1_epi8('"');
	const __m128i backslash = _mm_set1_epi8('\\');
	const __m128i space = _mm_set1_epi8(0x20);

	while (i + 16 <= n)
	{
		__m128i		v = _mm_loadu_si128((const __m128i *) (s + i));
		__m128i		m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
												  _mm_cmpeq_epi8(v, backslash)),
									 _mm_cmplt_epi8(v, space));
		unsigned	bits = (unsigned) _mm_movemask_epi8(m);

		if (bits != 0)
			return i + (size_t) __builtin_ctz(bits);
		i += 16;
	}
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	while (i + 8 <= n)
	{
		uint64_t	w,
					m;

		memcpy(&w, s + i, 8);
		m = special_bytes(w);
		if (m != 0)
			return i + (size_t) (__builtin_ctzll(m) >> 3);
		i += 8;
	}
#endif
	while (i < n && plain_string_byte[s[i]])
		i++;
	return i;
}

/*
 * The string whose opening quote is at s[*pos - 1]: checks it and leaves
 * *pos on the closing quote.  Returns 0 or a jsr_error, *pos then on the
 * offending byte.
 */
static inline __attribute__((always_inline)) int
scan_string(const unsigned char *s, size_t n, size_t *pos, bool *escaped)
{
	size_t		i = *pos;

	for (;;)
	{
		unsigned char c;

		i = skip_plain(s, n, i);
		*pos = i;
		if (i >= n)
			return JSR_E_END;
		c = s[i];
		if (c == '"')
			return 0;
		if (c == '\\')
		{
			long		u,
						lo;

			*escaped = true;
			if (i + 1 >= n)
				return JSR_E_END;
			switch (s[i + 1])
			{
				case '"':
				case '\\':
				case '/':
				case 'b':
				case 'f':
				case 'n':
				case 'r':
				case 't':
					i += 2;
					continue;
				case 'u':
					break;
				default:
					*pos = i + 1;
					return JSR_E_ESCAPE;
			}
			u = hex4(s, n, i + 2);
			if (u < 0)
				return u == -2 ? JSR_E_END : JSR_E_ESCAPE;
			if (u >= 0xDC00 && u <= 0xDFFF)
				return JSR_E_SURROGATE;
			if (u < 0xD800 || u > 0xDBFF)
			{
				i += 6;
				continue;
			}
			/* A high surrogate: the low one must follow at once. */
			if (i + 6 >= n || (s[i + 6] == '\\' && i + 7 >= n))
				return JSR_E_END;
			if (s[i + 6] != '\\' || s[i + 7] != 'u')
				return JSR_E_SURROGATE;
			lo = hex4(s, n, i + 8);
			if (lo < 0)
				return lo == -2 ? JSR_E_END : JSR_E_ESCAPE;
			if (lo < 0xDC00 || lo > 0xDFFF)
				return JSR_E_SURROGATE;
			i += 12;
			continue;
		}
		if (c < 0x20)
			return JSR_E_CONTROL;
		/* c >= 0x80: one whole UTF-8 character. */
		{
			size_t		k = utf8_length(s + i, n - i);

			if (k == 0)
				return JSR_E_UTF8;
			i += k;
		}
	}
}

/* The number that starts at s[*pos]; leaves *pos after it. */
static int
scan_number(const unsigned char *s, size_t n, size_t *pos)
{
	size_t		i = *pos;

	if (s[i] == '-')
		i++;
	if (i >= n)
		goto end;
	if (s[i] == '0')
		i++;
	else if (s[i] >= '1' && s[i] <= '9')
		while (i < n && is_digit(s[i]))
			i++;
	else
		goto bad;
	if (i < n && s[i] == '.')
	{
		i++;
		if (i >= n)
			goto end;
		if (!is_digit(s[i]))
			goto bad;
		while (i < n && is_digit(s[i]))
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E'))
	{
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n)
			goto end;
		if (!is_digit(s[i]))
			goto bad;
		while (i < n && is_digit(s[i]))
			i++;
	}
	/* "01", "1.2.3", "1e5e5": a number that goes on is not a number. */
	if (i < n && (is_digit(s[i]) || s[i] == '.' || s[i] == 'e' || s[i] == 'E'))
		goto bad;
	*pos = i;
	return 0;
end:
	*pos = i;
	return JSR_E_END;
bad:
	*pos = i;
	return JSR_E_NUMBER;
}

/* true, false or null at s[*pos]; leaves *pos after it. */
static int
scan_literal(const unsigned char *s, size_t n, size_t *pos, jsr_type *type)
{
	static const struct
	{
		char		word[6];	/* in place: no relocation at load (nametab.h) */
		size_t		len;
		jsr_type	type;
	}			words[] = {
		{"true", 4, JSR_TRUE},
		{"false", 5, JSR_FALSE},
		{"null", 4, JSR_NULL},
	};
	size_t		i = *pos;

	for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++)
	{
		size_t		have = n - i < words[w].len ? n - i : words[w].len;

		if (s[i] != (unsigned char) words[w].word[0])
			continue;
		if (memcmp(s + i, words[w].word, have) != 0)
			break;
		if (have < words[w].len)
		{
			*pos = n;
			return JSR_E_END;
		}
		i += words[w].len;
		/* "nullx", "true1": letters run on. */
		if (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
					  is_digit(s[i])))
		{
			*pos = i;
			return JSR_E_CHAR;
		}
		*pos = i;
		*type = words[w].type;
		return 0;
	}
	return JSR_E_CHAR;
}

static int
fail(jsr_doc *d, int error, size_t at)
{
	d->error = error;
	d->error_at = at;
	d->ntok = 0;
	return error;
}

#define SKIP_WS() \
	do { \
		while (i < n && is_ws(s[i])) \
			i++; \
	} while (0)

/*
 * The grammar as a few labelled states, jumped between with goto (the usual
 * shape of a fast hand-written parser): `value` parses one value, `key` one
 * member name and its colon, `after` decides what follows a value from the
 * innermost open container (kept in stack[], its kind in is_object[]).
 */
int
jsr_parse(jsr_doc *d, const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *) text;
	const size_t n = len;
	size_t		i = 0;
	uint32_t	stack[JSR_MAX_DEPTH];
	bool		is_object[JSR_MAX_DEPTH];
	int			depth = 0;
	int			t;
	int			err;
	unsigned char c;

	d->text = text;
	d->len = len;
	d->ntok = 0;
	d->error = 0;
	d->error_at = 0;
	if (len > JSR_MAX_LEN)
		return fail(d, JSR_E_TOO_LONG, 0);

	SKIP_WS();
	if (i >= n)
		return fail(d, JSR_E_EMPTY, i);

value:
	/* s[i] is the first byte of a value (not whitespace), i < n. */
	c = s[i];
	if (depth > 0 && !is_object[depth - 1])
		d->tok[stack[depth - 1]].count++;
	if (c == '"')
	{
		bool		escaped = false;
		size_t		start = i + 1;

		i = start;
		err = scan_string(s, n, &i, &escaped);
		if (err)
			return fail(d, err, i);
		t = new_token(d, JSR_STRING, start);
		if (t < 0)
			return fail(d, JSR_E_NOMEM, start);
		d->tok[t].len = (uint32_t) (i - start);
		d->tok[t].escaped = escaped;
		i++;
		goto after;
	}
	if (c == '{' || c == '[')
	{
		if (depth >= JSR_MAX_DEPTH)
			return fail(d, JSR_E_DEPTH, i);
		t = new_token(d, c == '{' ? JSR_OBJECT : JSR_ARRAY, i);
		if (t < 0)
			return fail(d, JSR_E_NOMEM, i);
		stack[depth] = (uint32_t) t;
		is_object[depth] = c == '{';
		depth++;
		i++;
		SKIP_WS();
		if (i >= n)
			return fail(d, JSR_E_END, i);
		if (s[i] == (c == '{' ? '}' : ']'))
			goto close;
		if (c == '{')
			goto key;
		goto value;
	}
	if (c == '-' || is_digit(c))
	{
		size_t		start = i;

		err = scan_number(s, n, &i);
		if (err)
			return fail(d, err, i);
		t = new_token(d, JSR_NUMBER, start);
		if (t < 0)
			return fail(d, JSR_E_NOMEM, start);
		d->tok[t].len = (uint32_t) (i - start);
		goto after;
	}
	{
		size_t		start = i;
		jsr_type	type = JSR_NONE;

		err = scan_literal(s, n, &i, &type);
		if (err)
			return fail(d, err, i);
		t = new_token(d, type, start);
		if (t < 0)
			return fail(d, JSR_E_NOMEM, start);
		d->tok[t].len = (uint32_t) (i - start);
		goto after;
	}

key:
	/* s[i] should open a member name (not whitespace), i < n. */
	if (s[i] != '"')
		return fail(d, JSR_E_CHAR, i);
	{
		bool		escaped = false;
		size_t		start = i + 1;

		i = start;
		err = scan_string(s, n, &i, &escaped);
		if (err)
			return fail(d, err, i);
		t = new_token(d, JSR_STRING, start);
		if (t < 0)
			return fail(d, JSR_E_NOMEM, start);
		d->tok[t].len = (uint32_t) (i - start);
		d->tok[t].escaped = escaped;
		d->tok[stack[depth - 1]].count++;
		i++;
	}
	SKIP_WS();
	if (i >= n)
		return fail(d, JSR_E_END, i);
	if (s[i] != ':')
		return fail(d, JSR_E_CHAR, i);
	i++;
	SKIP_WS();
	if (i >= n)
		return fail(d, JSR_E_END, i);
	goto value;

after:
	/* A value has just ended at s[i - 1]. */
	SKIP_WS();
	if (depth == 0)
	{
		if (i < n)
			return fail(d, JSR_E_TRAILING, i);
		return 0;
	}
	if (i >= n)
		return fail(d, JSR_E_END, i);
	c = s[i];
	if (c == ',')
	{
		i++;
		SKIP_WS();
		if (i >= n)
			return fail(d, JSR_E_END, i);
		if (is_object[depth - 1])
			goto key;
		goto value;
	}
	if (c != (is_object[depth - 1] ? '}' : ']'))
		return fail(d, JSR_E_CHAR, i);

close:
	/* s[i] closes the innermost container. */
	{
		jsr_token  *top = &d->tok[stack[--depth]];

		top->next = d->ntok;
		top->len = (uint32_t) (i + 1 - top->start);
		i++;
	}
	goto after;
}

#undef SKIP_WS
