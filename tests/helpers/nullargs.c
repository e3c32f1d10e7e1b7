/*
 * nullargs: call every libpq entry point pqtls hooks with NULL and empty
 * arguments, each in a child process of its own, and print what each returned
 * (connection status, ping value, poll value) or how the child died.  The
 * integration tests run it with and without libpqtls.so: the output must be
 * the same, line for line.
 *
 *   nullargs            all cases
 *   nullargs NAME...    only the cases whose names are given
 *
 * Where a NULL or empty argument makes libpq fall back to its defaults, the
 * environment (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD...) decides where
 * the connection goes.  Exit status 0 once every case has run.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

static const char *
status_name(PGconn *conn)
{
	if (conn == NULL)
		return "NULL";
	switch (PQstatus(conn))
	{
		case CONNECTION_OK:
			return "CONNECTION_OK";
		case CONNECTION_BAD:
			return "CONNECTION_BAD";
		default:
			return "CONNECTION_IN_PROGRESS";
	}
}

static const char *
poll_name(PostgresPollingStatusType p)
{
	switch (p)
	{
		case PGRES_POLLING_FAILED:
			return "PGRES_POLLING_FAILED";
		case PGRES_POLLING_READING:
			return "PGRES_POLLING_READING";
		case PGRES_POLLING_WRITING:
			return "PGRES_POLLING_WRITING";
		case PGRES_POLLING_OK:
			return "PGRES_POLLING_OK";
		default:
			return "PGRES_POLLING_ACTIVE";
	}
}

/* The first line of libpq's message (the rest names addresses tried). */
static void
print_conn(const char *what, PGconn *conn)
{
	const char *msg = conn ? PQerrorMessage(conn) : "";
	size_t		n = strcspn(msg, "\n");

	printf("%s -> %s", what, status_name(conn));
	if (conn != NULL && PQstatus(conn) == CONNECTION_BAD)
		printf(" error=%.*s", (int) n, msg);
	printf("\n");
}

/* Drive a non-blocking connect to its end with PQconnectPoll (bounded). */
static void
finish_start(const char *what, PGconn *conn)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	int			rounds = 0;

	if (conn != NULL && PQstatus(conn) != CONNECTION_BAD)
	{
		while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED && rounds++ < 100000)
		{
			usleep(st == PGRES_POLLING_READING ? 200 : 0);
			st = PQconnectPoll(conn);
		}
	}
	print_conn(what, conn);
	PQfinish(conn);
}

static const char *const empty_kw[] = {NULL};
static const char *const empty_val[] = {NULL};
static const char *const blank_kw[] = {"", NULL};
static const char *const blank_val[] = {"", NULL};
static const char *const null_val_kw[] = {"dbname", "host", NULL};
static const char *const null_val_val[] = {NULL, NULL, NULL};

static void
c_connectdb_null(void)
{
	PGconn	   *c = PQconnectdb(NULL);

	print_conn("PQconnectdb(NULL)", c);
	PQfinish(c);
}

static void
c_connectdb_empty(void)
{
	PGconn	   *c = PQconnectdb("");

	print_conn("PQconnectdb(\"\")", c);
	PQfinish(c);
}

static void
c_params_null(void)
{
	PGconn	   *c = PQconnectdbParams(NULL, NULL, 0);

	print_conn("PQconnectdbParams(NULL,NULL,0)", c);
	PQfinish(c);
}

static void
c_params_null_expand(void)
{
	PGconn	   *c = PQconnectdbParams(NULL, NULL, 1);

	print_conn("PQconnectdbParams(NULL,NULL,1)", c);
	PQfinish(c);
}

static void
c_params_null_values(void)
{
	PGconn	   *c = PQconnectdbParams(empty_kw, NULL, 0);

	print_conn("PQconnectdbParams({NULL},NULL,0)", c);
	PQfinish(c);
}

static void
c_params_empty(void)
{
	PGconn	   *c = PQconnectdbParams(empty_kw, empty_val, 0);

	print_conn("PQconnectdbParams({NULL},{NULL},0)", c);
	PQfinish(c);
}

static void
c_params_empty_expand(void)
{
	PGconn	   *c = PQconnectdbParams(empty_kw, empty_val, 1);

	print_conn("PQconnectdbParams({NULL},{NULL},1)", c);
	PQfinish(c);
}

static void
c_params_blank(void)
{
	PGconn	   *c = PQconnectdbParams(blank_kw, blank_val, 1);

	print_conn("PQconnectdbParams({\"\"},{\"\"},1)", c);
	PQfinish(c);
}

static void
c_params_null_values_named(void)
{
	PGconn	   *c = PQconnectdbParams(null_val_kw, null_val_val, 1);

	print_conn("PQconnectdbParams({dbname,host},{NULL,NULL},1)", c);
	PQfinish(c);
}

static void
c_setdblogin_null(void)
{
	PGconn	   *c = PQsetdbLogin(NULL, NULL, NULL, NULL, NULL, NULL, NULL);

	print_conn("PQsetdbLogin(NULL x7)", c);
	PQfinish(c);
}

static void
c_setdblogin_empty(void)
{
	PGconn	   *c = PQsetdbLogin("", "", "", "", "", "", "");

	print_conn("PQsetdbLogin(\"\" x7)", c);
	PQfinish(c);
}

