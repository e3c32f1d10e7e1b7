/*
 * cancel.c: PostgreSQL 17's cancel connections (libpq's fe-cancel.c), one record
 * per cancel attempt.
 *
 * PQcancelCreate() copies the settings of an open connection into a new
 * PGcancelConn (pqCopyPGconn(), then pqConnectOptions2()), pinned to the host
 * and address that connection used. The cancel request then goes over a
 * connection of its own, TLS included, started by PQcancelStart() and driven by
 * PQcancelPoll(), or both at once by PQcancelBlocking() (which calls
 * PQcancelStart() and pqConnectDBComplete(), itself calling PQcancelPoll()
 * through libpq's PLT: the guard sends those inner calls straight on).
 *
 * A PGcancelConn is a struct whose only member is a PGconn (fe-cancel.c:
 * struct pg_cancel_conn), and libpq's own PQcancelStatus(), PQcancelSocket()
 * and PQcancelFinish() hand that PGconn to PQstatus(), PQsocket() and
 * PQfinish(). pqtls reads it the same way: PQconninfo(), PQstatus(),
 * PQerrorMessage() and PQsslStruct() of the same libpq copy, so the record has
 * the connection's TLS settings with the sources the original call gave them
 * (kept in the connection table from PQcancelCreate()).
 *
 * Only a libpq that exports these functions (17 and later) is ever called
 * through them. Under LD_PRELOAD a program linked against 17 and run with an
 * older libpq finds pqtls's definitions; each then returns libpq's failure
 * value (NULL, 0, PGRES_POLLING_FAILED) and says so once on stderr.
 */
#include <stdbool.h>
#include <stddef.h>

#include "pqtls/attempt.h"
#include "pqtls/conns.h"
#include "pqtls/diag.h"
#include "pqtls/resolve.h"

#define PQTLS_EXPORT __attribute__((visibility("default")))
#define CALLER() __builtin_return_address(0)

/* The PGconn inside a PGcancelConn (fe-cancel.c: its first and only member). */
static PGconn *
as_conn(PGcancelConn *cc)
{
	return (PGconn *) cc;
}

/* Does this libpq copy export `fn` (libpq 17+)? Says so once when it does not. */
static bool
has_cancel(pq_api *pq, const void *fn, const char *name)
{
	if (fn != NULL)
		return true;
	diag_once("no-cancel", "%s was called but the libpq in use (%s) has no cancel "
			  "connections (libpq 17 added them); returning libpq's failure value",
			  name, pq->path);
	return false;
}

static pq_api *
serving(const void *caller, const char *name)
{
	pq_api	   *pq = pq_for_caller(caller);

	if (pq == NULL)
		diag_once("no-libpq", "%s was called but no libpq with it is loaded in this process; "
				  "returning libpq's failure value", name);
	return pq;
}

/*
 * A cancel attempt on cc, with what the original connection's call said. One
 * still pending on cc (PQcancelReset() and a new start before the last poll)
 * is recorded as abandoned first.
 */
static attempt *
cancel_attempt(const char *api, pq_api *pq, PGcancelConn *cc)
{
	attempt    *a,
			   *old = conns_take_pending(as_conn(cc));

	if (old != NULL)
	{
		attempt_finish(old, as_conn(cc), OUTCOME_ABANDONED, true);
		attempt_free(old);
	}
	if ((a = attempt_new(api, pq)) == NULL)
		return NULL;
	a->is_cancel = true;
	conns_given(as_conn(cc), &a->given);
	conns_forced(as_conn(cc), &a->forced);
	return a;
}

PQTLS_EXPORT PGcancelConn *
PQcancelCreate(PGconn *conn)
{
	attempt    *inner = guard_current();
	pq_api	   *pq;
	PGcancelConn *cc;
	given		g = {0};
	forced		f = {0};

	if (inner != NULL)
		return inner->pq->PQcancelCreate ? inner->pq->PQcancelCreate(conn) : NULL;
	if ((pq = serving(CALLER(), "PQcancelCreate")) == NULL ||
		!has_cancel(pq, (const void *) pq->PQcancelCreate, "PQcancelCreate"))
		return NULL;
	cc = pq->PQcancelCreate(conn);
	if (cc == NULL)
		return NULL;
	/*
	 * The sources of its settings are those of the connection it came from, and
	 * so is what enforce changed: pqCopyPGconn() copies the forced options.
	 */
	if (conn != NULL)
	{
		conns_given(conn, &g);
		conns_forced(conn, &f);
	}
	conns_track(as_conn(cc), &g, NULL);
	conns_note_forced(as_conn(cc), &f);
	given_clear(&g);
	forced_clear(&f);
	return cc;
}

