/*
 * fuzz_json.c: the JSON writer (include/pqtls/json.h), checked by the reader.
 *
 * The input is a small program for the writer: a byte chooses the next step
 * (open an object or an array, close one, or write a value: a string, an
 * integer, a boolean, null) and strings and keys take the bytes that follow,
 * up to a 0xFF byte, whatever they are (invalid UTF-8, controls, NUL, quotes).
 * The steps are kept well formed by a model of the document (a key before
 * every member value, one root), except for the misuses the writer promises
 * to catch by failing the buffer (nesting deeper than JSON_MAX_DEPTH, closing
 * what is not open, two keys in a row), which the program may also ask for.
 *
 * Checked, for every input:
 *   - a buffer that did not fail holds one line (no raw newline) that the
 *     project's strict reader (jsonread.h) accepts;
 *   - every string and key reads back as the bytes written when those were
 *     valid UTF-8 without NUL (NUL comes back from \u0000), and otherwise as
 *     a reference conversion written here (each maximal ill-formed subpart
 *     becomes U+FFFD, as the Unicode standard's "best practice");
 *   - every integer reads back as itself (LLONG_MIN included);
 *   - json_escape() alone, on the whole input, is a valid JSON string.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pqtls/json.h"
#include "pqtls/jsonread.h"

#define MAX_VALUES 512

/* What the model expects at each token of the document, in document order. */
typedef struct expect
{
	int			type;			/* jsr_type */
	const uint8_t *s;			/* strings and keys: the bytes written */
	size_t		n;
	long long	i;
	bool		b;
} expect;

static expect want[MAX_VALUES * 2 + 8];
static int	nwant;

