/*
 * test_service.c: service file lookups, as libpq does them.
 *
 * service_lookup() reads PGSERVICEFILE, PGSYSCONFDIR and HOME at each call,
 * so the cases run in process with the environment pointed at files in a
 * temporary directory.  Each case states what libpq does; where the libpq of
 * this machine can be loaded, the same files are also handed to it (through
 * dlopen, the tests do not link libpq) and both answers must agree.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "check.h"
#include "pqtls/service.h"

static char tmpdir[64];
static char user_file[128];
static char sys_dir[128];
static char home_dir[128];

static void
spew(const char *path, const char *text)
{
	FILE	   *f = fopen(path, "w");

	if (f == NULL)
		abort();
	fputs(text, f);
	fclose(f);
}

static void
rm_rf(const char *dir)
{
	DIR		   *d = opendir(dir);
	struct dirent *e;
	char		p[512];

	while (d && (e = readdir(d)) != NULL)
	{
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (unlink(p) != 0)
			rm_rf(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

/*
 * Lay out the files of one case: the PGSERVICEFILE file (NULL: variable
 * unset), $PGSYSCONFDIR/pg_service.conf and $HOME/.pg_service.conf (NULL:
 * no such file).
 */
static void
setup(const char *user, const char *sys, const char *home)
{
	char		p[256];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pqtls-svc-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		abort();
	snprintf(user_file, sizeof(user_file), "%s/user.conf", tmpdir);
	snprintf(sys_dir, sizeof(sys_dir), "%s/sys", tmpdir);
	snprintf(home_dir, sizeof(home_dir), "%s/home", tmpdir);
	mkdir(sys_dir, 0700);
	mkdir(home_dir, 0700);

	unsetenv("PGSERVICE");
	unsetenv("PGSSLMODE");
	unsetenv("PGSSLROOTCERT");
	unsetenv("PGAPPNAME");
	unsetenv("PGREQUIRESSL");
	if (user)
	{
		spew(user_file, user);
		setenv("PGSERVICEFILE", user_file, 1);
	}
	else
		unsetenv("PGSERVICEFILE");
	if (sys)
	{
		snprintf(p, sizeof(p), "%s/pg_service.conf", sys_dir);
		spew(p, sys);
	}
	if (home)
	{
		snprintf(p, sizeof(p), "%s/.pg_service.conf", home_dir);
		spew(p, home);
	}
	setenv("PGSYSCONFDIR", sys_dir, 1);
	setenv("HOME", home_dir, 1);
}

static void
teardown(void)
{
	rm_rf(tmpdir);
}

/* Our answer as text: "=value", "unset" or "error". */
static const char *
ours(const char *service, const char *keyword)
{
	static char out[2048];
	char	   *value = (char *) 0x1;
	int			rc = service_lookup(service, keyword, &value);

	if (rc == 1)
	{
		snprintf(out, sizeof(out), "=%s", value);
		free(value);
		return out;
	}
	if (value != NULL)
		return "value left set";
	return rc == 0 ? "unset" : rc == -1 ? "error" : "bad return";
}

/* ---- libpq itself, for comparison ---- */

typedef PGconn *(*connect_start_fn) (const char *);
typedef PQconninfoOption *(*conninfo_fn) (PGconn *);
typedef void (*conninfo_free_fn) (PQconninfoOption *);
typedef char *(*error_message_fn) (const PGconn *);
typedef void (*finish_fn) (PGconn *);

static struct
{
	bool		tried;
	void	   *handle;
	connect_start_fn connect_start;
	conninfo_fn conninfo;
	conninfo_free_fn conninfo_free;
	error_message_fn error_message;
	finish_fn finish;
} pq;

static bool
load_libpq(void)
{
	if (pq.tried)
		return pq.handle != NULL;
	pq.tried = true;
	pq.handle = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
	if (pq.handle == NULL)
		return false;
	pq.connect_start = (connect_start_fn) dlsym(pq.handle, "PQconnectStart");
	pq.conninfo = (conninfo_fn) dlsym(pq.handle, "PQconninfo");
	pq.conninfo_free = (conninfo_free_fn) dlsym(pq.handle, "PQconninfoFree");
	pq.error_message = (error_message_fn) dlsym(pq.handle, "PQerrorMessage");
	pq.finish = (finish_fn) dlsym(pq.handle, "PQfinish");
	if (!pq.connect_start || !pq.conninfo || !pq.conninfo_free ||
		!pq.error_message || !pq.finish)
		pq.handle = NULL;
	return pq.handle != NULL;
}

