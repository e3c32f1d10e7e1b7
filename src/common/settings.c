/*
 * settings.c: the PQTLS_* environment, read once per process.
 *
 * Read with secure_getenv(), so that a setuid or setgid program ignores them:
 * whoever runs such a program must not be able to make it write files of
 * their choosing (PQTLS_LOG) or change its connections (PQTLS_MODE=enforce).
 *
 * The values are copied: a program may setenv() or putenv() later, and what
 * pqtls does must not change half way through a process.
 *
 * Only the form of each value is checked here.  Whether the bundle files can
 * be read is the bundle code's business, and whether PQTLS_LOG can be opened
 * the sink's: each says so, once, when it first needs the value.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pqtls/annotate.h"
#include "pqtls/diag.h"
#include "pqtls/settings.h"

#define DEFAULT_PROBE_TIMEOUT_MS	3000
#define MAX_PROBE_TIMEOUT_MS		600000
#define DEFAULT_CACHE_TTL			300
#define MAX_CACHE_TTL				86400

/* How much of a bad value a message quotes. */
#define QUOTE_MAX	80

static pqtls_settings settings;
static pthread_once_t settings_once = PTHREAD_ONCE_INIT;

int
settings_parse_mode(const char *s, enum pqtls_mode *out)
{
	if (s == NULL)
		return -1;
	if (strcmp(s, "observe") == 0)
		*out = PQTLS_OBSERVE;
	else if (strcmp(s, "dry-run") == 0)
		*out = PQTLS_DRY_RUN;
	else if (strcmp(s, "enforce") == 0)
		*out = PQTLS_ENFORCE;
	else
		return -1;
	return 0;
}

const char *
settings_mode_name(enum pqtls_mode m)
{
	switch (m)
	{
		case PQTLS_OBSERVE:
			return "observe";
		case PQTLS_DRY_RUN:
			return "dry-run";
		case PQTLS_ENFORCE:
			return "enforce";
	}
	return "observe";
}

/*
 * Strict on purpose: strtol() would take leading blanks, a sign, "0x" and
 * trailing junk, and a typo in a timeout should be reported, not guessed at.
 */
int
settings_parse_long(const char *s, long max, long *out)
{
	long		v = 0;

	if (s == NULL || *s == '\0' || max < 0)
		return -1;
	for (; *s; s++)
	{
		int			d;

		if (*s < '0' || *s > '9')
			return -1;
		d = *s - '0';
		if (v > (max - d) / 10)
			return -1;			/* above max, and so never overflows */
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/*
 * Quote a value for a message: printable ASCII as is, anything else as '?',
 * at most QUOTE_MAX bytes of it.  outsz must be more than 4.  What the environment holds may be anything, and
 * the message must stay one readable line.
 */
static void
quote_value(const char *v, char *out, size_t outsz)
{
	size_t		limit = outsz - 4;	/* room for "..." and the NUL */
	size_t		n = 0;

	if (limit > QUOTE_MAX)
		limit = QUOTE_MAX;
	for (; *v && n < limit; v++)
		out[n++] = (isprint) ((unsigned char) *v) ? *v : '?';	/* not the macro: libcver.h */
	if (*v)
	{
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

/* secure_getenv, with the empty string counted as unset. */
static const char *
env_value(const char *name)
{
	const char *v = secure_getenv(name);

	return (v != NULL && v[0] != '\0') ? v : NULL;
}

/* A copy that outlives the environment; NULL (meaning unset) if out of memory. */
static const char *
env_copy(const char *name)
{
	const char *v = env_value(name);

	return v ? strdup(v) : NULL;
}

static void
read_mode(void)
{
	const char *v = env_value("PQTLS_MODE");
	char		q[QUOTE_MAX + 4];

	settings.mode = PQTLS_OBSERVE;
	if (v == NULL || settings_parse_mode(v, &settings.mode) == 0)
		return;
	quote_value(v, q, sizeof(q));
	diag("PQTLS_MODE=\"%s\" is not observe, dry-run or enforce; using observe", q);
}

static long
read_number(const char *name, long min, long max, long dflt, const char *unit)
{
	const char *v = env_value(name);
	char		q[QUOTE_MAX + 4];
	long		n;

	if (v == NULL)
		return dflt;
	if (settings_parse_long(v, max, &n) == 0 && n >= min)
		return n;
	quote_value(v, q, sizeof(q));
	diag("%s=\"%s\" is not a whole number of %s from %ld to %ld; using %ld",
		 name, q, unit, min, max, dflt);
	return dflt;
}

static void
settings_read(void)
{
	const char *log;

	read_mode();
	settings.bundle = env_copy("PQTLS_BUNDLE");
	settings.new_ca = env_copy("PQTLS_NEW_CA");
	log = env_copy("PQTLS_LOG");
	settings.log = log ? log : "stderr";
	settings.probe_timeout_ms = read_number("PQTLS_PROBE_TIMEOUT_MS",
											1, MAX_PROBE_TIMEOUT_MS,
											DEFAULT_PROBE_TIMEOUT_MS,
											"milliseconds");
	settings.cache_ttl = read_number("PQTLS_CACHE_TTL",
									 0, MAX_CACHE_TTL,
									 DEFAULT_CACHE_TTL,
									 "seconds");
	ANNOTATE_HAPPENS_BEFORE(&settings_once);
}

const pqtls_settings *
settings_get(void)
{
	pthread_once(&settings_once, settings_read);
	ANNOTATE_HAPPENS_AFTER(&settings_once);
	return &settings;
}
