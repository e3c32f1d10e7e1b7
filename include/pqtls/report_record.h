/*
 * report_record.h: one record of `pqtls report` read and folded into its
 * group (report_group.h).  Internal to the report (report.c feeds it lines).
 *
 *     report_reader rd;
 *     report_reader_init(&rd);
 *     why = report_reader_add(&rd, &table, json, len, column, &breaks);
 *     report_reader_free(&rd);
 *
 * The reader checks and tokenises the JSON (jsonread.c, no allocation per
 * record), picks the members the report needs in one walk over the root
 * object, and uses strings where they lie in the line (or, when they hold
 * escapes, unescaped into a scratch area sized from the line), so the time
 * per record stays flat.
 */
#ifndef PQTLS_REPORT_RECORD_H
#define PQTLS_REPORT_RECORD_H

#include <stdbool.h>
#include <stddef.h>

#include "pqtls/jsonread.h"
#include "pqtls/report_group.h"

typedef struct report_reader
{
	jsr_doc		doc;
	char	   *arena;			/* unescaped strings of the current record */
	size_t		arena_cap;
	size_t		arena_used;
	char	   *message;		/* journald's MESSAGE, unescaped */
	size_t		message_cap;
	char		why[96];		/* why the last line was not a record */
} report_reader;

void		report_reader_init(report_reader *rd);
void		report_reader_free(report_reader *rd);

/*
 * The JSON object at json[0..n) (a line from its first '{', which stands at
 * column + 1 of the line) added to its group in table.  Returns NULL when it
 * was a record (*breaks: it would break), else why not (a JSON error names
 * its column).
 */
const char *report_reader_add(report_reader *rd, report_table *table, const char *json,
							  size_t n, size_t column, bool *breaks);

#endif
