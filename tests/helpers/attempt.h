/*
 * attempt.h: one libpq connection attempt through one of four entry points, shared by
 * the helpers that open many connections (connloop.c one after the other, stress.c
 * from many threads and forked children). Header-only because every helper is one
 * program built from its own .c (Makefile: tests/helpers/%.c).
 *
 *   ATTEMPT_CONNECTDB          PQconnectdb(info)
 *   ATTEMPT_CONNECTDB_PARAMS   PQconnectdbParams({"dbname"}, {info}, expand_dbname=1)
 *   ATTEMPT_CONNECT_START      PQconnectStart(info) driven by PQconnectPoll on poll(2)
 *   ATTEMPT_PING               PQping(info)
 *
 * attempt_run() closes what it opened (PQfinish) and says whether the attempt
 * succeeded; on failure `why` holds libpq's message on one line.
 */
#ifndef PQTLS_TEST_ATTEMPT_H
#define PQTLS_TEST_ATTEMPT_H

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>

#include <libpq-fe.h>

enum attempt_kind
{
	ATTEMPT_CONNECTDB,
	ATTEMPT_CONNECTDB_PARAMS,
	ATTEMPT_CONNECT_START,
	ATTEMPT_PING,
	ATTEMPT_KINDS
};

static const char *const attempt_name[ATTEMPT_KINDS] = {
	"PQconnectdb", "PQconnectdbParams", "PQconnectStart", "PQping"
};

/* At most this much of libpq's message is kept (with its NUL). */
#define ATTEMPT_WHY_LEN 512

/* msg (or "(none)") into why, newlines and carriage returns made spaces. */
static inline void
attempt_flatten(char why[ATTEMPT_WHY_LEN], const char *msg)
{
	snprintf(why, ATTEMPT_WHY_LEN, "%s", msg ? msg : "(none)");
	for (char *p = why; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

/*
 * PQconnectStart, then PQconnectPoll until it ends, waiting on the socket; 30 s
 * without progress ends the loop, and the caller sees a connection that is not OK.
 */
static inline PGconn *
attempt_connect_nonblocking(const char *info)
{
	PGconn	   *conn = PQconnectStart(info);
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	if (conn == NULL || PQstatus(conn) == CONNECTION_BAD)
		return conn;
	while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED)
	{
		struct pollfd pfd = {PQsocket(conn), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, 0};
		int			r;

		if (pfd.fd < 0)
			break;
		r = poll(&pfd, 1, 30000);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		st = PQconnectPoll(conn);
	}
	return conn;
}

/* One attempt of kind k against info; true when it succeeded, else why is set. */
static inline bool
attempt_run(enum attempt_kind k, const char *info, char why[ATTEMPT_WHY_LEN])
{
	PGconn	   *conn = NULL;
	bool		ok;

	switch (k)
	{
		case ATTEMPT_PING:
			{
				PGPing		p = PQping(info);
				char		msg[64];

				if (p == PQPING_OK)
					return true;
				snprintf(msg, sizeof(msg), "PQping returned %d", (int) p);
				attempt_flatten(why, msg);
				return false;
			}
		case ATTEMPT_CONNECTDB:
			conn = PQconnectdb(info);
			break;
		case ATTEMPT_CONNECTDB_PARAMS:
			{
				const char *const kw[] = {"dbname", NULL};
				const char *const val[] = {info, NULL};

				conn = PQconnectdbParams(kw, val, 1);
				break;
			}
		case ATTEMPT_CONNECT_START:
			conn = attempt_connect_nonblocking(info);
			break;
		case ATTEMPT_KINDS:
			break;
	}
	ok = conn != NULL && PQstatus(conn) == CONNECTION_OK;
	if (!ok)
		attempt_flatten(why, conn ? PQerrorMessage(conn) : "NULL connection");
	PQfinish(conn);
	return ok;
}

#endif
