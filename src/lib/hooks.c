/*
 * hooks.c: the libpq entry points libpqtls.so exports, and nothing else.
 *
 * Each hook finds the libpq copy that serves its caller, lets the real function
 * do all the work, and records the attempt afterwards. One call by the program
 * is one record: calls libpq makes to itself while a hook is on the stack (the
 * guard in attempt.c) go straight to the real function.
 *
 * When no libpq can be found, the program gets what libpq returns when it
 * cannot allocate a connection, never a call through NULL.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "pqtls/attempt.h"
#include "pqtls/conns.h"
#include "pqtls/diag.h"
#include "pqtls/resolve.h"
#include "pqtls/rewrite.h"

#define PQTLS_EXPORT __attribute__((visibility("default")))
#define CALLER() __builtin_return_address(0)

static pq_api *
serving(const void *caller, const char *fn)
{
	pq_api	   *pq = pq_for_caller(caller);

	if (pq == NULL)
		diag_once("no-libpq", "%s was called but no libpq with it is loaded in this process; "
				  "returning libpq's failure value", fn);
	return pq;
}

/*
 * enforce: the call's own arguments turned into keyword arrays with the forced
 * settings last (rewrite.h). False leaves the call as the program made it.
 */
static bool
forced_string(attempt *a, rewritten *rw, const char *conninfo)
{
	memset(rw, 0, sizeof(*rw));
	if (!rewrite_active(a) || !rewrite_string(rw, a->pq, conninfo))
		return false;
	rewrite_note_forced(a);
	return true;
}

static bool
forced_arrays(attempt *a, rewritten *rw, const char *const *keywords,
			  const char *const *values, int expand_dbname)
{
	memset(rw, 0, sizeof(*rw));
	if (!rewrite_active(a) || !rewrite_arrays(rw, a->pq, keywords, values, expand_dbname))
		return false;
	rewrite_note_forced(a);
	return true;
}

/* A blocking connect: real call under the guard, then the record. */
static PGconn *
finish_blocking(attempt *a, PGconn *conn)
{
	attempt_finish(a, conn, OUTCOME_FAILED, false);
	if (conn != NULL)
	{
		conns_track(conn, &a->given, NULL);
		conns_note_forced(conn, &a->forced);
	}
	attempt_clear(a);
	return conn;
}

PQTLS_EXPORT PGconn *
PQconnectdb(const char *conninfo)
{
	attempt    *inner = guard_current(),
			   *prev,
				a;
	pq_api	   *pq;
	rewritten	rw;
	PGconn	   *conn;

	if (inner != NULL)
		return inner->pq->PQconnectdb(conninfo);
	if ((pq = serving(CALLER(), "PQconnectdb")) == NULL)
		return NULL;
	attempt_init(&a, "PQconnectdb", pq);
	given_from_string(&a.given, pq, conninfo);
	prev = guard_enter(&a);
	if (forced_string(&a, &rw, conninfo))
		conn = pq->PQconnectdbParams(rw.keywords, rw.values, rw.expand_dbname);
	else
		conn = pq->PQconnectdb(conninfo);
	guard_leave(prev);
	rewritten_free(&rw);
	return finish_blocking(&a, conn);
}

PQTLS_EXPORT PGconn *
PQconnectdbParams(const char *const *keywords, const char *const *values, int expand_dbname)
{
	attempt    *inner = guard_current(),
			   *prev,
				a;
	pq_api	   *pq;
	rewritten	rw;
	PGconn	   *conn;

	if (inner != NULL)
		return inner->pq->PQconnectdbParams(keywords, values, expand_dbname);
	if ((pq = serving(CALLER(), "PQconnectdbParams")) == NULL)
		return NULL;
	attempt_init(&a, "PQconnectdbParams", pq);
	given_from_arrays(&a.given, pq, keywords, values, expand_dbname);
	prev = guard_enter(&a);
	if (forced_arrays(&a, &rw, keywords, values, expand_dbname))
		conn = pq->PQconnectdbParams(rw.keywords, rw.values, rw.expand_dbname);
	else
		conn = pq->PQconnectdbParams(keywords, values, expand_dbname);
	guard_leave(prev);
	rewritten_free(&rw);
	return finish_blocking(&a, conn);
}

PQTLS_EXPORT PGconn *
PQsetdbLogin(const char *pghost, const char *pgport, const char *pgoptions,
			 const char *pgtty, const char *dbName, const char *login, const char *pwd)
{
	attempt    *inner = guard_current(),
			   *prev,
				a;
	pq_api	   *pq;
	rewritten	rw;
	PGconn	   *conn;

	if (inner != NULL)
		return inner->pq->PQsetdbLogin(pghost, pgport, pgoptions, pgtty, dbName, login, pwd);
	if ((pq = serving(CALLER(), "PQsetdbLogin")) == NULL)
		return NULL;
	attempt_init(&a, "PQsetdbLogin", pq);
	given_from_setdb(&a.given, pq, dbName, pwd);
	prev = guard_enter(&a);
	memset(&rw, 0, sizeof(rw));
	if (rewrite_active(&a) &&
		rewrite_setdb(&rw, pq, pghost, pgport, pgoptions, dbName, login, pwd))
	{
		rewrite_note_forced(&a);
		conn = pq->PQconnectdbParams(rw.keywords, rw.values, rw.expand_dbname);
	}
	else
		conn = pq->PQsetdbLogin(pghost, pgport, pgoptions, pgtty, dbName, login, pwd);
	guard_leave(prev);
	rewritten_free(&rw);
	return finish_blocking(&a, conn);
}

