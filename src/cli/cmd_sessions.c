/*
 * cmd_sessions.c: `pqtls sessions CONNINFO`
 *
 * The inventory from the server's side, for the clients no LD_PRELOAD can reach
 * (JDBC, pgx, node-postgres, asyncpg, static binaries): every client session
 * with whether it uses TLS, its protocol and cipher, client address, user,
 * database and application (pg_stat_ssl joined to pg_stat_activity), and the
 * server's TLS settings. Seeing other users' sessions in full needs
 * pg_read_all_stats (or a superuser); others show as without details.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "pqtls/cli.h"

static const char usage[] =
	"usage: pqtls sessions [--format table|csv] CONNINFO\n"
	"\n"
	"Lists the client sessions of the live server CONNINFO names, with whether\n"
	"each uses TLS (protocol, cipher), client address, user, database and\n"
	"application, then the server's settings ssl, ssl_min_protocol_version and,\n"
	"on Amazon RDS, rds.force_ssl. Needs pg_read_all_stats to see every session.\n"
	"The command's own session is left out.\n"
	"\n"
	"Exit status: 0 listed, 1 some sessions do not use TLS, 2 error.\n";

static const char sessions_sql[] =
	"SELECT a.pid, coalesce(s.ssl, false) AS ssl, coalesce(s.version, '') AS protocol,"
	"       coalesce(s.cipher, '') AS cipher,"
	"       coalesce(host(a.client_addr), CASE WHEN a.client_port = -1 THEN 'local' END, '')"
	"         AS client,"
	"       coalesce(a.usename, '') AS usename, coalesce(a.datname, '') AS datname,"
	"       coalesce(a.application_name, '') AS application"
	"  FROM pg_stat_activity a LEFT JOIN pg_stat_ssl s ON s.pid = a.pid"
	" WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()"
	" ORDER BY coalesce(s.ssl, false), a.usename, a.datname, a.pid";

/* rds.force_ssl exists only on Amazon RDS; pg_settings lists it there. */
static const char settings_sql[] =
	"SELECT name, setting FROM pg_settings"
	" WHERE name IN ('ssl', 'ssl_min_protocol_version', 'rds.force_ssl') ORDER BY name";

static const char *const headers[] = {
	"pid", "tls", "protocol", "cipher", "client", "user", "database", "application"
};
#define NCOLS 8

static void
print_csv_field(const char *s)
{
	if (strpbrk(s, ",\"\n\r") == NULL)
	{
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s; s++)
	{
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

static const char *
cell(PGresult *res, int row, int col)
{
	const char *v = PQgetvalue(res, row, col);

	if (col == 1)
		return v[0] == 't' ? "yes" : "no";
	return v;
}

static void
print_sessions(PGresult *res, bool csv)
{
	int			width[NCOLS];

	for (int c = 0; c < NCOLS; c++)
	{
		width[c] = (int) strlen(headers[c]);
		for (int r = 0; r < PQntuples(res); r++)
		{
			int			w = (int) strlen(cell(res, r, c));

			if (w > width[c])
				width[c] = w;
		}
	}
	for (int c = 0; c < NCOLS; c++)
	{
		if (csv)
		{
			printf("%s%s", c ? "," : "", headers[c]);
			continue;
		}
		printf("%-*s%s", c == NCOLS - 1 ? 0 : width[c], headers[c], c == NCOLS - 1 ? "" : "  ");
	}
	putchar('\n');
	for (int r = 0; r < PQntuples(res); r++)
	{
		for (int c = 0; c < NCOLS; c++)
		{
			if (csv)
			{
				if (c)
					putchar(',');
				print_csv_field(cell(res, r, c));
				continue;
			}
			printf("%-*s%s", c == NCOLS - 1 ? 0 : width[c], cell(res, r, c),
				   c == NCOLS - 1 ? "" : "  ");
		}
		putchar('\n');
	}
}

static int
count_plain(PGresult *res)
{
	int			n = 0;

	for (int r = 0; r < PQntuples(res); r++)
		n += PQgetvalue(res, r, 1)[0] != 't';
	return n;
}

int
cmd_sessions(int argc, char **argv)
{
	const char *conninfo = NULL;
	bool		csv = false;
	int			rc = cli_common_flags(argc, argv, usage),
				plain;
	PGconn	   *conn;
	PGresult   *res;

	if (rc >= 0)
		return rc;
	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--format") == 0 && i + 1 < argc)
		{
			i++;
			if (strcmp(argv[i], "csv") != 0 && strcmp(argv[i], "table") != 0)
				return cli_usage_error("sessions", "--format is table or csv");
			csv = strcmp(argv[i], "csv") == 0;
		}
		else if (strncmp(argv[i], "--", 2) == 0)
			return cli_usage_error("sessions", "unknown option '%s'", argv[i]);
		else if (conninfo == NULL)
			conninfo = argv[i];
		else
			return cli_usage_error("sessions", "one CONNINFO only");
	}
	if (conninfo == NULL)
		return cli_usage_error("sessions", "CONNINFO is missing");

	conn = PQconnectdb(conninfo);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "pqtls sessions: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return 2;
	}
	res = PQexec(conn, sessions_sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		fprintf(stderr, "pqtls sessions: %s", PQerrorMessage(conn));
		PQclear(res);
		PQfinish(conn);
		return 2;
	}
	print_sessions(res, csv);
	plain = count_plain(res);
	if (!csv)
		printf("\n%d session%s, %d without TLS\n", PQntuples(res), PQntuples(res) == 1 ? "" : "s",
			   plain);
	PQclear(res);

	res = PQexec(conn, settings_sql);
	if (!csv && PQresultStatus(res) == PGRES_TUPLES_OK)
	{
		printf("\nserver settings:\n");
		for (int r = 0; r < PQntuples(res); r++)
			printf("  %s = %s\n", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
	}
	PQclear(res);
	PQfinish(conn);
	return plain > 0 ? 1 : 0;
}
