/*
 * report_record.c: one record of `pqtls report` read and folded into its
 * group (report_record.h).  Which members make the group key and how each
 * counts is report.h's contract; SPEC "The record" is the input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pqtls/jsonread.h"
#include "pqtls/report.h"
#include "pqtls/report_record.h"

typedef report_slice slice;

/* The members of a record the report reads. */
enum field
{
	F_TS,
	F_PID,
	F_EXE,
	F_MODE,
	F_HOST,
	F_PORT,
	F_DBNAME,
	F_USER,
	F_TRANSPORT,
	F_SSLMODE,
	F_SSLMODE_SOURCE,
	F_SSLROOTCERT_SOURCE,
	F_ROOTCERT_FILE,
	F_ROOTCERT_EXISTS,
	F_VERIFY,
	F_OUTCOME,
	F_ERROR,
	F_TLS,
	F_FAILED_PEER,
	F_DRY_RUN,
	F_AFTER_ROTATION,
	F_AFTER_ROTATION_DETAIL,
	F_FORCED,
	F_MESSAGE,					/* journald's JSON export: the record is its MESSAGE */
	F_PROGRAM,					/* the JVM agent: "java <main class or jar>" */
	F_TRUSTSTORE,				/* the JVM agent: the JVM's trust store {path, type} */
	F_COUNT
};

/* Which member of a record a root key names; -1 for the others. */
static int
field_of(const char *k, size_t n)
{
#define IS(lit) (memcmp(k, lit, n) == 0)
	switch (n)
	{
		case 2:
			return IS("ts") ? F_TS : -1;
		case 3:
			return IS("pid") ? F_PID : IS("exe") ? F_EXE : IS("tls") ? F_TLS : -1;
		case 4:
			return IS("host") ? F_HOST : IS("port") ? F_PORT : IS("user") ? F_USER :
				IS("mode") ? F_MODE : -1;
		case 5:
			return IS("error") ? F_ERROR : -1;
		case 6:
			return IS("dbname") ? F_DBNAME : IS("verify") ? F_VERIFY :
				IS("forced") ? F_FORCED : -1;
		case 7:
			return IS("sslmode") ? F_SSLMODE : IS("outcome") ? F_OUTCOME :
				IS("dry_run") ? F_DRY_RUN : IS("MESSAGE") ? F_MESSAGE :
				IS("program") ? F_PROGRAM : -1;
		case 9:
			return IS("transport") ? F_TRANSPORT : -1;
		case 10:
			return IS("truststore") ? F_TRUSTSTORE : -1;
		case 11:
			return IS("failed_peer") ? F_FAILED_PEER : -1;
		case 13:
			return IS("rootcert_file") ? F_ROOTCERT_FILE : -1;
		case 14:
			return IS("sslmode_source") ? F_SSLMODE_SOURCE :
				IS("after_rotation") ? F_AFTER_ROTATION : -1;
		case 15:
			return IS("rootcert_exists") ? F_ROOTCERT_EXISTS : -1;
		case 18:
			return IS("sslrootcert_source") ? F_SSLROOTCERT_SOURCE : -1;
		case 21:
			return IS("after_rotation_detail") ? F_AFTER_ROTATION_DETAIL : -1;
	}
	return -1;
#undef IS
}

/* Token access for a document known to be valid (t may be -1). */
static inline int
tok_type(const jsr_doc *d, int t)
{
	return t < 0 ? JSR_NONE : d->tok[t].type;
}

static inline bool
key_is(const jsr_doc *d, uint32_t k, const char *name, size_t n)
{
	const jsr_token *kt = &d->tok[k];

	if (!kt->escaped)
		return kt->len == n && memcmp(d->text + kt->start, name, n) == 0;
	return jsr_string_eq(d, (int) k, name, n);
}

/* The value of member `name` of object obj (the last, if repeated); -1 if none. */
static inline int
member(const jsr_doc *d, int obj, const char *name)
{
	size_t		n = strlen(name);
	int			found = -1;

	if (tok_type(d, obj) != JSR_OBJECT)
		return -1;
	for (uint32_t k = (uint32_t) obj + 1; k < d->tok[obj].next; k = d->tok[k + 1].next)
		if (key_is(d, k, name, n))
			found = (int) k + 1;
	return found;
}

