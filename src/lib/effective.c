/*
 * effective.c: the settings a connection really used, and their sources.
 */
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pqtls/effective.h"
#include "pqtls/libpq_rules.h"
#include "pqtls/service.h"
#include "pqtls/sysroots.h"

const char	effective_versioned_names[VS_COUNT][VS_NAME_MAX] = {
	[VS_SSLNEGOTIATION] = "sslnegotiation",
	[VS_SSLCERTMODE] = "sslcertmode",
	[VS_SSL_MIN_PROTOCOL_VERSION] = "ssl_min_protocol_version",
	[VS_SSL_MAX_PROTOCOL_VERSION] = "ssl_max_protocol_version",
	[VS_SSLSNI] = "sslsni",
};

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static const PQconninfoOption *
option_find(const PQconninfoOption *opts, const char *keyword)
{
	for (const PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++)
		if (strcmp(o->keyword, keyword) == 0)
			return o;
	return NULL;
}

static const char *
option_value(const PQconninfoOption *opts, const char *keyword)
{
	const PQconninfoOption *o = option_find(opts, keyword);

	return o != NULL ? o->val : NULL;
}

/*
 * The settings only some versions have. PQconninfo() lists exactly the
 * keywords of the libpq that made the PGconn, with the values conninfo,
 * service file, environment and compiled-in default gave them (each version's
 * PQconninfoOptions[] in fe-connect.c): a keyword it lacks is absent.
 */
static void
versioned_from_options(effective *e, const PQconninfoOption *opts)
{
	for (int i = 0; i < VS_COUNT; i++)
	{
		const PQconninfoOption *o = option_find(opts, effective_versioned_names[i]);

		e->versioned[i].present = o != NULL;
		e->versioned[i].value = o != NULL && o->val != NULL ? strdup(o->val) : NULL;
	}
}

