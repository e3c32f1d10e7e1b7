/*
 * report_summary.c: the compact report `pqtls run` prints on stderr when its
 * program ends (report.h, REPORT_SUMMARY): one line per group.  Not offered
 * by `pqtls report --format`.
 */
#include <string.h>

#include "pqtls/json.h"
#include "pqtls/report_format.h"
#include "pqtls/report_text.h"

/* "psql -> host:5432: sslmode=..., root file ..., verify ...: outcomes". */
static void
put_connection(pqtls_buf *b, const report_group *g)
{
	buf_puts(b, "pqtls: ");
	report_put_safe(b, report_base_name(g->f[K_EXE]));
	buf_puts(b, " -> ");
	report_put_endpoint(b, g);
	buf_puts(b, ": sslmode=");
	report_put_sslmode(b, g);
	buf_puts(b, ", root file ");
	if (g->f[K_ROOTCERT_FILE])
	{
		report_put_safe(b, g->f[K_ROOTCERT_FILE]);
		if (report_root_missing(g))
			buf_puts(b, " (missing)");
	}
	else
		buf_puts(b, "none");
	buf_puts(b, ", verify ");
	report_put_safe(b, g->f[K_VERIFY] ? g->f[K_VERIFY] : "?");
	buf_puts(b, ": ");
	if (g->count == 1 && g->ok + g->failed + g->abandoned == 1)
		buf_puts(b, g->ok ? "ok" : g->failed ? "failed" : "abandoned");
	else
		report_put_outcomes(b, g);
}

/* "; dry-run fail (reason): detail" and "; after rotation breaks: detail". */
static void
put_verdicts(pqtls_buf *b, const report_group *g, bool color)
{
	const char *colour;

	if (g->dry_rank != DRY_NONE)
	{
		colour = color ? (g->dry_rank == DRY_PASS ? C_GREEN : C_RED) : NULL;
		buf_printf(b, "; dry-run %s%s%s", colour ? colour : "", report_dry_result_name(g),
				   colour ? C_RESET : "");
		if (g->dry_reason && g->dry_rank != DRY_PASS)
		{
			buf_puts(b, " (");
			report_put_safe(b, g->dry_reason);
			buf_putc(b, ')');
		}
		if (g->dry_detail)
		{
			buf_puts(b, ": ");
			report_put_safe(b, g->dry_detail);
		}
	}
	if (g->rot_worst != ROT_NONE)
	{
		colour = color ? (g->rot_worst == ROT_BREAKS ? C_RED :
						  g->rot_worst == ROT_DOWNGRADES ? C_YELLOW : C_GREEN) : NULL;
		buf_printf(b, "; after rotation %s%s%s", colour ? colour : "",
				   report_rotation_names[g->rot_worst], colour ? C_RESET : "");
		if (g->rot_detail)
		{
			buf_puts(b, ": ");
			report_put_safe(b, g->rot_detail);
		}
	}
}

static void
print_summary(const report_view *v, FILE *out, bool color)
{
	pqtls_buf	b;

	buf_init(&b);
	for (size_t i = 0; i < v->ngroups; i++)
	{
		buf_reset(&b);
		put_connection(&b, v->groups[i]);
		put_verdicts(&b, v->groups[i], color);
		buf_putc(&b, '\n');
		report_flush(&b, out);
	}
	buf_free(&b);
}

/* No name: `pqtls run` asks for it; `pqtls report --format` does not offer it. */
const report_formatter report_format_summary = {NULL, REPORT_SUMMARY, print_summary};
