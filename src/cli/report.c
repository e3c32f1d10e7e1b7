/*
 * report.c: `pqtls report`'s input and output (see report.h).
 *
 * The report is cut into: this file (lines and files in, malformed lines,
 * the registry of output formats), report_record.c (one record read and
 * folded into its group), report_group.c (the groups and their order),
 * report_text.c (text the formats share), and one file per format
 * (report_table.c, report_json.c, report_csv.c, report_summary.c) behind
 * report_format.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pqtls/report.h"
#include "pqtls/report_format.h"
#include "pqtls/report_record.h"

#define READ_BUF_SIZE (2 * REPORT_MAX_LINE)

/* Every output format; --format finds them by name. */
static const report_formatter *const formats[] = {
	&report_format_table,
	&report_format_json,
	&report_format_csv,
	&report_format_summary,
	&report_format_html,
	&report_format_prometheus,
};

#define N_FORMATS (sizeof(formats) / sizeof(formats[0]))

typedef struct malformed_line
{
	char	   *source;
	long		lineno;
	char		why[96];
} malformed_line;

struct report
{
	const char *name;
	long		records;
	long		malformed;
	long		breaking;		/* records that would break */
	report_reader reader;
	report_table groups;

	malformed_line kept[REPORT_MALFORMED_KEPT];
	int			nkept;
};

/* ------------------------------------------------------------------ life */

report *
report_new(void)
{
	report	   *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->name = "pqtls report";
	report_reader_init(&r->reader);
	return r;
}

void
report_set_name(report *r, const char *name)
{
	r->name = name ? name : "pqtls report";
}

void
report_free(report *r)
{
	if (r == NULL)
		return;
	report_table_free(&r->groups);
	for (int i = 0; i < r->nkept; i++)
		free(r->kept[i].source);
	report_reader_free(&r->reader);
	free(r);
}

bool
report_would_break(const report *r)
{
	return r->breaking > 0;
}

long
report_records(const report *r)
{
	return r->records;
}

long
report_malformed(const report *r)
{
	return r->malformed;
}

long
report_groups(const report *r)
{
	return r->groups.ngroups;
}

/* ------------------------------------------------------------- malformed */

static void
malformed(report *r, const char *source, long lineno, const char *why)
{
	malformed_line *m;

	r->malformed++;
	if (r->nkept >= REPORT_MALFORMED_KEPT)
		return;
	m = &r->kept[r->nkept++];
	m->source = report_xstrdup(source ? source : "input");
	m->lineno = lineno;
	snprintf(m->why, sizeof(m->why), "%s", why);
}

void
report_print_malformed(const report *r, FILE *err)
{
	for (int i = 0; i < r->nkept; i++)
		fprintf(err, "%s: %s:%ld: malformed line: %s\n", r->name, r->kept[i].source,
				r->kept[i].lineno, r->kept[i].why);
	if (r->malformed > r->nkept)
		fprintf(err, "%s: %ld malformed lines in all (%d named above)\n", r->name,
				r->malformed, r->nkept);
	else if (r->malformed > 0)
		fprintf(err, "%s: %ld malformed line%s skipped\n", r->name, r->malformed,
				r->malformed == 1 ? "" : "s");
}

/* ------------------------------------------------------------------ input */

static bool
all_space(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n' &&
			s[i] != '\f' && s[i] != '\v')
			return false;
	return true;
}

void
report_feed_line(report *r, const char *line, size_t len, const char *source, long lineno)
{
	const char *brace;
	const char *why;
	bool		breaks;

	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len > REPORT_MAX_LINE)
	{
		malformed(r, source, lineno, "line too long");
		return;
	}
	brace = memchr(line, '{', len);
	if (brace == NULL)
	{
		if (!all_space(line, len))
			malformed(r, source, lineno, "no JSON object on the line");
		return;
	}
	why = report_reader_add(&r->reader, &r->groups, brace, len - (size_t) (brace - line),
							(size_t) (brace - line), &breaks);
	if (why != NULL)
	{
		malformed(r, source, lineno, why);
		return;
	}
	r->records++;
	if (breaks)
		r->breaking++;
}

int
report_feed_file(report *r, const char *path)
{
	bool		is_stdin = strcmp(path, "-") == 0;
	const char *name = is_stdin ? "stdin" : path;
	int			fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	char	   *buf;
	size_t		have = 0;
	long		lineno = 0;
	bool		skipping = false;
	int			rc = 0;

	if (fd < 0)
	{
		fprintf(stderr, "%s: cannot open %s: %s\n", r->name, path, strerror(errno));
		return -1;
	}
	/*
	 * Read once, front to back: a larger read-ahead keeps a cold file of
	 * gigabytes (a fleet's logs) from stalling the parse.
	 */
	(void) posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	buf = report_xmalloc(READ_BUF_SIZE);
	for (;;)
	{
		ssize_t		got = read(fd, buf + have, READ_BUF_SIZE - have);
		size_t		start = 0,
					scan;
		char	   *nl;

		if (got < 0)
		{
			if (errno == EINTR)
				continue;
			fprintf(stderr, "%s: cannot read %s: %s\n", r->name, name, strerror(errno));
			rc = -1;
			break;
		}
		if (got == 0)
		{
			/* A last line without its newline. */
			if (have > 0 && !skipping)
				report_feed_line(r, buf, have, name, ++lineno);
			break;
		}
		scan = have;
		have += (size_t) got;
		while ((nl = memchr(buf + scan, '\n', have - scan)) != NULL)
		{
			size_t		end = (size_t) (nl - buf);

			if (skipping)
				skipping = false;	/* the rest of a line too long, counted already */
			else
				report_feed_line(r, buf + start, end - start, name, ++lineno);
			start = scan = end + 1;
		}
		if (start > 0)
		{
			memmove(buf, buf + start, have - start);
			have -= start;
		}
		if (have > REPORT_MAX_LINE)
		{
			if (!skipping)
				malformed(r, name, ++lineno, "line too long");
			skipping = true;
			have = 0;
		}
	}
	free(buf);
	if (!is_stdin)
		close(fd);
	return rc;
}

/* ----------------------------------------------------------------- output */

int
report_format_by_name(const char *name, report_format *fmt)
{
	for (size_t i = 0; i < N_FORMATS; i++)
		if (formats[i]->name != NULL && strcmp(formats[i]->name, name) == 0)
		{
			*fmt = formats[i]->id;
			return 0;
		}
	return -1;
}

void
report_print(report *r, FILE *out, report_format fmt, bool color)
{
	size_t		n;
	report_group **v = report_table_sorted(&r->groups, &n);
	report_view view = {v, n, r->records, r->malformed, report_would_break(r)};

	for (size_t i = 0; i < N_FORMATS; i++)
		if (formats[i]->id == fmt)
			formats[i]->print(&view, out, color);
	free(v);
}
