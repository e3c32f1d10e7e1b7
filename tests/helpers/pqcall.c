/*
 * pqcall: call one libpq entry point the way a legacy C program would, linked
 * with -lpq at build time. The integration tests run it with and without
 * libpqtls.so and compare.
 *
 *   pqcall PQconnectdb CONNINFO
 *   pqcall PQconnectdbParams [--expand] KEY=VALUE...
 *   pqcall PQsetdbLogin HOST PORT DBNAME USER PASSWORD   ("-" for NULL)
 *   pqcall PQconnectStart CONNINFO            (driven by PQconnectPoll)
 *   pqcall PQconnectStartParams [--expand] KEY=VALUE...
 *   pqcall PQping CONNINFO
 *   pqcall PQpingParams [--expand] KEY=VALUE...
 *   pqcall PQreset CONNINFO                   (PQconnectdb, then PQreset)
 *   pqcall PQresetStart CONNINFO              (PQconnectdb, then PQresetStart/PQresetPoll)
 *   pqcall abandon CONNINFO                   (PQconnectStart, then PQfinish at once)
 *   pqcall PQlibVersion                       (prints libpq=N: which libpq was loaded)
 *   pqcall PQcancelBlocking CONNINFO          (libpq 17+: PQconnectdb, a long query,
 *   pqcall PQcancelStart CONNINFO              then a cancel connection, blocking or
 *                                              driven by PQcancelPoll)
 *   pqcall cancel-abandon CONNINFO            (the same, PQcancelStart then PQcancelFinish
 *                                              at once: prints cancel=abandoned)
 *   pqcall cancel-reset CONNINFO              (PQcancelBlocking, PQcancelReset, then
 *                                              PQcancelBlocking again on the same object)
 *
 * Prints "status=ok" or "status=bad: <message>" (or "ping=N") and exits 0 when
 * the connection (or ping) succeeded, 1 when it did not, 2 on usage errors.
 * The cancel calls print the connection's status line, then "cancel=ok" or
 * "cancel=bad: <message>", then "query=canceled" when the server cancelled the query;
 * they exit 3 under a libpq older than 17.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "libpq17.h"

static int
report(PGconn *conn)
{
	if (conn == NULL)
	{
		printf("status=bad: NULL connection\n");
		return 1;
	}
	if (PQstatus(conn) == CONNECTION_OK)
	{
		printf("status=ok ssl=%d\n", PQsslInUse(conn));
		PQfinish(conn);
		return 0;
	}
	printf("status=bad: %s", PQerrorMessage(conn));
	PQfinish(conn);
	return 1;
}

/* Split KEY=VALUE arguments into libpq's keyword and value arrays. */
static void
split_params(int argc, char **argv, const char ***kw, const char ***val)
{
	*kw = calloc(argc + 1, sizeof(char *));
	*val = calloc(argc + 1, sizeof(char *));
	for (int i = 0; i < argc; i++)
	{
		char	   *eq = strchr(argv[i], '=');

		if (eq == NULL)
		{
			(*kw)[i] = argv[i];
			(*val)[i] = NULL;
			continue;
		}
		*eq = '\0';
		(*kw)[i] = argv[i];
		(*val)[i] = eq + 1;
	}
}

/* The loop the libpq documentation describes for non-blocking connects. */
static int
drive(PGconn *conn, PostgresPollingStatusType (*pollfn) (PGconn *))
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	if (conn == NULL || PQstatus(conn) == CONNECTION_BAD)
		return report(conn);
	for (;;)
	{
		struct pollfd pfd = {PQsocket(conn), 0, 0};

		if (st == PGRES_POLLING_OK || st == PGRES_POLLING_FAILED)
			break;
		pfd.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		if (poll(&pfd, 1, 10000) <= 0)
		{
			printf("status=bad: poll timed out\n");
			PQfinish(conn);
			return 1;
		}
		st = pollfn(conn);
	}
	return report(conn);
}

enum cancel_how
{
	CANCEL_POLL,				/* PQcancelStart, then PQcancelPoll */
	CANCEL_BLOCKING,			/* PQcancelBlocking */
	CANCEL_ABANDON,				/* PQcancelStart, then PQcancelFinish at once */
	CANCEL_RESET,				/* PQcancelBlocking, PQcancelReset, PQcancelBlocking */
};

/*
 * A cancel connection (libpq 17's PQcancelCreate) for a query in progress: blocking
 * (PQcancelBlocking) or non-blocking (PQcancelStart, then PQcancelPoll as the
 * documentation's loop).
 */