/* What libpq's default for keyword is when nothing sets it. */
static const char *
libpq_default(const char *keyword)
{
	return strcmp(keyword, "sslmode") == 0 ? "prefer" : NULL;
}

/*
 * Have libpq resolve the service (the connection itself goes to a socket
 * directory that does not exist, and fails at once), and check that our
 * answer for each keyword is what libpq did.
 */
static void
agrees_with_libpq(const char *service)
{
	static const char *const keywords[] = {"sslmode", "sslrootcert", "application_name", NULL};
	char		conninfo[256];
	PGconn	   *conn;
	const char *err;
	bool		service_error;
	bool		not_found;

	if (!load_libpq())
		return;
	snprintf(conninfo, sizeof(conninfo),
			 "service='%s' host=/nonexistent-pqtls-test port=1", service);
	conn = pq.connect_start(conninfo);
	CHECK(conn != NULL);
	if (conn == NULL)
		return;
	err = pq.error_message(conn);
	service_error = strstr(err, "service file") != NULL;
	not_found = strstr(err, "definition of service") != NULL;

	for (int i = 0; keywords[i]; i++)
	{
		const char *got = ours(service, keywords[i]);
		const char *want;
		char		wantbuf[2048];

		if (service_error)
			want = "error";
		else if (not_found)
			want = "unset";		/* service.h: 0 when the service is not found */
		else
		{
			PQconninfoOption *opts = pq.conninfo(conn);
			const char *val = NULL;

			for (PQconninfoOption *o = opts; o && o->keyword; o++)
				if (strcmp(o->keyword, keywords[i]) == 0)
					val = o->val;
			if (val == NULL || (libpq_default(keywords[i]) &&
								strcmp(val, libpq_default(keywords[i])) == 0 &&
								strcmp(got, "unset") == 0))
				want = "unset";
			else
			{
				snprintf(wantbuf, sizeof(wantbuf), "=%s", val);
				want = wantbuf;
			}
			pq.conninfo_free(opts);
		}
		if (strcmp(got, want) != 0)
			fprintf(stderr, "libpq says \"%s\" for %s of service %s (%s)\n",
					want, keywords[i], service, err);
		CHECK_STR(got, want);
	}
	pq.finish(conn);
}

/* ---- cases ---- */

TEST(libpq_here_for_comparison)
{
	if (!load_libpq())
		printf("note: libpq.so.5 not loadable; cases checked without it\n");
}

TEST(found_in_user_file)
{
	setup("# comment\n"
		  "[other]\n"
		  "sslmode=disable\n"
		  "\n"
		  "[prod]\n"
		  "host=db.example.com\n"
		  "sslmode=verify-full\n"
		  "sslrootcert=/etc/ssl/rds.pem\n",
		  NULL, NULL);
	CHECK_STR(ours("prod", "sslmode"), "=verify-full");
	CHECK_STR(ours("prod", "sslrootcert"), "=/etc/ssl/rds.pem");
	CHECK_STR(ours("prod", "application_name"), "unset");
	CHECK_STR(ours("other", "sslmode"), "=disable");
	agrees_with_libpq("prod");
	agrees_with_libpq("other");
	teardown();
}

TEST(user_file_hides_system_file)
{
	/* prod is in the user file: the system file is not read, even for
	 * keywords the user file does not set */
	setup("[prod]\nhost=a\n",
		  "[prod]\nsslmode=verify-ca\n[onlysys]\nsslmode=require\n",
		  NULL);
	CHECK_STR(ours("prod", "sslmode"), "unset");
	CHECK_STR(ours("onlysys", "sslmode"), "=require");
	agrees_with_libpq("prod");
	agrees_with_libpq("onlysys");
	teardown();
}

TEST(home_file_when_no_pgservicefile)
{
	setup(NULL, "[s]\nsslmode=require\n", "[s]\nsslmode=verify-full\n");
	CHECK_STR(ours("s", "sslmode"), "=verify-full");
	agrees_with_libpq("s");
	teardown();

	/* no ~/.pg_service.conf: straight to the system file */
	setup(NULL, "[s]\nsslmode=require\n", NULL);
	CHECK_STR(ours("s", "sslmode"), "=require");
	agrees_with_libpq("s");
	teardown();
}

