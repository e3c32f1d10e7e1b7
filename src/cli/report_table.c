/*
 * report_table.c: `pqtls report --format table`, for a person at a terminal
 * (report.h): aligned columns, long paths shortened in the middle, the detail
 * of each group that breaks or downgrades, a totals line.
 */
#include <stdlib.h>
#include <string.h>

#include "pqtls/report_format.h"
#include "pqtls/report_text.h"

enum column
{
	COL_NUM,
	COL_STATUS,
	COL_COUNT,
	COL_PROGRAM,
	COL_ENDPOINT,
	COL_USER,
	COL_SSLMODE,
	COL_ROOT,
	COL_VERIFY,
	COL_OUTCOMES,
	COL_TLS,
	COL_DRY_RUN,
	COL_ROTATION,
	N_COLUMNS
};

static const struct
{
	const char *title;
	bool		right;
	size_t		max;			/* longer cells are shortened (0: never) */
}			columns[N_COLUMNS] = {
	{"#", true, 0},
	{"STATUS", false, 0},
	{"COUNT", true, 0},
	{"PROGRAM", false, 32},
	{"ENDPOINT", false, 40},
	{"USER", false, 24},
	{"SSLMODE", false, 0},
	{"ROOT FILE", false, 44},
	{"VERIFY", false, 0},
	{"OUTCOMES", false, 0},
	{"TLS", false, 0},
	{"DRY-RUN", false, 0},
	{"AFTER ROTATION", false, 0},
};

static void
table_cells(const report_group *g, size_t row, char **cell)
{
	pqtls_buf	b;

	buf_init(&b);
#define NEXT(col) do { buf_append(&b, "", 0); cell[col] = report_buf_take(&b); } while (0)
	buf_printf(&b, "%zu", row + 1);
	NEXT(COL_NUM);
	buf_puts(&b, g->status == ST_OBSERVED ? "-" : report_status_names[g->status]);
	NEXT(COL_STATUS);
	buf_printf(&b, "%ld", g->count);
	NEXT(COL_COUNT);
	cell[COL_PROGRAM] = report_shorten_path(report_safe_dup(g->f[K_EXE]), columns[COL_PROGRAM].max);
	report_put_endpoint(&b, g);
	NEXT(COL_ENDPOINT);
	cell[COL_ENDPOINT] = report_shorten_path(cell[COL_ENDPOINT], columns[COL_ENDPOINT].max);
	report_put_safe(&b, g->f[K_USER] ? g->f[K_USER] : "-");
	NEXT(COL_USER);
	cell[COL_USER] = report_shorten_path(cell[COL_USER], columns[COL_USER].max);
	report_put_sslmode(&b, g);
	NEXT(COL_SSLMODE);
	if (g->f[K_ROOTCERT_FILE] != NULL)
	{
		char	   *p = report_shorten_path(report_safe_dup(g->f[K_ROOTCERT_FILE]), columns[COL_ROOT].max);

		buf_puts(&b, p);
		free(p);
		if (report_root_missing(g))
			buf_puts(&b, " (missing)");
	}
	else
		buf_putc(&b, '-');
	NEXT(COL_ROOT);
	report_put_safe(&b, g->f[K_VERIFY] ? g->f[K_VERIFY] : "-");
	NEXT(COL_VERIFY);
	report_put_outcomes(&b, g);
	NEXT(COL_OUTCOMES);
	report_put_protocols(&b, g, ",");
	if (b.len == 0)
		buf_putc(&b, '-');
	NEXT(COL_TLS);
	if (g->dry_rank == DRY_NONE)
		buf_putc(&b, '-');
	else
	{
		buf_puts(&b, report_dry_result_name(g));
		if (g->dry_rank != DRY_PASS && g->dry_reason)
		{
			buf_puts(&b, ": ");
			report_put_safe(&b, g->dry_reason);
		}
		if (g->dry_pass > 0 && g->dry_fail > 0)
			buf_printf(&b, " (%ld of %ld)", g->dry_fail, g->dry_fail + g->dry_pass);
	}
	NEXT(COL_DRY_RUN);
	buf_puts(&b, report_rot_name(g) ? report_rot_name(g) : "-");
	NEXT(COL_ROTATION);
#undef NEXT
}

static void
pad(FILE *out, size_t n)
{
	while (n-- > 0)
		fputc(' ', out);
}

static void
print_cell(FILE *out, const char *text, size_t width, bool right, bool last, const char *colour)
{
	size_t		w = report_text_width(text);

	if (right)
		pad(out, width - w);
	if (colour)
		fprintf(out, "%s%s%s", colour, text, C_RESET);
	else
		fputs(text, out);
	if (!right && !last)
		pad(out, width - w);
}

/* The cells of every group, each column's width, and how many break and downgrade. */
static char **
table_layout(const report_view *v, size_t *width, long *breaking, long *downgrading)
{
	char	  **cells = report_xcalloc(v->ngroups * N_COLUMNS + 1, sizeof(char *));

	for (int c = 0; c < N_COLUMNS; c++)
		width[c] = strlen(columns[c].title);
	*breaking = *downgrading = 0;
	for (size_t i = 0; i < v->ngroups; i++)
	{
		table_cells(v->groups[i], i, cells + i * N_COLUMNS);
		for (int c = 0; c < N_COLUMNS; c++)
		{
			size_t		w = report_text_width(cells[i * N_COLUMNS + c]);

			if (w > width[c])
				width[c] = w;
		}
		if (v->groups[i]->status == ST_BREAKS)
			(*breaking)++;
		else if (v->groups[i]->status == ST_DOWNGRADES)
			(*downgrading)++;
	}
	return cells;
}

