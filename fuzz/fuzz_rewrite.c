/*
 * fuzz_rewrite.c: what the interposer makes of the program's connection
 * parameters: the enforce rewrite (src/lib/rewrite.c), the reading of what
 * the call named and of its passwords (src/lib/given.c), the scrubbing of
 * passwords from libpq's messages and the record that carries them
 * (src/lib/record.c).
 *
 * Those files live in the interposer, not in src/common, so they are
 * compiled into this target by #include, next to effective.c (which
 * rewrite_note_forced() uses); libpq's real PQconninfoParse(),
 * PQconninfoFree() and PQfreemem() fill the pq_api table, as the interposer
 * binds them at run time.  The settings are PQTLS_MODE=enforce with a bundle.
 *
 * Input: one byte chooses the entry point, the rest are its arguments:
 *   byte % 4 == 0   PQconnectdb(conninfo): the rest is the string; bit 0x10
 *                   also tries it with a known password put in ("password=..."
 *                   in front, or in a URI user:password@ (bit 0x20) or
 *                   ?password= at the end);
 *   byte % 4 == 1   PQconnectdbParams(keywords, values, expand_dbname=1):
 *                   NUL-separated keyword, value, keyword, value...;
 *   byte % 4 == 2   PQsetdbLogin(host, port, options, tty, dbName, login,
 *                   pwd): NUL-separated;
 *   byte % 4 == 3   PQconnectdbParams with expand_dbname=0.
 *
 * Checked, for every input:
 *   - given: the call counts as parsed exactly when libpq parses it, and then
 *     every non-empty password and sslpassword libpq reads from it is among
 *     the secrets (while there is room), and sslmode, sslrootcert and service
 *     are what libpq read;
 *   - rewrite: the arrays are NULL-terminated, hold every parameter the call
 *     gave, in order, with sslmode=verify-full, sslrootcert=<bundle> and
 *     gssencmode=disable last; and for a connection string, those arrays
 *     written back as a connection string and parsed by libpq give exactly
 *     the program's parameters with the three forced ones changed;
 *   - scrubbing (record_scrub, which must end, whatever the secrets: a
 *     password made of '*' once looped for ever), of libpq's message and of
 *     the string itself: no secret is left, the known password never
 *     survives in libpq's message about a string it cannot parse, nor in the
 *     record's "error" (where it is surely a password: see with_secret()); and the record rendered with the call's values in
 *     every field is one line of valid JSON.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "../src/lib/effective.c"
#include "../src/lib/given.c"
#include "../src/lib/record.c"
#include "../src/lib/rewrite.c"

#include "pqtls/jsonread.h"

#define FAIL(...) do { fprintf(stderr, "fuzz_rewrite: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

#define BUNDLE "/etc/ssl/fuzz/bundle.pem"
#define SECRET "Zq9Sekr1t"

/* record.c frees TLS facts with this (src/lib/tlsinfo.c binds OpenSSL: not needed here). */
void
tlsinfo_free(tls_info *t)
{
	peer_chain_free(&t->chain);
}

/*
 * effective.c asks the connection's OpenSSL (resolve.c binds it) only for
 * sslrootcert=system; the fuzzed pq_api says it has none, as a libpq whose
 * OpenSSL cannot be bound would.
 */
struct ossl *
pq_ossl(pq_api *api)
{
	(void) api;
	return NULL;
}

static pq_api pq;
static char service_file[] = "/tmp/fuzz_rewrite_service_XXXXXX";

static void
remove_service_file(void)
{
	unlink(service_file);
}

