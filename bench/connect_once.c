/*
 * connect_once: open N libpq connections one after the other with the given
 * conninfo, run nothing on them, close each, and exit. The benchmark runs it
 * under valgrind --tool=callgrind with and without LD_PRELOAD=libpqtls.so and
 * compares the total instruction counts.
 *
 *     connect_once CONNINFO [N]       N defaults to 1
 *
 * Exit status: 0 when every connection succeeded, 1 otherwise (libpq's message
 * on stderr), 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>

#include <libpq-fe.h>

int
main(int argc, char **argv)
{
	long		n = 1;
	int			failed = 0;

	if (argc < 2 || argc > 3)
	{
		fprintf(stderr, "usage: connect_once CONNINFO [N]\n");
		return 2;
	}
	if (argc == 3 && (n = strtol(argv[2], NULL, 10)) < 1)
	{
		fprintf(stderr, "connect_once: N must be a positive number\n");
		return 2;
	}
	for (long i = 0; i < n; i++)
	{
		PGconn	   *conn = PQconnectdb(argv[1]);

		if (PQstatus(conn) != CONNECTION_OK)
		{
			fprintf(stderr, "connect_once: %s", PQerrorMessage(conn));
			failed = 1;
		}
		PQfinish(conn);
	}
	return failed;
}