static int
cancel_query(const char *conninfo, enum cancel_how how)
{
	int			blocking = how == CANCEL_BLOCKING || how == CANCEL_RESET;

	PGconn	   *conn;
	PGcancelConn *cc;
	PGresult   *res;
	int			ok,
				canceled = 0;

	if (PQlibVersion() < 170000 || PQcancelCreate == NULL)
	{
		printf("status=bad: cancel connections need libpq 17, this is %d\n", PQlibVersion());
		return 3;
	}
	conn = PQconnectdb(conninfo);
	if (PQstatus(conn) != CONNECTION_OK)
		return report(conn);
	printf("status=ok ssl=%d\n", PQsslInUse(conn));
	if (!PQsendQuery(conn, "SELECT pg_sleep(30)"))
	{
		printf("cancel=bad: PQsendQuery: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return 1;
	}
	usleep(200 * 1000);			/* the server is sleeping by now */
	cc = PQcancelCreate(conn);
	if (how == CANCEL_ABANDON)
	{
		printf("cancel=%s\n", PQcancelStart(cc) ? "abandoned" : "bad");
		PQcancelFinish(cc);
		PQfinish(conn);			/* without waiting for the query */
		return 0;
	}
	if (how == CANCEL_RESET)
	{
		printf("cancel=%s\n", PQcancelBlocking(cc) ? "ok" : "bad");
		PQcancelReset(cc);
	}
	if (blocking)
		ok = PQcancelBlocking(cc);
	else
	{
		PostgresPollingStatusType st = PGRES_POLLING_WRITING;

		ok = PQcancelStart(cc);
		while (ok && st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED)
		{
			struct pollfd pfd = {PQcancelSocket(cc), 0, 0};

			pfd.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
			if (poll(&pfd, 1, 10000) <= 0)
				break;
			st = PQcancelPoll(cc);
		}
		ok = ok && st == PGRES_POLLING_OK;
	}
	if (!ok)
	{
		printf("cancel=bad: %s", PQcancelErrorMessage(cc));
		PQcancelFinish(cc);
		PQfinish(conn);			/* without waiting for the query */
		return 1;
	}
	printf("cancel=ok\n");
	PQcancelFinish(cc);
	while ((res = PQgetResult(conn)) != NULL)
	{
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		canceled |= state != NULL && strcmp(state, "57014") == 0;
		PQclear(res);
	}
	printf("query=%s\n", canceled ? "canceled" : "finished");
	PQfinish(conn);
	return canceled ? 0 : 1;
}

static const char *
arg_or_null(const char *s)
{
	return strcmp(s, "-") == 0 ? NULL : s;
}

int
main(int argc, char **argv)
{
	const char *api;
	const char **kw,
			  **val;
	int			expand = 0,
				first = 2;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc == 2 && strcmp(argv[1], "PQlibVersion") == 0)
	{
		printf("libpq=%d\n", PQlibVersion());
		return 0;
	}
	if (argc < 3)
	{
		fprintf(stderr, "usage: pqcall API ARGS...\n");
		return 2;
	}
	api = argv[1];
	if (strcmp(argv[2], "--expand") == 0)
	{
		expand = 1;
		first = 3;
	}
	if (strcmp(api, "PQconnectdb") == 0)
		return report(PQconnectdb(argv[2]));
	if (strcmp(api, "PQconnectdbParams") == 0)
	{
		split_params(argc - first, argv + first, &kw, &val);
		return report(PQconnectdbParams(kw, val, expand));
	}
	if (strcmp(api, "PQsetdbLogin") == 0 && argc == 7)
		return report(PQsetdbLogin(arg_or_null(argv[2]), arg_or_null(argv[3]), NULL, NULL,
								   arg_or_null(argv[4]), arg_or_null(argv[5]),
								   arg_or_null(argv[6])));
	if (strcmp(api, "PQconnectStart") == 0)
		return drive(PQconnectStart(argv[2]), PQconnectPoll);
	if (strcmp(api, "PQconnectStartParams") == 0)
	{
		split_params(argc - first, argv + first, &kw, &val);
		return drive(PQconnectStartParams(kw, val, expand), PQconnectPoll);
	}
	if (strcmp(api, "PQping") == 0)
	{
		PGPing		p = PQping(argv[2]);

		printf("ping=%d\n", (int) p);
		return p == PQPING_OK ? 0 : 1;
	}
	if (strcmp(api, "PQpingParams") == 0)
	{
		PGPing		p;

		split_params(argc - first, argv + first, &kw, &val);
		p = PQpingParams(kw, val, expand);
		printf("ping=%d\n", (int) p);
		return p == PQPING_OK ? 0 : 1;
	}
	if (strcmp(api, "PQreset") == 0)
	{
		PGconn	   *conn = PQconnectdb(argv[2]);

		PQreset(conn);
		return report(conn);
	}
	if (strcmp(api, "PQresetStart") == 0)
	{
		PGconn	   *conn = PQconnectdb(argv[2]);

		if (!PQresetStart(conn))
			return report(conn);
		return drive(conn, PQresetPoll);
	}
	if (strcmp(api, "PQcancelBlocking") == 0 || strcmp(api, "PQcancelStart") == 0)
		return cancel_query(argv[2], strcmp(api, "PQcancelBlocking") == 0 ? CANCEL_BLOCKING :
							CANCEL_POLL);
	if (strcmp(api, "cancel-abandon") == 0)
		return cancel_query(argv[2], CANCEL_ABANDON);
	if (strcmp(api, "cancel-reset") == 0)
		return cancel_query(argv[2], CANCEL_RESET);
	if (strcmp(api, "abandon") == 0)
	{
		PGconn	   *conn = PQconnectStart(argv[2]);

		PQfinish(conn);
		printf("status=abandoned\n");
		return 0;
	}
	fprintf(stderr, "pqcall: unknown API %s\n", api);
	return 2;
}