int			LLVMFuzzerInitialize(int *argc, char ***argv);
int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int			fd = mkstemp(service_file);
	static const char conf[] =
		"[mysvc]\nhost=svc.example.com\nsslmode=require\nsslrootcert=/etc/svc.pem\n"
		"password=svcpass\n";

	(void) argc;
	(void) argv;
	if (fd >= 0)
	{
		if (write(fd, conf, sizeof(conf) - 1) != (ssize_t) sizeof(conf) - 1)
			FAIL("writing the service file");
		close(fd);
		setenv("PGSERVICEFILE", service_file, 1);
		atexit(remove_service_file);
	}
	setenv("PQTLS_MODE", "enforce", 1);
	setenv("PQTLS_BUNDLE", BUNDLE, 1);
	setenv("PQTLS_LOG", "/dev/null", 1);
	unsetenv("PGSERVICE");
	unsetenv("PGSSLMODE");
	unsetenv("PGSSLROOTCERT");
	unsetenv("PGPASSWORD");
	pq.PQconninfoParse = PQconninfoParse;
	pq.PQconninfoFree = PQconninfoFree;
	pq.PQfreemem = PQfreemem;
	pq.version = PQlibVersion();
	return 0;
}

static bool
has_secret(const given *g, const char *v)
{
	if (g->n_secrets >= MAX_SECRETS)
		return true;			/* no room left: nothing to ask */
	for (int i = 0; i < g->n_secrets; i++)
		if (strcmp(g->secrets[i], v) == 0)
			return true;
	return false;
}

static const char *
opt_value(const PQconninfoOption *opts, const char *kw)
{
	for (const PQconninfoOption *o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, kw) == 0)
			return o->val;
	return NULL;
}