/*
 * A non-blocking connect: the attempt waits in the connection table until
 * PQconnectPoll reports the end or PQfinish abandons it. One that fails at once
 * is recorded at once.
 */
static PGconn *
start_nonblocking(attempt *a, PGconn *conn)
{
	forced		f = {0};

	if (conn == NULL || a->pq->PQstatus(conn) == CONNECTION_BAD)
	{
		attempt_finish(a, conn, OUTCOME_FAILED, false);
		if (conn != NULL)
		{
			conns_track(conn, &a->given, NULL);
			conns_note_forced(conn, &a->forced);
		}
		attempt_free(a);
		return conn;
	}
	/* The table owns `a` from here: its forced settings are noted from a copy. */
	forced_copy(&f, &a->forced);
	conns_track(conn, &a->given, a);
	conns_note_forced(conn, &f);
	forced_clear(&f);
	return conn;
}

PQTLS_EXPORT PGconn *
PQconnectStart(const char *conninfo)
{
	attempt    *inner = guard_current(),
			   *prev,
			   *a;
	pq_api	   *pq;
	rewritten	rw;
	PGconn	   *conn;

	if (inner != NULL)
		return inner->pq->PQconnectStart(conninfo);
	if ((pq = serving(CALLER(), "PQconnectStart")) == NULL)
		return NULL;
	if ((a = attempt_new("PQconnectStart", pq)) == NULL)
		return pq->PQconnectStart(conninfo);
	given_from_string(&a->given, pq, conninfo);
	prev = guard_enter(a);
	if (forced_string(a, &rw, conninfo))
		conn = pq->PQconnectStartParams(rw.keywords, rw.values, rw.expand_dbname);
	else
		conn = pq->PQconnectStart(conninfo);
	guard_leave(prev);
	rewritten_free(&rw);
	return start_nonblocking(a, conn);
}

PQTLS_EXPORT PGconn *
PQconnectStartParams(const char *const *keywords, const char *const *values, int expand_dbname)
{
	attempt    *inner = guard_current(),
			   *prev,
			   *a;
	pq_api	   *pq;
	rewritten	rw;
	PGconn	   *conn;

	if (inner != NULL)
		return inner->pq->PQconnectStartParams(keywords, values, expand_dbname);
	if ((pq = serving(CALLER(), "PQconnectStartParams")) == NULL)
		return NULL;
	if ((a = attempt_new("PQconnectStartParams", pq)) == NULL)
		return pq->PQconnectStartParams(keywords, values, expand_dbname);
	given_from_arrays(&a->given, pq, keywords, values, expand_dbname);
	prev = guard_enter(a);
	if (forced_arrays(a, &rw, keywords, values, expand_dbname))
		conn = pq->PQconnectStartParams(rw.keywords, rw.values, rw.expand_dbname);
	else
		conn = pq->PQconnectStartParams(keywords, values, expand_dbname);
	guard_leave(prev);
	rewritten_free(&rw);
	return start_nonblocking(a, conn);
}

typedef PostgresPollingStatusType (*poll_fn) (PGconn *conn);

/* PQconnectPoll and PQresetPoll: record the pending attempt when polling ends. */
static PostgresPollingStatusType
poll_pending(PGconn *conn, attempt *a, bool reset)
{
	attempt    *prev;
	poll_fn		fn = reset ? a->pq->PQresetPoll : a->pq->PQconnectPoll;
	PostgresPollingStatusType r;

	prev = guard_enter(a);
	r = fn(conn);
	guard_leave(prev);
	if (r == PGRES_POLLING_OK || r == PGRES_POLLING_FAILED)
	{
		a = conns_take_pending(conn);
		if (a != NULL)
		{
			attempt_finish(a, conn, OUTCOME_FAILED, false);
			attempt_free(a);
		}
	}
	return r;
}

PQTLS_EXPORT PostgresPollingStatusType
PQconnectPoll(PGconn *conn)
{
	attempt    *inner = guard_current(),
			   *a;
	pq_api	   *pq;

	if (inner != NULL)
		return inner->pq->PQconnectPoll(conn);
	a = conn != NULL ? conns_pending(conn) : NULL;
	if (a != NULL)
		return poll_pending(conn, a, false);
	if ((pq = serving(CALLER(), "PQconnectPoll")) == NULL)
		return PGRES_POLLING_FAILED;
	return pq->PQconnectPoll(conn);
}

