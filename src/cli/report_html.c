/*
 * report_html.c: `pqtls report --format html`: one page for a change review
 * (report_html.h).  From the top: the verdict counts of every attempt as a
 * picture, per program and per endpoint; the groups that break first, each
 * with what to change; then every group in a table that filters by program,
 * endpoint and verdict, each row opening onto every field the group keeps
 * (the fields of --format json).  Records are folded into groups as they are
 * read, so the page holds every group, and every record through its group.
 *
 * Everything from a record is escaped (report_put_html): records come from
 * whatever programs ran, and a program path or an error message is text.
 */
#include <stdlib.h>
#include <string.h>

#include "pqtls/report_html.h"
#include "pqtls/report_text.h"

/* Cards for the first groups that break or downgrade; the table has them all. */
#define MAX_CARDS 40
/* Bars per chart. */
#define MAX_BARS 12

/* The worst verdict of a group's records: its row's colour and word. */
static int
group_verdict(const report_group *g)
{
	static const int order[] = {V_BREAKS, V_DOWNGRADES, V_READY, V_PASSES, V_UNAFFECTED};

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (g->verdicts[order[i]] > 0)
			return order[i];
	return V_UNJUDGED;
}

static void
put_text(pqtls_buf *b, const char *s)
{
	report_put_html(b, s ? s : "");
}

/* data-program, data-endpoint, data-verdicts and data-count: what the filters read. */
static void
put_filter_data(pqtls_buf *b, const report_group *g)
{
	char	   *endpoint = html_endpoint(g);
	const char *sep = "";

	buf_puts(b, " data-program=\"");
	put_text(b, g->f[K_EXE] ? g->f[K_EXE] : "?");
	buf_puts(b, "\" data-endpoint=\"");
	put_text(b, endpoint);
	buf_puts(b, "\" data-verdicts=\"");
	for (int k = 0; k < V_KINDS; k++)
		if (g->verdicts[k] > 0)
		{
			buf_printf(b, "%s%s", sep, report_verdict_names[k]);
			sep = " ";
		}
	buf_printf(b, "\" data-count=\"%ld\"", g->count);
	free(endpoint);
}

/* "psql → db:5432 as app" */
static void
put_who(pqtls_buf *b, const report_group *g)
{
	char	   *endpoint = html_endpoint(g);

	put_text(b, report_base_name(g->f[K_EXE]));
	buf_puts(b, " &rarr; ");
	put_text(b, endpoint);
	if (g->f[K_USER])
	{
		buf_puts(b, " as ");
		put_text(b, g->f[K_USER]);
	}
	free(endpoint);
}

/* ------------------------------------------------------------------ head */

