/*
 * report_html.h: the parts of `pqtls report --format html` (report_html.c
 * writes the page; report_html_chart.c the counts by program and endpoint
 * and their inline SVG bars; report_html_assets.c the page's CSS and script).
 *
 * The page is one file that fetches nothing: its Content-Security-Policy
 * allows no source at all but its own inline style and the one script whose
 * SHA-256 it names, so even a value that escaped escaping could neither run
 * nor load anything.  Every text from records goes through report_put_html().
 */
#ifndef PQTLS_REPORT_HTML_H
#define PQTLS_REPORT_HTML_H

#include <stddef.h>

#include "pqtls/json.h"
#include "pqtls/report_format.h"

/* Records of each verdict (enum report_verdict) under one name. */
typedef struct html_tally
{
	char	   *name;			/* program path or endpoint text */
	long		v[V_KINDS];
	long		total;
} html_tally;

/* One tally per distinct program (by == 0) or endpoint (by == 1), most breaking first. */
html_tally *html_tallies(const report_view *v, int by, size_t *n);
void		html_tallies_free(html_tally *t, size_t n);

/* The endpoint of a group as the page shows it (report_put_endpoint), newly allocated. */
char	   *html_endpoint(const report_group *g);

/* The verdict counts of all records: one stacked bar and its legend. */
void		html_totals(pqtls_buf *b, const long total[V_KINDS], long records);

/* A bar per tally (the first max of them), stacked by verdict. */
void		html_chart(pqtls_buf *b, const char *title, const html_tally *t, size_t n,
					   size_t max);

/* 1234567 as "1,234,567". */
void		html_put_count(pqtls_buf *b, long n);

/* The page's style sheet and script, and the CSP source naming the script's hash. */
extern const char report_html_css[];
extern const char report_html_script[];
const char *html_script_csp_source(void);

#endif
