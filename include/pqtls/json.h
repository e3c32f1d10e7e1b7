/*
 * json.h: a growable text buffer and a JSON writer on top of it.
 *
 * Records must be valid JSON whatever the program passed to libpq: strings are
 * escaped (quotes, backslashes, every control character), and bytes that are not
 * valid UTF-8 become U+FFFD, so one record is always one line of valid UTF-8.
 * Allocation failure is sticky (`oom`): the writer keeps going as a no-op and the
 * caller drops the record instead of writing half of one.
 */
#ifndef PQTLS_JSON_H
#define PQTLS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pqtls_buf
{
	char	   *data;			/* NUL-terminated when len > 0 */
	size_t		len;
	size_t		cap;
	bool		oom;
} pqtls_buf;

void		buf_init(pqtls_buf *b);
void		buf_free(pqtls_buf *b);
void		buf_reset(pqtls_buf *b);
void		buf_append(pqtls_buf *b, const char *s, size_t n);
void		buf_puts(pqtls_buf *b, const char *s);
void		buf_putc(pqtls_buf *b, char c);
void		buf_printf(pqtls_buf *b, const char *fmt,...) __attribute__((format(printf, 2, 3)));

#define JSON_MAX_DEPTH 16

typedef struct json_writer
{
	pqtls_buf  *out;
	int			depth;
	bool		need_comma[JSON_MAX_DEPTH];
	bool		after_key;
} json_writer;

void		json_init(json_writer *w, pqtls_buf *out);
void		json_begin_object(json_writer *w);
void		json_end_object(json_writer *w);
void		json_begin_array(json_writer *w);
void		json_end_array(json_writer *w);
void		json_key(json_writer *w, const char *key);
void		json_string(json_writer *w, const char *s);	/* NULL writes null */
void		json_stringn(json_writer *w, const char *s, size_t n);
void		json_int(json_writer *w, long long v);
void		json_bool(json_writer *w, bool v);
void		json_null(json_writer *w);

/* Shorthands for "key": value. */
void		json_kv_string(json_writer *w, const char *key, const char *s);
void		json_kv_int(json_writer *w, const char *key, long long v);
void		json_kv_bool(json_writer *w, const char *key, bool v);

/* Escape one string into b, quoted (the primitive the writer uses). */
void		json_escape(pqtls_buf *b, const char *s, size_t n);

#endif
