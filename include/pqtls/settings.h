/*
 * settings.h: the PQTLS_* environment, read once per process at the first
 * connection (never at load time: a program that never connects pays nothing).
 *
 * A bad value gives one message on stderr naming the variable and what was wrong,
 * and a safe default: in observe and dry-run the program is never stopped.
 */
#ifndef PQTLS_SETTINGS_H
#define PQTLS_SETTINGS_H

#include <stdbool.h>

enum pqtls_mode
{
	PQTLS_OBSERVE,
	PQTLS_DRY_RUN,
	PQTLS_ENFORCE,
};

typedef struct pqtls_settings
{
	enum pqtls_mode mode;
	const char *bundle;			/* PQTLS_BUNDLE, or NULL */
	const char *new_ca;			/* PQTLS_NEW_CA, or NULL */
	const char *log;			/* PQTLS_LOG, "stderr" when unset */
	long		probe_timeout_ms;	/* PQTLS_PROBE_TIMEOUT_MS, 3000 */
	long		cache_ttl;		/* PQTLS_CACHE_TTL seconds, 300 */
} pqtls_settings;

/* The process's settings; the first call reads the environment (thread safe). */
const pqtls_settings *settings_get(void);

/* Parse helpers, exposed for the unit tests and the CLI's flag parsing. */
int			settings_parse_mode(const char *s, enum pqtls_mode *out);
const char *settings_mode_name(enum pqtls_mode m);
/* A non-negative decimal integer no larger than max; returns 0 on success. */
int			settings_parse_long(const char *s, long max, long *out);

#endif
