/*
 * given.c: which settings the program's own call named.
 *
 * The values libpq used come from PQconninfo() on the finished connection; what
 * this file adds is where they came from, and it reads the call with the running
 * libpq's PQconninfoParse(), never by hand, so URIs, quoting, requiressl=1 and
 * ?ssl=true mean exactly what they mean to libpq.
 */
#include <stdlib.h>
#include <string.h>

#include "pqtls/attempt.h"

void
given_add_secret(given *g, const char *s, size_t len)
{
	char	   *copy;

	if (s == NULL || len == 0 || g->n_secrets >= MAX_SECRETS)
		return;
	for (int i = 0; i < g->n_secrets; i++)
		if (strlen(g->secrets[i]) == len && memcmp(g->secrets[i], s, len) == 0)
			return;
	copy = strndup(s, len);
	if (copy != NULL)
		g->secrets[g->n_secrets++] = copy;
}

static bool
is_secret_keyword(const char *kw)
{
	return strcmp(kw, "password") == 0 || strcmp(kw, "sslpassword") == 0;
}

/* Note one keyword=value the call gave (value non-empty, as libpq ignores empty ones). */
static void
replace(char **slot, const char *val)
{
	free(*slot);
	*slot = strdup(val);
}

static void
note_option(given *g, const char *kw, const char *val)
{
	if (kw == NULL || val == NULL || val[0] == '\0')
		return;
	if (strcmp(kw, "sslmode") == 0)
	{
		g->sslmode = true;
		replace(&g->sslmode_value, val);
	}
	else if (strcmp(kw, "requiressl") == 0)
	{
		/* conninfo_storeval(): requiressl=1 is sslmode=require, anything else prefer. */
		g->sslmode = true;
		replace(&g->sslmode_value, val[0] == '1' ? "require" : "prefer");
	}
	else if (strcmp(kw, "sslrootcert") == 0)
	{
		g->sslrootcert = true;
		replace(&g->sslrootcert_value, val);
	}
	else if (strcmp(kw, "service") == 0)
	{
		free(g->service);
		g->service = strdup(val);
	}
	else if (is_secret_keyword(kw))
		given_add_secret(g, val, strlen(val));
}

/* Parse with libpq; false when libpq rejects the string (it will fail the connection). */
static bool
note_parsed(given *g, pq_api *pq, const char *conninfo)
{
	PQconninfoOption *opts;
	char	   *err = NULL;

	opts = pq->PQconninfoParse(conninfo, &err);
	if (err != NULL)
		pq->PQfreemem(err);
	if (opts == NULL)
		return false;
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
		note_option(g, o->keyword, o->val);
	pq->PQconninfoFree(opts);
	return true;
}

void
given_from_string(given *g, pq_api *pq, const char *conninfo)
{
	memset(g, 0, sizeof(*g));
	if (conninfo == NULL)
		return;
	g->parsed = note_parsed(g, pq, conninfo);
	if (!g->parsed)
		given_scrape_secrets(g, conninfo);
}

/*
 * Mirrors recognized_connection_string() in fe-connect.c: a URI prefix, or an
 * '=' anywhere, makes libpq expand a dbname.
 */
static bool
looks_like_conninfo(const char *s)
{
	return strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0 ||
		strchr(s, '=') != NULL;
}

void
given_from_arrays(given *g, pq_api *pq, const char *const *keywords,
				  const char *const *values, int expand_dbname)
{
	bool		expanded = false;

	memset(g, 0, sizeof(*g));
	g->parsed = true;
	if (keywords == NULL || values == NULL)
		return;
	for (int i = 0; keywords[i] != NULL; i++)
	{
		const char *kw = keywords[i],
				   *val = values[i];

		if (val == NULL || val[0] == '\0')
			continue;
		/* conninfo_array_parse(): only the first dbname is expanded. */
		if (expand_dbname && !expanded && strcmp(kw, "dbname") == 0)
		{
			expanded = true;
			if (looks_like_conninfo(val))
			{
				if (!note_parsed(g, pq, val))
				{
					g->parsed = false;
					given_scrape_secrets(g, val);
				}
				continue;
			}
		}
		note_option(g, kw, val);
	}
}

void
given_from_setdb(given *g, pq_api *pq, const char *dbName, const char *pwd)
{
	memset(g, 0, sizeof(*g));
	g->parsed = true;
	/* PQsetdbLogin() expands dbName when it is a connection string. */
	if (dbName != NULL && looks_like_conninfo(dbName) && !note_parsed(g, pq, dbName))
	{
		g->parsed = false;
		given_scrape_secrets(g, dbName);
	}
	if (pwd != NULL)
		given_add_secret(g, pwd, strlen(pwd));
}

