/*
 * cmd_probe.c: `pqtls probe [--bundle F] [--timeout MS] [--direct] CONNINFO`
 *
 * A side verify-full handshake with the server CONNINFO names, the same one the
 * interposer makes in dry-run: SSLRequest, TLS with libpq's SNI, no
 * authentication; with --direct, as libpq 17's sslnegotiation=direct (no
 * SSLRequest, ALPN "postgresql" required). Prints the chain the server sent
 * and the verdict.
 * Exit 0 pass, 1 fail, 2 error (usage, unreachable, nothing to judge against).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "pqtls/bundle.h"
#include "pqtls/certfacts.h"
#include "pqtls/cli.h"
#include "pqtls/judge.h"
#include "pqtls/ossl.h"
#include "pqtls/probe.h"
#include "pqtls/settings.h"

static const char usage[] =
	"usage: pqtls probe [--bundle FILE] [--timeout MS] [--direct] CONNINFO\n"
	"\n"
	"Connects to the server CONNINFO names (a libpq connection string or URI; the\n"
	"first host, hostaddr and port), asks for TLS as libpq does, and judges the\n"
	"certificate chain the server sends as sslmode=verify-full would, against\n"
	"FILE (default: the sslrootcert of CONNINFO, else $PQTLS_BUNDLE, else\n"
	"~/.postgresql/root.crt). No authentication takes place.\n"
	"\n"
	"  --bundle FILE   CA bundle to judge against (PEM or DER)\n"
	"  --timeout MS    limit of the whole handshake (default 3000)\n"
	"  --direct        TLS at once, as libpq 17's sslnegotiation=direct: no SSLRequest,\n"
	"                  ALPN \"postgresql\" offered and required of the server\n"
	"\n"
	"Exit status: 0 the connection would pass, 1 it would fail, 2 error.\n";

typedef struct target
{
	char	   *host;
	char	   *hostaddr;
	char	   *port;
	char	   *sslrootcert;
} target;

/* The first element of a comma-separated libpq list, or NULL. */
static char *
first_of(const char *list)
{
	size_t		n;

	if (list == NULL || list[0] == '\0')
		return NULL;
	n = strcspn(list, ",");
	return n ? strndup(list, n) : NULL;
}

static int
parse_target(const char *conninfo, target *t)
{
	char	   *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &err);

	memset(t, 0, sizeof(*t));
	if (opts == NULL)
	{
		cli_usage_error("probe", "%s", err ? err : "cannot parse the connection string");
		PQfreemem(err);
		return -1;
	}
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
	{
		if (strcmp(o->keyword, "host") == 0)
			t->host = first_of(o->val);
		else if (strcmp(o->keyword, "hostaddr") == 0)
			t->hostaddr = first_of(o->val);
		else if (strcmp(o->keyword, "port") == 0)
			t->port = first_of(o->val);
		else if (strcmp(o->keyword, "sslrootcert") == 0 && o->val && o->val[0])
			t->sslrootcert = strdup(o->val);
	}
	PQconninfoFree(opts);
	/* libpq's own environment defaults for what the string leaves out. */
	if (t->host == NULL && t->hostaddr == NULL)
		t->host = first_of(getenv("PGHOST"));
	if (t->port == NULL)
		t->port = strdup(getenv("PGPORT") && getenv("PGPORT")[0] ? getenv("PGPORT") : "5432");
	if ((t->host == NULL || t->host[0] == '/') && t->hostaddr == NULL)
	{
		fprintf(stderr, "pqtls probe: CONNINFO names no TCP host (a Unix socket has no TLS)\n");
		return -1;
	}
	return 0;
}

static void
free_target(target *t)
{
	free(t->host);
	free(t->hostaddr);
	free(t->port);
	free(t->sslrootcert);
}

static char *
default_bundle(const target *t)
{
	const char *env = getenv("PQTLS_BUNDLE"),
			   *home = getenv("HOME");
	char		path[4096];

	if (t->sslrootcert != NULL)
		return strdup(t->sslrootcert);
	if (env != NULL && env[0] != '\0')
		return strdup(env);
	if (home != NULL && home[0] != '\0')
	{
		snprintf(path, sizeof(path), "%s/.postgresql/root.crt", home);
		if (access(path, F_OK) == 0)
			return strdup(path);
	}
	return NULL;
}

