/*
 * jsonread.h: a small, strict JSON reader for one line of text at a time.
 *
 * jsr_parse() checks the whole text against RFC 8259 and cuts it into tokens
 * that point into it (nothing is copied, nothing is written to the text); the
 * token array belongs to the jsr_doc and is reused and grown from one parse to
 * the next, so reading a stream of records allocates nothing per record once
 * the largest one has been seen.
 *
 * Strict means: one JSON value (of any type) with only whitespace around it;
 * strings must be valid UTF-8 without raw control characters; escapes are the
 * eight of the RFC plus \uXXXX, where a surrogate must come as a well-formed
 * high-low pair (a lone surrogate cannot be turned into UTF-8, so it is an
 * error); numbers follow the RFC's grammar (no leading zeros, '+', '.5', NaN);
 * nesting deeper than JSR_MAX_DEPTH is refused.  Whatever the input, the
 * reader never reads outside text[0 .. len-1] and needs no NUL terminator.
 *
 * Tokens are numbered in document order; the root value is token 0.  An
 * object's children are its keys, each followed by its value's token (and
 * that value's own children); `next` skips a value with everything inside it.
 *
 *     jsr_doc d;
 *     jsr_init(&d);
 *     if (jsr_parse(&d, line, len) == 0) {
 *         int t = jsr_find(&d, 0, "dry_run.result");
 *         char buf[64];
 *         if (jsr_is_string(&d, t) && jsr_string(&d, t, buf, sizeof buf) < sizeof buf)
 *             use(buf);
 *     }
 *     jsr_free(&d);
 *
 * Duplicate keys are allowed (the RFC only says they SHOULD be unique); a
 * lookup answers the last one, as JavaScript, Python's json and jq do.
 */
#ifndef PQTLS_JSONREAD_H
#define PQTLS_JSONREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Objects and arrays nested deeper than this are refused (records need 3). */
#define JSR_MAX_DEPTH 64

/* Texts longer than this are refused (token offsets are 32 bits). */
#define JSR_MAX_LEN ((size_t) 0x7FFFFFF0)

typedef enum jsr_type
{
	JSR_NONE = 0,				/* no such token (an index of -1) */
	JSR_OBJECT,
	JSR_ARRAY,
	JSR_STRING,
	JSR_NUMBER,
	JSR_TRUE,
	JSR_FALSE,
	JSR_NULL,
} jsr_type;

/* What jsr_parse() returns: 0, or one of these (negative). */
typedef enum jsr_error
{
	JSR_OK = 0,
	JSR_E_EMPTY = -1,			/* nothing but whitespace */
	JSR_E_END = -2,				/* the text ends inside a value */
	JSR_E_CHAR = -3,			/* a character that cannot be there */
	JSR_E_ESCAPE = -4,			/* a backslash escape that is not JSON */
	JSR_E_SURROGATE = -5,		/* a \u surrogate that is not part of a pair */
	JSR_E_UTF8 = -6,			/* bytes that are not UTF-8 */
	JSR_E_CONTROL = -7,			/* a raw control character in a string */
	JSR_E_NUMBER = -8,			/* a malformed number */
	JSR_E_DEPTH = -9,			/* nested deeper than JSR_MAX_DEPTH */
	JSR_E_TRAILING = -10,		/* something after the value */
	JSR_E_TOO_LONG = -11,		/* longer than JSR_MAX_LEN */
	JSR_E_NOMEM = -12,			/* the token array could not grow */
} jsr_error;

typedef struct jsr_token
{
	uint32_t	start;			/* offset of its first byte (strings: after the quote) */
	uint32_t	len;			/* its bytes (strings: raw contents, quotes excluded) */
	uint32_t	next;			/* the token after this value and all it contains */
	uint32_t	count;			/* objects: members; arrays: elements; else 0 */
	uint8_t		type;			/* jsr_type */
	uint8_t		escaped;		/* strings: holds at least one backslash escape */
} jsr_token;

typedef struct jsr_doc
{
	const char *text;			/* the text of the last parse (not owned) */
	size_t		len;
	jsr_token  *tok;			/* tok[0 .. ntok-1]; reused across parses */
	uint32_t	ntok;
	uint32_t	cap;
	int			error;			/* the last jsr_parse() result */
	size_t		error_at;		/* byte offset where the error was found */
} jsr_doc;

void		jsr_init(jsr_doc *d);
void		jsr_free(jsr_doc *d);

/*
 * Check and tokenise text[0 .. len-1].  Returns 0, or a jsr_error (negative)
 * with d->error_at the offset of the offending byte; after an error no token
 * may be used.
 */
int			jsr_parse(jsr_doc *d, const char *text, size_t len);

/* A short English phrase for a jsr_parse() result ("unexpected end of text"). */
const char *jsr_strerror(int error);

/* The type of token t; JSR_NONE when t is not a token (e.g. -1). */
jsr_type	jsr_type_of(const jsr_doc *d, int t);

bool		jsr_is_null(const jsr_doc *d, int t);
bool		jsr_is_bool(const jsr_doc *d, int t);
bool		jsr_is_number(const jsr_doc *d, int t);
bool		jsr_is_string(const jsr_doc *d, int t);
bool		jsr_is_object(const jsr_doc *d, int t);
bool		jsr_is_array(const jsr_doc *d, int t);

/* true/false into *out; returns false (leaving *out) when t is not a boolean. */
bool		jsr_get_bool(const jsr_doc *d, int t, bool *out);

/*
 * An integer number into *out; false when t is not a number, has a fraction
 * or an exponent, or does not fit in a long long.
 */
bool		jsr_get_int(const jsr_doc *d, int t, long long *out);

/*
 * The value of member `key` (key[0 .. keylen-1], compared after unescaping
 * the document's key) of object obj; -1 when obj is not an object or has no
 * such member.
 */
int			jsr_member(const jsr_doc *d, int obj, const char *key, size_t keylen);

/*
 * The value at a dotted path of member names below token from ("tls.peer.subject"
 * from the root, 0); -1 when any step is missing or not an object.  An empty
 * path answers from itself.  (A name containing '.' cannot be reached this
 * way: use jsr_member.)
 */
int			jsr_find(const jsr_doc *d, int from, const char *path);

/*
 * Children of an object or array, in order:
 *     for (int k = jsr_first(d, obj); k >= 0; k = jsr_next(d, obj, k))
 * For an object k is a key, and k + 1 its value.  -1 when there are no more
 * (or container is neither).
 */
int			jsr_first(const jsr_doc *d, int container);
int			jsr_next(const jsr_doc *d, int container, int child);

/*
 * The string of token t, unescaped to UTF-8, into buf[0 .. size-1], always
 * NUL-terminated when size > 0 (truncated, possibly inside a character, when
 * it does not fit).  Returns the full length of the unescaped string (like
 * snprintf: a result >= size means it was truncated), or (size_t) -1 when t
 * is not a string.  \u0000 becomes a NUL byte, counted in the length.
 */
size_t		jsr_string(const jsr_doc *d, int t, char *buf, size_t size);

/* The length jsr_string() would give, without writing; (size_t) -1 if not a string. */
size_t		jsr_string_len(const jsr_doc *d, int t);

/* Does string token t, unescaped, equal s[0 .. n-1]? false when not a string. */
bool		jsr_string_eq(const jsr_doc *d, int t, const char *s, size_t n);

/* The raw text of token t (a number's digits, a string's contents) and its length. */
const char *jsr_raw(const jsr_doc *d, int t, size_t *len);

#endif