static bool
nonempty_str(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/* What given must say of a call libpq parsed into opts. */
static void
check_given(const given *g, const PQconninfoOption *opts)
{
	const char *mode = opt_value(opts, "sslmode"),
			   *root = opt_value(opts, "sslrootcert"),
			   *service = opt_value(opts, "service");

	for (const PQconninfoOption *o = opts; o->keyword != NULL; o++)
		if ((strcmp(o->keyword, "password") == 0 || strcmp(o->keyword, "sslpassword") == 0) &&
			nonempty_str(o->val) && !has_secret(g, o->val))
			FAIL("the %s is not among the secrets", o->keyword);
	if (g->sslmode != nonempty_str(mode) ||
		(g->sslmode && strcmp(g->sslmode_value, mode) != 0))
		FAIL("sslmode: given says %d \"%s\", libpq read \"%s\"", g->sslmode,
			 g->sslmode_value ? g->sslmode_value : "", mode ? mode : "");
	if (g->sslrootcert != nonempty_str(root) ||
		(g->sslrootcert && strcmp(g->sslrootcert_value, root) != 0))
		FAIL("sslrootcert differs");
	if (nonempty_str(service) != (g->service != NULL) ||
		(g->service && strcmp(g->service, service) != 0))
		FAIL("service differs");
}

/* The forced three at the end of the arrays, after n parameters. */
static int
check_forced_tail(const rewritten *rw)
{
	int			n = 0;

	while (rw->keywords[n] != NULL)
		n++;
	if (n < 3 || rw->values[n] != NULL ||
		strcmp(rw->keywords[n - 3], "sslmode") != 0 || strcmp(rw->values[n - 3], "verify-full") != 0 ||
		strcmp(rw->keywords[n - 2], "sslrootcert") != 0 || strcmp(rw->values[n - 2], BUNDLE) != 0 ||
		strcmp(rw->keywords[n - 1], "gssencmode") != 0 || strcmp(rw->values[n - 1], "disable") != 0)
		FAIL("the forced settings are not last");
	return n - 3;
}

/* keyword='value' with libpq's quoting. */
static void
put_quoted(pqtls_buf *b, const char *kw, const char *v)
{
	buf_puts(b, kw);
	buf_puts(b, "='");
	for (const char *p = v; *p; p++)
	{
		if (*p == '\'' || *p == '\\')
			buf_putc(b, '\\');
		buf_putc(b, *p);
	}
	buf_puts(b, "' ");
}

/* Whether the string sets a parameter to the empty value. */
static bool
has_empty(const PQconninfoOption *opts)
{
	for (const PQconninfoOption *o = opts; o->keyword != NULL; o++)
		if (o->val != NULL && o->val[0] == '\0')
			return true;
	return false;
}

static void
check_rewrite_string(const char *conninfo, const PQconninfoOption *opts)
{
	rewritten	rw;
	int			n,
				k = 0;
	pqtls_buf	b;
	PQconninfoOption *again;
	char	   *err = NULL;

	if (rewrite_string(&rw, &pq, conninfo) != (opts != NULL))
		FAIL("rewrite_string and libpq disagree on parsing");
	if (opts == NULL)
		return;
	n = check_forced_tail(&rw);
	if (has_empty(opts))
	{
		/*
		 * A string that sets a value empty goes whole, as an expanded dbname
		 * before the forced three (rewrite.c: the arrays would lose the empty
		 * values); libpq reading it that way is the integration tests' part.
		 */
		if (n != 1 || strcmp(rw.keywords[0], "dbname") != 0 ||
			strcmp(rw.values[0], conninfo) != 0 || rw.expand_dbname != 1)
			FAIL("a string with an empty value does not go whole");
		rewritten_free(&rw);
		return;
	}
	if (rw.expand_dbname)
		FAIL("a string without empty values goes whole");
	for (const PQconninfoOption *o = opts; o->keyword != NULL; o++)
	{
		if (o->val == NULL)
			continue;
		if (k >= n || strcmp(rw.keywords[k], o->keyword) != 0 || strcmp(rw.values[k], o->val) != 0)
			FAIL("parameter %s is not kept", o->keyword);
		k++;
	}
	if (k != n)
		FAIL("the rewrite adds parameters");

	/* What libpq makes of the arrays, read back through a connection string. */
	buf_init(&b);
	for (int i = 0; rw.keywords[i] != NULL; i++)
		put_quoted(&b, rw.keywords[i], rw.values[i]);
	again = PQconninfoParse(b.data ? b.data : "", &err);
	if (again == NULL)
		FAIL("libpq cannot read the rewritten parameters: %s", err ? err : "");
	for (const PQconninfoOption *o = again; o->keyword != NULL; o++)
	{
		const char *want = opt_value(opts, o->keyword);

		if (strcmp(o->keyword, "sslmode") == 0)
			want = "verify-full";
		else if (strcmp(o->keyword, "sslrootcert") == 0)
			want = BUNDLE;
		else if (strcmp(o->keyword, "gssencmode") == 0)
			want = "disable";
		if ((want == NULL) != (o->val == NULL) || (want && strcmp(want, o->val) != 0))
			FAIL("after the rewrite, %s is \"%s\" instead of \"%s\"", o->keyword,
				 o->val ? o->val : "(unset)", want ? want : "(unset)");
	}
	PQconninfoFree(again);
	buf_free(&b);
	rewritten_free(&rw);
}

/* The record of a failed attempt with this error and the call's values everywhere. */
static void
check_record(const char *error, const given *g, const PQconninfoOption *opts, const char *raw,
			 bool secret_is_password)
{
	attempt		a;
	record_data d;
	pqtls_buf	out;
	jsr_doc		doc;
	const char *any = raw;

	memset(&a, 0, sizeof(a));
	memset(&d, 0, sizeof(d));
	a.api = "PQconnectdb";
	a.pq = &pq;
	a.set = settings_get();
	given_copy(&a.given, g);
	rewrite_note_forced(&a);
	d.have_effective = true;
	d.eff.host = (char *) (opts ? opt_value(opts, "host") : any);
	d.eff.hostaddr = (char *) (opts ? opt_value(opts, "hostaddr") : any);
	d.eff.port = (char *) (opts ? opt_value(opts, "port") : any);
	d.eff.dbname = (char *) (opts ? opt_value(opts, "dbname") : any);
	d.eff.user = (char *) (opts ? opt_value(opts, "user") : any);
	d.eff.hosts = d.eff.host;
	d.eff.application_name = (char *) (opts ? opt_value(opts, "application_name") : any);
	d.eff.transport = "tcp";
	d.eff.sslmode = g->sslmode_value;
	d.eff.sslmode_source = "conninfo";
	d.eff.sslrootcert = g->sslrootcert_value;
	d.eff.rootcert_file = g->sslrootcert_value;
	d.eff.verify = "full";
	d.outcome = OUTCOME_FAILED;
	d.error = (char *) error;

	buf_init(&out);
	record_render(&out, &a, &d);
	if (out.oom)
		FAIL("the record could not be rendered");
	if (memchr(out.data, '\n', out.len) != NULL)
		FAIL("the record is not one line");
	jsr_init(&doc);
	if (jsr_parse(&doc, out.data, out.len) != 0)
		FAIL("the record is not valid JSON: %s", jsr_strerror(doc.error));
	{
		int			t = jsr_find(&doc, 0, "error");
		size_t		len = jsr_string_len(&doc, t);

		if (secret_is_password && error != NULL && len != (size_t) -1)
		{
			char	   *s = malloc(len + 1);

			jsr_string(&doc, t, s, len + 1);
			if (strstr(s, SECRET) != NULL)
				FAIL("the record's error holds the password: %s", s);
			free(s);
		}
	}
	jsr_free(&doc);
	buf_free(&out);
	free(a.forced.from_sslmode);
	free(a.forced.from_sslrootcert);
	free(a.forced.to_sslmode);
	free(a.forced.to_sslrootcert);
	given_clear(&a.given);
}

/*
 * A known password put into the string, where libpq reads one: in front as
 * password=..., or as the user:password@ right after a URI's scheme.  The
 * third form, ?password=... at the end of a URI, is not always a password
 * (after a '?' inside the user info, libpq reads it as part of the path), so
 * it is exercised without asking that it be scrubbed (*sure false).
 */
static char *
with_secret(const char *s, int how, bool *sure)
{
	size_t		n = strlen(s);
	char	   *out = malloc(n + 64);
	const char *rest = NULL;

	if (strncmp(s, "postgresql://", 13) == 0)
		rest = s + 13;
	else if (strncmp(s, "postgres://", 11) == 0)
		rest = s + 11;
	*sure = true;
	if (rest == NULL)
		sprintf(out, "password=%s %s", SECRET, s);
	else if (how & 0x20)
		sprintf(out, "%.*su:%s@%s", (int) (rest - s), s, SECRET, rest);
	else
	{
		sprintf(out, "%s%spassword=%s", s, strchr(s, '?') ? "&" : "?", SECRET);
		*sure = false;
	}
	/* The fuzzer may have written the same word elsewhere, where it is no password. */
	if (strstr(s, SECRET) != NULL)
		*sure = false;
	return out;
}

static void
fuzz_string(const char *s, bool secret_is_password)
{
	char	   *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(s, &err);
	given		g;

	given_from_string(&g, &pq, s);
	if (g.parsed != (opts != NULL))
		FAIL("given says parsed=%d, libpq %d", g.parsed, opts != NULL);
	if (opts != NULL)
		check_given(&g, opts);
	check_rewrite_string(s, opts);

	/*
	 * The string itself as a message (libpq quotes whole URIs in some): the
	 * scrub ends, and no secret without a '*' is left (masking writes '*'
	 * only, so it cannot make one appear again).
	 */
	{
		char	   *raw = strdup(s);

		record_scrub(raw, &g);
		for (int i = 0; i < g.n_secrets; i++)
			if (strchr(g.secrets[i], '*') == NULL && strstr(raw, g.secrets[i]) != NULL)
				FAIL("secret %d survives scrubbing", i);
		/* Unparsed, every password-like part is scrubbed (parsed, a later one may win). */
		if (secret_is_password && opts == NULL && strstr(raw, SECRET) != NULL)
			FAIL("the password survives scrubbing the string itself: %s", raw);
		free(raw);
	}
	if (err != NULL)
	{
		/* What the record would say: libpq's message, scrubbed. */
		char	   *msg = strdup(err);

		record_scrub(msg, &g);
		if (secret_is_password && strstr(msg, SECRET) != NULL)
			FAIL("libpq's message still holds the password after scrubbing: %s", msg);
		check_record(msg, &g, NULL, s, secret_is_password);
		free(msg);
		PQfreemem(err);
	}
	else
		check_record(NULL, &g, opts, s, false);
	if (opts != NULL)
		PQconninfoFree(opts);
	given_clear(&g);
}

/* NUL-separated fields of data[0..size), at most max. */
static int
split(const uint8_t *data, size_t size, char **f, int max)
{
	int			n = 0;
	const uint8_t *p = data,
			   *end = data + size;

	while (p < end && n < max)
	{
		const uint8_t *z = memchr(p, '\0', end - p);

		if (z == NULL)
			z = end;
		f[n++] = strndup((const char *) p, z - p);
		p = z + 1;
	}
	return n;
}

static void
fuzz_arrays(char **f, int n, int expand)
{
	const char *kw[40],
			   *val[40];
	int			m = 0;
	given		g;
	rewritten	rw;

	for (int i = 0; i + 1 < n && m < 39; i += 2)
	{
		if (f[i][0] == '\0')
			break;				/* an empty keyword ends nothing in libpq: keep it simple */
		kw[m] = f[i];
		val[m] = f[i + 1];
		m++;
	}
	kw[m] = NULL;
	val[m] = NULL;

	given_from_arrays(&g, &pq, kw, val, expand);
	for (int i = 0; i < m; i++)
		if ((strcmp(kw[i], "password") == 0 || strcmp(kw[i], "sslpassword") == 0) &&
			val[i][0] != '\0' && !has_secret(&g, val[i]))
		{
			/* A password that an expanded dbname set again is still one to scrub. */
			FAIL("password of the arrays not among the secrets");
		}
	if (!rewrite_arrays(&rw, &pq, kw, val, expand))
		FAIL("rewrite_arrays failed");
	if (check_forced_tail(&rw) != m || rw.expand_dbname != expand)
		FAIL("rewrite_arrays: parameters lost");
	for (int i = 0; i < m; i++)
		if (rw.keywords[i] != kw[i] || rw.values[i] != val[i])
			FAIL("rewrite_arrays: parameter %d changed", i);
	rewritten_free(&rw);
	check_record(NULL, &g, NULL, m > 0 ? val[0] : "", false);
	given_clear(&g);
}

static void
fuzz_setdb(char **f, int n)
{
	const char *a[7] = {NULL, NULL, NULL, NULL, NULL, NULL, NULL};
	given		g;
	rewritten	rw;
	int			m;

	for (int i = 0; i < 7 && i < n; i++)
		a[i] = f[i];
	given_from_setdb(&g, &pq, a[4], a[6]);
	if (nonempty_str(a[6]) && !has_secret(&g, a[6]))
		FAIL("PQsetdbLogin's pwd is not among the secrets");
	if (!rewrite_setdb(&rw, &pq, a[0], a[1], a[2], a[4], a[5], a[6]))
		FAIL("rewrite_setdb failed");
	m = check_forced_tail(&rw);
	if (rw.expand_dbname != 1 || m > 6)
		FAIL("rewrite_setdb: %d parameters", m);
	rewritten_free(&rw);
	given_clear(&g);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *f[80];
	int			n;
	uint8_t		how;

	if (size == 0)
		return 0;
	how = data[0];
	data++;
	size--;
	switch (how % 4)
	{
		case 0:
			{
				char	   *s = strndup((const char *) data, size);

				fuzz_string(s, false);
				if (how & 0x10)
				{
					bool		sure;
					char	   *t = with_secret(s, how, &sure);

					fuzz_string(t, sure);
					free(t);
				}
				free(s);
			}
			break;
		case 1:
		case 3:
			n = split(data, size, f, 80);
			fuzz_arrays(f, n, how % 4 == 1);
			for (int i = 0; i < n; i++)
				free(f[i]);
			break;
		case 2:
			n = split(data, size, f, 7);
			fuzz_setdb(f, n);
			for (int i = 0; i < n; i++)
				free(f[i]);
			break;
	}
	return 0;
}
