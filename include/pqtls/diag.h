/*
 * diag.h: pqtls's own messages to the person running the program.
 *
 * One line, prefixed "pqtls: ", written with one write(2) to stderr, and only if
 * stderr was open when the process started (a daemon that closed fd 2 may have
 * reused it for a data file). diag_once() says a given thing once per process.
 */
#ifndef PQTLS_DIAG_H
#define PQTLS_DIAG_H

void		diag(const char *fmt,...) __attribute__((format(printf, 1, 2)));

/* Like diag(), but only the first time `key` (a static string) is seen. */
void		diag_once(const char *key, const char *fmt,...) __attribute__((format(printf, 2, 3)));

/* True when fd 2 may be written to (checked once, at load). */
int			diag_stderr_usable(void);

#endif