static bool
nonempty(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/*
 * The service libpq consults: service= in the call, else PGSERVICE
 * (parseServiceInfo). The PGconn does not keep it (its option has no field in
 * struct pg_conn), so PQconninfo() cannot say; the call can.
 */
static const char *
service_in_effect(const given *g)
{
	return g != NULL && nonempty(g->service) ? g->service : getenv("PGSERVICE");
}

static bool
is_system_setting(const char *sslrootcert, int libpq_version)
{
	return libpq_has_system_roots(libpq_version) && sslrootcert != NULL &&
		strcmp(sslrootcert, "system") == 0;
}

/*
 * conninfo_add_defaults() fills what the call left unset: first from the service
 * file, then from the environment, then from the compiled-in default. Returns
 * the source; *value (when value is not NULL) gets the value that layer holds,
 * malloc'ed, or NULL for the compiled-in default.
 */
static const char *
layer_of(const char *keyword, const char *given_value, bool given_in_call,
		 const char *service, const char *envvar, char **value)
{
	const char *env;
	char	   *from_service = NULL;

	if (value != NULL)
		*value = NULL;
	if (given_in_call)
	{
		if (value != NULL && given_value != NULL)
			*value = strdup(given_value);
		return "conninfo";
	}
	if (nonempty(service) && service_lookup(service, keyword, &from_service) == 1)
	{
		if (value != NULL)
			*value = from_service;
		else
			free(from_service);
		return "service";
	}
	free(from_service);
	env = getenv(envvar);
	if (nonempty(env))
	{
		if (value != NULL)
			*value = strdup(env);
		return "env";
	}
	if (strcmp(keyword, "sslmode") == 0)
	{
		/* PGREQUIRESSL=1 means sslmode=require when PGSSLMODE is unset. */
		env = getenv("PGREQUIRESSL");
		if (env != NULL && env[0] == '1')
		{
			if (value != NULL)
				*value = strdup("require");
			return "env";
		}
	}
	return "default";
}

static const char *
source_of(const char *keyword, bool given_in_call, const char *service, const char *envvar)
{
	return layer_of(keyword, NULL, given_in_call, service, envvar, NULL);
}

char *
effective_unforced(const char *keyword, const given *g, int libpq_version)
{
	bool		is_mode = strcmp(keyword, "sslmode") == 0;
	char	   *value = NULL,
			   *rootcert;

	layer_of(keyword, is_mode ? g->sslmode_value : g->sslrootcert_value,
			 is_mode ? g->sslmode : g->sslrootcert, service_in_effect(g),
			 is_mode ? "PGSSLMODE" : "PGSSLROOTCERT", &value);
	if (value != NULL || !is_mode)
		return value;
	/*
	 * conninfo_add_defaults() (16+): with sslrootcert=system, an sslmode set
	 * nowhere is verify-full instead of DefaultSSLMode.
	 */
	rootcert = effective_unforced("sslrootcert", g, libpq_version);
	value = strdup(is_system_setting(rootcert, libpq_version) ? "verify-full" : "prefer");
	free(rootcert);
	return value;
}

/* pqGetHomeDirectory(): $HOME first since libpq 15, else the passwd entry. */
static bool
home_directory(int libpq_version, char *buf, size_t size)
{
	const char *home = getenv("HOME");
	struct passwd pw,
			   *res = NULL;
	char		pwbuf[4096];

	if (libpq_version >= 150000 && nonempty(home))
	{
		snprintf(buf, size, "%s", home);
		return true;
	}
	if (getpwuid_r(geteuid(), &pw, pwbuf, sizeof(pwbuf), &res) != 0 || res == NULL)
		return false;
	snprintf(buf, size, "%s", pw.pw_dir);
	return true;
}

/*
 * initialize_SSL() in fe-secure-openssl.c: sslrootcert when set, else
 * ~/.postgresql/root.crt. libpq 16 added sslrootcert=system, the default store
 * of its OpenSSL (sysroots.c): the file that OpenSSL copy reads is named.
 * Before 16, "system" is a file name like any other.
 */
char *
effective_rootcert_file(const char *sslrootcert, int libpq_version, const ossl *o,
						bool *is_system)
{
	char		home[4096],
				path[4200];

	*is_system = false;
	if (nonempty(sslrootcert))
	{
		if (libpq_has_system_roots(libpq_version) && strcmp(sslrootcert, "system") == 0)
		{
			*is_system = true;
			return sysroots_file(o);
		}
		return strdup(sslrootcert);
	}
	if (!home_directory(libpq_version, home, sizeof(home)))
		return NULL;
	snprintf(path, sizeof(path), "%s/.postgresql/root.crt", home);
	return strdup(path);
}

/*
 * What the server's certificate is checked against when TLS is used. libpq
 * loads the root file whenever it exists and then sets SSL_VERIFY_PEER, so
 * allow, prefer and require verify the chain like verify-ca does; only
 * verify-full adds the host name. A Unix socket never uses TLS.
 */
const char *
effective_verify(const char *sslmode, bool unix_socket, bool rootcert_exists)
{
	if (unix_socket || sslmode == NULL || strcmp(sslmode, "disable") == 0)
		return "none";
	if (strcmp(sslmode, "verify-full") == 0)
		return "full";
	if (strcmp(sslmode, "verify-ca") == 0)
		return "ca";
	return rootcert_exists ? "ca" : "none";
}

/* is_unixsock_path() in libpq: an absolute path, or '@' for the abstract namespace. */
static bool
is_unix_path(const char *host)
{
	return host != NULL && (host[0] == '/' || host[0] == '@');
}

static const char *
transport_of(pq_api *pq, PGconn *conn, const char *host, const char *hostaddr)
{
	int			sock = pq->PQsocket(conn);
	struct sockaddr_storage ss;
	socklen_t	len = sizeof(ss);

	/* An open socket says it exactly. */
	if (sock >= 0 && getsockname(sock, (struct sockaddr *) &ss, &len) == 0)
		return ss.ss_family == AF_UNIX ? "unix" : "tcp";
	if (nonempty(hostaddr))
		return "tcp";
	return !nonempty(host) || is_unix_path(host) ? "unix" : "tcp";
}

void
effective_rules(const effective *e, libpq_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->version = e->libpq_version;
	s->sslmode = e->sslmode;
	s->sslrootcert = e->sslrootcert;
	s->sslnegotiation = e->versioned[VS_SSLNEGOTIATION].value;
	s->sslcertmode = e->versioned[VS_SSLCERTMODE].value;
	s->ssl_min_protocol_version = e->versioned[VS_SSL_MIN_PROTOCOL_VERSION].value;
	s->ssl_max_protocol_version = e->versioned[VS_SSL_MAX_PROTOCOL_VERSION].value;
	s->client_cert_exists = e->client_cert_exists;
}

/*
 * initialize_SSL(): the client certificate is sslcert, else
 * ~/.postgresql/postgresql.crt, and libpq sends one only when stat() finds it.
 */
static bool
client_cert_exists(const char *sslcert, int libpq_version)
{
	char		home[4096],
				path[4200];
	struct stat st;

	if (nonempty(sslcert))
		return stat(sslcert, &st) == 0;
	if (!home_directory(libpq_version, home, sizeof(home)))
		return false;
	snprintf(path, sizeof(path), "%s/.postgresql/postgresql.crt", home);
	return stat(path, &st) == 0;
}

void
effective_from_conn(effective *e, pq_api *pq, PGconn *conn, const given *g)
{
	PQconninfoOption *opts = pq->PQconninfo(conn);
	const char *service = service_in_effect(g);
	const char *hostlist = option_value(opts, "host");
	const char *addr = pq->PQhostaddr ? pq->PQhostaddr(conn) : NULL;

	memset(e, 0, sizeof(*e));
	e->host = dup_or_null(pq->PQhost(conn));
	if (!nonempty(addr))
		addr = option_value(opts, "hostaddr");
	e->hostaddr = nonempty(addr) ? strdup(addr) : NULL;
	e->port = dup_or_null(pq->PQport(conn));
	e->dbname = dup_or_null(pq->PQdb(conn));
	e->user = dup_or_null(pq->PQuser(conn));
	if (hostlist != NULL && strchr(hostlist, ',') != NULL)
		e->hosts = strdup(hostlist);
	e->application_name = dup_or_null(option_value(opts, "application_name"));
	e->transport = transport_of(pq, conn, e->host, e->hostaddr);

	e->sslmode = dup_or_null(option_value(opts, "sslmode"));
	e->sslmode_source = source_of("sslmode", g && g->sslmode, service, "PGSSLMODE");
	e->sslrootcert = nonempty(option_value(opts, "sslrootcert")) ?
		strdup(option_value(opts, "sslrootcert")) : NULL;
	e->sslrootcert_source = source_of("sslrootcert", g && g->sslrootcert, service,
									  "PGSSLROOTCERT");
	e->rootcert_file = effective_rootcert_file(e->sslrootcert, pq->version,
											   is_system_setting(e->sslrootcert, pq->version) ?
											   pq_ossl(pq) : NULL, &e->rootcert_system);
	if (e->rootcert_file != NULL)
	{
		struct stat st;

		/* libpq asks stat() and nothing else: a directory "exists" too. */
		e->rootcert_exists = stat(e->rootcert_file, &st) == 0;
	}
	e->verify = effective_verify(e->sslmode, strcmp(e->transport, "unix") == 0,
								 e->rootcert_exists);
	e->libpq_version = pq->version;
	versioned_from_options(e, opts);
	e->client_cert_exists = client_cert_exists(option_value(opts, "sslcert"), pq->version);
	if (opts != NULL)
		pq->PQconninfoFree(opts);
}

void
effective_free(effective *e)
{
	free(e->host);
	free(e->hostaddr);
	free(e->port);
	free(e->dbname);
	free(e->user);
	free(e->hosts);
	free(e->application_name);
	free(e->sslmode);
	free(e->sslrootcert);
	free(e->rootcert_file);
	for (int i = 0; i < VS_COUNT; i++)
		free(e->versioned[i].value);
	memset(e, 0, sizeof(*e));
}
