/*
 * report.h: grouping pqtls records (SPEC, "The record") into the distinct
 * connections of programs, with counts and the worst verdict of each.
 * `pqtls report` prints it; `pqtls run` uses it for its end-of-run summary.
 *
 *     report *r = report_new();
 *     report_feed_file(r, "records.jsonl");         (or "-" for stdin)
 *     report_feed_line(r, line, len, "stdin", 12);   (one line at a time)
 *     report_print(r, stdout, REPORT_TABLE, isatty(1));
 *     report_print_malformed(r, stderr);
 *     exit(report_would_break(r) ? 1 : 0);
 *     report_free(r);
 *
 * Input.  One record per line (JSON Lines).  A line may carry a prefix, as
 * syslog, journald (`journalctl`, `journalctl -o cat`) and most log shippers
 * add one ("Nov 28 12:00:00 host pqtls[123]: {...}"): the record is the JSON
 * object that starts at the first '{' of the line and runs to its end.  Blank
 * lines are skipped.  Anything else (no '{', invalid JSON, not an object, an
 * object without the string members "exe" and "outcome", a line longer than
 * REPORT_MAX_LINE) is malformed: counted, and its source and line number kept
 * (the first REPORT_MALFORMED_KEPT of them) for report_print_malformed(); it
 * never stops the report.  Memory grows with the number of groups, never
 * with the number of records.
 *
 * The group key: what makes a connection distinct for the rotation question,
 * "who connects where, as whom, checking what against which file, set where":
 *     exe, host, port, user, transport,
 *     sslmode, sslmode_source, sslrootcert_source, rootcert_file, rootcert_exists,
 *     verify, and forced.from.sslmode (enforce records: what the program itself asked,
 *     so enforced attempts stay apart from the program's own ones).
 * Not in the key: dbname (the same TLS settings to many databases of one
 * server are one connection for this question: the group keeps the first
 * dbname and says whether it varied), hostaddr, pid, mode, api, application_name.
 * sslrootcert itself is not in the key either: rootcert_file, the file libpq
 * actually reads (sslrootcert, else ~/.postgresql/root.crt), decides the
 * verdict, and sslrootcert_source says where it was set.  A string member
 * of another type than the SPEC's counts as absent (null).
 *
 * Per group: the number of records, of each outcome (ok, failed, abandoned),
 * of distinct pids (exact up to REPORT_PIDS_EXACT, then "at least"), the
 * first and last ts (compared as text: RFC 3339 UTC as pqtls writes it), the
 * modes seen, the TLS protocols seen and the records without TLS, the peer's
 * issuer (tls.peer.issuer, else failed_peer.issuer: the first one, and whether
 * it varied), libpq's first error message, and the two verdicts:
 *   dry_run.result: fail > pass; among failures a definite finding
 *     (untrusted-ca, hostname-mismatch, expired, not-yet-valid, no-tls) is
 *     worse than handshake-failed or bundle-unusable, which are worse than
 *     unreachable or timeout.  The group keeps the worst result, its reason
 *     and detail (the first record that reached it), and the pass/fail counts.
 *   after_rotation: breaks > downgrades > ready > unaffected; the group keeps
 *     the worst, its after_rotation_detail, and the count of each.
 *
 * Would break: a group (and the report) would break when any of its records
 * has after_rotation "breaks" or dry_run.result "fail".  A group downgrades
 * when it does not break and any record has after_rotation "downgrades".
 * Groups are sorted: breaking first, then downgrading, then by record count
 * (most first), then by program, host, port and user.
 *
 * Formats:
 *   REPORT_TABLE    for a person at a terminal: aligned columns, long paths
 *                   shortened in the middle, then the detail sentence of each
 *                   group that breaks or downgrades, then a totals line.  With
 *                   color, status words are red (breaks), yellow (downgrades),
 *                   green (ok).  Control characters from records never reach
 *                   the terminal (shown as '?').
 *   REPORT_JSON     one JSON document: {"records":N,"malformed":M,"would_break":B,
 *                   "groups":[{...}]} with every field of the group.
 *   REPORT_CSV      RFC 4180: a header row, then one row per group, CRLF line
 *                   ends, fields quoted when they hold '"', ',', CR or LF.
 *   REPORT_SUMMARY  the compact form `pqtls run` prints on stderr: one line per
 *                   group: program, host:port, sslmode (and its source), root
 *                   file, verify, outcomes, and where present the dry-run
 *                   verdict with its reason and detail and after_rotation with
 *                   its detail.  Nothing at all when there are no records.
 */
#ifndef PQTLS_REPORT_H
#define PQTLS_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* A longer line is malformed (and skipped without being held in memory). */
#define REPORT_MAX_LINE (1024 * 1024)

/* How many malformed lines are remembered by name (all are counted). */
#define REPORT_MALFORMED_KEPT 20

/* Distinct pids are counted exactly up to this many per group. */
#define REPORT_PIDS_EXACT 64

typedef enum report_format
{
	REPORT_TABLE,
	REPORT_JSON,
	REPORT_CSV,
	REPORT_SUMMARY,
	REPORT_HTML,
	REPORT_PROMETHEUS,
} report_format;

typedef struct report report;

/* A new, empty report; NULL when out of memory. */
report	   *report_new(void);

/*
 * How messages begin ("pqtls report" by default; `pqtls run` may prefer
 * "pqtls").  The string must outlive the report.
 */
void		report_set_name(report *r, const char *name);

/*
 * Read every line of a file ("-": standard input) into the report.  Returns
 * 0, or -1 when the file cannot be opened or read, after printing one message
 * on stderr; records read before a read error still count.
 */
int			report_feed_file(report *r, const char *path);

/*
 * One line (without its newline; a trailing CR is ignored), from source at
 * line number lineno (used to name it when it is malformed).  line need not
 * be NUL-terminated.
 */
void		report_feed_line(report *r, const char *line, size_t len,
							 const char *source, long lineno);

/* The report in one of the formats (see above). */
void		report_print(report *r, FILE *out, report_format fmt, bool color);

/*
 * The format `--format NAME` names ("table", "json", "csv"); 0, or -1 when
 * there is none of that name.  Each format is one file (report_format.h).
 */
int			report_format_by_name(const char *name, report_format *fmt);

/*
 * The malformed lines remembered, one per line ("NAME: FILE:LINE: why"), and
 * how many there were in all when that is more; nothing when there were none.
 */
void		report_print_malformed(const report *r, FILE *err);

/* Would anything break: a record with after_rotation "breaks" or dry_run.result "fail". */
bool		report_would_break(const report *r);

/* Records grouped (malformed lines excluded), malformed lines, groups. */
long		report_records(const report *r);
long		report_malformed(const report *r);
long		report_groups(const report *r);

void		report_free(report *r);

#endif
