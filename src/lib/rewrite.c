/*
 * rewrite.c: the enforce rewrite (see rewrite.h).
 */
#include <stdlib.h>
#include <string.h>

#include "pqtls/diag.h"
#include "pqtls/effective.h"
#include "pqtls/rewrite.h"

#define FORCED 3				/* sslmode, sslrootcert, gssencmode */

bool
rewrite_active(const attempt *a)
{
	return a->set->mode == PQTLS_ENFORCE;
}

static bool
alloc_arrays(rewritten *rw, int n)
{
	rw->keywords = calloc(n + FORCED + 1, sizeof(char *));
	rw->values = calloc(n + FORCED + 1, sizeof(char *));
	return rw->keywords != NULL && rw->values != NULL;
}

/* Append the forced settings after position n; they win over anything before. */
static void
append_forced(rewritten *rw, int n)
{
	const char *bundle = settings_get()->bundle;

	rw->keywords[n] = "sslmode";
	rw->values[n++] = "verify-full";
	if (bundle != NULL)
	{
		rw->keywords[n] = "sslrootcert";
		rw->values[n++] = bundle;
	}
	else
		diag_once("enforce-bundle", "PQTLS_MODE=enforce without PQTLS_BUNDLE: connections are "
				  "forced to sslmode=verify-full against libpq's default root file");
	rw->keywords[n] = "gssencmode";
	rw->values[n++] = "disable";
	rw->keywords[n] = NULL;
	rw->values[n] = NULL;
}

static bool
has_empty_value(const PQconninfoOption *opts)
{
	for (const PQconninfoOption *o = opts; o->keyword != NULL; o++)
		if (o->val != NULL && o->val[0] == '\0')
			return true;
	return false;
}

bool
rewrite_string(rewritten *rw, pq_api *pq, const char *conninfo)
{
	char	   *err = NULL;
	int			n = 0;

	memset(rw, 0, sizeof(*rw));
	rw->pq = pq;
	if (conninfo == NULL)
		return false;
	rw->parsed = pq->PQconninfoParse(conninfo, &err);
	if (err != NULL)
		pq->PQfreemem(err);
	if (rw->parsed == NULL)
		return false;
	for (PQconninfoOption *o = rw->parsed; o->keyword != NULL; o++)
		n++;
	if (!alloc_arrays(rw, n))
	{
		rewritten_free(rw);
		return false;
	}
	if (has_empty_value(rw->parsed))
	{
		/*
		 * conninfo_array_parse() takes an empty value for no value, where the
		 * string gave one: ssl_min_protocol_version='' means no lower bound, not
		 * the default TLSv1.2, sslsni='' no SNI. So the string goes whole, as
		 * an expanded dbname (parsed as a string, empty values kept), and the
		 * forced settings after it.
		 */
		rw->keywords[0] = "dbname";
		rw->values[0] = conninfo;
		append_forced(rw, 1);
		rw->expand_dbname = 1;
		return true;
	}
	n = 0;
	for (PQconninfoOption *o = rw->parsed; o->keyword != NULL; o++)
	{
		if (o->val == NULL)
			continue;
		rw->keywords[n] = o->keyword;
		rw->values[n++] = o->val;
	}
	append_forced(rw, n);
	rw->expand_dbname = 0;		/* the string is already taken apart */
	return true;
}

bool
rewrite_arrays(rewritten *rw, pq_api *pq, const char *const *keywords,
			   const char *const *values, int expand_dbname)
{
	int			n = 0;

	memset(rw, 0, sizeof(*rw));
	rw->pq = pq;
	if (keywords == NULL || values == NULL)
		return false;
	while (keywords[n] != NULL)
		n++;
	if (!alloc_arrays(rw, n))
	{
		rewritten_free(rw);
		return false;
	}
	for (int i = 0; i < n; i++)
	{
		rw->keywords[i] = keywords[i];
		rw->values[i] = values[i];
	}
	append_forced(rw, n);
	rw->expand_dbname = expand_dbname;
	return true;
}

/*
 * PQsetdbLogin(): dbName may itself be a connection string; the other
 * arguments override it when non-empty (PQsetdbLogin() in fe-connect.c).
 * As keyword arrays: dbname first, expanded, then the arguments, then ours.
 */
bool
rewrite_setdb(rewritten *rw, pq_api *pq, const char *pghost, const char *pgport,
			  const char *pgoptions, const char *dbName, const char *login, const char *pwd)
{
	const char *kw[] = {"dbname", "host", "port", "options", "user", "password"};
	const char *val[] = {dbName, pghost, pgport, pgoptions, login, pwd};
	int			n = 0;

	memset(rw, 0, sizeof(*rw));
	rw->pq = pq;
	if (!alloc_arrays(rw, 6))
	{
		rewritten_free(rw);
		return false;
	}
	for (int i = 0; i < 6; i++)
	{
		if (val[i] == NULL || val[i][0] == '\0')
			continue;
		rw->keywords[n] = kw[i];
		rw->values[n++] = val[i];
	}
	append_forced(rw, n);
	rw->expand_dbname = 1;
	return true;
}

void
rewritten_free(rewritten *rw)
{
	if (rw->parsed != NULL)
		rw->pq->PQconninfoFree(rw->parsed);
	free(rw->keywords);
	free(rw->values);
	memset(rw, 0, sizeof(*rw));
}

void
rewrite_note_forced(attempt *a)
{
	const char *bundle = a->set->bundle;

	a->forced.active = true;
	a->forced.from_sslmode = effective_unforced("sslmode", &a->given, a->pq->version);
	a->forced.from_sslrootcert = effective_unforced("sslrootcert", &a->given, a->pq->version);
	a->forced.to_sslmode = strdup("verify-full");
	a->forced.to_sslrootcert = bundle ? strdup(bundle) : NULL;
	/* The connection libpq makes names them in its options now. */
	a->given.sslmode = true;
	a->given.sslrootcert = bundle != NULL;
}
