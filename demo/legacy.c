/*
 * legacy: a stand-in for the old C program nobody dares to rebuild. It connects
 * the 1990s way, with PQsetdbLogin(), and takes its TLS settings from wherever
 * libpq finds them (here: PGSSLMODE and ~/.postgresql/root.crt).
 *
 *   legacy HOST PORT DBNAME USER
 * The password comes from PGPASSWORD.
 */
#include <stdio.h>
#include <stdlib.h>

#include <libpq-fe.h>

int
main(int argc, char **argv)
{
	PGconn	   *conn;
	PGresult   *res;

	if (argc != 5)
	{
		fprintf(stderr, "usage: legacy HOST PORT DBNAME USER\n");
		return 2;
	}
	conn = PQsetdbLogin(argv[1], argv[2], NULL, NULL, argv[3], argv[4], NULL);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "legacy: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return 1;
	}
	res = PQexec(conn, "SELECT count(*) FROM pg_stat_activity");
	printf("legacy: nightly job done (%s sessions on the server, TLS %s)\n",
		   PQgetvalue(res, 0, 0), PQsslInUse(conn) ? "on" : "off");
	PQclear(res);
	PQfinish(conn);
	return 0;
}
