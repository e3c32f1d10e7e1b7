/*
 * attempt.h: one connection attempt by the program, from the hook that saw it
 * begin to the record that says how it ended.
 *
 * A blocking call (PQconnectdb, PQping, ...) lives on the hook's stack. A
 * non-blocking one (PQconnectStart, PQresetStart) lives in the connection table
 * until PQconnectPoll reports the end, or PQfinish abandons it.
 */
#ifndef PQTLS_ATTEMPT_H
#define PQTLS_ATTEMPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "pqtls/resolve.h"
#include "pqtls/settings.h"

#define MAX_SECRETS 8
#define MAX_CHAIN 10

/* What the program's own call said (not libpq's defaults). */
typedef struct given
{
	bool		parsed;			/* the call's options could be read */
	bool		sslmode;		/* sslmode, requiressl or a URI's ssl=true */
	bool		sslrootcert;
	char	   *sslmode_value;	/* the values given, malloc'ed, or NULL */
	char	   *sslrootcert_value;
	char	   *service;		/* service=..., malloc'ed, or NULL */
	int			n_secrets;
	char	   *secrets[MAX_SECRETS];	/* passwords to scrub from messages */
} given;

typedef struct cert_der
{
	uint8_t    *der;
	size_t		len;
} cert_der;

/* The server's certificates as received, leaf first. */
typedef struct peer_chain
{
	int			n;
	cert_der	cert[MAX_CHAIN];
} peer_chain;

/* What the last TLS handshake of the attempt negotiated (capture.c). */
typedef struct handshake_info
{
	bool		ok;				/* SSL_connect() returned 1 */
	char		protocol[32];	/* as PQsslAttribute(conn, "protocol") reads it */
	char		cipher[96];		/* as PQsslAttribute(conn, "cipher") reads it */
	bool		alpn_postgresql;	/* the server selected ALPN "postgresql" */
} handshake_info;

typedef enum outcome
{
	OUTCOME_OK,
	OUTCOME_FAILED,
	OUTCOME_ABANDONED,
} outcome;

/* The enforce rewrite: what the program asked for, what it got instead. */
typedef struct forced
{
	bool		active;
	char	   *from_sslmode;
	char	   *from_sslrootcert;
	char	   *to_sslmode;
	char	   *to_sslrootcert;
} forced;

typedef struct attempt
{
	const char *api;
	pq_api	   *pq;
	const pqtls_settings *set;
	given		given;
	forced		forced;
	peer_chain	captured;		/* seen during the handshake, failed or not */
	handshake_info handshake;	/* the last handshake's protocol and cipher */
	bool		is_ping;
	bool		is_cancel;		/* a PGcancelConn (libpq 17): its TLS is gone when it ends */
	bool		have_snapshot;	/* PQping: the record was taken from libpq's inner conn */
	struct record_data *snapshot;
	PGconn	   *conn;			/* the live connection while its record is made, else NULL */
} attempt;

/* Free or deep-copy what enforce changed (dst is cleared first). */
void		forced_clear(forced *f);
void		forced_copy(forced *dst, const forced *src);

void		attempt_init(attempt *a, const char *api, pq_api *pq);
attempt    *attempt_new(const char *api, pq_api *pq);
void		attempt_clear(attempt *a);
void		attempt_free(attempt *a);

/* Record how the attempt ended on `conn` (NULL: libpq could not even allocate). */
void		attempt_finish(attempt *a, PGconn *conn, outcome forced_outcome, bool use_forced_outcome);

/* PQping: read the inner connection before libpq frees it. */
void		attempt_snapshot(attempt *a, PGconn *conn);
/* PQping: write the record once the ping result is known. */
void		attempt_finish_ping(attempt *a, PGPing result);

/* given.c: what the call said, read with the running libpq's own parser. */
void		given_from_string(given *g, pq_api *pq, const char *conninfo);
void		given_from_arrays(given *g, pq_api *pq, const char *const *keywords,
							  const char *const *values, int expand_dbname);
void		given_from_setdb(given *g, pq_api *pq, const char *dbName, const char *pwd);
void		given_copy(given *dst, const given *src);
void		given_clear(given *g);
void		given_add_secret(given *g, const char *s, size_t len);
/* Best effort for strings libpq cannot parse: password=... and URI user:pass@. */
void		given_scrape_secrets(given *g, const char *conninfo);

/* The thread's recursion guard: the attempt a hook on this stack is serving. */
attempt    *guard_current(void);
attempt    *guard_enter(attempt *a);	/* returns the previous one */
void		guard_leave(attempt *prev);

void		peer_chain_free(peer_chain *c);

#endif