static void
put_head(pqtls_buf *b, const report_view *v)
{
	buf_printf(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
			   "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
			   "style-src 'unsafe-inline'; script-src %s; base-uri 'none'; form-action 'none'\">\n"
			   "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n"
			   "<meta name=\"generator\" content=\"pqtls report\">\n<title>pqtls report: ",
			   html_script_csp_source());
	html_put_count(b, v->records);
	buf_puts(b, v->would_break ? " attempts, some would break" : " attempts, none would break");
	buf_printf(b, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", report_html_css);
}

/* Title, what was read, and the verdict of the whole report. */
static void
put_header(pqtls_buf *b, const report_view *v)
{
	const char *first = NULL,
			   *last = NULL;

	for (size_t i = 0; i < v->ngroups; i++)
	{
		const report_group *g = v->groups[i];

		if (g->first_ts[0] && (first == NULL || strcmp(g->first_ts, first) < 0))
			first = g->first_ts;
		if (g->last_ts[0] && (last == NULL || strcmp(g->last_ts, last) > 0))
			last = g->last_ts;
	}
	buf_printf(b, "<header><h1>pqtls report <span class=\"verdict %s\" id=\"would-break\" "
			   "data-would-break=\"%s\">%s</span></h1>\n<p class=\"sub\">",
			   v->would_break ? "bad" : "good", v->would_break ? "true" : "false",
			   v->would_break ? "something would break" : "nothing would break");
	buf_printf(b, "<b id=\"n-records\" data-n=\"%ld\">", v->records);
	html_put_count(b, v->records);
	buf_printf(b, "</b> connection attempts in <b id=\"n-groups\" data-n=\"%zu\">", v->ngroups);
	html_put_count(b, (long) v->ngroups);
	buf_puts(b, "</b> groups (distinct program, endpoint, user and TLS settings)");
	if (first && last)
	{
		buf_puts(b, ", from ");
		put_text(b, first);
		buf_puts(b, " to ");
		put_text(b, last);
	}
	buf_printf(b, "; <span id=\"n-malformed\" data-n=\"%ld\">", v->malformed);
	html_put_count(b, v->malformed);
	buf_printf(b, "</span> malformed line%s skipped.</p></header>\n", v->malformed == 1 ? "" : "s");
}

/* ---------------------------------------------------------------- picture */

static void
put_picture(pqtls_buf *b, const report_view *v, html_tally *prog, size_t nprog,
			html_tally *ends, size_t nends)
{
	long		total[V_KINDS] = {0};

	for (size_t i = 0; i < v->ngroups; i++)
		for (int k = 0; k < V_KINDS; k++)
			total[k] += v->groups[i]->verdicts[k];
	html_totals(b, total, v->records);
	buf_puts(b, "<div class=\"charts\">\n");
	html_chart(b, "Attempts by program", prog, nprog, MAX_BARS);
	html_chart(b, "Attempts by endpoint", ends, nends, MAX_BARS);
	buf_puts(b, "</div>\n");
}

/* ------------------------------------------------------------ what to do */

/*
 * The subjects of the new CAs, as the records of ready groups name them
 * (rehearse.c: "FILE holds the new CA \"SUBJECT\""): what a breaking root
 * file should get.  Up to max distinct ones; returns how many.
 */
static size_t
new_ca_subjects(const report_view *v, char **out, size_t max)
{
	static const char mark[] = " holds the new CA \"";
	size_t		n = 0;

	for (size_t i = 0; i < v->ngroups && n < max; i++)
	{
		const char *d = v->groups[i]->rot_detail;
		const char *s = d && v->groups[i]->rot_worst == ROT_READY ? strstr(d, mark) : NULL;
		size_t		len;
		bool		seen = false;

		if (s == NULL)
			continue;
		s += sizeof(mark) - 1;
		len = strlen(s);
		if (len < 2 || s[len - 1] != '"')
			continue;
		for (size_t j = 0; j < n; j++)
			seen |= strncmp(out[j], s, len - 1) == 0 && out[j][len - 1] == '\0';
		if (!seen)
		{
			out[n] = report_xstrdup(s);
			out[n++][len - 1] = '\0';
		}
	}
	return n;
}

/* The CA a dry-run failure names (judge.c: "...ends at issuer \"X\", which B does not hold"). */
static char *
missing_issuer(const char *detail)
{
	static const char mark[] = "ends at issuer \"";
	const char *s = detail ? strstr(detail, mark) : NULL;
	const char *e;
	char	   *out;

	if (s == NULL)
		return NULL;
	s += sizeof(mark) - 1;
	e = strstr(s, "\", which ");
	if (e == NULL)
		return NULL;
	out = report_xmalloc((size_t) (e - s) + 1);
	memcpy(out, s, (size_t) (e - s));
	out[e - s] = '\0';
	return out;
}

/* The root file to update and the CA to add to it, when that is what breaks. */
static void
put_root_fix(pqtls_buf *b, const report_group *g, char **cas, size_t ncas)
{
	const char *d = g->rot_detail;

	if (g->f[K_ROOTCERT_FILE] == NULL || d == NULL ||
		(strstr(d, " holds none of the new CAs") == NULL && strstr(d, " cannot be used") == NULL))
		return;
	buf_puts(b, report_root_missing(g) ? "<li>Create the root file <code>" :
			 "<li>Update the root file <code>");
	put_text(b, g->f[K_ROOTCERT_FILE]);
	buf_puts(b, "</code>: add ");
	if (ncas == 0)
		buf_puts(b, "the new CA (the certificate given as <code>PQTLS_NEW_CA</code>)");
	for (size_t i = 0; i < ncas; i++)
	{
		buf_puts(b, i == 0 ? "the new CA <code>" : " or <code>");
		put_text(b, cas[i]);
		buf_puts(b, "</code>");
	}
	buf_puts(b, "</li>\n");
}

static void
put_card(pqtls_buf *b, const report_group *g, char **cas, size_t ncas)
{
	char	   *issuer = g->dry_rank >= DRY_FAIL_INCONCLUSIVE ? missing_issuer(g->dry_detail) : NULL;

	buf_printf(b, "<article class=\"card %s\"", report_status_names[g->status]);
	put_filter_data(b, g);
	buf_puts(b, "><h3>");
	put_who(b, g);
	buf_puts(b, "</h3>\n<p>");
	html_put_count(b, g->verdicts[V_BREAKS] ? g->verdicts[V_BREAKS] : g->verdicts[V_DOWNGRADES]);
	buf_printf(b, " of ");
	html_put_count(b, g->count);
	buf_printf(b, " attempts %s &middot; sslmode <code>",
			   g->verdicts[V_BREAKS] ? "break" : "downgrade");
	put_text(b, g->f[K_SSLMODE] ? g->f[K_SSLMODE] : "?");
	buf_puts(b, "</code> (");
	put_text(b, g->f[K_FORCED_FROM] ? "enforced" : g->f[K_SSLMODE_SOURCE]);
	buf_puts(b, ") &middot; program <code>");
	put_text(b, g->f[K_EXE]);
	buf_puts(b, "</code></p>\n<ul class=\"fix\">\n");
	put_root_fix(b, g, cas, ncas);
	if (issuer != NULL)
	{
		buf_puts(b, "<li>Add the CA <code>");
		put_text(b, issuer);
		buf_puts(b, "</code> to the bundle clients will trust (<code>PQTLS_BUNDLE</code>)</li>\n");
	}
	buf_puts(b, "</ul>\n");
	if (g->rot_detail && g->rot_worst >= ROT_DOWNGRADES)
	{
		buf_printf(b, "<p class=\"why\">After the rotation it %s: ", report_rot_name(g));
		put_text(b, g->rot_detail);
		buf_puts(b, "</p>\n");
	}
	if (g->dry_rank >= DRY_FAIL_INCONCLUSIVE)
	{
		buf_puts(b, "<p class=\"why\">Dry run fails (");
		put_text(b, g->dry_reason ? g->dry_reason : "?");
		buf_puts(b, "): ");
		put_text(b, g->dry_detail ? g->dry_detail : "");
		buf_puts(b, "</p>\n");
	}
	buf_puts(b, "</article>\n");
	free(issuer);
}

static void
put_cards(pqtls_buf *b, const report_view *v, FILE *out)
{
	char	   *cas[4];
	size_t		ncas = new_ca_subjects(v, cas, 4);
	size_t		n = 0,
				bad = 0;

	for (size_t i = 0; i < v->ngroups; i++)
		bad += v->groups[i]->status <= ST_DOWNGRADES;
	buf_puts(b, "<h2 id=\"first\">Break first: what to change</h2>\n");
	if (bad == 0)
		buf_puts(b, "<p>No group breaks or downgrades.</p>\n");
	buf_puts(b, "<div class=\"cards\">\n");
	for (size_t i = 0; i < v->ngroups && n < MAX_CARDS; i++)
		if (v->groups[i]->status <= ST_DOWNGRADES)
		{
			put_card(b, v->groups[i], cas, ncas);
			n++;
			if (b->len > 65536)
				report_flush(b, out);
		}
	buf_puts(b, "</div>\n");
	if (bad > n)
	{
		buf_puts(b, "<p>");
		html_put_count(b, (long) (bad - n));
		buf_puts(b, " more groups break or downgrade: choose the verdict in the table below.</p>\n");
	}
	for (size_t i = 0; i < ncas; i++)
		free(cas[i]);
}

/* ---------------------------------------------------------------- table */

static void
put_options(pqtls_buf *b, const char *name, const char *label, const html_tally *t, size_t n)
{
	buf_printf(b, "<label>%s<select name=\"%s\"><option value=\"\">all</option>", label, name);
	for (size_t i = 0; i < n; i++)
	{
		char	   *shown = report_shorten_path(report_xstrdup(t[i].name), 48);

		buf_puts(b, "<option value=\"");
		put_text(b, t[i].name);
		buf_puts(b, "\">");
		put_text(b, shown);
		if (t[i].v[V_BREAKS] > 0)
		{
			buf_puts(b, " (");
			html_put_count(b, t[i].v[V_BREAKS]);
			buf_puts(b, " break)");
		}
		buf_puts(b, "</option>");
		free(shown);
	}
	buf_puts(b, "</select></label>\n");
}

static void
put_filters(pqtls_buf *b, const html_tally *prog, size_t nprog, const html_tally *ends,
			size_t nends)
{
	buf_puts(b, "<form class=\"filters\" id=\"filters\" autocomplete=\"off\">\n");
	put_options(b, "program", "program", prog, nprog);
	put_options(b, "endpoint", "endpoint", ends, nends);
	buf_puts(b, "<label>verdict<select name=\"verdict\"><option value=\"\">all</option>");
	for (int k = 0; k < V_KINDS; k++)
		buf_printf(b, "<option>%s</option>", report_verdict_names[k]);
	buf_puts(b, "</select></label>\n<label>text<input name=\"q\" type=\"search\" "
			 "placeholder=\"user, file, error...\"></label>\n<span id=\"shown\"></span></form>\n");
}

/* One "name: value" of a group's details. */
static void
put_dd(pqtls_buf *b, const char *name, const char *value)
{
	buf_printf(b, "<dt>%s</dt><dd>", name);
	put_text(b, value ? value : "-");
	buf_puts(b, "</dd>");
}

/* Every field the group keeps (those of --format json). */
static void
put_details(pqtls_buf *b, const report_group *g)
{
	pqtls_buf	t;

	buf_init(&t);
	buf_puts(b, "<details><summary>");
	put_text(b, report_base_name(g->f[K_EXE]));
	buf_puts(b, "</summary><dl>");
	put_dd(b, "program", g->f[K_EXE]);
	put_dd(b, "host", g->f[K_HOST]);
	put_dd(b, "port", g->f[K_PORT]);
	put_dd(b, "transport", g->f[K_TRANSPORT]);
	put_dd(b, "user", g->f[K_USER]);
	buf_printf(&t, "%s%s", g->dbname ? g->dbname : "-", g->dbname_varies ? " (and others)" : "");
	put_dd(b, "database", t.data);
	buf_reset(&t);
	report_put_sslmode(&t, g);
	put_dd(b, "sslmode", t.data);
	put_dd(b, "sslrootcert set by", g->f[K_SSLROOTCERT_SOURCE]);
	buf_printf(&t, "%s%s", g->f[K_ROOTCERT_FILE] ? g->f[K_ROOTCERT_FILE] : "-",
			   report_root_missing(g) ? " (missing)" : "");
	put_dd(b, "root file", t.data);
	put_dd(b, "verify", g->f[K_VERIFY]);
	buf_reset(&t);
	report_put_outcomes(&t, g);
	put_dd(b, "outcomes", t.len ? t.data : "-");
	buf_reset(&t);
	buf_printf(&t, "%s%u", g->pids_more ? "at least " : "", g->npids);
	put_dd(b, "processes", t.data);
	put_dd(b, "first seen", g->first_ts[0] ? g->first_ts : NULL);
	put_dd(b, "last seen", g->last_ts[0] ? g->last_ts : NULL);
	buf_reset(&t);
	for (size_t i = 0; i < REPORT_N_MODES; i++)
		if (g->modes & (1u << i))
			buf_printf(&t, "%s%s", t.len ? ", " : "", report_mode_names[i]);
	put_dd(b, "modes", t.len ? t.data : NULL);
	buf_reset(&t);
	report_put_protocols(&t, g, ", ");
	put_dd(b, "TLS", t.len ? t.data : NULL);
	buf_reset(&t);
	buf_printf(&t, "%s%s", g->issuer ? g->issuer : "-", g->issuer_varies ? " (and others)" : "");
	put_dd(b, "server's issuer", t.data);
	put_dd(b, "first error", g->error);
	buf_reset(&t);
	if (g->dry_rank != DRY_NONE)
		buf_printf(&t, "%s (%s): %s; %ld pass, %ld fail", report_dry_result_name(g),
				   g->dry_reason ? g->dry_reason : "-", g->dry_detail ? g->dry_detail : "",
				   g->dry_pass, g->dry_fail);
	put_dd(b, "dry run", t.len ? t.data : NULL);
	buf_reset(&t);
	if (g->rot_worst != ROT_NONE)
		buf_printf(&t, "%s: %s", report_rot_name(g), g->rot_detail ? g->rot_detail : "");
	put_dd(b, "after rotation", t.len ? t.data : NULL);
	buf_puts(b, "</dl></details>");
	buf_free(&t);
}

static void
put_row(pqtls_buf *b, const report_group *g, const bool *cols)
{
	int			verdict = group_verdict(g);
	char	   *endpoint = html_endpoint(g);

	buf_puts(b, "<tr");
	put_filter_data(b, g);
	buf_printf(b, "><td class=\"st %s\">%s</td><td class=\"wrap\">", report_verdict_names[verdict],
			   report_verdict_names[verdict]);
	put_details(b, g);
	buf_puts(b, "</td><td class=\"wrap\">");
	put_text(b, endpoint);
	buf_puts(b, "</td><td>");
	put_text(b, g->f[K_USER] ? g->f[K_USER] : "-");
	buf_puts(b, "</td><td>");
	put_text(b, g->f[K_SSLMODE] ? g->f[K_SSLMODE] : "-");
	buf_puts(b, "</td><td class=\"wrap\">");
	put_text(b, g->f[K_ROOTCERT_FILE] ? g->f[K_ROOTCERT_FILE] : "-");
	if (report_root_missing(g))
		buf_puts(b, " (missing)");
	buf_printf(b, "</td><td class=\"n\" data-v=\"count\">%ld</td>", g->count);
	for (int k = 0; k < V_KINDS; k++)
		if (cols[k])
			buf_printf(b, "<td class=\"n\" data-v=\"%s\">%ld</td>", report_verdict_names[k],
					   g->verdicts[k]);
	buf_puts(b, "</tr>\n");
	free(endpoint);
}

static void
put_table(pqtls_buf *b, const report_view *v, FILE *out)
{
	bool		cols[V_KINDS] = {true, true, true, true, false, false};

	for (size_t i = 0; i < v->ngroups; i++)
		for (int k = V_PASSES; k < V_KINDS; k++)
			cols[k] |= v->groups[i]->verdicts[k] > 0;
	buf_puts(b, "<table id=\"groups\"><thead><tr><th>verdict</th><th>program</th>"
			 "<th>endpoint</th><th>user</th><th>sslmode</th><th>root file</th><th>attempts</th>");
	for (int k = 0; k < V_KINDS; k++)
		if (cols[k])
			buf_printf(b, "<th>%s</th>", report_verdict_names[k]);
	buf_puts(b, "</tr></thead>\n<tbody>\n");
	for (size_t i = 0; i < v->ngroups; i++)
	{
		put_row(b, v->groups[i], cols);
		if (b->len > 65536)
			report_flush(b, out);
	}
	buf_puts(b, "</tbody></table>\n");
}

/* ----------------------------------------------------------------- page */

static void
print_html(const report_view *v, FILE *out, bool color)
{
	pqtls_buf	b;
	size_t		nprog,
				nends;
	html_tally *prog = html_tallies(v, 0, &nprog);
	html_tally *ends = html_tallies(v, 1, &nends);

	(void) color;
	buf_init(&b);
	put_head(&b, v);
	put_header(&b, v);
	put_picture(&b, v, prog, nprog, ends, nends);
	put_cards(&b, v, out);
	buf_puts(&b, "<h2 id=\"all\">Every group</h2>\n"
			 "<p class=\"sub\">Open a program's name for every field of its group.</p>\n");
	put_filters(&b, prog, nprog, ends, nends);
	put_table(&b, v, out);
	buf_printf(&b, "<script>%s</script>\n</body></html>\n", report_html_script);
	report_flush(&b, out);
	buf_free(&b);
	html_tallies_free(prog, nprog);
	html_tallies_free(ends, nends);
}

const report_formatter report_format_html = {"html", REPORT_HTML, print_html};
