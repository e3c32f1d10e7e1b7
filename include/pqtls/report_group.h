/*
 * report_group.h: the groups of `pqtls report` (see report.h for what a group
 * is and what makes two records one group).  Internal to the report: the
 * reader (report_record.c) folds records into groups, every output format
 * (report_format.h) reads them.
 *
 *     report_table t = {0};
 *     report_slice key[K_COUNT] = {...};             (from one record)
 *     report_group *g = report_table_get(&t, key);   (found or added)
 *     ... fold the record into g ...
 *     report_group **v = report_table_sorted(&t, &n);  (breaking first)
 *     report_table_free(&t);
 */
#ifndef PQTLS_REPORT_GROUP_H
#define PQTLS_REPORT_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPORT_TS_KEEP 40

/* A piece of text, not NUL-terminated; p == NULL for null or absent. */
typedef struct report_slice
{
	const char *p;
	size_t		n;
} report_slice;

/* The group key, in this order (see report.h). */
enum report_key_field
{
	K_EXE,
	K_HOST,
	K_PORT,
	K_USER,
	K_TRANSPORT,
	K_SSLMODE,
	K_SSLMODE_SOURCE,
	K_SSLROOTCERT_SOURCE,
	K_ROOTCERT_FILE,
	K_ROOTCERT_EXISTS,			/* "true", "false" or null */
	K_VERIFY,
	K_FORCED_FROM,				/* forced.from.sslmode ("" for libpq's default) */
	K_COUNT
};

/* after_rotation, from best to worst. */
enum report_rotation
{
	ROT_NONE = -1,
	ROT_UNAFFECTED,
	ROT_READY,
	ROT_DOWNGRADES,
	ROT_BREAKS,
	ROT_KINDS
};

/* dry_run ranks: worse is higher. */
enum report_dry_rank
{
	DRY_NONE,
	DRY_PASS,
	DRY_FAIL_INCONCLUSIVE,		/* unreachable, timeout */
	DRY_FAIL,					/* handshake-failed, bundle-unusable, anything else */
	DRY_FAIL_DEFINITE,			/* the server's certificate would be refused */
};

/* A group's status, in the order groups are listed. */
enum report_status
{
	ST_BREAKS,
	ST_DOWNGRADES,
	ST_OK,
	ST_OBSERVED,				/* no verdict in any record */
};

/*
 * One record's verdict, each record in exactly one (the counts of a group add
 * up to its count): breaks (after_rotation "breaks" or dry_run.result "fail",
 * as "would break" in report.h), else its after_rotation (downgrades, ready,
 * unaffected), else passes (dry_run.result "pass" and no after_rotation),
 * else unjudged (observe without PQTLS_NEW_CA).  The html and prometheus
 * formats count by these.
 */
enum report_verdict
{
	V_BREAKS,
	V_DOWNGRADES,
	V_READY,
	V_UNAFFECTED,
	V_PASSES,
	V_UNJUDGED,
	V_KINDS
};

extern const char *const report_verdict_names[V_KINDS];	/* "breaks"... */

#define REPORT_N_MODES 3
#define REPORT_N_PROTOCOLS 5

extern const char *const report_rotation_names[ROT_KINDS];	/* "unaffected"... */
extern const char *const report_status_names[];				/* "breaks"... */
extern const char *const report_mode_names[REPORT_N_MODES];	/* "observe"... */
extern const char *const report_protocol_names[REPORT_N_PROTOCOLS];	/* "SSLv3"... */

typedef struct report_group
{
	char	   *key;			/* the key bytes (see report_group.c) */
	size_t		keylen;
	const char *f[K_COUNT];		/* each key field, NUL-terminated inside key; NULL for null */

	long		count;
	long		ok,
				failed,
				abandoned;
	unsigned	modes;			/* bit i: report_mode_names[i] */
	unsigned	protocols;		/* bit i: report_protocol_names[i] */
	char	   *protocol_other;	/* the first protocol not in report_protocol_names */
	long		no_tls;

	char	   *dbname;
	bool		dbname_varies;
	char	   *issuer;
	bool		issuer_varies;
	char	   *error;			/* libpq's first error message */

	char		first_ts[REPORT_TS_KEEP];
	char		last_ts[REPORT_TS_KEEP];

	uint32_t   *pids;			/* open addressing, 0 = empty */
	unsigned	npids;
	unsigned	pidcap;
	bool		pids_more;
	long long	last_pid;

	int			dry_rank;		/* enum report_dry_rank */
	long		dry_pass,
				dry_fail;
	char	   *dry_reason;
	char	   *dry_detail;

	int			rot_worst;		/* enum report_rotation */
	long		rot[ROT_KINDS];
	char	   *rot_detail;

	long		verdicts[V_KINDS];	/* records of each enum report_verdict */

	int			status;			/* enum report_status, set by report_table_sorted() */
} report_group;

/*
 * The groups, by key: an open-addressing index (each slot a group and its
 * hash, linear probing, at most half full) over the groups in the order they
 * came.  One probe usually lands on the group, where a chained table walks a
 * list of entries scattered in memory at every record.
 */
typedef struct report_table
{
	report_group **groups;		/* every group, in the order they came */
	long		ngroups;
	size_t		groups_cap;
	report_group **slot;		/* nslot entries (a power of two), NULL: empty */
	uint32_t   *slot_hash;		/* the hash of slot[i]'s key */
	size_t		nslot;
	char	   *key;			/* scratch: the key of the record being added */
	size_t		key_cap;
} report_table;

/* The group of this key, added (empty) when there is none yet. */
report_group *report_table_get(report_table *t, const report_slice key[K_COUNT]);

/*
 * Every group, its status set, sorted (breaking, downgrading, then by count
 * and key); *n of them.  The caller frees the array, not the groups.
 */
report_group **report_table_sorted(report_table *t, size_t *n);

void		report_table_free(report_table *t);

/* Folding one record's values into a group. */
void		report_group_pid(report_group *g, long long pid);
void		report_group_ts(report_group *g, report_slice ts);
/* A string kept as "the first one, and whether another value came". */
void		report_keep_first(char **kept, bool *varies, report_slice s);
/* Replace *kept by a copy of s (when it differs). */
void		report_keep_text(char **kept, report_slice s);

/* "pass", "fail" or NULL; the worst after_rotation's name or NULL. */
const char *report_dry_result_name(const report_group *g);
const char *report_rot_name(const report_group *g);

bool		report_slice_is(report_slice s, const char *lit);

/* Allocation that cannot fail: out of memory ends the command (exit 2). */
void		report_out_of_memory(void) __attribute__((noreturn));
void	   *report_xmalloc(size_t n);
void	   *report_xcalloc(size_t n, size_t size);
char	   *report_xstrdup(const char *s);
char	   *report_slice_dup(report_slice s);

#endif
