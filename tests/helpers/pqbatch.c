/*
 * pqbatch: many libpq calls in one process, their arguments read from a file,
 * so that a test can feed what argv cannot carry (a megabyte, many hundred
 * cases) and pay one process start for all of them.
 *
 *   pqbatch API [--expand] FILE
 *
 * FILE holds NUL-terminated items.  For PQconnectdb, PQconnectStart and PQping
 * each item is one connection string.  For PQconnectdbParams,
 * PQconnectStartParams and PQpingParams each item is KEY=VALUE (a KEY without
 * '=' gets a NULL value), and an empty item ends one call's list.  For
 * PQsetdbLogin seven items make one call: host, port, options, tty, dbname,
 * user, password, where an item holding the single byte 0x01 stands for NULL.
 *
 * For each call, one line "#N status=ok ssl=S" or "#N status=bad: <libpq's
 * message with every byte below 0x20 but space and 0x7f written as \xHH>" (or
 * "#N ping=P").  Exit status 0 once every call has been made, 2 on usage errors.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

static void
print_escaped(const char *s)
{
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if ((c < 0x20 && c != ' ') || c == 0x7f || c == '\\')
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

static void
report(int n, PGconn *conn)
{
	if (conn == NULL)
		printf("#%d status=bad: NULL connection\n", n);
	else if (PQstatus(conn) == CONNECTION_OK)
		printf("#%d status=ok ssl=%d\n", n, PQsslInUse(conn));
	else
	{
		printf("#%d status=bad: ", n);
		print_escaped(PQerrorMessage(conn));
		putchar('\n');
	}
	PQfinish(conn);
}

static PGconn *
drive(PGconn *conn)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	if (conn == NULL || PQstatus(conn) == CONNECTION_BAD)
		return conn;
	while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED)
	{
		struct pollfd pfd = {PQsocket(conn), 0, 0};

		pfd.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		if (poll(&pfd, 1, 10000) <= 0)
			break;
		st = PQconnectPoll(conn);
	}
	return conn;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	char	   *buf = NULL;
	size_t		cap = 0,
				n = 0,
				got;

	if (f == NULL)
		return NULL;
	do
	{
		if (n + 65536 + 1 > cap)
		{
			cap = (n + 65536 + 1) * 2;
			buf = realloc(buf, cap);
			if (buf == NULL)
				exit(3);
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
	} while (got > 0);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

int
main(int argc, char **argv)
{
	const char *api,
			   *path;
	int			expand = 0,
				calls = 0;
	char	   *data,
			   *p,
			   *end;
	size_t		len;

	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	if (argc == 4 && strcmp(argv[2], "--expand") == 0)
		expand = 1;
	else if (argc != 3)
	{
		fprintf(stderr, "usage: pqbatch API [--expand] FILE\n");
		return 2;
	}
	api = argv[1];
	path = argv[argc - 1];
	if ((data = slurp(path, &len)) == NULL)
	{
		perror(path);
		return 2;
	}
	p = data;
	end = data + len;
	while (p < end)
	{
		calls++;
		if (strcmp(api, "PQconnectdb") == 0 || strcmp(api, "PQconnectStart") == 0 ||
			strcmp(api, "PQping") == 0)
		{
			const char *s = p;

			p += strlen(p) + 1;
			if (api[2] == 'p')
				printf("#%d ping=%d\n", calls, (int) PQping(s));
			else if (api[9] == 'S')
				report(calls, drive(PQconnectStart(s)));
			else
				report(calls, PQconnectdb(s));
		}
		else if (strcmp(api, "PQsetdbLogin") == 0)
		{
			const char *a[7];

			for (int i = 0; i < 7; i++)
			{
				a[i] = p < end ? p : "";
				if (strcmp(a[i], "\x01") == 0)
					a[i] = NULL;
				p += p < end ? strlen(p) + 1 : 0;
			}
			report(calls, PQsetdbLogin(a[0], a[1], a[2], a[3], a[4], a[5], a[6]));
		}
		else if (strstr(api, "Params") != NULL)
		{
			const char **kw = NULL,
					  **val = NULL;
			int			n = 0;

			while (p < end && *p != '\0')
			{
				char	   *eq = strchr(p, '=');
				char	   *next = p + strlen(p) + 1;

				kw = realloc(kw, (n + 2) * sizeof(char *));
				val = realloc(val, (n + 2) * sizeof(char *));
				if (kw == NULL || val == NULL)
					return 3;
				if (eq != NULL)
					*eq = '\0';
				kw[n] = p;
				val[n] = eq ? eq + 1 : NULL;
				n++;
				p = next;
			}
			p++;				/* the empty item that ends the list */
			if (kw == NULL)
			{
				kw = calloc(1, sizeof(char *));
				val = calloc(1, sizeof(char *));
			}
			kw[n] = NULL;
			val[n] = NULL;
			if (strcmp(api, "PQpingParams") == 0)
				printf("#%d ping=%d\n", calls, (int) PQpingParams(kw, val, expand));
			else if (strcmp(api, "PQconnectStartParams") == 0)
				report(calls, drive(PQconnectStartParams(kw, val, expand)));
			else
				report(calls, PQconnectdbParams(kw, val, expand));
			free(kw);
			free(val);
		}
		else
		{
			fprintf(stderr, "pqbatch: unknown API %s\n", api);
			return 2;
		}
	}
	fflush(stdout);
	free(data);
	return 0;
}