PQTLS_EXPORT int
PQcancelStart(PGcancelConn *cc)
{
	attempt    *inner = guard_current(),
			   *prev,
			   *a;
	pq_api	   *pq;
	int			ok;

	if (inner != NULL)
		return inner->pq->PQcancelStart ? inner->pq->PQcancelStart(cc) : 0;
	if ((pq = serving(CALLER(), "PQcancelStart")) == NULL ||
		!has_cancel(pq, (const void *) pq->PQcancelStart, "PQcancelStart"))
		return 0;
	if (cc == NULL || (a = cancel_attempt("PQcancelStart", pq, cc)) == NULL)
		return pq->PQcancelStart(cc);
	prev = guard_enter(a);
	ok = pq->PQcancelStart(cc);
	guard_leave(prev);
	if (!ok)
	{
		attempt_finish(a, as_conn(cc), OUTCOME_FAILED, true);
		attempt_free(a);
	}
	else if (!conns_set_pending(as_conn(cc), a))
		conns_track(as_conn(cc), &a->given, a);
	return ok;
}

PQTLS_EXPORT int
PQcancelBlocking(PGcancelConn *cc)
{
	attempt    *inner = guard_current(),
			   *prev,
			   *a;
	pq_api	   *pq;
	int			ok;

	if (inner != NULL)
		return inner->pq->PQcancelBlocking ? inner->pq->PQcancelBlocking(cc) : 0;
	if ((pq = serving(CALLER(), "PQcancelBlocking")) == NULL ||
		!has_cancel(pq, (const void *) pq->PQcancelBlocking, "PQcancelBlocking"))
		return 0;
	if (cc == NULL || (a = cancel_attempt("PQcancelBlocking", pq, cc)) == NULL)
		return pq->PQcancelBlocking(cc);
	prev = guard_enter(a);
	ok = pq->PQcancelBlocking(cc);
	guard_leave(prev);
	/* libpq's answer is the outcome: 1 when the server took the request. */
	attempt_finish(a, as_conn(cc), ok ? OUTCOME_OK : OUTCOME_FAILED, true);
	attempt_free(a);
	return ok;
}

PQTLS_EXPORT PostgresPollingStatusType
PQcancelPoll(PGcancelConn *cc)
{
	attempt    *inner = guard_current(),
			   *prev,
			   *a;
	pq_api	   *pq;
	PostgresPollingStatusType r;

	if (inner != NULL)
		return inner->pq->PQcancelPoll ? inner->pq->PQcancelPoll(cc) : PGRES_POLLING_FAILED;
	a = cc != NULL ? conns_pending(as_conn(cc)) : NULL;
	if (a == NULL)
	{
		if ((pq = serving(CALLER(), "PQcancelPoll")) == NULL ||
			!has_cancel(pq, (const void *) pq->PQcancelPoll, "PQcancelPoll"))
			return PGRES_POLLING_FAILED;
		return pq->PQcancelPoll(cc);
	}
	prev = guard_enter(a);
	r = a->pq->PQcancelPoll(cc);
	guard_leave(prev);
	if (r == PGRES_POLLING_OK || r == PGRES_POLLING_FAILED)
	{
		a = conns_take_pending(as_conn(cc));
		if (a != NULL)
		{
			attempt_finish(a, as_conn(cc), r == PGRES_POLLING_OK ? OUTCOME_OK : OUTCOME_FAILED,
						   true);
			attempt_free(a);
		}
	}
	return r;
}

PQTLS_EXPORT void
PQcancelFinish(PGcancelConn *cc)
{
	attempt    *inner = guard_current(),
			   *prev,
			   *a = NULL,
				closing;
	pq_api	   *pq;

	if (inner != NULL)
	{
		if (inner->pq->PQcancelFinish != NULL)
			inner->pq->PQcancelFinish(cc);
		return;
	}
	if (cc != NULL)
		a = conns_forget(as_conn(cc));
	if (a != NULL)
	{
		/* Closed before PQcancelPoll said how it ended. */
		attempt_finish(a, as_conn(cc), OUTCOME_ABANDONED, true);
		pq = a->pq;
		attempt_free(a);
	}
	else if ((pq = serving(CALLER(), "PQcancelFinish")) == NULL)
		return;
	if (!has_cancel(pq, (const void *) pq->PQcancelFinish, "PQcancelFinish"))
		return;
	/* libpq's PQcancelFinish() calls PQfinish() on the inner PGconn: not a program's call. */
	attempt_init(&closing, "PQcancelFinish", pq);
	prev = guard_enter(&closing);
	pq->PQcancelFinish(cc);
	guard_leave(prev);
	attempt_clear(&closing);
}
