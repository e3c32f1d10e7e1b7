/*
 * fuzz_report.c: `pqtls report` reading record files (include/pqtls/report.h,
 * src/cli/report.c): log files may hold anything, hand-edited lines, other
 * programs' output, lines cut short by a full disk.
 *
 * The input is the file: it is fed line by line (report_feed_line, as
 * report_feed_file does) and the report printed in every format.
 *
 * Checked, for every input:
 *   - every line is a record or malformed, blank lines neither;
 *   - REPORT_JSON is one valid JSON document (the project's strict reader)
 *     whose "records", "malformed" and "would_break" agree with the
 *     report_* counters;
 *   - REPORT_TABLE and REPORT_SUMMARY never pass a control character from a
 *     record on to the terminal (only '\n', and ESC for colors when asked);
 *   - REPORT_CSV is RFC 4180: every row has the header's number of fields,
 *     CRLF ends every row, quotes are doubled inside quoted fields, and there
 *     is one row per group.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pqtls/jsonread.h"
#include "pqtls/report.h"

#define FAIL(...) do { fprintf(stderr, "fuzz_report: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

static char *
print(report *r, report_format fmt, bool color, size_t *len)
{
	char	   *out = NULL;
	FILE	   *f = open_memstream(&out, len);

	if (f == NULL)
		FAIL("open_memstream");
	report_print(r, f, fmt, color);
	fclose(f);
	return out;
}

static void
check_terminal(const char *s, size_t n, bool color, const char *what)
{
	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if ((c < 0x20 && c != '\n' && !(color && c == 0x1b)) || c == 0x7f)
			FAIL("%s: control character 0x%02x at %zu", what, c, i);
	}
}

/* Fields in one CSV row starting at s[*i]; -1 when malformed. */
static int
csv_row(const char *s, size_t n, size_t *i)
{
	int			fields = 0;

	for (;;)
	{
		fields++;
		if (*i < n && s[*i] == '"')
		{
			(*i)++;
			for (;;)
			{
				if (*i >= n)
					return -1;
				if (s[*i] == '"')
				{
					if (*i + 1 < n && s[*i + 1] == '"')
					{
						*i += 2;
						continue;
					}
					(*i)++;
					break;
				}
				(*i)++;
			}
		}
		else
		{
			while (*i < n && s[*i] != ',' && s[*i] != '\r' && s[*i] != '\n')
			{
				if (s[*i] == '"')
					return -1;	/* a quote in an unquoted field */
				(*i)++;
			}
		}
		if (*i < n && s[*i] == ',')
		{
			(*i)++;
			continue;
		}
		if (*i + 1 < n && s[*i] == '\r' && s[*i + 1] == '\n')
		{
			*i += 2;
			return fields;
		}
		return -1;				/* a row must end in CRLF */
	}
}

static void
check_csv(const char *s, size_t n, long groups)
{
	size_t		i = 0;
	int			header;
	long		rows = 0;

	if (n == 0)
		FAIL("csv: no header");
	header = csv_row(s, n, &i);
	if (header < 1)
		FAIL("csv: bad header");
	while (i < n)
	{
		int			f = csv_row(s, n, &i);

		if (f != header)
			FAIL("csv: row %ld has %d fields, the header %d", rows + 1, f, header);
		rows++;
	}
	if (rows != groups)
		FAIL("csv: %ld rows for %ld groups", rows, groups);
}

static void
check_json(const char *s, size_t n, const report *r)
{
	jsr_doc		d;
	long long	v;
	bool		b;

	jsr_init(&d);
	if (jsr_parse(&d, s, n) != 0)
		FAIL("json: not valid (%s at %zu)", jsr_strerror(d.error), d.error_at);
	if (!jsr_get_int(&d, jsr_find(&d, 0, "records"), &v) || v != report_records(r))
		FAIL("json: records");
	if (!jsr_get_int(&d, jsr_find(&d, 0, "malformed"), &v) || v != report_malformed(r))
		FAIL("json: malformed");
	if (!jsr_get_bool(&d, jsr_find(&d, 0, "would_break"), &b) || b != report_would_break(r))
		FAIL("json: would_break");
	if (jsr_type_of(&d, jsr_find(&d, 0, "groups")) != JSR_ARRAY ||
		(long) d.tok[jsr_find(&d, 0, "groups")].count != report_groups(r))
		FAIL("json: groups");
	jsr_free(&d);
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	report	   *r = report_new();
	const char *p = (const char *) data,
			   *end = p + size;
	long		lines = 0,
				lineno = 0;
	char	   *out;
	size_t		len;

	if (r == NULL)
		FAIL("report_new");
	report_set_name(r, "fuzz");
	while (p < end)
	{
		const char *nl = memchr(p, '\n', end - p);
		size_t		n = (nl ? nl : end) - p;
		bool		blank = true;

		for (size_t i = 0; i < n; i++)
			if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
				blank = false;
		lines += !blank;
		report_feed_line(r, p, n, "fuzz", ++lineno);
		p += n + (nl != NULL);
	}
	if (report_records(r) + report_malformed(r) > lines || report_records(r) < 0 ||
		report_malformed(r) < 0 || report_groups(r) > report_records(r))
		FAIL("%ld records and %ld malformed of %ld lines, %ld groups", report_records(r),
			 report_malformed(r), lines, report_groups(r));

	out = print(r, REPORT_JSON, false, &len);
	check_json(out, len, r);
	free(out);
	out = print(r, REPORT_CSV, false, &len);
	check_csv(out, len, report_groups(r));
	free(out);
	out = print(r, REPORT_TABLE, false, &len);
	check_terminal(out, len, false, "table");
	free(out);
	out = print(r, REPORT_TABLE, true, &len);
	check_terminal(out, len, true, "table in color");
	free(out);
	out = print(r, REPORT_SUMMARY, false, &len);
	check_terminal(out, len, false, "summary");
	free(out);
	{
		char	   *err = NULL;
		size_t		elen = 0;
		FILE	   *f = open_memstream(&err, &elen);

		report_print_malformed(r, f);
		fclose(f);
		check_terminal(err, elen, false, "malformed lines");
		free(err);
	}
	report_free(r);
	return 0;
}