/* The reference conversion to UTF-8: Unicode 15, 3.9 table 3-7 and U+FFFD per maximal subpart. */
static size_t
ref_convert(const uint8_t *s, size_t n, uint8_t *out)
{
	size_t		o = 0;

	for (size_t i = 0; i < n;)
	{
		uint8_t		c = s[i];
		size_t		need;
		uint32_t	cp,
					min;

		if (c < 0x80)
		{
			out[o++] = c;
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			need = 1, cp = c & 0x1F, min = 0x80;
		else if (c >= 0xE0 && c <= 0xEF)
			need = 2, cp = c & 0x0F, min = 0x800;
		else if (c >= 0xF0 && c <= 0xF4)
			need = 3, cp = c & 0x07, min = 0x10000;
		else
		{
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
			continue;
		}
		/*
		 * Take continuation bytes while the prefix can still become a valid
		 * scalar value: check the value range once the second byte is known.
		 */
		size_t		k = 1;
		bool		ok = true;

		for (; k <= need; k++)
		{
			if (i + k >= n || (s[i + k] & 0xC0) != 0x80)
			{
				ok = false;
				break;
			}
			if (k == 1)
			{
				/* The smallest and largest value this prefix can still reach. */
				uint32_t	lo = ((cp << 6) | (s[i + 1] & 0x3F)) << (6 * (need - 1));
				uint32_t	hi = lo | ((1u << (6 * (need - 1))) - 1);

				if (hi < min || lo > 0x10FFFF || (lo >= 0xD800 && hi <= 0xDFFF))
				{
					ok = false;
					break;
				}
			}
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if (ok)
		{
			memcpy(out + o, s + i, need + 1);
			o += need + 1;
			i += need + 1;
		}
		else
		{
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i += k;				/* the maximal subpart: the lead and the bytes that fit */
		}
	}
	return o;
}

static void
check_string(const jsr_doc *d, int t, const expect *e)
{
	uint8_t    *ref = malloc(e->n * 3 + 1);
	size_t		reflen = ref_convert(e->s, e->n, ref);
	size_t		len = jsr_string_len(d, t);
	char	   *got = malloc(len + 1);

	if (jsr_type_of(d, t) != JSR_STRING || len == (size_t) -1)
		abort();
	if (jsr_string(d, t, got, len + 1) != len)
		abort();
	if (len != reflen || memcmp(got, ref, len) != 0)
		abort();
	if (!jsr_string_eq(d, t, (const char *) ref, reflen))
		abort();
	free(ref);
	free(got);
}

/* Bytes up to 0xFF (or the end), as one string argument. */
static const uint8_t *
take(const uint8_t **p, const uint8_t *end, size_t *n)
{
	const uint8_t *s = *p,
			   *stop = memchr(s, 0xFF, end - s);

	if (stop == NULL)
		stop = end;
	*n = stop - s;
	*p = stop < end ? stop + 1 : end;
	return s;
}

static void
escape_alone(const uint8_t *data, size_t size)
{
	pqtls_buf	b;
	jsr_doc		d;

	buf_init(&b);
	json_escape(&b, (const char *) data, size);
	if (b.oom)
		abort();
	jsr_init(&d);
	if (jsr_parse(&d, b.data, b.len) != 0 || jsr_type_of(&d, 0) != JSR_STRING)
		abort();
	if (memchr(b.data, '\n', b.len) != NULL)
		abort();
	{
		expect		e = {.type = JSR_STRING, .s = data, .n = size};

		check_string(&d, 0, &e);
	}
	jsr_free(&d);
	buf_free(&b);
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data,
			   *end = data + size;
	pqtls_buf	b;
	json_writer w;
	char		stack[JSON_MAX_DEPTH + 8];	/* the model: 'o' or 'a' per open container */
	int			depth = 0;
	bool		root_done = false,
				misuse = false;
	int			values = 0;
	jsr_doc		d;

	escape_alone(data, size);

	buf_init(&b);
	json_init(&w, &b);
	nwant = 0;
	while (p < end && values < MAX_VALUES && !misuse)
	{
		uint8_t		op = *p++;
		int			kind = op % 8;
		bool		in_object = depth > 0 && stack[depth - 1] == 'o';
		bool		closing = kind <= 1 && (op & 0x80) && depth > 0;
		size_t		n;
		const uint8_t *s;

		if (root_done && depth == 0)
			break;
		if (closing)
		{
			if (in_object && (op & 0x40))
			{
				/* A key and no value, then the close: the writer must fail the buffer. */
				json_key(&w, "k");
				misuse = true;
			}
			if (stack[depth - 1] == 'o')
				json_end_object(&w);
			else
				json_end_array(&w);
			depth--;
			if (depth == 0)
				root_done = true;
			continue;
		}
		if (in_object && kind == 2)
		{
			/* Two keys in a row: the writer must fail the buffer. */
			json_key(&w, "a");
			json_key(&w, "b");
			misuse = true;
			continue;
		}
		if (depth == 0 && kind == 2 && (op & 0x80))
		{
			/* Close what is not open: the writer must fail the buffer. */
			if (op & 0x40)
				json_end_object(&w);
			else
				json_end_array(&w);
			misuse = true;
			continue;
		}
		if (in_object)
		{
			/* A member value needs its key; json_key takes a C string (up to a NUL). */
			char	   *key;

			s = take(&p, end, &n);
			key = malloc(n + 1);
			memcpy(key, s, n);
			key[n] = '\0';
			json_key(&w, key);
			free(key);
			want[nwant++] = (expect) {.type = JSR_STRING, .s = s, .n = strnlen((const char *) s, n)};
		}
		switch (kind)
		{
			case 0:
			case 1:
				if (kind == 0)
					json_begin_object(&w);
				else
					json_begin_array(&w);
				want[nwant++] = (expect) {.type = kind == 0 ? JSR_OBJECT : JSR_ARRAY};
				stack[depth++] = kind == 0 ? 'o' : 'a';
				if (depth >= JSON_MAX_DEPTH)
					misuse = true;	/* too deep: the writer must fail the buffer */
				break;
			case 2:
				json_bool(&w, op & 0x10);
				want[nwant++] = (expect) {.type = (op & 0x10) ? JSR_TRUE : JSR_FALSE};
				break;
			case 3:
				s = take(&p, end, &n);
				json_stringn(&w, (const char *) s, n);
				want[nwant++] = (expect) {.type = JSR_STRING, .s = s, .n = n};
				break;
			case 4:
				{
					char	   *c;

					s = take(&p, end, &n);
					c = malloc(n + 1);
					memcpy(c, s, n);
					c[n] = '\0';
					json_string(&w, c);
					free(c);
					want[nwant++] = (expect) {.type = JSR_STRING, .s = s, .n = strnlen((const char *) s, n)};
				}
				break;
			case 5:
				{
					long long	v = 0;
					size_t		k = end - p < 8 ? (size_t) (end - p) : 8;

					memcpy(&v, p, k);
					p += k;
					if (op & 0x80)
						v = (op & 0x40) ? LLONG_MIN : LLONG_MAX;
					json_int(&w, v);
					want[nwant++] = (expect) {.type = JSR_NUMBER, .i = v};
				}
				break;
			case 6:
				json_null(&w);
				want[nwant++] = (expect) {.type = JSR_NULL};
				break;
			case 7:
				json_string(&w, NULL);
				want[nwant++] = (expect) {.type = JSR_NULL};
				break;
		}
		values++;
		if (depth == 0)
			root_done = true;
	}
	if (!misuse)
	{
		/* Close everything still open. */
		while (depth > 0)
		{
			if (stack[depth - 1] == 'o')
				json_end_object(&w);
			else
				json_end_array(&w);
			depth--;
		}
	}

	if (misuse)
	{
		if (!b.oom)
			abort();			/* a misuse the writer promises to catch */
	}
	else if (nwant > 0)
	{
		if (b.oom)
			abort();
		if (memchr(b.data, '\n', b.len) != NULL)
			abort();
		jsr_init(&d);
		if (jsr_parse(&d, b.data, b.len) != 0)
			abort();
		if ((int) d.ntok != nwant)
			abort();
		for (int t = 0; t < nwant; t++)
		{
			const expect *e = &want[t];
			long long	v;

			if ((int) jsr_type_of(&d, t) != e->type)
				abort();
			if (e->type == JSR_STRING)
				check_string(&d, t, e);
			else if (e->type == JSR_NUMBER && (!jsr_get_int(&d, t, &v) || v != e->i))
				abort();
		}
		jsr_free(&d);
	}
	buf_free(&b);
	return 0;
}
