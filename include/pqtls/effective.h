/*
 * effective.h: the settings a finished connection really used, and where each
 * came from, as libpq resolved them (PQconninfo() on the PGconn: connection
 * string, service file, environment and compiled-in defaults all applied).
 */
#ifndef PQTLS_EFFECTIVE_H
#define PQTLS_EFFECTIVE_H

#include <stdbool.h>

#include "pqtls/attempt.h"

typedef struct effective
{
	char	   *host;			/* the host connected to, or tried last */
	char	   *hostaddr;		/* the address connected to, when known */
	char	   *port;
	char	   *dbname;
	char	   *user;
	char	   *hosts;			/* the whole host list when it names more than one */
	char	   *application_name;
	const char *transport;		/* "tcp" or "unix" */
	char	   *sslmode;
	const char *sslmode_source; /* conninfo, service, env, default */
	char	   *sslrootcert;	/* as libpq holds it, or NULL */
	const char *sslrootcert_source;
	char	   *rootcert_file;	/* the file libpq reads root certificates from */
	bool		rootcert_exists;
	bool		rootcert_system;	/* sslrootcert=system (libpq 16+) */
	const char *verify;			/* none, ca, full */
} effective;

void		effective_from_conn(effective *e, pq_api *pq, PGconn *conn, const given *g);
void		effective_free(effective *e);

/*
 * The pieces, exposed for the rehearsal: libpq's root file for a given
 * sslrootcert (initialize_SSL() in fe-secure-openssl.c), and what a connection
 * checks for an sslmode, transport and root file.
 */
char	   *effective_rootcert_file(const char *sslrootcert, int libpq_version, bool *is_system);
const char *effective_verify(const char *sslmode, bool unix_socket, bool rootcert_exists);

/*
 * What `keyword` (sslmode or sslrootcert) would be for a call that said `g`,
 * before enforce changes it: the call's value, else the service's, else the
 * environment's, else libpq's default. Malloc'ed, NULL for no value.
 */
char	   *effective_unforced(const char *keyword, const given *g);

#endif