/*
 * The string of token t: where it lies in the text when it has no escape,
 * else unescaped into the arena (which holds at least the text's length, and
 * unescaping never lengthens a string).  A null slice for anything else.
 */
static slice
str_of(report_reader *r, int t)
{
	const jsr_token *k;
	slice		s = {NULL, 0};

	if (tok_type(&r->doc, t) != JSR_STRING)
		return s;
	k = &r->doc.tok[t];
	if (!k->escaped)
	{
		s.p = r->doc.text + k->start;
		s.n = k->len;
		return s;
	}
	if (r->arena_cap - r->arena_used < (size_t) k->len + 1)
		return s;
	s.p = r->arena + r->arena_used;
	s.n = jsr_string(&r->doc, t, r->arena + r->arena_used, (size_t) k->len + 1);
	r->arena_used += s.n + 1;
	return s;
}

/* A string member, or a number's digits (a port written as a number). */
static slice
str_or_number(report_reader *r, int t)
{
	slice		s = {NULL, 0};

	if (tok_type(&r->doc, t) == JSR_NUMBER)
	{
		s.p = jsr_raw(&r->doc, t, &s.n);
		return s;
	}
	return str_of(r, t);
}

/* A new record of n bytes: the arena can hold every string of it unescaped. */
static void
ensure_arena(report_reader *rd, size_t len)
{
	rd->arena_used = 0;
	if (rd->arena_cap >= len + 64)
		return;
	free(rd->arena);
	rd->arena_cap = len + 64 > 4096 ? len + 64 : 4096;
	rd->arena = report_xmalloc(rd->arena_cap);
}

static int
rotation_of(slice s)
{
	for (int k = 0; k < ROT_KINDS; k++)
		if (report_slice_is(s, report_rotation_names[k]))
			return k;
	return ROT_NONE;
}

static int
dry_rank_of(slice result, slice reason)
{
	static const char *const definite[] = {
		"untrusted-ca", "hostname-mismatch", "expired", "not-yet-valid", "no-tls",
	};

	if (report_slice_is(result, "pass"))
		return DRY_PASS;
	if (!report_slice_is(result, "fail"))
		return DRY_NONE;
	for (size_t i = 0; i < sizeof(definite) / sizeof(definite[0]); i++)
		if (report_slice_is(reason, definite[i]))
			return DRY_FAIL_DEFINITE;
	if (report_slice_is(reason, "unreachable") || report_slice_is(reason, "timeout"))
		return DRY_FAIL_INCONCLUSIVE;
	return DRY_FAIL;
}


/* The one verdict of a record (enum report_verdict in report_group.h). */
static int
record_verdict(int rot, int dry)
{
	if (rot == ROT_BREAKS || dry >= DRY_FAIL_INCONCLUSIVE)
		return V_BREAKS;
	switch (rot)
	{
		case ROT_DOWNGRADES:
			return V_DOWNGRADES;
		case ROT_READY:
			return V_READY;
		case ROT_UNAFFECTED:
			return V_UNAFFECTED;
	}
	return dry == DRY_PASS ? V_PASSES : V_UNJUDGED;
}

/* The value token of each member the report reads (-1: absent). */
static void
find_members(const jsr_doc *d, int tok[F_COUNT])
{
	for (int i = 0; i < F_COUNT; i++)
		tok[i] = -1;
	/* The root's members: key k, value k + 1, next key after the value's subtree. */
	for (uint32_t k = 1; k < d->tok[0].next; k = d->tok[k + 1].next)
	{
		const jsr_token *kt = &d->tok[k];
		int			f;

		if (!kt->escaped)
			f = field_of(d->text + kt->start, kt->len);
		else
		{
			char		name[32];
			size_t		n = jsr_string(d, (int) k, name, sizeof(name));

			f = n < sizeof(name) ? field_of(name, n) : -1;
		}
		if (f >= 0)
			tok[f] = (int) k + 1;	/* the last of duplicates wins */
	}
}

/*
 * journald's JSON export carries the record in MESSAGE: parse that instead
 * (into r->doc).  NULL, or why it is no record.
 */
