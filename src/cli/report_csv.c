/*
 * report_csv.c: `pqtls report --format csv` (report.h): RFC 4180, a header
 * row, then one row per group, CRLF line ends, fields quoted when they hold
 * '"', ',', CR or LF.
 */
#include <string.h>

#include "pqtls/json.h"
#include "pqtls/report_format.h"
#include "pqtls/report_text.h"

static void
csv_field(pqtls_buf *b, const char *s, bool first)
{
	if (!first)
		buf_putc(b, ',');
	if (s == NULL)
		return;
	if (strpbrk(s, "\",\r\n") == NULL)
	{
		buf_puts(b, s);
		return;
	}
	buf_putc(b, '"');
	for (const char *p = s; *p; p++)
	{
		if (*p == '"')
			buf_putc(b, '"');
		buf_putc(b, *p);
	}
	buf_putc(b, '"');
}

static void
csv_long(pqtls_buf *b, long v)
{
	buf_printf(b, ",%ld", v);
}

static const char *const csv_header[] = {
	"status", "would_break", "count", "ok", "failed", "abandoned", "processes",
	"exe", "host", "port", "user", "dbname", "transport", "sslmode", "sslmode_source",
	"sslrootcert_source", "rootcert_file", "rootcert_exists", "verify", "forced_from_sslmode",
	"tls_protocols", "no_tls", "issuer",
	"dry_run_result", "dry_run_reason", "dry_run_detail", "dry_run_pass", "dry_run_fail",
	"after_rotation", "after_rotation_detail", "after_rotation_unaffected",
	"after_rotation_ready", "after_rotation_downgrades", "after_rotation_breaks",
	"first_ts", "last_ts", "modes", "error",
};

/* Words separated by spaces: the names whose bit is set, then other (when not NULL). */
static void
csv_words(pqtls_buf *b, pqtls_buf *t, const char *const *names, size_t n, unsigned bits,
		  const char *other)
{
	buf_reset(t);
	buf_append(t, "", 0);
	for (size_t k = 0; k < n; k++)
		if (bits & (1u << k))
			buf_printf(t, "%s%s", t->len ? " " : "", names[k]);
	if (other)
		buf_printf(t, "%s%s", t->len ? " " : "", other);
	csv_field(b, t->data, false);
}

/* One group's row (t: scratch). */
static void
csv_row(pqtls_buf *b, pqtls_buf *t, const report_group *g)
{
	csv_field(b, report_status_names[g->status], true);
	csv_field(b, g->status == ST_BREAKS ? "true" : "false", false);
	csv_long(b, g->count);
	csv_long(b, g->ok);
	csv_long(b, g->failed);
	csv_long(b, g->abandoned);
	csv_long(b, (long) g->npids);
	csv_field(b, g->f[K_EXE], false);
	csv_field(b, g->f[K_HOST], false);
	csv_field(b, g->f[K_PORT], false);
	csv_field(b, g->f[K_USER], false);
	csv_field(b, g->dbname, false);
	csv_field(b, g->f[K_TRANSPORT], false);
	csv_field(b, g->f[K_SSLMODE], false);
	csv_field(b, g->f[K_SSLMODE_SOURCE], false);
	csv_field(b, g->f[K_SSLROOTCERT_SOURCE], false);
	csv_field(b, g->f[K_ROOTCERT_FILE], false);
	csv_field(b, g->f[K_ROOTCERT_EXISTS], false);
	csv_field(b, g->f[K_VERIFY], false);
	csv_field(b, g->f[K_FORCED_FROM] == NULL ? NULL :
			  g->f[K_FORCED_FROM][0] ? g->f[K_FORCED_FROM] : "default", false);
	csv_words(b, t, report_protocol_names, REPORT_N_PROTOCOLS, g->protocols, g->protocol_other);
	csv_long(b, g->no_tls);
	csv_field(b, g->issuer, false);
	csv_field(b, report_dry_result_name(g), false);
	csv_field(b, g->dry_reason, false);
	csv_field(b, g->dry_detail, false);
	csv_long(b, g->dry_pass);
	csv_long(b, g->dry_fail);
	csv_field(b, report_rot_name(g), false);
	csv_field(b, g->rot_detail, false);
	for (int k = 0; k < ROT_KINDS; k++)
		csv_long(b, g->rot[k]);
	csv_field(b, g->first_ts[0] ? g->first_ts : NULL, false);
	csv_field(b, g->last_ts[0] ? g->last_ts : NULL, false);
	csv_words(b, t, report_mode_names, REPORT_N_MODES, g->modes, NULL);
	csv_field(b, g->error, false);
	buf_puts(b, "\r\n");
}

static void
print_csv(const report_view *v, FILE *out, bool color)
{
	pqtls_buf	b,
				t;

	(void) color;
	buf_init(&b);
	buf_init(&t);
	for (size_t i = 0; i < sizeof(csv_header) / sizeof(csv_header[0]); i++)
		csv_field(&b, csv_header[i], i == 0);
	buf_puts(&b, "\r\n");
	for (size_t i = 0; i < v->ngroups; i++)
	{
		csv_row(&b, &t, v->groups[i]);
		if (b.len > 65536)
			report_flush(&b, out);
	}
	report_flush(&b, out);
	buf_free(&b);
	buf_free(&t);
}

const report_formatter report_format_csv = {"csv", REPORT_CSV, print_csv};
