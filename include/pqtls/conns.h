/*
 * conns.h: the program's live PGconns, keyed by pointer (uthash).
 *
 * Each entry keeps what the opening call said (for the sources of a later
 * PQreset) and the attempt of a non-blocking connect still in progress, which
 * PQconnectPoll completes and PQfinish abandons. Entries leave at PQfinish, so
 * the table holds as many entries as the program holds connections.
 */
#ifndef PQTLS_CONNS_H
#define PQTLS_CONNS_H

#include "pqtls/attempt.h"

/* Remember conn with a copy of g; `pending` (may be NULL) becomes the table's. */
void		conns_track(PGconn *conn, const given *g, attempt *pending);

/* The pending attempt of conn, or NULL; it stays in the table. */
attempt    *conns_pending(PGconn *conn);

/* Detach and return the pending attempt of conn (the caller frees it). */
attempt    *conns_take_pending(PGconn *conn);

/* Make `a` the pending attempt of a tracked conn (PQresetStart); false if untracked. */
bool		conns_set_pending(PGconn *conn, attempt *a);

/* Copy what the opening call said; false when conn is not tracked. */
bool		conns_given(PGconn *conn, given *out);

/*
 * What enforce changed for the call that opened conn. A connection libpq makes
 * again from conn's options (PQreset, PQresetStart) or copies them into (a
 * PQcancelCreate cancel connection) was forced the same way.
 */
void		conns_note_forced(PGconn *conn, const forced *f);
/* Copy it into out (left cleared when conn was not forced or is not tracked). */
void		conns_forced(PGconn *conn, forced *out);

/* Forget conn; returns its pending attempt, if any, for the caller to record. */
attempt    *conns_forget(PGconn *conn);

/* How many connections are tracked (tests and leak checks). */
unsigned	conns_count(void);

#endif