static void
print_rows(const report_view *v, FILE *out, bool color, char **cells, const size_t *width)
{
	for (int c = 0; c < N_COLUMNS; c++)
	{
		if (c > 0)
			fputs("  ", out);
		print_cell(out, columns[c].title, width[c], columns[c].right, c == N_COLUMNS - 1,
				   color ? C_BOLD : NULL);
	}
	fputc('\n', out);
	for (size_t i = 0; i < v->ngroups; i++)
	{
		for (int c = 0; c < N_COLUMNS; c++)
		{
			const char *colour = NULL;

			if (c > 0)
				fputs("  ", out);
			if (color && c == COL_STATUS)
				colour = report_status_colour(v->groups[i]->status);
			print_cell(out, cells[i * N_COLUMNS + c], width[c], columns[c].right,
					   c == N_COLUMNS - 1, colour);
		}
		fputc('\n', out);
	}
}

/* ": text" and the line's end, text made terminal-safe ("(no detail)" for NULL). */
static void
end_detail(FILE *out, const char *text)
{
	char	   *line = report_safe_dup(text ? text : "(no detail)");

	fprintf(out, ": %s\n", line);
	free(line);
}

/* What a person must act on, in full: one paragraph per group that breaks or downgrades. */
static void
print_details(const report_view *v, FILE *out, bool color)
{
	for (size_t i = 0; i < v->ngroups; i++)
	{
		const report_group *g = v->groups[i];
		pqtls_buf	b;
		const char *colour = color ? report_status_colour(g->status) : NULL;
		char	   *line;

		if (g->status != ST_BREAKS && g->status != ST_DOWNGRADES)
			continue;
		buf_init(&b);
		buf_append(&b, "", 0);
		report_put_safe(&b, g->f[K_EXE] ? g->f[K_EXE] : "?");
		buf_puts(&b, " -> ");
		report_put_endpoint(&b, g);
		if (g->f[K_USER])
		{
			buf_puts(&b, " as ");
			report_put_safe(&b, g->f[K_USER]);
		}
		line = report_buf_take(&b);
		fprintf(out, "#%zu %s%s%s: %s\n", i + 1, colour ? colour : "",
				report_status_names[g->status], colour ? C_RESET : "", line);
		free(line);
		if (g->rot_worst >= ROT_DOWNGRADES)
		{
			fprintf(out, "    after rotation %s", report_rotation_names[g->rot_worst]);
			end_detail(out, g->rot_detail);
		}
		if (g->dry_rank >= DRY_FAIL_INCONCLUSIVE)
		{
			fprintf(out, "    dry-run fail");
			if (g->dry_reason)
			{
				char	   *reason = report_safe_dup(g->dry_reason);

				fprintf(out, " (%s)", reason);
				free(reason);
			}
			end_detail(out, g->dry_detail);
		}
		if (g->failed > 0 && g->error != NULL)
		{
			fprintf(out, "    error");
			end_detail(out, g->error);
		}
	}
}

static void
print_totals(const report_view *v, FILE *out, bool color, long breaking, long downgrading)
{
	fprintf(out, "\n%ld record%s in %zu group%s", v->records, v->records == 1 ? "" : "s",
			v->ngroups, v->ngroups == 1 ? "" : "s");
	if (breaking > 0)
		fprintf(out, "; %s%ld would break%s", color ? C_RED : "", breaking, color ? C_RESET : "");
	if (downgrading > 0)
		fprintf(out, "; %s%ld would downgrade%s", color ? C_YELLOW : "", downgrading,
				color ? C_RESET : "");
	if (breaking + downgrading == 0)
		fprintf(out, "; nothing would break");
	if (v->malformed > 0)
		fprintf(out, "; %ld malformed line%s skipped", v->malformed, v->malformed == 1 ? "" : "s");
	fputc('\n', out);
}

static void
print_table(const report_view *v, FILE *out, bool color)
{
	size_t		width[N_COLUMNS];
	long		breaking,
				downgrading;
	char	  **cells;

	if (v->ngroups == 0)
	{
		fprintf(out, "no records");
		if (v->malformed > 0)
			fprintf(out, " (%ld malformed line%s)", v->malformed, v->malformed == 1 ? "" : "s");
		fputc('\n', out);
		return;
	}
	cells = table_layout(v, width, &breaking, &downgrading);
	print_rows(v, out, color, cells, width);
	if (breaking + downgrading > 0)
	{
		fputc('\n', out);
		print_details(v, out, color);
	}
	print_totals(v, out, color, breaking, downgrading);
	for (size_t i = 0; i < v->ngroups * N_COLUMNS; i++)
		free(cells[i]);
	free(cells);
}

const report_formatter report_format_table = {"table", REPORT_TABLE, print_table};