static const char *
unwrap_message(report_reader *r, int message)
{
	jsr_doc    *d = &r->doc;
	size_t		n = jsr_string_len(d, message);
	const char *brace;

	if (n > REPORT_MAX_LINE)
		return "MESSAGE too long";
	if (r->message_cap < n + 1)
	{
		free(r->message);
		r->message_cap = n + 1 > 4096 ? n + 1 : 4096;
		r->message = report_xmalloc(r->message_cap);
	}
	jsr_string(d, message, r->message, n + 1);
	brace = memchr(r->message, '{', n);
	if (brace == NULL)
		return "MESSAGE holds no JSON object";
	n -= (size_t) (brace - r->message);
	if (jsr_parse(d, brace, n) != 0)
		return "MESSAGE is not valid JSON";
	if (!jsr_is_object(d, 0))
		return "MESSAGE is not a JSON object";
	ensure_arena(r, n);
	return NULL;
}

/* The group key of the record (see report.h). */
static void
key_of(report_reader *r, const int *tok, slice *key)
{
	const jsr_doc *d = &r->doc;
	bool		exists;

	/* Every Java program's exe is `java`: the JVM agent names the program itself. */
	key[K_EXE] = str_of(r, tok[F_PROGRAM] >= 0 ? tok[F_PROGRAM] : tok[F_EXE]);
	key[K_HOST] = str_of(r, tok[F_HOST]);
	key[K_PORT] = str_or_number(r, tok[F_PORT]);
	key[K_USER] = str_of(r, tok[F_USER]);
	key[K_TRANSPORT] = str_of(r, tok[F_TRANSPORT]);
	key[K_SSLMODE] = str_of(r, tok[F_SSLMODE]);
	key[K_SSLMODE_SOURCE] = str_of(r, tok[F_SSLMODE_SOURCE]);
	key[K_SSLROOTCERT_SOURCE] = str_of(r, tok[F_SSLROOTCERT_SOURCE]);
	key[K_ROOTCERT_FILE] = str_of(r, tok[F_ROOTCERT_FILE]);
	if (key[K_ROOTCERT_FILE].p == NULL && tok[F_TRUSTSTORE] >= 0)
		key[K_ROOTCERT_FILE] = str_of(r, member(d, tok[F_TRUSTSTORE], "path"));	/* pgjdbc's JVM trust store */
	key[K_ROOTCERT_EXISTS] = (slice) {NULL, 0};
	if (jsr_get_bool(d, tok[F_ROOTCERT_EXISTS], &exists))
		key[K_ROOTCERT_EXISTS] = exists ? (slice) {"true", 4} : (slice) {"false", 5};
	key[K_VERIFY] = str_of(r, tok[F_VERIFY]);
	key[K_FORCED_FROM] = str_of(r, tok[F_FORCED] >= 0 ? member(d, member(d, tok[F_FORCED], "from"), "sslmode") : -1);
	if (key[K_FORCED_FROM].p == NULL && jsr_is_object(d, tok[F_FORCED]))
	{
		/* Forced from libpq's default: still an enforced attempt. */
		key[K_FORCED_FROM].p = "";
		key[K_FORCED_FROM].n = 0;
	}
}

/* Outcome, pid, time, mode, database, error. */
static void
fold_facts(report_reader *r, const int *tok, report_group *g)
{
	slice		s = str_of(r, tok[F_OUTCOME]);
	long long	pid;

	g->count++;
	if (report_slice_is(s, "ok"))
		g->ok++;
	else if (report_slice_is(s, "failed"))
		g->failed++;
	else if (report_slice_is(s, "abandoned"))
		g->abandoned++;

	if (jsr_get_int(&r->doc, tok[F_PID], &pid))
		report_group_pid(g, pid);
	report_group_ts(g, str_of(r, tok[F_TS]));

	s = str_of(r, tok[F_MODE]);
	for (size_t i = 0; i < REPORT_N_MODES; i++)
		if (report_slice_is(s, report_mode_names[i]))
			g->modes |= 1u << i;

	report_keep_first(&g->dbname, &g->dbname_varies, str_of(r, tok[F_DBNAME]));

	if (g->error == NULL)
	{
		s = str_of(r, tok[F_ERROR]);
		if (s.p != NULL)
			g->error = report_slice_dup(s);
	}
}

