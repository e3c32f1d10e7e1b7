/*
 * cmd_report.c: `pqtls report [--format table|json|csv|html|prometheus] [FILE...|-]`
 * (SPEC, "The command line"; the grouping itself is report.c).
 *
 * Exit status: 2 when an input could not be read (the report of the others
 * is still printed) or on a usage error, else 1 when anything would break,
 * else 0; so a pipeline can gate on it.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pqtls/cli.h"
#include "pqtls/report.h"

static const char usage[] =
	"usage: pqtls report [--format table|json|csv|html|prometheus] [FILE...|-]\n"
	"\n"
	"Group pqtls records by program, endpoint, user and TLS settings, with counts\n"
	"and the worst verdict of each group; the groups that would break come first.\n"
	"\n"
	"Reads each FILE (\"-\" or none: standard input): one record per line, as\n"
	"PQTLS_LOG writes them, or behind a syslog or journald prefix (the record is\n"
	"the JSON object from the first '{' of a line); `journalctl -o json` lines too.\n"
	"Malformed lines are counted and named on stderr, and skipped.\n"
	"\n"
	"options:\n"
	"  --format FMT   table (default: aligned, for a terminal; coloured when\n"
	"                 standard output is a terminal, NO_COLOR is unset and TERM\n"
	"                 is not \"dumb\"), json (one document), csv (RFC 4180),\n"
	"                 html (one self-contained page: counts as bars, what to\n"
	"                 change first, every group with filters), prometheus (the\n"
	"                 text format, for node_exporter's textfile collector)\n"
	"  --help         this text\n"
	"  --version      the version of pqtls\n"
	"\n"
	"A group would break when any of its records has after_rotation \"breaks\" or\n"
	"dry_run.result \"fail\".\n"
	"\n"
	"exit status: 0 nothing would break, 1 something would break,\n"
	"             2 an input could not be read, or a usage error\n";

static bool
use_colour(void)
{
	const char *no_color = getenv("NO_COLOR");
	const char *term = getenv("TERM");

	if (!isatty(STDOUT_FILENO))
		return false;
	/* https://no-color.org: present and not empty disables colour. */
	if (no_color != NULL && no_color[0] != '\0')
		return false;
	if (term != NULL && strcmp(term, "dumb") == 0)
		return false;
	return true;
}

int
cmd_report(int argc, char **argv)
{
	report_format fmt = REPORT_TABLE;
	const char **files;
	int			nfiles = 0;
	bool		unreadable = false;
	bool		options_done = false;
	report	   *r;
	int			rc;

	rc = cli_common_flags(argc, argv, usage);
	if (rc >= 0)
		return rc;

	files = calloc((size_t) argc + 1, sizeof(char *));
	if (files == NULL)
	{
		fputs("pqtls report: out of memory\n", stderr);
		return 2;
	}
	for (int i = 1; i < argc; i++)
	{
		const char *a = argv[i];
		const char *value = NULL;

		if (options_done || a[0] != '-' || strcmp(a, "-") == 0)
		{
			files[nfiles++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0)
		{
			options_done = true;
			continue;
		}
		if (strcmp(a, "--format") == 0 || strcmp(a, "-f") == 0)
		{
			if (i + 1 >= argc)
			{
				free(files);
				return cli_usage_error("report", "%s needs a value: table, json, csv, html or prometheus", a);
			}
			value = argv[++i];
		}
		else if (strncmp(a, "--format=", 9) == 0)
			value = a + 9;
		else
		{
			free(files);
			return cli_usage_error("report", "unknown option '%s'", a);
		}
		if (report_format_by_name(value, &fmt) != 0)
		{
			free(files);
			return cli_usage_error("report", "unknown format '%s': table, json, csv, html or prometheus", value);
		}
	}
	if (nfiles == 0)
		files[nfiles++] = "-";

	r = report_new();
	if (r == NULL)
	{
		free(files);
		fputs("pqtls report: out of memory\n", stderr);
		return 2;
	}
	for (int i = 0; i < nfiles; i++)
		if (report_feed_file(r, files[i]) != 0)
			unreadable = true;

	report_print(r, stdout, fmt, fmt == REPORT_TABLE && use_colour());
	if (fflush(stdout) != 0 || ferror(stdout))
	{
		perror("pqtls report: writing the report");
		unreadable = true;
	}
	report_print_malformed(r, stderr);

	rc = unreadable ? 2 : report_would_break(r) ? 1 : 0;
	report_free(r);
	free(files);
	return rc;
}
