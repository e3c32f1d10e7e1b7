/*
 * sink.h: where records go (PQTLS_LOG): "stderr", "syslog", "journal", or a path template
 * with %p (pid), %e (program name), %h (host name), %t (process start, Unix
 * seconds) and %%.
 *
 * One record is one write(2) of one whole line. Files are opened
 * O_WRONLY|O_APPEND|O_CLOEXEC|O_NOFOLLOW (created O_EXCL with mode 0600), at
 * the first record (never at load), and reopened lazily in a child after
 * fork, so that with %p the child writes to a file of its own.  A file not
 * owned by the effective user, or writable by group or others, is refused
 * (sink_open.c).
 * An unusable destination gives one message naming PQTLS_LOG and falls back to
 * stderr, so no record is lost.  Thread safe and fork safe.
 */
#ifndef PQTLS_SINK_H
#define PQTLS_SINK_H

#include <stddef.h>
#include <time.h>

/* Write one record; `line` holds the JSON without the trailing newline. */
void		sink_write(const char *line, size_t len);

/* Expand a path template into out (size outsz). Returns 0, or -1 when too long. */
int			sink_expand_template(const char *tmpl, char *out, size_t outsz);

/*
 * The RFC 3164 datagram sent to /dev/log for PQTLS_LOG=syslog (exposed for the
 * unit tests): "<14>Mmm dd hh:mm:ss pqtls[PID]: " (facility user, severity
 * info, local time), then the record.  sink_syslog_header() writes the header
 * only.  Both return the length written (NUL-terminated), or -1 when outsz is
 * too small.
 */
int			sink_syslog_header(char *out, size_t outsz, time_t when, long pid);
int			sink_format_syslog(char *out, size_t outsz, const char *line,
							   size_t len, time_t when, long pid);

/*
 * The journald entry sent for PQTLS_LOG=journal (sink_journal.c; exposed for
 * the unit tests), in journald's native protocol: MESSAGE (the record),
 * SYSLOG_IDENTIFIER=pqtls, each field of the record as PQTLS_<NAME> (nested
 * objects flattened: PQTLS_TLS_PEER_SUBJECT; an array as the same field once
 * per element; null left out), and PRIORITY (4 when the record says the
 * connection breaks or downgrades after the rotation or fails the dry run,
 * else 6).  Values with a newline take the length-prefixed form.
 * Returns 0, or -1 when out of memory.  b starts as {0}; free it with
 * sink_jbuf_free().
 */
typedef struct sink_jbuf
{
	char	   *p;
	size_t		len;
	size_t		cap;
	int			failed;
} sink_jbuf;

int			sink_format_journal(sink_jbuf *b, const char *line, size_t len);
void		sink_jbuf_free(sink_jbuf *b);

#endif