TEST(missing_pgservicefile_is_an_error)
{
	/* unlike ~/.pg_service.conf, a named file must exist */
	setup(NULL, "[s]\nsslmode=require\n", NULL);
	setenv("PGSERVICEFILE", "/nonexistent/pg_service.conf", 1);
	CHECK_STR(ours("s", "sslmode"), "error");
	agrees_with_libpq("s");
	teardown();
}

TEST(service_not_found)
{
	setup("[a]\nsslmode=require\n", "[b]\nsslmode=require\n", NULL);
	CHECK_STR(ours("c", "sslmode"), "unset");
	agrees_with_libpq("c");
	teardown();

	/* and no files at all */
	setup(NULL, NULL, NULL);
	CHECK_STR(ours("c", "sslmode"), "unset");
	agrees_with_libpq("c");
	teardown();
}

TEST(whitespace_as_libpq_trims_it)
{
	/* only whole lines are trimmed; the value keeps blanks after '=' */
	setup("  [s]  \n"
		  "\t sslmode=verify-ca \t\r\n"
		  "sslrootcert= /spaced/root.crt\n"
		  "application_name=a b  c\n",
		  NULL, NULL);
	CHECK_STR(ours("s", "sslmode"), "=verify-ca");
	CHECK_STR(ours("s", "sslrootcert"), "= /spaced/root.crt");
	CHECK_STR(ours("s", "application_name"), "=a b  c");
	agrees_with_libpq("s");
	teardown();
}

TEST(blank_before_equals_is_a_syntax_error)
{
	/* the key is "sslmode " which is no keyword */
	setup("[s]\nsslmode = require\n", NULL, NULL);
	CHECK_STR(ours("s", "sslmode"), "error");
	CHECK_STR(ours("s", "sslrootcert"), "error");
	agrees_with_libpq("s");
	teardown();
}

TEST(first_definition_wins)
{
	setup("[s]\nsslmode=verify-full\nsslmode=disable\n", NULL, NULL);
	CHECK_STR(ours("s", "sslmode"), "=verify-full");
	agrees_with_libpq("s");
	teardown();
}

TEST(empty_value)
{
	setup("[s]\nsslrootcert=\n", NULL, NULL);
	CHECK_STR(ours("s", "sslrootcert"), "=");
	teardown();
}

TEST(first_group_of_a_name_only)
{
	/* the group ends at the next header; a second [s] is never read */
	setup("[s]\nsslmode=require\n[t]\n[s]\nsslrootcert=/x\n", NULL, NULL);
	CHECK_STR(ours("s", "sslmode"), "=require");
	CHECK_STR(ours("s", "sslrootcert"), "unset");
	agrees_with_libpq("s");
	teardown();
}

TEST(nested_service_is_an_error)
{
	setup("[s]\nsslmode=require\nservice=other\n[other]\nsslmode=disable\n", NULL, NULL);
	CHECK_STR(ours("s", "sslmode"), "error");
	CHECK_STR(ours("other", "sslmode"), "=disable");
	agrees_with_libpq("s");
	agrees_with_libpq("other");
	teardown();
}

TEST(syntax_errors_only_count_in_the_group)
{
	/* a line without '=' or with an unknown keyword breaks only its group */
	setup("[bad]\nsslmode=require\njust words\n"
		  "[unknown]\nsslmode=require\nnosuchoption=1\n"
		  "[good]\nsslmode=verify-ca\n"
		  "[after]\nwhatever here\n",
		  NULL, NULL);
	CHECK_STR(ours("bad", "sslmode"), "error");
	CHECK_STR(ours("unknown", "sslmode"), "error");
	CHECK_STR(ours("good", "sslmode"), "=verify-ca");
	agrees_with_libpq("bad");
	agrees_with_libpq("unknown");
	agrees_with_libpq("good");
	teardown();
}

TEST(error_in_user_file_stops_there)
{
	/* an error in the user file is not rescued by the system file */
	setup("[s]\noops\n", "[s]\nsslmode=require\n", NULL);
	CHECK_STR(ours("s", "sslmode"), "error");
	agrees_with_libpq("s");
	teardown();
}