/* A value in conninfo syntax at s: quoted with backslash escapes, or up to white space. */
static void
scrape_value(given *g, const char *s)
{
	char		buf[1024];
	size_t		n = 0;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	if (*s == '\'')
	{
		for (s++; *s && *s != '\'' && n < sizeof(buf) - 1; s++)
		{
			if (*s == '\\' && s[1])
				s++;
			buf[n++] = *s;
		}
	}
	else
	{
		while (*s && *s != ' ' && *s != '\t' && *s != '\n' && *s != '\r' &&
			   *s != '&' && n < sizeof(buf) - 1)
			buf[n++] = *s++;
	}
	given_add_secret(g, buf, n);
}

/* One hex digit's value, or -1. */
static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Is the URI query key s[0..len) (percent-decoded as libpq would) a password keyword? */
static bool
is_secret_uri_key(const char *s, size_t len)
{
	char		key[16];
	size_t		n = 0;

	for (size_t i = 0; i < len; i++)
	{
		char		c = s[i];

		if (c == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0)
		{
			c = (char) (hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		}
		if (n == sizeof(key) - 1)
			return false;
		key[n++] = c;
	}
	key[n] = '\0';
	return is_secret_keyword(key);
}

/*
 * The values of password and sslpassword in a URI's query, raw (libpq quotes
 * the raw text when it cannot decode it); with_percent selects those holding
 * a '%' (the only ones a decoding error can quote) or the others.
 */
static void
scrape_uri_query(given *g, const char *query, bool with_percent)
{
	const char *p = query;

	while (*p)
	{
		size_t		len = strcspn(p, "&");
		const char *eq = memchr(p, '=', len);

		if (eq != NULL && is_secret_uri_key(p, eq - p))
		{
			const char *v = eq + 1;
			size_t		vlen = len - (v - p);

			if ((memchr(v, '%', vlen) != NULL) == with_percent)
				given_add_secret(g, v, vlen);
		}
		p += len;
		if (*p == '&')
			p++;
	}
}

/*
 * The string failed libpq's parser, and libpq's error message may quote part of
 * it. Collect anything that might be a password so the record can scrub it.
 *
 * There is room for MAX_SECRETS of them, so the ones a message can really
 * quote come first.  For a URI with a password or a query: the whole string
 * (libpq quotes the whole URI in several of its messages, and then every
 * password in it, however many and however spelt, is covered by this one
 * entry); then its user:password@ (libpq's userinfo ends at the first '/');
 * then the query's password values (key percent-decoded), those with a '%'
 * first, as only they can be quoted by a failed percent-decoding.  Outside a
 * URI, libpq's parser quotes keywords, never values, but password=... is
 * collected all the same.
 */
void
given_scrape_secrets(given *g, const char *conninfo)
{
	const char *p,
			   *scheme,
			   *at = NULL,
			   *colon = NULL,
			   *query;
	bool		userinfo = false;
	bool		uri = strncmp(conninfo, "postgresql://", 13) == 0 ||
		strncmp(conninfo, "postgres://", 11) == 0;

	scheme = strstr(conninfo, "://");
	if (scheme != NULL)
	{
		const char *auth = scheme + 3,
				   *end = auth + strcspn(auth, "/");

		at = memchr(auth, '@', end - auth);
		if (at != NULL)
			colon = memchr(auth, ':', at - auth);
		userinfo = colon != NULL && at > colon + 1;
	}
	/* The whole string first: scrubbing a part first would hide it from this one. */
	if (uri && (userinfo || ((query = strchr(conninfo, '?')) != NULL && query[1] != '\0')))
		given_add_secret(g, conninfo, strlen(conninfo));
	if (colon != NULL)
		given_add_secret(g, colon + 1, at - colon - 1);
	if (uri && (query = strchr(conninfo, '?')) != NULL)
	{
		scrape_uri_query(g, query + 1, true);
		scrape_uri_query(g, query + 1, false);
	}
	for (p = conninfo; (p = strstr(p, "password")) != NULL; p += 8)
	{
		const char *q = p + 8;

		while (*q == ' ' || *q == '\t')
			q++;
		if (*q == '=')
			scrape_value(g, q + 1);
	}
}

void
given_copy(given *dst, const given *src)
{
	*dst = *src;
	dst->service = src->service ? strdup(src->service) : NULL;
	dst->sslmode_value = src->sslmode_value ? strdup(src->sslmode_value) : NULL;
	dst->sslrootcert_value = src->sslrootcert_value ? strdup(src->sslrootcert_value) : NULL;
	dst->n_secrets = 0;
	for (int i = 0; i < src->n_secrets; i++)
		given_add_secret(dst, src->secrets[i], strlen(src->secrets[i]));
}

void
given_clear(given *g)
{
	free(g->service);
	free(g->sslmode_value);
	free(g->sslrootcert_value);
	for (int i = 0; i < g->n_secrets; i++)
		free(g->secrets[i]);
	memset(g, 0, sizeof(*g));
}
