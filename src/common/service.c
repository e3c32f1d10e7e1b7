/*
 * service.c: does a connection service (pg_service.conf) define a setting?
 *
 * This answers "where did sslmode come from" when the program named a
 * service, so it must read the files exactly as libpq does, quirks included;
 * it mirrors parseServiceInfo() and parseServiceFile() of libpq's
 * fe-connect.c.  Written for the libpq of PostgreSQL 15 (15.18 runs here),
 * from the reading of a newer fe-connect.c (17 development).  What differs
 * between the two and matters here:
 *
 *  - 16 and later accept more keywords (require_auth, sslcertmode,
 *    load_balance_hosts, gssdelegation; 17 sslnegotiation; 18 more).  An
 *    unknown keyword in the service is a syntax error for libpq; we accept
 *    the keywords of every version, so that a newer libpq is never judged
 *    wrong, at the price of missing that libpq 15 fails on a newer keyword
 *    (the connection then fails, and its record says so anyway).
 *  - 16 reports errors with libpq_append_error() instead of
 *    appendPQExpBuffer(libpq_gettext()); the messages are the same.
 *  - 16 made sslrootcert=system strengthen the default sslmode to
 *    verify-full; that is about defaults, not the service file, and is left
 *    to the caller.
 *  - 18 adds a "servicefile" connection option (a service file named in the
 *    connection string); 15 knows only PGSERVICEFILE, which is what is read
 *    here.
 * The parsing itself (1024-byte lines, whole-line trimming only, first
 * definition wins, [name] matched by prefix, nested service= refused) is the
 * same in both, and the unit tests check it against the libpq installed.
 *
 * Environment variables are read with getenv(), as libpq reads them.
 */
#include <ctype.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pqtls/service.h"

/* libpq's path buffers, MAXPGPATH: longer paths are cut short, as there. */
#define SERVICE_PATH_MAX	1024

/* parseServiceFile() reads with fgets() into a buffer of this size. */
#define SERVICE_LINE_BUF	1024

/*
 * SYSCONFDIR of Debian's libpq build (pg_config --sysconfdir, and the string
 * in libpq.so.5): Debian's PostgreSQL packages keep it there rather than in
 * the installation prefix.
 */
#ifndef PQTLS_PG_SYSCONFDIR
#define PQTLS_PG_SYSCONFDIR "/etc/postgresql-common"
#endif

/*
 * Keywords libpq accepts in a service file: all connection options.  Those
 * of libpq 15 first (the same list as PQconndefaults() there), then later
 * additions; see the head comment for why those are accepted too.
 */
/* Names in place, not pointers: no relocation at load (nametab.h). */
static const char service_keywords[][32] = {
	/* PostgreSQL 15 */
	"service", "user", "password", "passfile", "channel_binding",
	"connect_timeout", "dbname", "host", "hostaddr", "port",
	"client_encoding", "options", "application_name",
	"fallback_application_name", "keepalives", "keepalives_idle",
	"keepalives_interval", "keepalives_count", "tcp_user_timeout",
	"sslmode", "sslcompression", "sslcert", "sslkey", "sslpassword",
	"sslrootcert", "sslcrl", "sslcrldir", "sslsni", "requirepeer",
	"ssl_min_protocol_version", "ssl_max_protocol_version", "gssencmode",
	"krbsrvname", "gsslib", "replication", "target_session_attrs",
	/* 16 */
	"require_auth", "sslcertmode", "load_balance_hosts", "gssdelegation",
	/* 17 */
	"sslnegotiation",
	/* 18 */
	"servicefile", "min_protocol_version", "max_protocol_version",
	"sslkeylogfile", "oauth_issuer", "oauth_client_id",
	"oauth_client_secret", "oauth_scope", "scram_client_key",
	"scram_server_key",
	""
};

static bool
known_keyword(const char *key)
{
	for (int i = 0; service_keywords[i][0] != '\0'; i++)
		if (strcmp(service_keywords[i], key) == 0)
			return true;
	return false;
}

/*
 * libpq's pqGetHomeDirectory(): $HOME unless unset or empty, else the
 * passwd entry of the effective user.
 */
static bool
home_directory(char *buf, size_t bufsz)
{
	const char *home = getenv("HOME");
	char		pwbuf[8192];
	struct passwd pwd;
	struct passwd *pw = NULL;

	if (home == NULL || home[0] == '\0')
	{
		if (getpwuid_r(geteuid(), &pwd, pwbuf, sizeof(pwbuf), &pw) != 0 ||
			pw == NULL)
			return false;
		home = pw->pw_dir;
	}
	snprintf(buf, bufsz, "%s", home);
	return true;
}

