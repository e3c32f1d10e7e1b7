/*
 * report_text.h: text the report's formats share: terminal-safe strings
 * (control characters from records never reach a terminal), the cells that
 * describe a group in words (endpoint, sslmode, outcomes, protocols), paths
 * shortened to a column, and ANSI colours.
 */
#ifndef PQTLS_REPORT_TEXT_H
#define PQTLS_REPORT_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "pqtls/json.h"
#include "pqtls/report_group.h"

#define C_RED "\033[31m"
#define C_YELLOW "\033[33m"
#define C_GREEN "\033[32m"
#define C_BOLD "\033[1m"
#define C_RESET "\033[0m"

/* Display width: UTF-8 characters (continuation bytes take no column). */
size_t		report_text_width(const char *s);

/* Append s with control characters (C0, DEL, C1 as UTF-8) shown as '?'. */
void		report_put_safe(pqtls_buf *b, const char *s);

/*
 * Append s for HTML text or a quoted attribute value: & < > " ' as
 * character references, control characters as '?' (as report_put_safe).
 */
void		report_put_html(pqtls_buf *b, const char *s);

/* The buffer's text, handed over (b is empty again); "" when nothing was added. */
char	   *report_buf_take(pqtls_buf *b);

/* A terminal-safe copy of s (NULL: ""). */
char	   *report_safe_dup(const char *s);

/*
 * A path cut to at most max columns, keeping its end ("..." and the longest
 * tail that begins at a '/').  Takes ownership of s.
 */
char	   *report_shorten_path(char *s, size_t max);

/* The last component of a path; "?" for NULL. */
const char *report_base_name(const char *path);

/* "host:port", "[v6]:port", or a Unix socket's path. */
void		report_put_endpoint(pqtls_buf *b, const report_group *g);

/* "prefer (default)", "verify-full (enforced; asked prefer)". */
void		report_put_sslmode(pqtls_buf *b, const report_group *g);

/* "3 ok, 1 failed". */
void		report_put_outcomes(pqtls_buf *b, const report_group *g);

/* The protocols seen, separated by sep; "none" for records without TLS. */
void		report_put_protocols(pqtls_buf *b, const report_group *g, const char *sep);

/* rootcert_exists is false. */
bool		report_root_missing(const report_group *g);

/* The colour of a status (NULL for none). */
const char *report_status_colour(int status);

/* Write the buffer out and empty it. */
void		report_flush(pqtls_buf *b, FILE *out);

#endif
