/*
 * libpq_rules.c: the settings each libpq version refuses before connecting
 * (see libpq_rules.h and doc/versions.md).
 *
 * Each rule mirrors one check of connectOptions2() in fe-connect.c of the
 * versions named beside it; tests/integration/test_versions.py runs the real
 * libpq of every version against each case and compares.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pqtls/libpq_rules.h"

#define V13 130000
#define V16 160000
#define V17 170000

static bool
is(const char *value, const char *name)
{
	return value != NULL && strcmp(value, name) == 0;
}

static bool
set(const char *value)
{
	return value != NULL && value[0] != '\0';
}

void
libpq_version_text(int version, char *out, size_t size)
{
	snprintf(out, size, "%d.%d", version / 10000, version % 10000);
}

bool
libpq_has_system_roots(int version)
{
	return version >= V16;
}

static bool
refuse(char *why, size_t size, int version, const char *fmt, const char *a, const char *b)
{
	char		v[24],
				msg[400];

	libpq_version_text(version, v, sizeof(v));
	snprintf(msg, sizeof(msg), fmt, a ? a : "", b ? b : "");
	snprintf(why, size, "libpq %s refuses %s: the connection can never succeed", v, msg);
	return true;
}

/* The sslmode values of every version (connectOptions2, all versions). */
static bool
sslmode_known(const char *m)
{
	static const char modes[][12] = {"disable", "allow", "prefer", "require", "verify-ca",
	"verify-full"};

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (is(m, modes[i]))
			return true;
	return false;
}

/* sslVerifyProtocolVersion() (13+): unset, or a TLS version it names, in any case. */
static bool
protocol_known(const char *v)
{
	static const char names[][8] = {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};

	if (!set(v))
		return true;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(v, names[i]) == 0)
			return true;
	return false;
}

/*
 * sslVerifyProtocolRange() (13+): any range with an open end, any maximum above
 * a minimum of TLSv1, never a maximum of TLSv1 above another minimum, else the
 * names compare in order ("TLSv1.1" < "TLSv1.3" case-blind, as libpq compares).
 */
static bool
protocol_range_ok(const char *min, const char *max)
{
	if (!set(min) || !set(max) || strcasecmp(min, "TLSv1") == 0)
		return true;
	if (strcasecmp(max, "TLSv1") == 0)
		return false;
	return strcasecmp(min, max) <= 0;
}

/* ssl_min/max_protocol_version (13+). */
static bool
protocol_refusal(const libpq_settings *s, char *why, size_t size)
{
	if (s->version < V13)
		return false;
	if (!protocol_known(s->ssl_min_protocol_version))
		return refuse(why, size, s->version, "ssl_min_protocol_version=%s%s",
					  s->ssl_min_protocol_version, NULL);
	if (!protocol_known(s->ssl_max_protocol_version))
		return refuse(why, size, s->version, "ssl_max_protocol_version=%s%s",
					  s->ssl_max_protocol_version, NULL);
	if (!protocol_range_ok(s->ssl_min_protocol_version, s->ssl_max_protocol_version))
		return refuse(why, size, s->version,
					  "the TLS version range ssl_min_protocol_version=%s "
					  "ssl_max_protocol_version=%s", s->ssl_min_protocol_version,
					  s->ssl_max_protocol_version);
	return false;
}

/*
 * sslcertmode (16+): disable, allow or require. require fails the connection
 * after authentication unless the server asked for a client certificate and
 * one was sent (PQconnectPoll checks ssl_cert_requested and ssl_cert_sent): so
 * without TLS (sslmode=disable), or without a certificate file for
 * initialize_SSL() to load, it can never succeed.
 */
static bool
certmode_refusal(const libpq_settings *s, char *why, size_t size)
{
	const char *m = s->sslcertmode;

	if (s->version < V16 || m == NULL)
		return false;
	if (!is(m, "disable") && !is(m, "allow") && !is(m, "require"))
		return refuse(why, size, s->version, "sslcertmode=%s%s", m, NULL);
	if (is(m, "require") && is(s->sslmode, "disable"))
		return refuse(why, size, s->version,
					  "sslcertmode=require with sslmode=disable (no TLS, so no server can "
					  "ask for a client certificate)%s%s", NULL, NULL);
	if (is(m, "require") && !s->client_cert_exists)
		return refuse(why, size, s->version,
					  "sslcertmode=require without a client certificate (sslcert, or "
					  "~/.postgresql/postgresql.crt)%s%s", NULL, NULL);
	return false;
}

/*
 * sslrootcert=system (16+): only with verify-full (an unset sslmode already
 * became verify-full in conninfo_add_defaults()).
 */
static bool
system_refusal(const libpq_settings *s, char *why, size_t size)
{
	if (!libpq_has_system_roots(s->version) || !is(s->sslrootcert, "system") ||
		is(s->sslmode, "verify-full"))
		return false;
	return refuse(why, size, s->version,
				  "sslmode=%s with sslrootcert=system (it allows only verify-full)%s",
				  s->sslmode, NULL);
}

/*
 * sslnegotiation (17+): postgres or direct; direct only with require,
 * verify-ca or verify-full (libpq compares the first letter: r or v).
 */
static bool
negotiation_refusal(const libpq_settings *s, char *why, size_t size)
{
	const char *n = s->sslnegotiation;

	if (s->version < V17 || n == NULL)
		return false;
	if (!is(n, "postgres") && !is(n, "direct"))
		return refuse(why, size, s->version, "sslnegotiation=%s%s", n, NULL);
	if (is(n, "direct") && s->sslmode != NULL && s->sslmode[0] != 'r' && s->sslmode[0] != 'v')
		return refuse(why, size, s->version,
					  "sslmode=%s with sslnegotiation=direct (it needs require, "
					  "verify-ca or verify-full)%s", s->sslmode, NULL);
	return false;
}

bool
libpq_refuses(const libpq_settings *s, char *why, size_t size)
{
	if (s->sslmode != NULL && !sslmode_known(s->sslmode))
		return refuse(why, size, s->version, "sslmode=%s%s", s->sslmode, NULL);
	return negotiation_refusal(s, why, size) || system_refusal(s, why, size) ||
		certmode_refusal(s, why, size) || protocol_refusal(s, why, size);
}