static void
print_chain(const probe_result *pr)
{
	printf("chain sent by the server (%d certificate%s):\n", pr->chain.n,
		   pr->chain.n == 1 ? "" : "s");
	for (int i = 0; i < pr->chain.n; i++)
	{
		cert_facts *c = cert_facts_read(pr->chain.cert[i].der, (size_t) pr->chain.cert[i].len);
		char		hex[CERT_SHA256_HEX];

		cert_sha256_hex(pr->chain.cert[i].der, (size_t) pr->chain.cert[i].len, hex);
		if (c != NULL)
		{
			printf("  %d subject: %s\n", i, c->subject);
			printf("    issuer:  %s\n", c->issuer);
			printf("    valid:   %s to %s\n", c->not_before_text, c->not_after_text);
			printf("    key:     %s\n", c->key_desc);
			cert_facts_free(c);
		}
		else
			printf("  %d (a certificate pqtls cannot read)\n", i);
		printf("    sha256:  %s\n", hex);
	}
}

int
cmd_probe(int argc, char **argv)
{
	const char *bundle_arg = NULL,
			   *conninfo = NULL;
	long		timeout = 3000;
	bool		direct = false;
	int			rc = cli_common_flags(argc, argv, usage);
	target		t;
	probe_result pr;
	probe_opts	opts;
	bundle	   *b = NULL;
	char	   *bundle_path;
	verdict    *v;

	if (rc >= 0)
		return rc;
	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--bundle") == 0 && i + 1 < argc)
			bundle_arg = argv[++i];
		else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
		{
			if (settings_parse_long(argv[++i], 600000, &timeout) != 0 || timeout == 0)
				return cli_usage_error("probe", "--timeout takes milliseconds from 1 to 600000");
		}
		else if (strcmp(argv[i], "--direct") == 0)
			direct = true;
		else if (argv[i][0] == '-' && argv[i][1] == '-' && conninfo == NULL)
			return cli_usage_error("probe", "unknown option '%s'", argv[i]);
		else if (conninfo == NULL)
			conninfo = argv[i];
		else
			return cli_usage_error("probe", "one CONNINFO only");
	}
	if (conninfo == NULL)
		return cli_usage_error("probe", "CONNINFO is missing");
	if (parse_target(conninfo, &t) != 0)
		return 2;

	/*
	 * As the libpq this command links (Debian 12's 15: SNI, no ALPN, SSLRequest);
	 * --direct as libpq 17 with sslnegotiation=direct (its PQconninfoParse()
	 * knows no such keyword, hence the option).
	 */
	opts = direct ? probe_opts_for(170000, NULL, "direct") : probe_opts_for(PQlibVersion(), NULL, NULL);
	probe_tls(ossl_static(), t.host, t.hostaddr, t.port, timeout, &opts, &pr);
	printf("server %s port %s%s%s%s\n", t.host ? t.host : t.hostaddr, t.port,
		   pr.address[0] ? " (address " : "", pr.address, pr.address[0] ? ")" : "");
	if (pr.protocol[0])
		printf("tls: %s %s\n", pr.protocol, pr.cipher);
	if (pr.chain.n > 0)
		print_chain(&pr);
	if (pr.chain.n == 0 && pr.reason != REASON_OK)
	{
		printf("verdict: fail (%s): %s\n", reason_name(pr.reason), pr.detail);
		rc = pr.reason == REASON_UNREACHABLE || pr.reason == REASON_TIMEOUT ? 2 : 1;
		goto done;
	}
	bundle_path = bundle_arg ? strdup(bundle_arg) : default_bundle(&t);
	if (bundle_path == NULL)
	{
		fprintf(stderr, "pqtls probe: no bundle to judge against: give --bundle FILE\n");
		rc = 2;
		goto done;
	}
	b = bundle_load(bundle_path);
	free(bundle_path);
	v = judge_verify_full(ossl_static(), b, &pr.chain, t.host ? t.host : "", METHOD_PROBE);
	printf("verdict: %s (%s) against %s: %s\n", v->pass ? "pass" : "fail", reason_name(v->reason),
		   b->path, v->detail ? v->detail : "");
	rc = v->reason == REASON_BUNDLE_UNUSABLE ? 2 : v->pass ? 0 : 1;
	verdict_free(v);
	bundle_release(b);
done:
	probe_result_free(&pr);
	free_target(&t);
	return rc;
}