static void
c_setdb_macro(void)
{
	PGconn	   *c = PQsetdb(NULL, NULL, NULL, NULL, NULL);

	print_conn("PQsetdb(NULL x5)", c);
	PQfinish(c);
}

static void
c_start_null(void)
{
	finish_start("PQconnectStart(NULL)", PQconnectStart(NULL));
}

static void
c_start_empty(void)
{
	finish_start("PQconnectStart(\"\")", PQconnectStart(""));
}

static void
c_startparams_null(void)
{
	finish_start("PQconnectStartParams(NULL,NULL,0)", PQconnectStartParams(NULL, NULL, 0));
}

static void
c_startparams_empty(void)
{
	finish_start("PQconnectStartParams({NULL},{NULL},1)",
				 PQconnectStartParams(empty_kw, empty_val, 1));
}

static void
c_start_abandon_empty(void)
{
	PGconn	   *c = PQconnectStart("");

	printf("PQconnectStart(\"\")+PQfinish -> %s\n", status_name(c));
	PQfinish(c);
}

static void
c_poll_null(void)
{
	printf("PQconnectPoll(NULL) -> %s\n", poll_name(PQconnectPoll(NULL)));
}

static void
c_finish_null(void)
{
	PQfinish(NULL);
	printf("PQfinish(NULL) -> returned\n");
}

static void
c_ping_null(void)
{
	printf("PQping(NULL) -> %d\n", (int) PQping(NULL));
}

static void
c_ping_empty(void)
{
	printf("PQping(\"\") -> %d\n", (int) PQping(""));
}

static void
c_pingparams_null(void)
{
	printf("PQpingParams(NULL,NULL,0) -> %d\n", (int) PQpingParams(NULL, NULL, 0));
}

static void
c_pingparams_empty(void)
{
	printf("PQpingParams({NULL},{NULL},0) -> %d\n",
		   (int) PQpingParams(empty_kw, empty_val, 0));
}

static void
c_pingparams_blank(void)
{
	printf("PQpingParams({\"\"},{\"\"},1) -> %d\n",
		   (int) PQpingParams(blank_kw, blank_val, 1));
}

static void
c_reset_null(void)
{
	PQreset(NULL);
	printf("PQreset(NULL) -> returned\n");
}

static void
c_resetstart_null(void)
{
	printf("PQresetStart(NULL) -> %d\n", PQresetStart(NULL));
}

static void
c_resetpoll_null(void)
{
	printf("PQresetPoll(NULL) -> %s\n", poll_name(PQresetPoll(NULL)));
}

/* A connection that failed at once, then reset: libpq's own NULL-free paths. */
static void
c_reset_bad(void)
{
	PGconn	   *c = PQconnectdb("host=/nonexistent-dir-pqtls port=1");

	PQreset(c);
	print_conn("PQconnectdb(bad)+PQreset", c);
	printf("PQresetStart(bad) -> %d\n", PQresetStart(c));
	printf("PQresetPoll(bad) -> %s\n", poll_name(PQresetPoll(c)));
	PQfinish(c);
}

static const struct
{
	const char *name;
	void		(*fn) (void);
}			cases[] =
{
	{"connectdb-null", c_connectdb_null},
	{"connectdb-empty", c_connectdb_empty},
	{"params-null", c_params_null},
	{"params-null-expand", c_params_null_expand},
	{"params-null-values", c_params_null_values},
	{"params-empty", c_params_empty},
	{"params-empty-expand", c_params_empty_expand},
	{"params-blank", c_params_blank},
	{"params-null-values-named", c_params_null_values_named},
	{"setdblogin-null", c_setdblogin_null},
	{"setdblogin-empty", c_setdblogin_empty},
	{"setdb-macro", c_setdb_macro},
	{"start-null", c_start_null},
	{"start-empty", c_start_empty},
	{"startparams-null", c_startparams_null},
	{"startparams-empty", c_startparams_empty},
	{"start-abandon-empty", c_start_abandon_empty},
	{"poll-null", c_poll_null},
	{"finish-null", c_finish_null},
	{"ping-null", c_ping_null},
	{"ping-empty", c_ping_empty},
	{"pingparams-null", c_pingparams_null},
	{"pingparams-empty", c_pingparams_empty},
	{"pingparams-blank", c_pingparams_blank},
	{"reset-null", c_reset_null},
	{"resetstart-null", c_resetstart_null},
	{"resetpoll-null", c_resetpoll_null},
	{"reset-bad", c_reset_bad},
};

static void
run_case(int i)
{
	pid_t		pid;
	int			st;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
	{
		perror("fork");
		exit(2);
	}
	if (pid == 0)
	{
		cases[i].fn();
		fflush(stdout);
		_exit(0);
	}
	while (waitpid(pid, &st, 0) < 0)
		;
	if (WIFSIGNALED(st))
		printf("%s: killed by signal %d\n", cases[i].name, WTERMSIG(st));
	else if (WEXITSTATUS(st) != 0)
		printf("%s: exit %d\n", cases[i].name, WEXITSTATUS(st));
}

int
main(int argc, char **argv)
{
	int			n = (int) (sizeof(cases) / sizeof(cases[0]));

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < n; i++)
	{
		int			wanted = argc < 2;

		for (int j = 1; j < argc && !wanted; j++)
			wanted = strcmp(argv[j], cases[i].name) == 0;
		if (wanted)
			run_case(i);
	}
	return 0;
}