TEST(error_in_system_file)
{
	setup(NULL, "[s]\nservice=t\n", NULL);
	CHECK_STR(ours("s", "sslmode"), "error");
	agrees_with_libpq("s");
	teardown();
}

TEST(long_lines)
{
	char		text[4096];
	char		line[1100];

	/* a line of 1022 characters and its newline fills libpq's buffer */
	memset(line, 'x', sizeof(line));
	snprintf(text, sizeof(text), "#%.1021s\n[s]\nsslmode=require\n", line);
	setup(text, NULL, NULL);
	CHECK_STR(ours("s", "sslmode"), "error");
	agrees_with_libpq("s");
	teardown();

	/* one shorter is fine */
	snprintf(text, sizeof(text), "#%.1020s\n[s]\nsslmode=require\n", line);
	setup(text, NULL, NULL);
	CHECK_STR(ours("s", "sslmode"), "=require");
	agrees_with_libpq("s");
	teardown();

	/* after the group, never read */
	snprintf(text, sizeof(text), "[s]\nsslmode=require\n[t]\n#%.1050s\n", line);
	setup(text, NULL, NULL);
	CHECK_STR(ours("s", "sslmode"), "=require");
	agrees_with_libpq("s");
	teardown();
}

TEST(header_matches_as_prefix)
{
	/* libpq compares "[name" and checks the next character is ']' */
	setup("[s] trailing\nsslmode=require\n[ss]\nsslmode=disable\n", NULL, NULL);
	CHECK_STR(ours("s", "sslmode"), "=require");
	CHECK_STR(ours("ss", "sslmode"), "=disable");
	agrees_with_libpq("s");
	agrees_with_libpq("ss");
	teardown();
}

TEST(comments_and_blank_lines)
{
	setup("\n\n   # [s]\n[s]\n# sslmode=disable\n   \n\tsslmode=allow\n", NULL, NULL);
	CHECK_STR(ours("s", "sslmode"), "=allow");
	agrees_with_libpq("s");
	teardown();
}

TEST(keywords_of_later_versions_accepted)
{
	/* libpq 16+ accepts these; we never call a newer libpq wrong */
	setup("[s]\nrequire_auth=scram-sha-256\nsslnegotiation=direct\nsslmode=require\n",
		  NULL, NULL);
	CHECK_STR(ours("s", "sslmode"), "=require");
	CHECK_STR(ours("s", "require_auth"), "=scram-sha-256");
	teardown();
}

TEST(ldap_line_ends_what_is_known)
{
	/* libpq hands it to LDAP; we stop there (not compared: no LDAP here) */
	setup("[s]\nsslmode=require\nldap://ldap.example.com/dc=x?y\nsslrootcert=/r\n",
		  NULL, NULL);
	CHECK_STR(ours("s", "sslmode"), "=require");
	CHECK_STR(ours("s", "sslrootcert"), "unset");
	teardown();
}

TEST(home_from_passwd_when_home_empty)
{
	char	   *value = NULL;
	int			rc;

	/* HOME empty: the passwd entry's directory; must not fail or crash */
	setup(NULL, "[s]\nsslmode=require\n", NULL);
	setenv("HOME", "", 1);
	rc = service_lookup("s", "sslmode", &value);
	CHECK(rc == 1 || rc == -1);
	free(value);
	unsetenv("HOME");
	value = NULL;
	rc = service_lookup("s", "sslmode", &value);
	CHECK(rc == 1 || rc == -1);
	free(value);
	teardown();
}

TEST(null_arguments)
{
	char	   *value = (char *) 0x1;

	CHECK_INT(service_lookup(NULL, "sslmode", &value), 0);
	CHECK(value == NULL);
}

TEST(default_sysconfdir_is_debians)
{
	char	   *value = NULL;
	struct stat st;

	/*
	 * Without PGSYSCONFDIR the system file is /etc/postgresql-common's; only
	 * checkable when that file does not exist (the usual case).
	 */
	if (stat("/etc/postgresql-common/pg_service.conf", &st) == 0)
		return;
	setup(NULL, NULL, NULL);
	unsetenv("PGSYSCONFDIR");
	CHECK_INT(service_lookup("s", "sslmode", &value), 0);
	CHECK(value == NULL);
	teardown();
}
