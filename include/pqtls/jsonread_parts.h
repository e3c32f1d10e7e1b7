/*
 * jsonread_parts.h: what the files of the JSON reader share among themselves
 * (jsonread.c parses, jsonread_doc.c reads tokens, jsonread_string.c
 * unescapes).  Not for other modules: they use jsonread.h.
 */
#ifndef PQTLS_JSONREAD_PARTS_H
#define PQTLS_JSONREAD_PARTS_H

#include <stdbool.h>
#include <stddef.h>

#include "pqtls/jsonread.h"


static inline bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Four hex digits at s[i ..]: the code unit, -1 when one is not a hex digit,
 * -2 when the text ends first.
 */
static inline long
hex4(const unsigned char *s, size_t n, size_t i)
{
	long		v = 0;

	for (size_t k = 0; k < 4; k++)
	{
		int			h;

		if (i + k >= n)
			return -2;
		h = hex_value(s[i + k]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* Token t of a parsed document; NULL when out of range or the parse failed. */
static inline const jsr_token *
jsr_token_at(const jsr_doc *d, int t)
{
	if (t < 0 || (uint32_t) t >= d->ntok || d->error != 0)
		return NULL;
	return &d->tok[t];
}


#endif
