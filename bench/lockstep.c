/*
 * lockstep: timed libpq work, one step at a time, on command.
 *
 *     lockstep connect CONNINFO     a step: connect, run the query, finish
 *     lockstep query CONNINFO       a step: run the query on an open connection
 *
 * Reads one number N a line on standard input, does N steps, and answers with
 * the nanoseconds they took on a line of standard output; "q" or the end of
 * input ends it. The query is pgbench -S's: SELECT abalance FROM
 * pgbench_accounts WHERE aid = a random account (scale 1).
 *
 * The benchmark runs one lockstep without pqtls and one with it and hands them
 * steps by turns, so both see the same moments of a noisy machine: the
 * "alternate the two" of the benchmark at the grain of single connections.
 *
 * In query mode only the queries are timed, on a connection opened (untimed)
 * for each batch of steps: a connection kept for the whole run would keep its
 * server process's place on the machine's CPUs, and with it an advantage or a
 * handicap that has nothing to do with pqtls; a fresh one per batch draws it
 * anew each time.
 *
 * Exit status: 0, or 1 when a step fails (libpq's message on stderr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

static int
query(PGconn *conn)
{
	char		sql[96];
	PGresult   *res;
	int			ok;

	snprintf(sql, sizeof(sql), "SELECT abalance FROM pgbench_accounts WHERE aid = %d",
			 1 + rand() % 100000);
	res = PQexec(conn, sql);
	ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok)
		fprintf(stderr, "lockstep: %s", PQerrorMessage(conn));
	PQclear(res);
	return ok;
}

static PGconn *
connect_to(const char *conninfo)
{
	PGconn	   *conn = PQconnectdb(conninfo);

	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "lockstep: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

int
main(int argc, char **argv)
{
	char		line[64];
	int			connect_mode;

	if (argc != 3 || (strcmp(argv[1], "connect") != 0 && strcmp(argv[1], "query") != 0))
	{
		fprintf(stderr, "usage: lockstep connect|query CONNINFO\n");
		return 2;
	}
	connect_mode = strcmp(argv[1], "connect") == 0;
	srand(6);
	while (fgets(line, sizeof(line), stdin) != NULL && line[0] != 'q')
	{
		long		n = strtol(line, NULL, 10);
		PGconn	   *open_conn = NULL;
		struct timespec t0,
					t1;

		if (!connect_mode && (open_conn = connect_to(argv[2])) == NULL)
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (long i = 0; i < n; i++)
		{
			PGconn	   *conn = connect_mode ? connect_to(argv[2]) : open_conn;

			if (conn == NULL || !query(conn))
				return 1;
			if (connect_mode)
				PQfinish(conn);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		PQfinish(open_conn);
		printf("%lld\n", (long long) (t1.tv_sec - t0.tv_sec) * 1000000000LL +
			   (t1.tv_nsec - t0.tv_nsec));
		fflush(stdout);
	}
	return 0;
}
