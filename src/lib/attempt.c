/*
 * attempt.c: an attempt's life, from the hook that saw it begin to its record.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pqtls/attempt.h"
#include "pqtls/record.h"
#include "pqtls/rehearse.h"
#include "pqtls/tlsinfo.h"

/*
 * The recursion guard. libpq calls its own exported functions through its PLT
 * (PQconnectdb calls PQconnectStart, every path ends in PQconnectPoll), so the
 * inner calls land in our hooks too; while a hook is on this thread's stack they
 * go straight to the real function. initial-exec TLS: no allocation and no
 * loader call on first use, which matters inside a hook.
 */
static __thread attempt *current __attribute__((tls_model("initial-exec")));

attempt *
guard_current(void)
{
	return current;
}

attempt *
guard_enter(attempt *a)
{
	attempt    *prev = current;

	current = a;
	return prev;
}

void
guard_leave(attempt *prev)
{
	current = prev;
}

void
attempt_init(attempt *a, const char *api, pq_api *pq)
{
	memset(a, 0, sizeof(*a));
	a->api = api;
	a->pq = pq;
	a->set = settings_get();
}

attempt *
attempt_new(const char *api, pq_api *pq)
{
	attempt    *a = malloc(sizeof(*a));

	if (a != NULL)
		attempt_init(a, api, pq);
	return a;
}

void
forced_clear(forced *f)
{
	free(f->from_sslmode);
	free(f->from_sslrootcert);
	free(f->to_sslmode);
	free(f->to_sslrootcert);
	memset(f, 0, sizeof(*f));
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

void
forced_copy(forced *dst, const forced *src)
{
	forced_clear(dst);
	if (src == NULL || !src->active)
		return;
	dst->active = true;
	dst->from_sslmode = dup_or_null(src->from_sslmode);
	dst->from_sslrootcert = dup_or_null(src->from_sslrootcert);
	dst->to_sslmode = dup_or_null(src->to_sslmode);
	dst->to_sslrootcert = dup_or_null(src->to_sslrootcert);
}

void
attempt_clear(attempt *a)
{
	given_clear(&a->given);
	forced_clear(&a->forced);
	peer_chain_free(&a->captured);
	if (a->snapshot != NULL)
	{
		record_data_free(a->snapshot);
		free(a->snapshot);
		a->snapshot = NULL;
	}
}

void
attempt_free(attempt *a)
{
	if (a == NULL)
		return;
	attempt_clear(a);
	free(a);
}

/* libpq's message without its trailing newline, and without any password. */
static char *
clean_error(const char *msg, given *g)
{
	char	   *s;
	size_t		n;

	if (msg == NULL || msg[0] == '\0')
		return NULL;
	s = strdup(msg);
	if (s == NULL)
		return NULL;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	given_add_secret(g, getenv("PGPASSWORD"), getenv("PGPASSWORD") ? strlen(getenv("PGPASSWORD")) : 0);
	record_scrub(s, g);
	return s;
}

/* Everything the record says of conn, read before the program can free it. */
static void
collect(attempt *a, PGconn *conn, record_data *d)
{
	pq_api	   *pq = a->pq;

	memset(d, 0, sizeof(*d));
	if (conn == NULL)
	{
		/* libpq returns NULL only when it cannot allocate the PGconn. */
		d->outcome = OUTCOME_FAILED;
		d->error = strdup("out of memory");
		return;
	}
	effective_from_conn(&d->eff, pq, conn, &a->given);
	d->have_effective = true;
	d->outcome = pq->PQstatus(conn) == CONNECTION_OK ? OUTCOME_OK : OUTCOME_FAILED;
	if (d->outcome == OUTCOME_FAILED)
		d->error = clean_error(pq->PQerrorMessage(conn), &a->given);
	tlsinfo_from_conn(&d->tls, pq, conn, &a->captured);
}

static void
emit(attempt *a, record_data *d)
{
	rehearse(a, d);
	record_emit(a, d);
	record_data_free(d);
}

void
attempt_finish(attempt *a, PGconn *conn, outcome forced_outcome, bool use_forced_outcome)
{
	int			saved_errno = errno;
	record_data d;

	collect(a, conn, &d);
	if (use_forced_outcome)
		d.outcome = forced_outcome;
	/* A cancel connection that did its work over TLS (its SSL object is freed by now). */
	if (a->is_cancel && d.outcome == OUTCOME_OK && conn != NULL)
		tlsinfo_from_handshake(&d.tls, &a->handshake, &a->captured);
	a->conn = conn;				/* rehearse() may read the live TLS objects */
	emit(a, &d);
	a->conn = NULL;
	errno = saved_errno;
}

void
attempt_snapshot(attempt *a, PGconn *conn)
{
	int			saved_errno = errno;

	if (a->snapshot != NULL)
		return;
	a->snapshot = malloc(sizeof(record_data));
	if (a->snapshot != NULL)
		collect(a, conn, a->snapshot);
	errno = saved_errno;
}

static const char *
ping_name(PGPing p)
{
	switch (p)
	{
		case PQPING_OK:
			return "ok";
		case PQPING_REJECT:
			return "reject";
		case PQPING_NO_RESPONSE:
			return "no_response";
		case PQPING_NO_ATTEMPT:
			return "no_attempt";
	}
	return "no_response";
}

/*
 * PQping never returns its PGconn: libpq frees it inside. The inner PQfinish
 * hook took the snapshot; without one (a libpq built to bypass its PLT) the
 * record holds what the ping itself says.
 */
void
attempt_finish_ping(attempt *a, PGPing result)
{
	int			saved_errno = errno;
	record_data d;

	if (a->snapshot != NULL)
	{
		d = *a->snapshot;
		free(a->snapshot);
		a->snapshot = NULL;
	}
	else
	{
		memset(&d, 0, sizeof(d));
		d.outcome = result == PQPING_OK ? OUTCOME_OK : OUTCOME_FAILED;
	}
	d.ping = ping_name(result);
	emit(a, &d);
	errno = saved_errno;
}
