/*
 * report_html_chart.c: the picture at the top of `pqtls report --format
 * html` (report_html.h): the verdict counts of all records as one stacked
 * bar, and per program and per endpoint one bar each, as inline SVG (no
 * script, no image file: it renders with scripts off and prints).
 *
 * The tallies are by group, not by record: memory follows the groups.
 */
#include <stdlib.h>
#include <string.h>

#include "pqtls/report_html.h"
#include "pqtls/report_text.h"

#define uthash_fatal(msg) report_out_of_memory()
#include <uthash.h>

/* Geometry of a chart, in SVG user units (the viewBox scales it to the page). */
#define CHART_W 600
#define TOTAL_W 1200
#define COUNT_W 64
#define BAR_H 14
#define ROW_H 36
#define LABEL_CHARS 90			/* a name over its bar, shortened to this */

typedef struct tally_entry
{
	html_tally	t;
	UT_hash_handle hh;
} tally_entry;

char *
html_endpoint(const report_group *g)
{
	pqtls_buf	b;

	buf_init(&b);
	report_put_endpoint(&b, g);
	return report_buf_take(&b);
}

/* Most breaking records first, then downgrading, then most records, then by name. */
static int
tally_cmp(const void *pa, const void *pb)
{
	const html_tally *a = pa,
			   *b = pb;

	if (a->v[V_BREAKS] != b->v[V_BREAKS])
		return a->v[V_BREAKS] > b->v[V_BREAKS] ? -1 : 1;
	if (a->v[V_DOWNGRADES] != b->v[V_DOWNGRADES])
		return a->v[V_DOWNGRADES] > b->v[V_DOWNGRADES] ? -1 : 1;
	if (a->total != b->total)
		return a->total > b->total ? -1 : 1;
	return strcmp(a->name, b->name);
}

html_tally *
html_tallies(const report_view *v, int by, size_t *n)
{
	tally_entry *head = NULL,
			   *e,
			   *tmp;
	html_tally *out;
	size_t		i = 0;

	for (size_t gi = 0; gi < v->ngroups; gi++)
	{
		const report_group *g = v->groups[gi];
		char	   *name = by == 0 ? report_xstrdup(g->f[K_EXE] ? g->f[K_EXE] : "?") :
			html_endpoint(g);

		HASH_FIND_STR(head, name, e);
		if (e == NULL)
		{
			e = report_xcalloc(1, sizeof(*e));
			e->t.name = name;
			HASH_ADD_KEYPTR(hh, head, e->t.name, strlen(e->t.name), e);
		}
		else
			free(name);
		for (int k = 0; k < V_KINDS; k++)
			e->t.v[k] += g->verdicts[k];
		e->t.total += g->count;
	}
	out = report_xcalloc((size_t) HASH_COUNT(head) + 1, sizeof(*out));
	HASH_ITER(hh, head, e, tmp)
	{
		HASH_DEL(head, e);
		out[i++] = e->t;
		free(e);
	}
	qsort(out, i, sizeof(*out), tally_cmp);
	*n = i;
	return out;
}

void
html_tallies_free(html_tally *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(t[i].name);
	free(t);
}

void
html_put_count(pqtls_buf *b, long n)
{
	char		digits[32];
	int			len = snprintf(digits, sizeof(digits), "%ld", n);

	for (int i = 0; i < len; i++)
	{
		if (i > 0 && digits[i - 1] != '-' && (len - i) % 3 == 0)
			buf_putc(b, ',');
		buf_putc(b, digits[i]);
	}
}

/* "3 breaks, 2 ready" for a tooltip. */
static void
put_breakdown(pqtls_buf *b, const long v[V_KINDS])
{
	const char *sep = "";

	for (int k = 0; k < V_KINDS; k++)
		if (v[k] > 0)
		{
			buf_puts(b, sep);
			html_put_count(b, v[k]);
			buf_printf(b, " %s", report_verdict_names[k]);
			sep = ", ";
		}
}

