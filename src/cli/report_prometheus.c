/*
 * report_prometheus.c: `pqtls report --format prometheus`: the Prometheus
 * text exposition format (version 0.0.4), for node_exporter's textfile
 * collector (write it to a *.prom file in its directory, by a timer).
 *
 *   pqtls_connection_attempts{verdict,program,endpoint,sslmode}  records of
 *       each verdict (report_group.h, enum report_verdict) per program path,
 *       endpoint ("host:port", "[v6]:port" or a socket path) and effective
 *       sslmode: groups that differ only in user or root file are summed, so
 *       each series appears once;
 *   pqtls_would_break             1 when any record would break, else 0:
 *       what an alert rule tests;
 *   pqtls_report_records, pqtls_report_malformed_lines, pqtls_report_groups.
 *
 * Label values are escaped as the format asks (backslash, double quote and
 * line feed); records are valid UTF-8 already (jsonread.c).
 */
#include <stdlib.h>
#include <string.h>

#include "pqtls/report_format.h"
#include "pqtls/report_text.h"

#define uthash_fatal(msg) report_out_of_memory()
#include <uthash.h>

typedef struct series
{
	char	   *key;			/* program NUL endpoint NUL sslmode NUL */
	size_t		keylen;
	long		v[V_KINDS];
	UT_hash_handle hh;
} series;

/* A label value: \ " and line feed escaped. */
static void
put_label(pqtls_buf *b, const char *name, const char *value, bool first)
{
	buf_printf(b, "%s%s=\"", first ? "" : ",", name);
	for (const char *p = value; *p; p++)
	{
		if (*p == '\\')
			buf_puts(b, "\\\\");
		else if (*p == '"')
			buf_puts(b, "\\\"");
		else if (*p == '\n')
			buf_puts(b, "\\n");
		else
			buf_putc(b, *p);
	}
	buf_putc(b, '"');
}

/* The series key of a group: its program, endpoint and sslmode, each NUL-terminated. */
static void
series_key(pqtls_buf *k, const report_group *g)
{
	buf_reset(k);
	buf_puts(k, g->f[K_EXE] ? g->f[K_EXE] : "");
	buf_append(k, "", 1);
	report_put_endpoint(k, g);
	buf_append(k, "", 1);
	buf_puts(k, g->f[K_SSLMODE] ? g->f[K_SSLMODE] : "");
	buf_append(k, "", 1);
	if (k->oom)
		report_out_of_memory();
}

static int
series_cmp(const void *pa, const void *pb)
{
	const series *a = *(const series *const *) pa;
	const series *b = *(const series *const *) pb;
	size_t		n = a->keylen < b->keylen ? a->keylen : b->keylen;
	int			c = memcmp(a->key, b->key, n);

	return c ? c : (a->keylen > b->keylen) - (a->keylen < b->keylen);
}

/* Every (program, endpoint, sslmode) with its verdict counts, in key order. */
static series **
collect(const report_view *v, size_t *n)
{
	series	   *head = NULL,
			   *s;
	series	  **out;
	pqtls_buf	k;
	size_t		i = 0;

	buf_init(&k);
	for (size_t gi = 0; gi < v->ngroups; gi++)
	{
		series_key(&k, v->groups[gi]);
		HASH_FIND(hh, head, k.data, k.len, s);
		if (s == NULL)
		{
			s = report_xcalloc(1, sizeof(*s));
			s->key = report_xmalloc(k.len);
			memcpy(s->key, k.data, k.len);
			s->keylen = k.len;
			HASH_ADD_KEYPTR(hh, head, s->key, s->keylen, s);
		}
		for (int kind = 0; kind < V_KINDS; kind++)
			s->v[kind] += v->groups[gi]->verdicts[kind];
	}
	buf_free(&k);
	out = report_xcalloc((size_t) HASH_COUNT(head) + 1, sizeof(*out));
	for (s = head; s != NULL; s = s->hh.next)
		out[i++] = s;
	HASH_CLEAR(hh, head);
	qsort(out, i, sizeof(*out), series_cmp);
	*n = i;
	return out;
}

static void
put_gauge(pqtls_buf *b, const char *name, const char *help, long value)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %ld\n", name, help, name, name, value);
}

static void
print_prometheus(const report_view *v, FILE *out, bool color)
{
	pqtls_buf	b;
	size_t		n;
	series	  **all = collect(v, &n);

	(void) color;
	buf_init(&b);
	buf_puts(&b, "# HELP pqtls_connection_attempts Connection attempts in the records read, by "
			 "verdict after the CA rotation (breaks, downgrades, ready, unaffected, passes, "
			 "unjudged), program, endpoint and effective sslmode.\n"
			 "# TYPE pqtls_connection_attempts gauge\n");
	for (size_t i = 0; i < n; i++)
	{
		const char *program = all[i]->key;
		const char *endpoint = program + strlen(program) + 1;
		const char *sslmode = endpoint + strlen(endpoint) + 1;

		for (int k = 0; k < V_KINDS; k++)
		{
			if (all[i]->v[k] == 0)
				continue;
			buf_puts(&b, "pqtls_connection_attempts{");
			put_label(&b, "verdict", report_verdict_names[k], true);
			put_label(&b, "program", program, false);
			put_label(&b, "endpoint", endpoint, false);
			put_label(&b, "sslmode", sslmode, false);
			buf_printf(&b, "} %ld\n", all[i]->v[k]);
		}
		free(all[i]->key);
		free(all[i]);
		if (b.len > 65536)
			report_flush(&b, out);
	}
	free(all);
	put_gauge(&b, "pqtls_would_break", "1 when any connection attempt read would break after "
			  "the CA rotation (after_rotation breaks or a failed dry run), else 0.",
			  v->would_break ? 1 : 0);
	put_gauge(&b, "pqtls_report_records", "Records read.", v->records);
	put_gauge(&b, "pqtls_report_malformed_lines", "Lines that held no record.", v->malformed);
	put_gauge(&b, "pqtls_report_groups", "Distinct connections (program, endpoint, user and "
			  "TLS settings).", (long) v->ngroups);
	report_flush(&b, out);
	buf_free(&b);
}

const report_formatter report_format_prometheus = {"prometheus", REPORT_PROMETHEUS,
	print_prometheus};
