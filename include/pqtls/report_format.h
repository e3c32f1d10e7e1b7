/*
 * report_format.h: one output format of `pqtls report` (report.h lists
 * them).  A format is one file, src/cli/report_<name>.c, that defines one
 * report_formatter and reads nothing but the view below and report_group.h;
 * report_text.h has what formats for people share (terminal-safe text,
 * endpoints, colours).
 *
 * Adding a format: a value in report.h's report_format, a file defining
 * `const report_formatter report_format_<name>`, and its line in the
 * registry at the top of report.c.  `pqtls report --format NAME` finds it by
 * its name.
 */
#ifndef PQTLS_REPORT_FORMAT_H
#define PQTLS_REPORT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "pqtls/report.h"
#include "pqtls/report_group.h"

/* What a format prints: the groups sorted (report_table_sorted) and the totals. */
typedef struct report_view
{
	report_group *const *groups;
	size_t		ngroups;
	long		records;		/* grouped records */
	long		malformed;		/* malformed lines */
	bool		would_break;
} report_view;

typedef struct report_formatter
{
	const char *name;			/* for --format; NULL: not offered there */
	report_format id;
	/* color: the terminal takes ANSI colours (formats for programs ignore it). */
	void		(*print) (const report_view *v, FILE *out, bool color);
} report_formatter;

extern const report_formatter report_format_table;
extern const report_formatter report_format_json;
extern const report_formatter report_format_csv;
extern const report_formatter report_format_summary;
extern const report_formatter report_format_html;
extern const report_formatter report_format_prometheus;

#endif