/* The stacked segments of one bar, scaled so that max records fill width. */
static void
put_segments(pqtls_buf *b, const long v[V_KINDS], long max, double x, double y, double width,
			 double height)
{
	for (int k = 0; k < V_KINDS; k++)
	{
		double		w;

		if (v[k] <= 0)
			continue;
		w = width * (double) v[k] / (double) max;
		if (w < 1.5)
			w = 1.5;			/* one record still shows */
		buf_printf(b, "<rect class=\"v-%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">"
				   "<title>", report_verdict_names[k], x, y, w, height);
		html_put_count(b, v[k]);
		buf_printf(b, " %s</title></rect>", report_verdict_names[k]);
		x += w;
	}
}

void
html_totals(pqtls_buf *b, const long total[V_KINDS], long records)
{
	buf_puts(b, "<section class=\"totals\" aria-label=\"verdicts of all attempts\">\n"
			 "<ul class=\"legend\">");
	for (int k = 0; k < V_KINDS; k++)
	{
		if (total[k] == 0 && k >= V_PASSES)
			continue;			/* passes and unjudged only when some are */
		buf_printf(b, "<li class=\"t-%s\"><span class=\"sw v-%s\"></span><b id=\"n-%s\" "
				   "data-n=\"%ld\">", report_verdict_names[k], report_verdict_names[k],
				   report_verdict_names[k], total[k]);
		html_put_count(b, total[k]);
		buf_printf(b, "</b> %s</li>", report_verdict_names[k]);
	}
	buf_puts(b, "</ul>\n");
	if (records > 0)
	{
		buf_printf(b, "<svg class=\"bar\" viewBox=\"0 0 %d 22\" role=\"img\" aria-label=\"",
				   TOTAL_W);
		put_breakdown(b, total);
		buf_puts(b, "\">");
		put_segments(b, total, records, 0, 0, TOTAL_W, 22);
		buf_puts(b, "</svg>\n");
	}
	buf_puts(b, "</section>\n");
}

void
html_chart(pqtls_buf *b, const char *title, const html_tally *t, size_t n, size_t max)
{
	size_t		shown = n < max ? n : max;
	long		top = 1;
	double		bar_w = CHART_W - COUNT_W;

	for (size_t i = 0; i < shown; i++)
		if (t[i].total > top)
			top = t[i].total;
	buf_printf(b, "<figure class=\"chart\"><figcaption>%s", title);
	if (n > shown)
	{
		buf_printf(b, " <small>(the %zu with the most breaking attempts of ", shown);
		html_put_count(b, (long) n);
		buf_puts(b, ")</small>");
	}
	buf_printf(b, "</figcaption>\n<svg viewBox=\"0 0 %d %zu\" role=\"img\" aria-label=\"%s\">\n",
			   CHART_W, shown * ROW_H + 2, title);
	for (size_t i = 0; i < shown; i++)
	{
		double		y = (double) (i * ROW_H);
		char	   *label = report_shorten_path(report_xstrdup(t[i].name), LABEL_CHARS);

		/* The name over its bar, the count at the bar's end; the full name as a tooltip. */
		buf_puts(b, "<g><title>");
		report_put_html(b, t[i].name);
		buf_puts(b, ": ");
		put_breakdown(b, t[i].v);
		buf_printf(b, "</title><text class=\"lbl\" x=\"0\" y=\"%.1f\">", y + 12);
		report_put_html(b, label);
		buf_puts(b, "</text>");
		put_segments(b, t[i].v, top, 0, y + 17, bar_w, BAR_H);
		buf_printf(b, "<text class=\"num\" x=\"%d\" y=\"%.1f\">", CHART_W - 2, y + 28.5);
		html_put_count(b, t[i].total);
		buf_puts(b, "</text></g>\n");
		free(label);
	}
	buf_puts(b, "</svg></figure>\n");
}
