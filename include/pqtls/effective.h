/*
 * effective.h: the settings a finished connection really used, and where each
 * came from, as libpq resolved them (PQconninfo() on the PGconn: connection
 * string, service file, environment and compiled-in defaults all applied).
 */
#ifndef PQTLS_EFFECTIVE_H
#define PQTLS_EFFECTIVE_H

#include <stdbool.h>

#include "pqtls/attempt.h"
#include "pqtls/libpq_rules.h"
#include "pqtls/ossl.h"

/*
 * TLS settings that only some libpq versions have, in the record's order:
 * ssl_min/max_protocol_version (13), sslsni (14), sslcertmode (16),
 * sslnegotiation (17). Each is in the record exactly when the serving libpq's
 * PQconninfo() lists its keyword.
 */
enum
{
	VS_SSLNEGOTIATION,
	VS_SSLCERTMODE,
	VS_SSL_MIN_PROTOCOL_VERSION,
	VS_SSL_MAX_PROTOCOL_VERSION,
	VS_SSLSNI,
	VS_COUNT
};

#define VS_NAME_MAX 32
extern const char effective_versioned_names[VS_COUNT][VS_NAME_MAX];

typedef struct versioned_setting
{
	bool		present;		/* the serving libpq has this keyword */
	char	   *value;			/* as libpq holds it, or NULL */
} versioned_setting;

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
	int			libpq_version;	/* PQlibVersion() of the serving libpq, e.g. 170010 */
	versioned_setting versioned[VS_COUNT];
	bool		client_cert_exists; /* a client certificate file for libpq to send */
} effective;

void		effective_from_conn(effective *e, pq_api *pq, PGconn *conn, const given *g);
void		effective_free(effective *e);

/*
 * The pieces, exposed for the rehearsal: libpq's root file for a given
 * sslrootcert (initialize_SSL() in fe-secure-openssl.c), and what a connection
 * checks for an sslmode, transport and root file.
 */
char	   *effective_rootcert_file(const char *sslrootcert, int libpq_version, const ossl *o,
									bool *is_system);
const char *effective_verify(const char *sslmode, bool unix_socket, bool rootcert_exists);

/*
 * What `keyword` (sslmode or sslrootcert) would be for a call that said `g`,
 * before enforce changes it: the call's value, else the service's, else the
 * environment's, else that libpq version's default. Malloc'ed, NULL for no value.
 */
char	   *effective_unforced(const char *keyword, const given *g, int libpq_version);

/* The settings libpq_refuses() judges, pointing into e. */
void		effective_rules(const effective *e, libpq_settings *s);

#endif