PQTLS_EXPORT PostgresPollingStatusType
PQresetPoll(PGconn *conn)
{
	attempt    *inner = guard_current(),
			   *a;
	pq_api	   *pq;

	if (inner != NULL)
		return inner->pq->PQresetPoll(conn);
	a = conn != NULL ? conns_pending(conn) : NULL;
	if (a != NULL)
		return poll_pending(conn, a, true);
	if ((pq = serving(CALLER(), "PQresetPoll")) == NULL)
		return PGRES_POLLING_FAILED;
	return pq->PQresetPoll(conn);
}

PQTLS_EXPORT void
PQfinish(PGconn *conn)
{
	attempt    *inner = guard_current(),
			   *a = NULL;
	pq_api	   *pq;

	if (inner != NULL)
	{
		/* PQping frees its connection inside libpq: read it first. */
		if (inner->is_ping && conn != NULL)
			attempt_snapshot(inner, conn);
		inner->pq->PQfinish(conn);
		return;
	}
	if (conn != NULL)
		a = conns_forget(conn);
	if (a != NULL)
	{
		/* Closed before PQconnectPoll said how it ended. */
		attempt_finish(a, conn, OUTCOME_ABANDONED, true);
		pq = a->pq;
		attempt_free(a);
	}
	else if ((pq = serving(CALLER(), "PQfinish")) == NULL)
		return;
	pq->PQfinish(conn);
}

PQTLS_EXPORT PGPing
PQping(const char *conninfo)
{
	attempt    *inner = guard_current(),
			   *prev,
				a;
	pq_api	   *pq;
	rewritten	rw;
	PGPing		r;

	if (inner != NULL)
		return inner->pq->PQping(conninfo);
	if ((pq = serving(CALLER(), "PQping")) == NULL)
		return PQPING_NO_ATTEMPT;
	attempt_init(&a, "PQping", pq);
	a.is_ping = true;
	given_from_string(&a.given, pq, conninfo);
	prev = guard_enter(&a);
	if (forced_string(&a, &rw, conninfo))
		r = pq->PQpingParams(rw.keywords, rw.values, rw.expand_dbname);
	else
		r = pq->PQping(conninfo);
	guard_leave(prev);
	rewritten_free(&rw);
	attempt_finish_ping(&a, r);
	attempt_clear(&a);
	return r;
}

PQTLS_EXPORT PGPing
PQpingParams(const char *const *keywords, const char *const *values, int expand_dbname)
{
	attempt    *inner = guard_current(),
			   *prev,
				a;
	pq_api	   *pq;
	rewritten	rw;
	PGPing		r;

	if (inner != NULL)
		return inner->pq->PQpingParams(keywords, values, expand_dbname);
	if ((pq = serving(CALLER(), "PQpingParams")) == NULL)
		return PQPING_NO_ATTEMPT;
	attempt_init(&a, "PQpingParams", pq);
	a.is_ping = true;
	given_from_arrays(&a.given, pq, keywords, values, expand_dbname);
	prev = guard_enter(&a);
	if (forced_arrays(&a, &rw, keywords, values, expand_dbname))
		r = pq->PQpingParams(rw.keywords, rw.values, rw.expand_dbname);
	else
		r = pq->PQpingParams(keywords, values, expand_dbname);
	guard_leave(prev);
	rewritten_free(&rw);
	attempt_finish_ping(&a, r);
	attempt_clear(&a);
	return r;
}

PQTLS_EXPORT void
PQreset(PGconn *conn)
{
	attempt    *inner = guard_current(),
			   *prev,
				a;
	pq_api	   *pq;

	if (inner != NULL)
	{
		inner->pq->PQreset(conn);
		return;
	}
	if ((pq = serving(CALLER(), "PQreset")) == NULL)
		return;
	if (conn == NULL)
	{
		pq->PQreset(conn);
		return;
	}
	attempt_init(&a, "PQreset", pq);
	conns_given(conn, &a.given);
	conns_forced(conn, &a.forced);	/* libpq reconnects with the options enforce set */
	prev = guard_enter(&a);
	pq->PQreset(conn);
	guard_leave(prev);
	attempt_finish(&a, conn, OUTCOME_FAILED, false);
	attempt_clear(&a);
}

PQTLS_EXPORT int
PQresetStart(PGconn *conn)
{
	attempt    *inner = guard_current(),
			   *prev,
			   *a;
	pq_api	   *pq;
	int			ok;

	if (inner != NULL)
		return inner->pq->PQresetStart(conn);
	if ((pq = serving(CALLER(), "PQresetStart")) == NULL)
		return 0;
	if (conn == NULL || (a = attempt_new("PQresetStart", pq)) == NULL)
		return pq->PQresetStart(conn);
	conns_given(conn, &a->given);
	conns_forced(conn, &a->forced);
	prev = guard_enter(a);
	ok = pq->PQresetStart(conn);
	guard_leave(prev);
	if (!ok)
	{
		attempt_finish(a, conn, OUTCOME_FAILED, false);
		attempt_free(a);
	}
	else if (!conns_set_pending(conn, a))
		conns_track(conn, &a->given, a);
	return ok;
}