/* The protocol and the peer's issuer (tls.peer, else failed_peer). */
static void
fold_tls(report_reader *r, const int *tok, report_group *g)
{
	const jsr_doc *d = &r->doc;

	if (tok_type(d, tok[F_TLS]) == JSR_OBJECT)
	{
		slice		s = str_of(r, member(d, tok[F_TLS], "protocol"));
		size_t		i;

		for (i = 0; i < REPORT_N_PROTOCOLS; i++)
			if (report_slice_is(s, report_protocol_names[i]))
			{
				g->protocols |= 1u << i;
				break;
			}
		if (i == REPORT_N_PROTOCOLS && s.p != NULL && g->protocol_other == NULL)
			g->protocol_other = report_slice_dup(s);
		report_keep_first(&g->issuer, &g->issuer_varies,
						  str_of(r, member(d, member(d, tok[F_TLS], "peer"), "issuer")));
		return;
	}
	if (tok_type(d, tok[F_TLS]) == JSR_NULL)
		g->no_tls++;
	report_keep_first(&g->issuer, &g->issuer_varies,
					  str_of(r, member(d, tok[F_FAILED_PEER], "issuer")));
}

/* dry_run and after_rotation: the counts and the worst of each.  Would it break? */
static bool
fold_verdicts(report_reader *r, const int *tok, report_group *g)
{
	const jsr_doc *d = &r->doc;
	slice		result = {NULL, 0},
				reason = {NULL, 0};
	int			dry,
				rot;

	if (tok_type(d, tok[F_DRY_RUN]) == JSR_OBJECT)
	{
		result = str_of(r, member(d, tok[F_DRY_RUN], "result"));
		reason = str_of(r, member(d, tok[F_DRY_RUN], "reason"));
	}
	dry = dry_rank_of(result, reason);
	if (dry == DRY_PASS)
		g->dry_pass++;
	else if (dry >= DRY_FAIL_INCONCLUSIVE)
		g->dry_fail++;
	if (dry > g->dry_rank)
	{
		g->dry_rank = dry;
		report_keep_text(&g->dry_reason, reason);
		report_keep_text(&g->dry_detail, str_of(r, member(d, tok[F_DRY_RUN], "detail")));
	}

	rot = rotation_of(str_of(r, tok[F_AFTER_ROTATION]));
	if (rot != ROT_NONE)
	{
		g->rot[rot]++;
		if (rot > g->rot_worst)
		{
			g->rot_worst = rot;
			report_keep_text(&g->rot_detail, str_of(r, tok[F_AFTER_ROTATION_DETAIL]));
		}
	}
	g->verdicts[record_verdict(rot, dry)]++;
	return rot == ROT_BREAKS || dry >= DRY_FAIL_INCONCLUSIVE;
}

/*
 * The record that jsr_parse() left in r->doc (a root object).  Returns NULL,
 * or why it is not a record.
 */
static const char *
add_record(report_reader *r, report_table *t, int depth, bool *breaks)
{
	int			tok[F_COUNT];
	slice		key[K_COUNT];
	report_group *g;

	find_members(&r->doc, tok);
	if (tok_type(&r->doc, tok[F_EXE]) != JSR_STRING ||
		tok_type(&r->doc, tok[F_OUTCOME]) != JSR_STRING)
	{
		const char *why;

		if (depth > 0 || !jsr_is_string(&r->doc, tok[F_MESSAGE]))
			return "not a pqtls record (no \"exe\" and \"outcome\")";
		why = unwrap_message(r, tok[F_MESSAGE]);
		return why ? why : add_record(r, t, depth + 1, breaks);
	}
	key_of(r, tok, key);
	g = report_table_get(t, key);
	fold_facts(r, tok, g);
	fold_tls(r, tok, g);
	*breaks = fold_verdicts(r, tok, g);
	return NULL;
}

void
report_reader_init(report_reader *rd)
{
	memset(rd, 0, sizeof(*rd));
	jsr_init(&rd->doc);
}

void
report_reader_free(report_reader *rd)
{
	jsr_free(&rd->doc);
	free(rd->arena);
	free(rd->message);
	memset(rd, 0, sizeof(*rd));
}

const char *
report_reader_add(report_reader *rd, report_table *table, const char *json, size_t n,
				  size_t column, bool *breaks)
{
	int			err = jsr_parse(&rd->doc, json, n);

	*breaks = false;
	if (err != 0)
	{
		snprintf(rd->why, sizeof(rd->why), "invalid JSON: %s at column %zu",
				 jsr_strerror(err), column + rd->doc.error_at + 1);
		return rd->why;
	}
	if (!jsr_is_object(&rd->doc, 0))
		return "not a JSON object";
	ensure_arena(rd, n);
	return add_record(rd, table, 0, breaks);
}