/*
 * Parse one service file as parseServiceFile() does, for one keyword.
 * Sets *group_found when [name] is in the file.  Returns -1 when libpq
 * would fail (file unreadable, line too long anywhere up to the end of the
 * group, a line of the group without '=', nested service, unknown keyword),
 * else 1 with *value set when the group defines keyword, else 0.
 */
static int
parse_service_file(const char *path, const char *name, const char *keyword,
				   char **value, bool *group_found)
{
	char		buf[SERVICE_LINE_BUF];
	size_t		namelen = strlen(name);
	char	   *line;
	int			result = 0;
	FILE	   *f;

	*group_found = false;
	f = fopen(path, "re");
	if (f == NULL)
		return -1;				/* libpq: service file "%s" not found */

	while ((line = fgets(buf, sizeof(buf), f)) != NULL)
	{
		size_t		len = strlen(line);
		char	   *val;

		/* libpq refuses a line that fills its buffer, newline or not */
		if (len >= sizeof(buf) - 1)
		{
			result = -1;
			break;
		}

		/*
		 * trim the whole line; keys and values are not trimmed apart.
		 * (isspace): the function, as locale-aware as the macro, which would
		 * cost the preloaded library one more symbol version (libcver.h).
		 */
		while (len > 0 && (isspace) ((unsigned char) line[len - 1]))
			line[--len] = '\0';
		while (*line && (isspace) ((unsigned char) *line))
			line++;

		if (line[0] == '\0' || line[0] == '#')
			continue;

		if (line[0] == '[')
		{
			/* the next group ends ours; a repeated [name] later is ignored */
			if (*group_found)
				break;
			/* matched as a prefix: "[name]anything" is the group too */
			*group_found = strncmp(line + 1, name, namelen) == 0 &&
				line[namelen + 1] == ']';
			continue;
		}
		if (!*group_found)
			continue;

		/*
		 * libpq (built with LDAP, as Debian's is) hands a line starting with
		 * "ldap" to an LDAP lookup and, when that succeeds, reads no further
		 * lines of the group.  We do not query LDAP: what the group set
		 * before that line is known, the rest is not, so we stop there.
		 */
		if (strncmp(line, "ldap", 4) == 0)
			break;

		val = strchr(line, '=');
		if (val == NULL)
		{
			result = -1;		/* libpq: syntax error in service file */
			break;
		}
		*val++ = '\0';

		if (strcmp(line, "service") == 0 || !known_keyword(line))
		{
			result = -1;		/* nested service, or syntax error */
			break;
		}

		/* libpq sets an option only when not set yet: the first one wins */
		if (result == 0 && strcmp(line, keyword) == 0)
		{
			*value = strdup(val);
			result = *value ? 1 : -1;
			if (result < 0)
				break;
		}
	}

	fclose(f);
	if (result < 0)
	{
		free(*value);
		*value = NULL;
	}
	return result;
}

int
service_lookup(const char *name, const char *keyword, char **value)
{
	char		path[SERVICE_PATH_MAX];
	const char *env;
	const char *sysconfdir;
	bool		group_found = false;
	struct stat st;
	int			rc;

	*value = NULL;
	if (name == NULL || keyword == NULL)
		return 0;

	/*
	 * The user's file: PGSERVICEFILE (which must then be readable), else
	 * ~/.pg_service.conf if it exists.  A service found there hides the
	 * system file entirely, even for keywords it does not set.
	 */
	if ((env = getenv("PGSERVICEFILE")) != NULL)
		snprintf(path, sizeof(path), "%s", env);
	else
	{
		char		home[SERVICE_PATH_MAX];

		/* an over-long path is cut short, silently, as libpq's snprintf does */
		if (!home_directory(home, sizeof(home)))
			path[0] = '\0';
		else if (snprintf(path, sizeof(path), "%s/%s", home,
						  ".pg_service.conf") >= (int) sizeof(path))
			path[sizeof(path) - 1] = '\0';
		if (path[0] != '\0' && stat(path, &st) != 0)
			path[0] = '\0';
	}
	if (env != NULL || path[0] != '\0')
	{
		rc = parse_service_file(path, name, keyword, value, &group_found);
		if (group_found || rc != 0)
			return rc;
	}

	/* The system file, only if it exists. */
	sysconfdir = getenv("PGSYSCONFDIR");
	if (sysconfdir == NULL)
		sysconfdir = PQTLS_PG_SYSCONFDIR;
	snprintf(path, sizeof(path), "%s/pg_service.conf", sysconfdir);
	if (stat(path, &st) != 0)
		return 0;				/* libpq: definition of service not found */

	/*
	 * Not found here either is an error for libpq ("definition of service
	 * not found"); service.h asks for 0 then, as for a keyword not set.
	 */
	return parse_service_file(path, name, keyword, value, &group_found);
}
