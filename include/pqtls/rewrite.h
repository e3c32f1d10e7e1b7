/*
 * rewrite.h: enforce. The program's connection is made with
 * sslmode=verify-full sslrootcert=$PQTLS_BUNDLE (and gssencmode=disable, so
 * that TLS is really tried) in place of what it asked for; every other
 * parameter stays as the program gave it.
 *
 * Every entry point is turned into libpq's keyword arrays, with the forced
 * settings appended last: conninfo_array_parse() lets a later keyword override
 * an earlier one, including what an expanded dbname set. Connection strings are
 * read with the running libpq's PQconninfoParse(), never by hand; one that sets a
 * value empty goes whole as an expanded dbname (the arrays would take an empty
 * value for none, and libpq's default would replace it).
 */
#ifndef PQTLS_REWRITE_H
#define PQTLS_REWRITE_H

#include "pqtls/attempt.h"

typedef struct rewritten
{
	const char **keywords;		/* NULL-terminated */
	const char **values;
	int			expand_dbname;
	PQconninfoOption *parsed;	/* owns the strings of a parsed connection string */
	pq_api	   *pq;
} rewritten;

/* A connection string; false when libpq cannot parse it (pass it on unchanged). */
bool		rewrite_string(rewritten *rw, pq_api *pq, const char *conninfo);
bool		rewrite_arrays(rewritten *rw, pq_api *pq, const char *const *keywords,
						   const char *const *values, int expand_dbname);
bool		rewrite_setdb(rewritten *rw, pq_api *pq, const char *pghost, const char *pgport,
						  const char *pgoptions, const char *dbName, const char *login,
						  const char *pwd);
void		rewritten_free(rewritten *rw);

/* Fill a->forced (from: what the call would have had; to: what it gets). */
void		rewrite_note_forced(attempt *a);

/* Is this attempt to be forced (PQTLS_MODE=enforce)? */
bool		rewrite_active(const attempt *a);

#endif
