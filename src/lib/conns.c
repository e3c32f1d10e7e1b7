/*
 * conns.c: the table of live connections (see conns.h).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "pqtls/conns.h"

typedef struct conn_entry
{
	PGconn	   *conn;			/* key */
	given		given;
	forced		forced;			/* enforce's change to the opening call, if any */
	attempt    *pending;
	UT_hash_handle hh;
} conn_entry;

static conn_entry *table;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void
prepare(void)
{
	pthread_mutex_lock(&lock);
}

static void
release(void)
{
	pthread_mutex_unlock(&lock);
}

/* No lock of ours is held across fork(): the child starts with it free. */
static void
register_atfork(void)
{
	pthread_atfork(prepare, release, release);
}

static conn_entry *
find(PGconn *conn)
{
	conn_entry *e = NULL;

	HASH_FIND_PTR(table, &conn, e);
	return e;
}

void
conns_track(PGconn *conn, const given *g, attempt *pending)
{
	conn_entry *e,
			   *stale;

	pthread_once(&atfork_once, register_atfork);
	e = calloc(1, sizeof(*e));
	if (e == NULL)
	{
		if (pending != NULL)
			attempt_free(pending);
		return;
	}
	e->conn = conn;
	if (g != NULL)
		given_copy(&e->given, g);
	e->pending = pending;
	pthread_mutex_lock(&lock);
	/* The same address again means libpq reused freed memory we missed. */
	stale = find(conn);
	if (stale != NULL)
		HASH_DEL(table, stale);
	HASH_ADD_PTR(table, conn, e);
	pthread_mutex_unlock(&lock);
	if (stale != NULL)
	{
		given_clear(&stale->given);
		forced_clear(&stale->forced);
		if (stale->pending != NULL)
			attempt_free(stale->pending);
		free(stale);
	}
}

attempt *
conns_pending(PGconn *conn)
{
	conn_entry *e;
	attempt    *a;

	pthread_mutex_lock(&lock);
	e = find(conn);
	a = e ? e->pending : NULL;
	pthread_mutex_unlock(&lock);
	return a;
}

attempt *
conns_take_pending(PGconn *conn)
{
	conn_entry *e;
	attempt    *a = NULL;

	pthread_mutex_lock(&lock);
	e = find(conn);
	if (e != NULL)
	{
		a = e->pending;
		e->pending = NULL;
	}
	pthread_mutex_unlock(&lock);
	return a;
}

bool
conns_set_pending(PGconn *conn, attempt *a)
{
	conn_entry *e;
	attempt    *old = NULL;

	pthread_mutex_lock(&lock);
	e = find(conn);
	if (e != NULL)
	{
		old = e->pending;
		e->pending = a;
	}
	pthread_mutex_unlock(&lock);
	if (old != NULL)
		attempt_free(old);
	return e != NULL;
}

bool
conns_given(PGconn *conn, given *out)
{
	conn_entry *e;

	pthread_mutex_lock(&lock);
	e = find(conn);
	if (e != NULL)
		given_copy(out, &e->given);
	pthread_mutex_unlock(&lock);
	return e != NULL;
}

attempt *
conns_forget(PGconn *conn)
{
	conn_entry *e;
	attempt    *a = NULL;

	pthread_mutex_lock(&lock);
	e = find(conn);
	if (e != NULL)
		HASH_DEL(table, e);
	pthread_mutex_unlock(&lock);
	if (e == NULL)
		return NULL;
	a = e->pending;
	given_clear(&e->given);
	forced_clear(&e->forced);
	free(e);
	return a;
}

void
conns_note_forced(PGconn *conn, const forced *f)
{
	forced		copy = {0},
				old = {0};
	conn_entry *e;

	if (f == NULL || !f->active)
		return;
	forced_copy(&copy, f);		/* allocate outside the lock */
	pthread_mutex_lock(&lock);
	e = find(conn);
	if (e != NULL)
	{
		old = e->forced;
		e->forced = copy;
		memset(&copy, 0, sizeof(copy));
	}
	pthread_mutex_unlock(&lock);
	forced_clear(&old);
	forced_clear(&copy);
}

void
conns_forced(PGconn *conn, forced *out)
{
	conn_entry *e;

	forced_clear(out);
	pthread_mutex_lock(&lock);
	e = find(conn);
	if (e != NULL)
		forced_copy(out, &e->forced);
	pthread_mutex_unlock(&lock);
}

unsigned
conns_count(void)
{
	unsigned	n;

	pthread_mutex_lock(&lock);
	n = HASH_COUNT(table);
	pthread_mutex_unlock(&lock);
	return n;
}
