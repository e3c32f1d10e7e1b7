/*
 * libpq17.h: what libpq 17 added for cancel connections (fe-cancel.c), declared here
 * because the helpers are compiled with Debian 12's headers (libpq 15) whatever libpq
 * they are linked with (tests/lib/embedded.py builds them against 13 to 18).
 *
 * The declarations are weak: a helper that mentions them still links against libpq 13
 * to 16, where they are absent (the address is then NULL). Call them only when
 * PQlibVersion() >= 170000 -- under LD_PRELOAD an interposer may define the names even
 * where libpq does not.
 */
#ifndef PQTLS_TESTS_LIBPQ17_H
#define PQTLS_TESTS_LIBPQ17_H

#include <libpq-fe.h>

#ifndef LIBPQ_HAS_ASYNC_CANCEL		/* set by libpq-fe.h from 17 on */

typedef struct pg_cancel_conn PGcancelConn;

extern PGcancelConn *PQcancelCreate(PGconn *conn) __attribute__((weak));
extern int	PQcancelStart(PGcancelConn *cancelConn) __attribute__((weak));
extern int	PQcancelBlocking(PGcancelConn *cancelConn) __attribute__((weak));
extern PostgresPollingStatusType PQcancelPoll(PGcancelConn *cancelConn) __attribute__((weak));
extern ConnStatusType PQcancelStatus(const PGcancelConn *cancelConn) __attribute__((weak));
extern int	PQcancelSocket(const PGcancelConn *cancelConn) __attribute__((weak));
extern char *PQcancelErrorMessage(const PGcancelConn *cancelConn) __attribute__((weak));
extern void PQcancelReset(PGcancelConn *cancelConn) __attribute__((weak));
extern void PQcancelFinish(PGcancelConn *cancelConn) __attribute__((weak));

#endif							/* LIBPQ_HAS_ASYNC_CANCEL */

#endif							/* PQTLS_TESTS_LIBPQ17_H */
