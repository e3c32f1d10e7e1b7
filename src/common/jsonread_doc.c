/*
 * jsonread_doc.c: a parsed JSON document's life and its tokens read
 * (jsonread.h): types, numbers, booleans, walking containers, members by
 * key and by path.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "pqtls/jsonread.h"
#include "pqtls/jsonread_parts.h"

void
jsr_init(jsr_doc *d)
{
	memset(d, 0, sizeof(*d));
}

void
jsr_free(jsr_doc *d)
{
	free(d->tok);
	jsr_init(d);
}

const char *
jsr_strerror(int error)
{
	switch ((jsr_error) error)
	{
		case JSR_OK:
			return "valid JSON";
		case JSR_E_EMPTY:
			return "no JSON value";
		case JSR_E_END:
			return "unexpected end of text (truncated?)";
		case JSR_E_CHAR:
			return "unexpected character";
		case JSR_E_ESCAPE:
			return "invalid escape in a string";
		case JSR_E_SURROGATE:
			return "unpaired surrogate in a \\u escape";
		case JSR_E_UTF8:
			return "invalid UTF-8";
		case JSR_E_CONTROL:
			return "control character in a string";
		case JSR_E_NUMBER:
			return "invalid number";
		case JSR_E_DEPTH:
			return "nested too deep";
		case JSR_E_TRAILING:
			return "text after the JSON value";
		case JSR_E_TOO_LONG:
			return "text too long";
		case JSR_E_NOMEM:
			return "out of memory";
	}
	return "invalid JSON";
}

jsr_type
jsr_type_of(const jsr_doc *d, int t)
{
	const jsr_token *k = jsr_token_at(d, t);

	return k ? (jsr_type) k->type : JSR_NONE;
}

bool
jsr_is_null(const jsr_doc *d, int t)
{
	return jsr_type_of(d, t) == JSR_NULL;
}

bool
jsr_is_bool(const jsr_doc *d, int t)
{
	jsr_type	y = jsr_type_of(d, t);

	return y == JSR_TRUE || y == JSR_FALSE;
}

bool
jsr_is_number(const jsr_doc *d, int t)
{
	return jsr_type_of(d, t) == JSR_NUMBER;
}

bool
jsr_is_string(const jsr_doc *d, int t)
{
	return jsr_type_of(d, t) == JSR_STRING;
}

bool
jsr_is_object(const jsr_doc *d, int t)
{
	return jsr_type_of(d, t) == JSR_OBJECT;
}

bool
jsr_is_array(const jsr_doc *d, int t)
{
	return jsr_type_of(d, t) == JSR_ARRAY;
}

bool
jsr_get_bool(const jsr_doc *d, int t, bool *out)
{
	jsr_type	y = jsr_type_of(d, t);

	if (y != JSR_TRUE && y != JSR_FALSE)
		return false;
	*out = y == JSR_TRUE;
	return true;
}

bool
jsr_get_int(const jsr_doc *d, int t, long long *out)
{
	const jsr_token *k = jsr_token_at(d, t);
	const char *p;
	size_t		i = 0;
	bool		neg = false;
	unsigned long long v = 0;
	unsigned long long limit;

	if (k == NULL || k->type != JSR_NUMBER)
		return false;
	p = d->text + k->start;
	if (p[0] == '-')
	{
		neg = true;
		i = 1;
	}
	limit = neg ? (unsigned long long) LLONG_MAX + 1 : (unsigned long long) LLONG_MAX;
	for (; i < k->len; i++)
	{
		unsigned	digit;

		if (!is_digit((unsigned char) p[i]))
			return false;		/* a fraction or an exponent */
		digit = (unsigned) (p[i] - '0');
		if (v > (limit - digit) / 10)
			return false;
		v = v * 10 + digit;
	}
	if (neg)
		*out = v == (unsigned long long) LLONG_MAX + 1 ? LLONG_MIN : -(long long) v;
	else
		*out = (long long) v;
	return true;
}

int
jsr_first(const jsr_doc *d, int container)
{
	const jsr_token *k = jsr_token_at(d, container);

	if (k == NULL || (k->type != JSR_OBJECT && k->type != JSR_ARRAY) || k->count == 0)
		return -1;
	return container + 1;
}

int
jsr_next(const jsr_doc *d, int container, int child)
{
	const jsr_token *k = jsr_token_at(d, container);
	uint32_t	n;

	if (k == NULL || child <= container || (uint32_t) child >= k->next)
		return -1;
	if (k->type == JSR_OBJECT)
	{
		if ((uint32_t) child + 1 >= k->next)
			return -1;
		n = d->tok[child + 1].next;
	}
	else if (k->type == JSR_ARRAY)
		n = d->tok[child].next;
	else
		return -1;
	return n < k->next ? (int) n : -1;
}

int
jsr_member(const jsr_doc *d, int obj, const char *key, size_t keylen)
{
	const jsr_token *o = jsr_token_at(d, obj);
	int			found = -1;

	if (o == NULL || o->type != JSR_OBJECT)
		return -1;
	for (int k = jsr_first(d, obj); k >= 0; k = jsr_next(d, obj, k))
		if (jsr_string_eq(d, k, key, keylen))
			found = k + 1;
	return found;
}

int
jsr_find(const jsr_doc *d, int from, const char *path)
{
	int			t = from;
	const char *p = path;

	if (jsr_token_at(d, from) == NULL)
		return -1;
	if (path == NULL || *path == '\0')
		return from;
	for (;;)
	{
		const char *dot = strchr(p, '.');
		size_t		n = dot ? (size_t) (dot - p) : strlen(p);

		t = jsr_member(d, t, p, n);
		if (t < 0 || dot == NULL)
			return t;
		p = dot + 1;
	}
}

const char *
jsr_raw(const jsr_doc *d, int t, size_t *len)
{
	const jsr_token *k = jsr_token_at(d, t);

	if (k == NULL)
	{
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = k->len;
	return d->text + k->start;
}

