/*
 * report_text.c: text the report's formats share (report_text.h).
 */
#include <stdlib.h>
#include <string.h>

#include "pqtls/report_text.h"

/* Display width: UTF-8 characters (continuation bytes take no column). */
size_t
report_text_width(const char *s)
{
	size_t		w = 0;

	for (; *s; s++)
		if (((unsigned char) *s & 0xC0) != 0x80)
			w++;
	return w;
}

/*
 * Append s for a terminal: control characters (C0, DEL, and C1 as UTF-8)
 * become '?', so that no record can move the cursor or change colours.
 */
void
report_put_safe(pqtls_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *) s;

	for (; *p; p++)
	{
		if (*p < 0x20 || *p == 0x7F)
			buf_putc(b, '?');
		else if (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F)
		{
			buf_putc(b, '?');
			p++;
		}
		else
			buf_putc(b, (char) *p);
	}
}

void
report_put_html(pqtls_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *) s;

	for (; *p; p++)
	{
		switch (*p)
		{
			case '&':
				buf_puts(b, "&amp;");
				continue;
			case '<':
				buf_puts(b, "&lt;");
				continue;
			case '>':
				buf_puts(b, "&gt;");
				continue;
			case '"':
				buf_puts(b, "&quot;");
				continue;
			case '\'':
				buf_puts(b, "&#39;");
				continue;
		}
		if (*p < 0x20 || *p == 0x7F)
			buf_putc(b, '?');
		else if (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F)
		{
			buf_putc(b, '?');
			p++;
		}
		else
			buf_putc(b, (char) *p);
	}
}

char *
report_buf_take(pqtls_buf *b)
{
	char	   *s;

	if (b->oom)
		report_out_of_memory();
	s = b->data ? b->data : report_xstrdup("");
	buf_init(b);
	return s;
}

char *
report_safe_dup(const char *s)
{
	pqtls_buf	b;

	buf_init(&b);
	buf_append(&b, "", 0);
	report_put_safe(&b, s ? s : "");
	return report_buf_take(&b);
}

/*
 * A path cut to at most max columns, keeping its end: "..." and the longest
 * tail that begins at a '/', or, when even the last component is too long,
 * the last characters.  Takes ownership of s.
 */
char *
report_shorten_path(char *s, size_t max)
{
	const char *p;
	char	   *out;

	if (max < 4 || report_text_width(s) <= max)
		return s;
	for (p = s + 1; *p; p++)
		if (*p == '/' && report_text_width(p) + 3 <= max)
			break;
	if (*p == '\0')
	{
		p = s;
		while (*p && report_text_width(p) + 3 > max)
		{
			p++;
			while (((unsigned char) *p & 0xC0) == 0x80)
				p++;
		}
	}
	out = report_xmalloc(strlen(p) + 4);
	memcpy(out, "...", 3);
	strcpy(out + 3, p);
	free(s);
	return out;
}

const char *
report_base_name(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	if (path == NULL)
		return "?";
	return slash && slash[1] ? slash + 1 : path;
}

/* "host:port", "[v6]:port", or a Unix socket's path. */
void
report_put_endpoint(pqtls_buf *b, const report_group *g)
{
	const char *host = g->f[K_HOST];
	const char *port = g->f[K_PORT];

	if (host == NULL)
		host = "?";
	if (host[0] == '/' || (g->f[K_TRANSPORT] && strcmp(g->f[K_TRANSPORT], "unix") == 0))
	{
		report_put_safe(b, host);
		if (host[0] == '/')
		{
			buf_puts(b, host[1] && host[strlen(host) - 1] == '/' ? "" : "/");
			buf_puts(b, ".s.PGSQL.");
			report_put_safe(b, port ? port : "5432");
		}
		return;
	}
	if (strchr(host, ':') != NULL)
	{
		buf_putc(b, '[');
		report_put_safe(b, host);
		buf_putc(b, ']');
	}
	else
		report_put_safe(b, host);
	buf_putc(b, ':');
	report_put_safe(b, port ? port : "5432");
}

/* "prefer (default)", "verify-full (enforced; asked prefer)". */
void
report_put_sslmode(pqtls_buf *b, const report_group *g)
{
	report_put_safe(b, g->f[K_SSLMODE] ? g->f[K_SSLMODE] : "?");
	if (g->f[K_FORCED_FROM] != NULL)
	{
		buf_puts(b, " (enforced; asked ");
		report_put_safe(b, g->f[K_FORCED_FROM][0] ? g->f[K_FORCED_FROM] : "default");
		buf_putc(b, ')');
	}
	else if (g->f[K_SSLMODE_SOURCE] != NULL)
	{
		buf_puts(b, " (");
		report_put_safe(b, g->f[K_SSLMODE_SOURCE]);
		buf_putc(b, ')');
	}
}

bool
report_root_missing(const report_group *g)
{
	return g->f[K_ROOTCERT_EXISTS] != NULL && strcmp(g->f[K_ROOTCERT_EXISTS], "false") == 0;
}

void
report_put_outcomes(pqtls_buf *b, const report_group *g)
{
	const char *sep = "";
	long		other = g->count - g->ok - g->failed - g->abandoned;

	if (g->ok)
	{
		buf_printf(b, "%ld ok", g->ok);
		sep = ", ";
	}
	if (g->failed)
	{
		buf_printf(b, "%s%ld failed", sep, g->failed);
		sep = ", ";
	}
	if (g->abandoned)
	{
		buf_printf(b, "%s%ld abandoned", sep, g->abandoned);
		sep = ", ";
	}
	if (other > 0)
		buf_printf(b, "%s%ld other", sep, other);
}

/* The protocols seen, separated by sep; "none" for records without TLS. */
void
report_put_protocols(pqtls_buf *b, const report_group *g, const char *sep)
{
	const char *s = "";

	for (size_t i = 0; i < REPORT_N_PROTOCOLS; i++)
		if (g->protocols & (1u << i))
		{
			buf_printf(b, "%s%s", s, report_protocol_names[i]);
			s = sep;
		}
	if (g->protocol_other)
	{
		buf_puts(b, s);
		report_put_safe(b, g->protocol_other);
		s = sep;
	}
	if (g->no_tls > 0)
		buf_printf(b, "%snone", s);
}

const char *
report_status_colour(int st)
{
	switch (st)
	{
		case ST_BREAKS:
			return C_RED;
		case ST_DOWNGRADES:
			return C_YELLOW;
		case ST_OK:
			return C_GREEN;
	}
	return NULL;
}

void
report_flush(pqtls_buf *b, FILE *out)
{
	if (b->oom)
		report_out_of_memory();
	if (b->len > 0)
		fwrite(b->data, 1, b->len, out);
	buf_reset(b);
}
