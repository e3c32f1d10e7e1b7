/*
 * report.c: grouping records into distinct connections (see report.h).
 *
 * A record goes through: find its JSON (first '{' of the line), check and
 * tokenise it (jsonread.c, no allocation per record), pick the members the
 * report needs in one walk over the root object, build the group key as one
 * byte string, find or add its group in a uthash table, and fold the record
 * into the group's counters.  Strings of a record are used where they lie in
 * the line (or, when they hold escapes, unescaped into a scratch area sized
 * from the line); a group copies only what it keeps, and only when that
 * changes, so memory follows the number of groups and the time per record
 * stays flat.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pqtls/json.h"
#include "pqtls/jsonread.h"
#include "pqtls/report.h"

static void report_out_of_memory(void) __attribute__((noreturn));

static unsigned key_hash(const void *key, size_t n);

#define uthash_fatal(msg) report_out_of_memory()
#define HASH_FUNCTION(keyptr, keylen, hashv) ((hashv) = key_hash((keyptr), (keylen)))
#include <uthash.h>

#define READ_BUF_SIZE (2 * REPORT_MAX_LINE)
#define TS_KEEP 40

/* A piece of text, not NUL-terminated; p == NULL for null or absent. */
typedef struct slice
{
	const char *p;
	size_t		n;
} slice;

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
	F_COUNT
};

/* The group key, in this order (see report.h). */
enum key_field
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
	K_FORCED_FROM,				/* forced.from.sslmode */
	K_COUNT
};

enum rotation_kind
{
	ROT_NONE = -1,
	ROT_UNAFFECTED,
	ROT_READY,
	ROT_DOWNGRADES,
	ROT_BREAKS,
	ROT_KINDS
};

static const char *const rotation_names[ROT_KINDS] = {"unaffected", "ready", "downgrades", "breaks"};

/* dry_run ranks: worse is higher. */
enum
{
	DRY_NONE,
	DRY_PASS,
	DRY_FAIL_INCONCLUSIVE,		/* unreachable, timeout */
	DRY_FAIL,					/* handshake-failed, bundle-unusable, anything else */
	DRY_FAIL_DEFINITE,			/* the server's certificate would be refused */
};

enum status
{
	ST_BREAKS,
	ST_DOWNGRADES,
	ST_OK,
	ST_OBSERVED,				/* no verdict in any record */
};

static const char *const status_names[] = {"breaks", "downgrades", "ok", "observed"};

static const char *const mode_names[] = {"observe", "dry-run", "enforce"};

static const char *const protocol_names[] = {"SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};

#define N_MODES (sizeof(mode_names) / sizeof(mode_names[0]))
#define N_PROTOCOLS (sizeof(protocol_names) / sizeof(protocol_names[0]))

typedef struct group
{
	char	   *key;			/* the key bytes (see build_key) */
	size_t		keylen;
	const char *f[K_COUNT];		/* each key field, NUL-terminated inside key; NULL for null */

	long		count;
	long		ok,
				failed,
				abandoned;
	unsigned	modes;			/* bit i: mode_names[i] */
	unsigned	protocols;		/* bit i: protocol_names[i] */
	char	   *protocol_other;	/* the first protocol not in protocol_names */
	long		no_tls;

	char	   *dbname;
	bool		dbname_varies;
	char	   *issuer;
	bool		issuer_varies;
	char	   *error;			/* libpq's first error message */

	char		first_ts[TS_KEEP];
	char		last_ts[TS_KEEP];

	uint32_t   *pids;			/* open addressing, 0 = empty */
	unsigned	npids;
	unsigned	pidcap;
	bool		pids_more;
	long long	last_pid;

	int			dry_rank;
	long		dry_pass,
				dry_fail;
	char	   *dry_reason;
	char	   *dry_detail;

	int			rot_worst;
	long		rot[ROT_KINDS];
	char	   *rot_detail;

	int			status;			/* set by sorted_groups() */
	UT_hash_handle hh;
} group;

typedef struct malformed_line
{
	char	   *source;
	long		lineno;
	char		why[96];
} malformed_line;

struct report
{
	const char *name;
	group	   *groups;
	long		records;
	long		malformed;
	long		breaking;		/* records that would break */
	long		ngroups;

	jsr_doc		doc;
	char	   *arena;			/* unescaped strings of the current record */
	size_t		arena_cap;
	size_t		arena_used;
	char	   *key;			/* the key of the current record */
	size_t		key_cap;
	char	   *message;		/* journald's MESSAGE, unescaped */
	size_t		message_cap;

	malformed_line kept[REPORT_MALFORMED_KEPT];
	int			nkept;
};

static void
report_out_of_memory(void)
{
	fputs("pqtls: out of memory\n", stderr);
	exit(2);
}

static void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
		report_out_of_memory();
	return p;
}

static void *
xcalloc(size_t n, size_t size)
{
	void	   *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		report_out_of_memory();
	return p;
}

static char *
xstrndup(const char *s, size_t n)
{
	char	   *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

static char *
slice_dup(slice s)
{
	return s.p ? xstrndup(s.p, s.n) : NULL;
}

static inline bool
slice_is(slice s, const char *lit)
{
	size_t		n = strlen(lit);

	return s.p != NULL && s.n == n && memcmp(s.p, lit, n) == 0;
}

/* Does the kept string equal s (both absent counts as equal)? */
static bool
same_text(const char *kept, slice s)
{
	if (kept == NULL || s.p == NULL)
		return kept == NULL && s.p == NULL;
	/* (A string with an escaped NUL compares unequal to its own copy: harmless.) */
	return strnlen(kept, s.n + 1) == s.n && memcmp(kept, s.p, s.n) == 0;
}

/* Replace *kept by a copy of s. */
static void
keep_text(char **kept, slice s)
{
	if (same_text(*kept, s))
		return;
	free(*kept);
	*kept = slice_dup(s);
}

/* ------------------------------------------------------------------ hash */

/* Seeded once per process, so that crafted records cannot aim at one bucket. */
static uint64_t hash_seed;

/*
 * The group table's hash: eight bytes a step, each mixed in by a multiply
 * and a shift (the constants of SplitMix64's finaliser).  Keys are a couple
 * of hundred bytes; uthash's byte-oriented Jenkins hash costs several times
 * as much per record.
 */
static unsigned
key_hash(const void *key, size_t n)
{
	const unsigned char *p = key;
	uint64_t	h = hash_seed ^ (n * 0x9E3779B97F4A7C15ULL);
	uint64_t	w;

	for (; n >= 8; p += 8, n -= 8)
	{
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xBF58476D1CE4E5B9ULL;
		h ^= h >> 31;
	}
	if (n > 0)
	{
		w = 0;
		memcpy(&w, p, n);
		h = (h ^ w) * 0xBF58476D1CE4E5B9ULL;
		h ^= h >> 31;
	}
	h ^= h >> 29;
	h *= 0x94D049BB133111EBULL;
	h ^= h >> 32;
	return (unsigned) h;
}

/* ------------------------------------------------------------------ life */

report *
report_new(void)
{
	report	   *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->name = "pqtls report";
	if (hash_seed == 0)
	{
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		hash_seed = ((uint64_t) ts.tv_nsec << 20) ^ (uint64_t) ts.tv_sec ^
			((uint64_t) getpid() << 40) ^ (uint64_t) (uintptr_t) r;
		hash_seed |= 1;
	}
	jsr_init(&r->doc);
	return r;
}

void
report_set_name(report *r, const char *name)
{
	r->name = name ? name : "pqtls report";
}

static void
group_free(group *g)
{
	free(g->key);
	free(g->protocol_other);
	free(g->dbname);
	free(g->issuer);
	free(g->error);
	free(g->pids);
	free(g->dry_reason);
	free(g->dry_detail);
	free(g->rot_detail);
	free(g);
}

void
report_free(report *r)
{
	group	   *g,
			   *tmp;

	if (r == NULL)
		return;
	HASH_ITER(hh, r->groups, g, tmp)
	{
		HASH_DEL(r->groups, g);
		group_free(g);
	}
	for (int i = 0; i < r->nkept; i++)
		free(r->kept[i].source);
	jsr_free(&r->doc);
	free(r->arena);
	free(r->key);
	free(r->message);
	free(r);
}

bool
report_would_break(const report *r)
{
	return r->breaking > 0;
}

long
report_records(const report *r)
{
	return r->records;
}

long
report_malformed(const report *r)
{
	return r->malformed;
}

long
report_groups(const report *r)
{
	return r->ngroups;
}

/* ------------------------------------------------------------- malformed */

static void
malformed(report *r, const char *source, long lineno, const char *why)
{
	malformed_line *m;

	r->malformed++;
	if (r->nkept >= REPORT_MALFORMED_KEPT)
		return;
	m = &r->kept[r->nkept++];
	m->source = xstrdup(source ? source : "input");
	m->lineno = lineno;
	snprintf(m->why, sizeof(m->why), "%s", why);
}

void
report_print_malformed(const report *r, FILE *err)
{
	for (int i = 0; i < r->nkept; i++)
		fprintf(err, "%s: %s:%ld: malformed line: %s\n", r->name, r->kept[i].source,
				r->kept[i].lineno, r->kept[i].why);
	if (r->malformed > r->nkept)
		fprintf(err, "%s: %ld malformed lines in all (%d named above)\n", r->name,
				r->malformed, r->nkept);
	else if (r->malformed > 0)
		fprintf(err, "%s: %ld malformed line%s skipped\n", r->name, r->malformed,
				r->malformed == 1 ? "" : "s");
}

/* --------------------------------------------------------- one record */

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
				IS("dry_run") ? F_DRY_RUN : IS("MESSAGE") ? F_MESSAGE : -1;
		case 9:
			return IS("transport") ? F_TRANSPORT : -1;
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
str_of(report *r, int t)
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
str_or_number(report *r, int t)
{
	slice		s = {NULL, 0};

	if (tok_type(&r->doc, t) == JSR_NUMBER)
	{
		s.p = jsr_raw(&r->doc, t, &s.n);
		return s;
	}
	return str_of(r, t);
}

static void
ensure_arena(report *r, size_t len)
{
	r->arena_used = 0;
	if (r->arena_cap >= len + 64)
		return;
	free(r->arena);
	r->arena_cap = len + 64 > 4096 ? len + 64 : 4096;
	r->arena = xmalloc(r->arena_cap);
}

/*
 * The key: for each field a byte 0 (null), or 1, its length (4 bytes, host
 * order), its bytes and a NUL, so that a group can use each as a C string.
 * Returns its length; r->key holds it.
 */
static size_t
build_key(report *r, const slice *key)
{
	size_t		need = 0;
	char	   *p;

	for (int i = 0; i < K_COUNT; i++)
		need += 1 + sizeof(uint32_t) + key[i].n + 1;
	if (need > r->key_cap)
	{
		free(r->key);
		r->key_cap = need > 1024 ? need : 1024;
		r->key = xmalloc(r->key_cap);
	}
	p = r->key;
	for (int i = 0; i < K_COUNT; i++)
	{
		uint32_t	n = (uint32_t) key[i].n;

		if (key[i].p == NULL)
		{
			*p++ = 0;
			continue;
		}
		*p++ = 1;
		memcpy(p, &n, sizeof(n));
		p += sizeof(n);
		memcpy(p, key[i].p, key[i].n);
		p += key[i].n;
		*p++ = '\0';
	}
	return (size_t) (p - r->key);
}

/* Point g->f[] at the fields inside g->key. */
static void
key_split(group *g)
{
	const char *p = g->key;

	for (int i = 0; i < K_COUNT; i++)
	{
		uint32_t	n;

		if (*p++ == 0)
		{
			g->f[i] = NULL;
			continue;
		}
		memcpy(&n, p, sizeof(n));
		p += sizeof(n);
		g->f[i] = p;
		p += n + 1;
	}
}

static void
pid_add(group *g, long long pid)
{
	uint32_t	v = (uint32_t) pid;
	unsigned	mask,
				h;

	if (pid == g->last_pid || v == 0)
		return;
	g->last_pid = pid;
	if (g->pidcap == 0)
	{
		g->pidcap = 16;
		g->pids = xcalloc(g->pidcap, sizeof(uint32_t));
	}
	mask = g->pidcap - 1;
	for (h = (v * 2654435761u) & mask; g->pids[h] != 0; h = (h + 1) & mask)
		if (g->pids[h] == v)
			return;
	if (g->npids >= REPORT_PIDS_EXACT)
	{
		g->pids_more = true;
		return;
	}
	g->pids[h] = v;
	g->npids++;
	/* Keep the table at most half full. */
	if (g->npids * 2 > g->pidcap && g->npids < REPORT_PIDS_EXACT)
	{
		unsigned	cap = g->pidcap * 2;
		uint32_t   *t = xcalloc(cap, sizeof(uint32_t));

		for (unsigned i = 0; i < g->pidcap; i++)
		{
			unsigned	k;

			if (g->pids[i] == 0)
				continue;
			for (k = (g->pids[i] * 2654435761u) & (cap - 1); t[k] != 0; k = (k + 1) & (cap - 1))
				;
			t[k] = g->pids[i];
		}
		free(g->pids);
		g->pids = t;
		g->pidcap = cap;
	}
}

static int
rotation_of(slice s)
{
	for (int k = 0; k < ROT_KINDS; k++)
		if (slice_is(s, rotation_names[k]))
			return k;
	return ROT_NONE;
}

static int
dry_rank_of(slice result, slice reason)
{
	static const char *const definite[] = {
		"untrusted-ca", "hostname-mismatch", "expired", "not-yet-valid", "no-tls",
	};

	if (slice_is(result, "pass"))
		return DRY_PASS;
	if (!slice_is(result, "fail"))
		return DRY_NONE;
	for (size_t i = 0; i < sizeof(definite) / sizeof(definite[0]); i++)
		if (slice_is(reason, definite[i]))
			return DRY_FAIL_DEFINITE;
	if (slice_is(reason, "unreachable") || slice_is(reason, "timeout"))
		return DRY_FAIL_INCONCLUSIVE;
	return DRY_FAIL;
}

static void
keep_ts(char *dst, slice s)
{
	size_t		n = s.n < TS_KEEP - 1 ? s.n : TS_KEEP - 1;

	memcpy(dst, s.p, n);
	dst[n] = '\0';
}

/* strcmp of a kept (possibly cut) time stamp with s. */
static int
ts_cmp(const char *kept, slice s)
{
	size_t		kn = strlen(kept);
	size_t		n = s.n < TS_KEEP - 1 ? s.n : TS_KEEP - 1;
	int			c = memcmp(kept, s.p, kn < n ? kn : n);

	if (c != 0)
		return c;
	return kn < n ? -1 : kn > n ? 1 : 0;
}

/* A string kept as "the first one, and whether another value came". */
static void
keep_first(char **kept, bool *varies, slice s)
{
	if (s.p == NULL || *varies)
		return;
	if (*kept == NULL)
		*kept = slice_dup(s);
	else if (!same_text(*kept, s))
		*varies = true;
}

/*
 * The record that jsr_parse() left in r->doc (a root object).  Returns NULL,
 * or why it is not a record.
 */
static const char *
add_record(report *r, int depth)
{
	jsr_doc    *d = &r->doc;
	int			tok[F_COUNT];
	slice		key[K_COUNT];
	slice		s;
	group	   *g;
	int			rot,
				dry;
	slice		dry_result = {NULL, 0},
				dry_reason = {NULL, 0},
				dry_detail = {NULL, 0};
	long long	pid;
	size_t		keylen;

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

	if (tok_type(d, tok[F_EXE]) != JSR_STRING || tok_type(d, tok[F_OUTCOME]) != JSR_STRING)
	{
		/* journald's JSON export carries the record in MESSAGE. */
		if (depth == 0 && jsr_is_string(d, tok[F_MESSAGE]))
		{
			size_t		n = jsr_string_len(d, tok[F_MESSAGE]);
			const char *brace;

			if (n > REPORT_MAX_LINE)
				return "MESSAGE too long";
			if (r->message_cap < n + 1)
			{
				free(r->message);
				r->message_cap = n + 1 > 4096 ? n + 1 : 4096;
				r->message = xmalloc(r->message_cap);
			}
			jsr_string(d, tok[F_MESSAGE], r->message, n + 1);
			brace = memchr(r->message, '{', n);
			if (brace == NULL)
				return "MESSAGE holds no JSON object";
			n -= (size_t) (brace - r->message);
			if (jsr_parse(d, brace, n) != 0)
				return "MESSAGE is not valid JSON";
			if (!jsr_is_object(d, 0))
				return "MESSAGE is not a JSON object";
			ensure_arena(r, n);
			return add_record(r, depth + 1);
		}
		return "not a pqtls record (no \"exe\" and \"outcome\")";
	}

	/* The key. */
	key[K_EXE] = str_of(r, tok[F_EXE]);
	key[K_HOST] = str_of(r, tok[F_HOST]);
	key[K_PORT] = str_or_number(r, tok[F_PORT]);
	key[K_USER] = str_of(r, tok[F_USER]);
	key[K_TRANSPORT] = str_of(r, tok[F_TRANSPORT]);
	key[K_SSLMODE] = str_of(r, tok[F_SSLMODE]);
	key[K_SSLMODE_SOURCE] = str_of(r, tok[F_SSLMODE_SOURCE]);
	key[K_SSLROOTCERT_SOURCE] = str_of(r, tok[F_SSLROOTCERT_SOURCE]);
	key[K_ROOTCERT_FILE] = str_of(r, tok[F_ROOTCERT_FILE]);
	{
		bool		exists;
		slice		b = {NULL, 0};

		if (jsr_get_bool(d, tok[F_ROOTCERT_EXISTS], &exists))
		{
			b.p = exists ? "true" : "false";
			b.n = strlen(b.p);
		}
		key[K_ROOTCERT_EXISTS] = b;
	}
	key[K_VERIFY] = str_of(r, tok[F_VERIFY]);
	key[K_FORCED_FROM] = str_of(r, tok[F_FORCED] >= 0 ? member(d, member(d, tok[F_FORCED], "from"), "sslmode") : -1);
	if (key[K_FORCED_FROM].p == NULL && jsr_is_object(d, tok[F_FORCED]))
	{
		/* Forced from libpq's default: still an enforced attempt. */
		key[K_FORCED_FROM].p = "";
		key[K_FORCED_FROM].n = 0;
	}

	keylen = build_key(r, key);
	HASH_FIND(hh, r->groups, r->key, keylen, g);
	if (g == NULL)
	{
		g = xcalloc(1, sizeof(*g));
		g->key = xmalloc(keylen);
		memcpy(g->key, r->key, keylen);
		g->keylen = keylen;
		key_split(g);
		g->rot_worst = ROT_NONE;
		g->last_pid = -1;
		HASH_ADD_KEYPTR(hh, r->groups, g->key, g->keylen, g);
		r->ngroups++;
	}

	/* Fold the record in. */
	r->records++;
	g->count++;
	s = str_of(r, tok[F_OUTCOME]);
	if (slice_is(s, "ok"))
		g->ok++;
	else if (slice_is(s, "failed"))
		g->failed++;
	else if (slice_is(s, "abandoned"))
		g->abandoned++;

	if (jsr_get_int(d, tok[F_PID], &pid))
		pid_add(g, pid);

	s = str_of(r, tok[F_TS]);
	if (s.p != NULL)
	{
		if (g->first_ts[0] == '\0' || ts_cmp(g->first_ts, s) > 0)
			keep_ts(g->first_ts, s);
		if (g->last_ts[0] == '\0' || ts_cmp(g->last_ts, s) < 0)
			keep_ts(g->last_ts, s);
	}

	s = str_of(r, tok[F_MODE]);
	for (size_t i = 0; i < N_MODES; i++)
		if (slice_is(s, mode_names[i]))
			g->modes |= 1u << i;

	keep_first(&g->dbname, &g->dbname_varies, str_of(r, tok[F_DBNAME]));

	if (tok_type(d, tok[F_TLS]) == JSR_OBJECT)
	{
		size_t		i;

		s = str_of(r, member(d, tok[F_TLS], "protocol"));
		for (i = 0; i < N_PROTOCOLS; i++)
			if (slice_is(s, protocol_names[i]))
			{
				g->protocols |= 1u << i;
				break;
			}
		if (i == N_PROTOCOLS && s.p != NULL && g->protocol_other == NULL)
			g->protocol_other = slice_dup(s);
		keep_first(&g->issuer, &g->issuer_varies, str_of(r, member(d, member(d, tok[F_TLS], "peer"), "issuer")));
	}
	else
	{
		if (tok_type(d, tok[F_TLS]) == JSR_NULL)
			g->no_tls++;
		keep_first(&g->issuer, &g->issuer_varies,
				   str_of(r, member(d, tok[F_FAILED_PEER], "issuer")));
	}

	if (g->error == NULL)
	{
		s = str_of(r, tok[F_ERROR]);
		if (s.p != NULL)
			g->error = slice_dup(s);
	}

	/* The verdicts. */
	if (tok_type(d, tok[F_DRY_RUN]) == JSR_OBJECT)
	{
		dry_result = str_of(r, member(d, tok[F_DRY_RUN], "result"));
		dry_reason = str_of(r, member(d, tok[F_DRY_RUN], "reason"));
	}
	dry = dry_rank_of(dry_result, dry_reason);
	if (dry == DRY_PASS)
		g->dry_pass++;
	else if (dry >= DRY_FAIL_INCONCLUSIVE)
		g->dry_fail++;
	if (dry > g->dry_rank)
	{
		dry_detail = str_of(r, member(d, tok[F_DRY_RUN], "detail"));
		g->dry_rank = dry;
		keep_text(&g->dry_reason, dry_reason);
		keep_text(&g->dry_detail, dry_detail);
	}

	rot = rotation_of(str_of(r, tok[F_AFTER_ROTATION]));
	if (rot != ROT_NONE)
	{
		g->rot[rot]++;
		if (rot > g->rot_worst)
		{
			g->rot_worst = rot;
			keep_text(&g->rot_detail, str_of(r, tok[F_AFTER_ROTATION_DETAIL]));
		}
	}

	if (rot == ROT_BREAKS || dry >= DRY_FAIL_INCONCLUSIVE)
		r->breaking++;
	return NULL;
}

static bool
all_space(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n' &&
			s[i] != '\f' && s[i] != '\v')
			return false;
	return true;
}

void
report_feed_line(report *r, const char *line, size_t len, const char *source, long lineno)
{
	const char *brace;
	size_t		off,
				n;
	int			err;
	const char *why;

	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len > REPORT_MAX_LINE)
	{
		malformed(r, source, lineno, "line too long");
		return;
	}
	brace = memchr(line, '{', len);
	if (brace == NULL)
	{
		if (!all_space(line, len))
			malformed(r, source, lineno, "no JSON object on the line");
		return;
	}
	off = (size_t) (brace - line);
	n = len - off;
	err = jsr_parse(&r->doc, brace, n);
	if (err != 0)
	{
		char		why_buf[96];

		snprintf(why_buf, sizeof(why_buf), "invalid JSON: %s at column %zu",
				 jsr_strerror(err), off + r->doc.error_at + 1);
		malformed(r, source, lineno, why_buf);
		return;
	}
	if (!jsr_is_object(&r->doc, 0))
	{
		malformed(r, source, lineno, "not a JSON object");
		return;
	}
	ensure_arena(r, n);
	why = add_record(r, 0);
	if (why != NULL)
		malformed(r, source, lineno, why);
}

int
report_feed_file(report *r, const char *path)
{
	bool		is_stdin = strcmp(path, "-") == 0;
	const char *name = is_stdin ? "stdin" : path;
	int			fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	char	   *buf;
	size_t		have = 0;
	long		lineno = 0;
	bool		skipping = false;
	int			rc = 0;

	if (fd < 0)
	{
		fprintf(stderr, "%s: cannot open %s: %s\n", r->name, path, strerror(errno));
		return -1;
	}
	buf = xmalloc(READ_BUF_SIZE);
	for (;;)
	{
		ssize_t		got = read(fd, buf + have, READ_BUF_SIZE - have);
		size_t		start = 0,
					scan;
		char	   *nl;

		if (got < 0)
		{
			if (errno == EINTR)
				continue;
			fprintf(stderr, "%s: cannot read %s: %s\n", r->name, name, strerror(errno));
			rc = -1;
			break;
		}
		if (got == 0)
		{
			/* A last line without its newline. */
			if (have > 0 && !skipping)
				report_feed_line(r, buf, have, name, ++lineno);
			break;
		}
		scan = have;
		have += (size_t) got;
		while ((nl = memchr(buf + scan, '\n', have - scan)) != NULL)
		{
			size_t		end = (size_t) (nl - buf);

			if (skipping)
				skipping = false;	/* the rest of a line too long, counted already */
			else
				report_feed_line(r, buf + start, end - start, name, ++lineno);
			start = scan = end + 1;
		}
		if (start > 0)
		{
			memmove(buf, buf + start, have - start);
			have -= start;
		}
		if (have > REPORT_MAX_LINE)
		{
			if (!skipping)
				malformed(r, name, ++lineno, "line too long");
			skipping = true;
			have = 0;
		}
	}
	free(buf);
	if (!is_stdin)
		close(fd);
	return rc;
}

/* ----------------------------------------------------------- ordering */

static int
group_status(const group *g)
{
	if (g->rot_worst == ROT_BREAKS || g->dry_rank >= DRY_FAIL_INCONCLUSIVE)
		return ST_BREAKS;
	if (g->rot_worst == ROT_DOWNGRADES)
		return ST_DOWNGRADES;
	if (g->rot_worst != ROT_NONE || g->dry_rank != DRY_NONE)
		return ST_OK;
	return ST_OBSERVED;
}

static int
nullable_cmp(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

static int
group_cmp(const void *pa, const void *pb)
{
	const group *a = *(const group *const *) pa;
	const group *b = *(const group *const *) pb;
	int			c;

	/* ok and observed are equals: only breaking and downgrading come first. */
	if ((a->status < ST_OK ? a->status : ST_OK) != (b->status < ST_OK ? b->status : ST_OK))
		return a->status < b->status ? -1 : 1;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	for (int i = 0; i < K_COUNT; i++)
		if ((c = nullable_cmp(a->f[i], b->f[i])) != 0)
			return c;
	if (a->keylen != b->keylen)
		return a->keylen < b->keylen ? -1 : 1;
	return memcmp(a->key, b->key, a->keylen);
}

static group **
sorted_groups(report *r, size_t *n)
{
	group	  **v = xmalloc(sizeof(group *) * (size_t) (r->ngroups + 1));
	size_t		i = 0;

	for (group *g = r->groups; g != NULL; g = g->hh.next)
	{
		g->status = group_status(g);
		v[i++] = g;
	}
	qsort(v, i, sizeof(group *), group_cmp);
	*n = i;
	return v;
}

/* --------------------------------------------------------- text helpers */

/* Display width: UTF-8 characters (continuation bytes take no column). */
static size_t
text_width(const char *s)
{
	size_t		w = 0;

	for (; *s; s++)
		if (((unsigned char) *s & 0xC0) != 0x80)
			w++;
	return w;
}

/*
 * Append s for a terminal: control characters (C0, DEL, and C1 as UTF-8)
 * become '?', so that no record can move the cursor or change colours.
 */
static void
put_safe(pqtls_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *) s;

	for (; *p; p++)
	{
		if (*p < 0x20 || *p == 0x7F)
			buf_putc(b, '?');
		else if (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F)
		{
			buf_putc(b, '?');
			p++;
		}
		else
			buf_putc(b, (char) *p);
	}
}

static char *
buf_take(pqtls_buf *b)
{
	char	   *s;

	if (b->oom)
		report_out_of_memory();
	s = b->data ? b->data : xstrdup("");
	buf_init(b);
	return s;
}

static char *
safe_dup(const char *s)
{
	pqtls_buf	b;

	buf_init(&b);
	buf_append(&b, "", 0);
	put_safe(&b, s ? s : "");
	return buf_take(&b);
}

/*
 * A path cut to at most max columns, keeping its end: "..." and the longest
 * tail that begins at a '/', or, when even the last component is too long,
 * the last characters.  Takes ownership of s.
 */
static char *
shorten_path(char *s, size_t max)
{
	const char *p;
	char	   *out;

	if (max < 4 || text_width(s) <= max)
		return s;
	for (p = s + 1; *p; p++)
		if (*p == '/' && text_width(p) + 3 <= max)
			break;
	if (*p == '\0')
	{
		p = s;
		while (*p && text_width(p) + 3 > max)
		{
			p++;
			while (((unsigned char) *p & 0xC0) == 0x80)
				p++;
		}
	}
	out = xmalloc(strlen(p) + 4);
	memcpy(out, "...", 3);
	strcpy(out + 3, p);
	free(s);
	return out;
}

static const char *
base_name(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	if (path == NULL)
		return "?";
	return slash && slash[1] ? slash + 1 : path;
}

/* "host:port", "[v6]:port", or a Unix socket's path. */
static void
put_endpoint(pqtls_buf *b, const group *g)
{
	const char *host = g->f[K_HOST];
	const char *port = g->f[K_PORT];

	if (host == NULL)
		host = "?";
	if (host[0] == '/' || (g->f[K_TRANSPORT] && strcmp(g->f[K_TRANSPORT], "unix") == 0))
	{
		put_safe(b, host);
		if (host[0] == '/')
		{
			buf_puts(b, host[1] && host[strlen(host) - 1] == '/' ? "" : "/");
			buf_puts(b, ".s.PGSQL.");
			put_safe(b, port ? port : "5432");
		}
		return;
	}
	if (strchr(host, ':') != NULL)
	{
		buf_putc(b, '[');
		put_safe(b, host);
		buf_putc(b, ']');
	}
	else
		put_safe(b, host);
	buf_putc(b, ':');
	put_safe(b, port ? port : "5432");
}

/* "prefer (default)", "verify-full (enforced; asked prefer)". */
static void
put_sslmode(pqtls_buf *b, const group *g)
{
	put_safe(b, g->f[K_SSLMODE] ? g->f[K_SSLMODE] : "?");
	if (g->f[K_FORCED_FROM] != NULL)
	{
		buf_puts(b, " (enforced; asked ");
		put_safe(b, g->f[K_FORCED_FROM][0] ? g->f[K_FORCED_FROM] : "default");
		buf_putc(b, ')');
	}
	else if (g->f[K_SSLMODE_SOURCE] != NULL)
	{
		buf_puts(b, " (");
		put_safe(b, g->f[K_SSLMODE_SOURCE]);
		buf_putc(b, ')');
	}
}

static bool
root_missing(const group *g)
{
	return g->f[K_ROOTCERT_EXISTS] != NULL && strcmp(g->f[K_ROOTCERT_EXISTS], "false") == 0;
}

static void
put_outcomes(pqtls_buf *b, const group *g)
{
	const char *sep = "";
	long		other = g->count - g->ok - g->failed - g->abandoned;

	if (g->ok)
	{
		buf_printf(b, "%ld ok", g->ok);
		sep = ", ";
	}
	if (g->failed)
	{
		buf_printf(b, "%s%ld failed", sep, g->failed);
		sep = ", ";
	}
	if (g->abandoned)
	{
		buf_printf(b, "%s%ld abandoned", sep, g->abandoned);
		sep = ", ";
	}
	if (other > 0)
		buf_printf(b, "%s%ld other", sep, other);
}

/* The protocols seen, separated by sep; "none" for records without TLS. */
static void
put_protocols(pqtls_buf *b, const group *g, const char *sep)
{
	const char *s = "";

	for (size_t i = 0; i < N_PROTOCOLS; i++)
		if (g->protocols & (1u << i))
		{
			buf_printf(b, "%s%s", s, protocol_names[i]);
			s = sep;
		}
	if (g->protocol_other)
	{
		buf_puts(b, s);
		put_safe(b, g->protocol_other);
		s = sep;
	}
	if (g->no_tls > 0)
		buf_printf(b, "%snone", s);
}

static const char *
dry_result_name(const group *g)
{
	return g->dry_rank == DRY_NONE ? NULL : g->dry_rank == DRY_PASS ? "pass" : "fail";
}

static const char *
rot_name(const group *g)
{
	return g->rot_worst == ROT_NONE ? NULL : rotation_names[g->rot_worst];
}

/* ------------------------------------------------------------- colours */

#define C_RED "\033[31m"
#define C_YELLOW "\033[33m"
#define C_GREEN "\033[32m"
#define C_BOLD "\033[1m"
#define C_RESET "\033[0m"

static const char *
status_colour(int st)
{
	switch (st)
	{
		case ST_BREAKS:
			return C_RED;
		case ST_DOWNGRADES:
			return C_YELLOW;
		case ST_OK:
			return C_GREEN;
	}
	return NULL;
}

/* ---------------------------------------------------------------- table */

enum column
{
	COL_NUM,
	COL_STATUS,
	COL_COUNT,
	COL_PROGRAM,
	COL_ENDPOINT,
	COL_USER,
	COL_SSLMODE,
	COL_ROOT,
	COL_VERIFY,
	COL_OUTCOMES,
	COL_TLS,
	COL_DRY_RUN,
	COL_ROTATION,
	N_COLUMNS
};

static const struct
{
	const char *title;
	bool		right;
	size_t		max;			/* longer cells are shortened (0: never) */
}			columns[N_COLUMNS] = {
	{"#", true, 0},
	{"STATUS", false, 0},
	{"COUNT", true, 0},
	{"PROGRAM", false, 32},
	{"ENDPOINT", false, 40},
	{"USER", false, 24},
	{"SSLMODE", false, 0},
	{"ROOT FILE", false, 44},
	{"VERIFY", false, 0},
	{"OUTCOMES", false, 0},
	{"TLS", false, 0},
	{"DRY-RUN", false, 0},
	{"AFTER ROTATION", false, 0},
};

static void
table_cells(const group *g, size_t row, char **cell)
{
	pqtls_buf	b;

	buf_init(&b);
#define NEXT(col) do { buf_append(&b, "", 0); cell[col] = buf_take(&b); } while (0)
	buf_printf(&b, "%zu", row + 1);
	NEXT(COL_NUM);
	buf_puts(&b, g->status == ST_OBSERVED ? "-" : status_names[g->status]);
	NEXT(COL_STATUS);
	buf_printf(&b, "%ld", g->count);
	NEXT(COL_COUNT);
	cell[COL_PROGRAM] = shorten_path(safe_dup(g->f[K_EXE]), columns[COL_PROGRAM].max);
	put_endpoint(&b, g);
	NEXT(COL_ENDPOINT);
	cell[COL_ENDPOINT] = shorten_path(cell[COL_ENDPOINT], columns[COL_ENDPOINT].max);
	put_safe(&b, g->f[K_USER] ? g->f[K_USER] : "-");
	NEXT(COL_USER);
	cell[COL_USER] = shorten_path(cell[COL_USER], columns[COL_USER].max);
	put_sslmode(&b, g);
	NEXT(COL_SSLMODE);
	if (g->f[K_ROOTCERT_FILE] != NULL)
	{
		char	   *p = shorten_path(safe_dup(g->f[K_ROOTCERT_FILE]), columns[COL_ROOT].max);

		buf_puts(&b, p);
		free(p);
		if (root_missing(g))
			buf_puts(&b, " (missing)");
	}
	else
		buf_putc(&b, '-');
	NEXT(COL_ROOT);
	put_safe(&b, g->f[K_VERIFY] ? g->f[K_VERIFY] : "-");
	NEXT(COL_VERIFY);
	put_outcomes(&b, g);
	NEXT(COL_OUTCOMES);
	put_protocols(&b, g, ",");
	if (b.len == 0)
		buf_putc(&b, '-');
	NEXT(COL_TLS);
	if (g->dry_rank == DRY_NONE)
		buf_putc(&b, '-');
	else
	{
		buf_puts(&b, dry_result_name(g));
		if (g->dry_rank != DRY_PASS && g->dry_reason)
		{
			buf_puts(&b, ": ");
			put_safe(&b, g->dry_reason);
		}
		if (g->dry_pass > 0 && g->dry_fail > 0)
			buf_printf(&b, " (%ld of %ld)", g->dry_fail, g->dry_fail + g->dry_pass);
	}
	NEXT(COL_DRY_RUN);
	buf_puts(&b, rot_name(g) ? rot_name(g) : "-");
	NEXT(COL_ROTATION);
#undef NEXT
}

static void
pad(FILE *out, size_t n)
{
	while (n-- > 0)
		fputc(' ', out);
}

static void
print_cell(FILE *out, const char *text, size_t width, bool right, bool last, const char *colour)
{
	size_t		w = text_width(text);

	if (right)
		pad(out, width - w);
	if (colour)
		fprintf(out, "%s%s%s", colour, text, C_RESET);
	else
		fputs(text, out);
	if (!right && !last)
		pad(out, width - w);
}

static void
print_table(report *r, FILE *out, bool color)
{
	size_t		n;
	group	  **v = sorted_groups(r, &n);
	char	  **cells = xcalloc(n * N_COLUMNS + 1, sizeof(char *));
	size_t		width[N_COLUMNS];
	long		breaking = 0,
				downgrading = 0;

	if (n == 0)
	{
		fprintf(out, "no records");
		if (r->malformed > 0)
			fprintf(out, " (%ld malformed line%s)", r->malformed, r->malformed == 1 ? "" : "s");
		fputc('\n', out);
		free(cells);
		free(v);
		return;
	}
	for (int c = 0; c < N_COLUMNS; c++)
		width[c] = strlen(columns[c].title);
	for (size_t i = 0; i < n; i++)
	{
		table_cells(v[i], i, cells + i * N_COLUMNS);
		for (int c = 0; c < N_COLUMNS; c++)
		{
			size_t		w = text_width(cells[i * N_COLUMNS + c]);

			if (w > width[c])
				width[c] = w;
		}
		if (v[i]->status == ST_BREAKS)
			breaking++;
		else if (v[i]->status == ST_DOWNGRADES)
			downgrading++;
	}

	for (int c = 0; c < N_COLUMNS; c++)
	{
		if (c > 0)
			fputs("  ", out);
		print_cell(out, columns[c].title, width[c], columns[c].right, c == N_COLUMNS - 1,
				   color ? C_BOLD : NULL);
	}
	fputc('\n', out);
	for (size_t i = 0; i < n; i++)
	{
		for (int c = 0; c < N_COLUMNS; c++)
		{
			const char *colour = NULL;

			if (c > 0)
				fputs("  ", out);
			if (color && c == COL_STATUS)
				colour = status_colour(v[i]->status);
			print_cell(out, cells[i * N_COLUMNS + c], width[c], columns[c].right,
					   c == N_COLUMNS - 1, colour);
		}
		fputc('\n', out);
	}

	/* What a person must act on, in full. */
	if (breaking + downgrading > 0)
	{
		fputc('\n', out);
		for (size_t i = 0; i < n; i++)
		{
			const group *g = v[i];
			pqtls_buf	b;
			const char *colour = color ? status_colour(g->status) : NULL;
			char	   *line;

			if (g->status != ST_BREAKS && g->status != ST_DOWNGRADES)
				continue;
			buf_init(&b);
			buf_append(&b, "", 0);
			put_safe(&b, g->f[K_EXE] ? g->f[K_EXE] : "?");
			buf_puts(&b, " -> ");
			put_endpoint(&b, g);
			if (g->f[K_USER])
			{
				buf_puts(&b, " as ");
				put_safe(&b, g->f[K_USER]);
			}
			line = buf_take(&b);
			fprintf(out, "#%zu %s%s%s: %s\n", i + 1, colour ? colour : "",
					status_names[g->status], colour ? C_RESET : "", line);
			free(line);
			if (g->rot_worst >= ROT_DOWNGRADES)
			{
				buf_append(&b, "", 0);
				put_safe(&b, g->rot_detail ? g->rot_detail : "(no detail)");
				line = buf_take(&b);
				fprintf(out, "    after rotation %s: %s\n", rotation_names[g->rot_worst], line);
				free(line);
			}
			if (g->dry_rank >= DRY_FAIL_INCONCLUSIVE)
			{
				buf_append(&b, "", 0);
				put_safe(&b, g->dry_detail ? g->dry_detail : "(no detail)");
				line = buf_take(&b);
				fprintf(out, "    dry-run fail");
				if (g->dry_reason)
				{
					char	   *reason = safe_dup(g->dry_reason);

					fprintf(out, " (%s)", reason);
					free(reason);
				}
				fprintf(out, ": %s\n", line);
				free(line);
			}
			if (g->failed > 0 && g->error != NULL)
			{
				line = safe_dup(g->error);
				fprintf(out, "    error: %s\n", line);
				free(line);
			}
		}
	}

	fprintf(out, "\n%ld record%s in %zu group%s", r->records, r->records == 1 ? "" : "s",
			n, n == 1 ? "" : "s");
	if (breaking > 0)
		fprintf(out, "; %s%ld would break%s", color ? C_RED : "", breaking, color ? C_RESET : "");
	if (downgrading > 0)
		fprintf(out, "; %s%ld would downgrade%s", color ? C_YELLOW : "", downgrading,
				color ? C_RESET : "");
	if (breaking + downgrading == 0)
		fprintf(out, "; nothing would break");
	if (r->malformed > 0)
		fprintf(out, "; %ld malformed line%s skipped", r->malformed, r->malformed == 1 ? "" : "s");
	fputc('\n', out);

	for (size_t i = 0; i < n * N_COLUMNS; i++)
		free(cells[i]);
	free(cells);
	free(v);
}

/* ----------------------------------------------------------------- JSON */

static void
json_group(json_writer *w, const group *g)
{
	json_begin_object(w);
	json_kv_string(w, "status", status_names[g->status]);
	json_kv_bool(w, "would_break", g->status == ST_BREAKS);
	json_kv_string(w, "exe", g->f[K_EXE]);
	json_kv_string(w, "host", g->f[K_HOST]);
	json_kv_string(w, "port", g->f[K_PORT]);
	json_kv_string(w, "user", g->f[K_USER]);
	json_kv_string(w, "dbname", g->dbname);
	json_kv_bool(w, "dbname_varies", g->dbname_varies);
	json_kv_string(w, "transport", g->f[K_TRANSPORT]);
	json_kv_string(w, "sslmode", g->f[K_SSLMODE]);
	json_kv_string(w, "sslmode_source", g->f[K_SSLMODE_SOURCE]);
	json_kv_string(w, "sslrootcert_source", g->f[K_SSLROOTCERT_SOURCE]);
	json_kv_string(w, "rootcert_file", g->f[K_ROOTCERT_FILE]);
	json_key(w, "rootcert_exists");
	if (g->f[K_ROOTCERT_EXISTS] == NULL)
		json_null(w);
	else
		json_bool(w, strcmp(g->f[K_ROOTCERT_EXISTS], "true") == 0);
	json_kv_string(w, "verify", g->f[K_VERIFY]);
	json_key(w, "forced_from_sslmode");
	if (g->f[K_FORCED_FROM] == NULL)
		json_null(w);
	else
		json_string(w, g->f[K_FORCED_FROM][0] ? g->f[K_FORCED_FROM] : "default");

	json_kv_int(w, "count", g->count);
	json_key(w, "outcomes");
	json_begin_object(w);
	json_kv_int(w, "ok", g->ok);
	json_kv_int(w, "failed", g->failed);
	json_kv_int(w, "abandoned", g->abandoned);
	json_end_object(w);
	json_kv_int(w, "processes", g->npids);
	json_kv_bool(w, "processes_exact", !g->pids_more);
	json_kv_string(w, "first_ts", g->first_ts[0] ? g->first_ts : NULL);
	json_kv_string(w, "last_ts", g->last_ts[0] ? g->last_ts : NULL);
	json_key(w, "modes");
	json_begin_array(w);
	for (size_t i = 0; i < N_MODES; i++)
		if (g->modes & (1u << i))
			json_string(w, mode_names[i]);
	json_end_array(w);
	json_key(w, "tls_protocols");
	json_begin_array(w);
	for (size_t i = 0; i < N_PROTOCOLS; i++)
		if (g->protocols & (1u << i))
			json_string(w, protocol_names[i]);
	if (g->protocol_other)
		json_string(w, g->protocol_other);
	json_end_array(w);
	json_kv_int(w, "no_tls", g->no_tls);
	json_kv_string(w, "issuer", g->issuer);
	json_kv_bool(w, "issuer_varies", g->issuer_varies);
	json_kv_string(w, "error", g->error);

	json_key(w, "dry_run");
	if (g->dry_rank == DRY_NONE)
		json_null(w);
	else
	{
		json_begin_object(w);
		json_kv_string(w, "result", dry_result_name(g));
		json_kv_string(w, "reason", g->dry_reason);
		json_kv_string(w, "detail", g->dry_detail);
		json_kv_int(w, "pass", g->dry_pass);
		json_kv_int(w, "fail", g->dry_fail);
		json_end_object(w);
	}
	json_key(w, "after_rotation");
	if (g->rot_worst == ROT_NONE)
		json_null(w);
	else
	{
		json_begin_object(w);
		json_kv_string(w, "result", rot_name(g));
		json_kv_string(w, "detail", g->rot_detail);
		for (int k = 0; k < ROT_KINDS; k++)
			json_kv_int(w, rotation_names[k], g->rot[k]);
		json_end_object(w);
	}
	json_end_object(w);
}

static void
flush_buf(pqtls_buf *b, FILE *out)
{
	if (b->oom)
		report_out_of_memory();
	if (b->len > 0)
		fwrite(b->data, 1, b->len, out);
	buf_reset(b);
}

static void
print_json(report *r, FILE *out)
{
	size_t		n;
	group	  **v = sorted_groups(r, &n);
	pqtls_buf	b;
	json_writer w;

	buf_init(&b);
	json_init(&w, &b);
	json_begin_object(&w);
	json_kv_int(&w, "records", r->records);
	json_kv_int(&w, "malformed", r->malformed);
	json_kv_bool(&w, "would_break", report_would_break(r));
	json_key(&w, "groups");
	json_begin_array(&w);
	for (size_t i = 0; i < n; i++)
	{
		json_group(&w, v[i]);
		if (b.len > 65536)
			flush_buf(&b, out);
	}
	json_end_array(&w);
	json_end_object(&w);
	buf_putc(&b, '\n');
	flush_buf(&b, out);
	buf_free(&b);
	free(v);
}

/* ------------------------------------------------------------------ CSV */

static void
csv_field(pqtls_buf *b, const char *s, bool first)
{
	if (!first)
		buf_putc(b, ',');
	if (s == NULL)
		return;
	if (strpbrk(s, "\",\r\n") == NULL)
	{
		buf_puts(b, s);
		return;
	}
	buf_putc(b, '"');
	for (const char *p = s; *p; p++)
	{
		if (*p == '"')
			buf_putc(b, '"');
		buf_putc(b, *p);
	}
	buf_putc(b, '"');
}

static void
csv_long(pqtls_buf *b, long v)
{
	buf_printf(b, ",%ld", v);
}

static const char *const csv_header[] = {
	"status", "would_break", "count", "ok", "failed", "abandoned", "processes",
	"exe", "host", "port", "user", "dbname", "transport", "sslmode", "sslmode_source",
	"sslrootcert_source", "rootcert_file", "rootcert_exists", "verify", "forced_from_sslmode",
	"tls_protocols", "no_tls", "issuer",
	"dry_run_result", "dry_run_reason", "dry_run_detail", "dry_run_pass", "dry_run_fail",
	"after_rotation", "after_rotation_detail", "after_rotation_unaffected",
	"after_rotation_ready", "after_rotation_downgrades", "after_rotation_breaks",
	"first_ts", "last_ts", "modes", "error",
};

static void
print_csv(report *r, FILE *out)
{
	size_t		n;
	group	  **v = sorted_groups(r, &n);
	pqtls_buf	b,
				t;

	buf_init(&b);
	buf_init(&t);
	for (size_t i = 0; i < sizeof(csv_header) / sizeof(csv_header[0]); i++)
		csv_field(&b, csv_header[i], i == 0);
	buf_puts(&b, "\r\n");
	for (size_t i = 0; i < n; i++)
	{
		const group *g = v[i];

		csv_field(&b, status_names[g->status], true);
		csv_field(&b, g->status == ST_BREAKS ? "true" : "false", false);
		csv_long(&b, g->count);
		csv_long(&b, g->ok);
		csv_long(&b, g->failed);
		csv_long(&b, g->abandoned);
		csv_long(&b, (long) g->npids);
		csv_field(&b, g->f[K_EXE], false);
		csv_field(&b, g->f[K_HOST], false);
		csv_field(&b, g->f[K_PORT], false);
		csv_field(&b, g->f[K_USER], false);
		csv_field(&b, g->dbname, false);
		csv_field(&b, g->f[K_TRANSPORT], false);
		csv_field(&b, g->f[K_SSLMODE], false);
		csv_field(&b, g->f[K_SSLMODE_SOURCE], false);
		csv_field(&b, g->f[K_SSLROOTCERT_SOURCE], false);
		csv_field(&b, g->f[K_ROOTCERT_FILE], false);
		csv_field(&b, g->f[K_ROOTCERT_EXISTS], false);
		csv_field(&b, g->f[K_VERIFY], false);
		csv_field(&b, g->f[K_FORCED_FROM] == NULL ? NULL :
				  g->f[K_FORCED_FROM][0] ? g->f[K_FORCED_FROM] : "default", false);
		buf_reset(&t);
		buf_append(&t, "", 0);
		for (size_t k = 0; k < N_PROTOCOLS; k++)
			if (g->protocols & (1u << k))
				buf_printf(&t, "%s%s", t.len ? " " : "", protocol_names[k]);
		if (g->protocol_other)
			buf_printf(&t, "%s%s", t.len ? " " : "", g->protocol_other);
		csv_field(&b, t.data, false);
		csv_long(&b, g->no_tls);
		csv_field(&b, g->issuer, false);
		csv_field(&b, dry_result_name(g), false);
		csv_field(&b, g->dry_reason, false);
		csv_field(&b, g->dry_detail, false);
		csv_long(&b, g->dry_pass);
		csv_long(&b, g->dry_fail);
		csv_field(&b, rot_name(g), false);
		csv_field(&b, g->rot_detail, false);
		for (int k = 0; k < ROT_KINDS; k++)
			csv_long(&b, g->rot[k]);
		csv_field(&b, g->first_ts[0] ? g->first_ts : NULL, false);
		csv_field(&b, g->last_ts[0] ? g->last_ts : NULL, false);
		buf_reset(&t);
		buf_append(&t, "", 0);
		for (size_t k = 0; k < N_MODES; k++)
			if (g->modes & (1u << k))
				buf_printf(&t, "%s%s", t.len ? " " : "", mode_names[k]);
		csv_field(&b, t.data, false);
		csv_field(&b, g->error, false);
		buf_puts(&b, "\r\n");
		if (b.len > 65536)
			flush_buf(&b, out);
	}
	flush_buf(&b, out);
	buf_free(&b);
	buf_free(&t);
	free(v);
}

/* -------------------------------------------------------------- summary */

static void
print_summary(report *r, FILE *out, bool color)
{
	size_t		n;
	group	  **v = sorted_groups(r, &n);
	pqtls_buf	b;

	buf_init(&b);
	for (size_t i = 0; i < n; i++)
	{
		const group *g = v[i];
		const char *colour;

		buf_reset(&b);
		buf_puts(&b, "pqtls: ");
		put_safe(&b, base_name(g->f[K_EXE]));
		buf_puts(&b, " -> ");
		put_endpoint(&b, g);
		buf_puts(&b, ": sslmode=");
		put_sslmode(&b, g);
		buf_puts(&b, ", root file ");
		if (g->f[K_ROOTCERT_FILE])
		{
			put_safe(&b, g->f[K_ROOTCERT_FILE]);
			if (root_missing(g))
				buf_puts(&b, " (missing)");
		}
		else
			buf_puts(&b, "none");
		buf_puts(&b, ", verify ");
		put_safe(&b, g->f[K_VERIFY] ? g->f[K_VERIFY] : "?");
		buf_puts(&b, ": ");
		if (g->count == 1 && g->ok + g->failed + g->abandoned == 1)
			buf_puts(&b, g->ok ? "ok" : g->failed ? "failed" : "abandoned");
		else
			put_outcomes(&b, g);
		if (g->dry_rank != DRY_NONE)
		{
			colour = color ? (g->dry_rank == DRY_PASS ? C_GREEN : C_RED) : NULL;
			buf_printf(&b, "; dry-run %s%s%s", colour ? colour : "", dry_result_name(g),
					   colour ? C_RESET : "");
			if (g->dry_reason && g->dry_rank != DRY_PASS)
			{
				buf_puts(&b, " (");
				put_safe(&b, g->dry_reason);
				buf_putc(&b, ')');
			}
			if (g->dry_detail)
			{
				buf_puts(&b, ": ");
				put_safe(&b, g->dry_detail);
			}
		}
		if (g->rot_worst != ROT_NONE)
		{
			colour = color ? (g->rot_worst == ROT_BREAKS ? C_RED :
							  g->rot_worst == ROT_DOWNGRADES ? C_YELLOW : C_GREEN) : NULL;
			buf_printf(&b, "; after rotation %s%s%s", colour ? colour : "",
					   rotation_names[g->rot_worst], colour ? C_RESET : "");
			if (g->rot_detail)
			{
				buf_puts(&b, ": ");
				put_safe(&b, g->rot_detail);
			}
		}
		buf_putc(&b, '\n');
		flush_buf(&b, out);
	}
	buf_free(&b);
	free(v);
}

void
report_print(report *r, FILE *out, report_format fmt, bool color)
{
	switch (fmt)
	{
		case REPORT_TABLE:
			print_table(r, out, color);
			break;
		case REPORT_JSON:
			print_json(r, out);
			break;
		case REPORT_CSV:
			print_csv(r, out);
			break;
		case REPORT_SUMMARY:
			print_summary(r, out, color);
			break;
	}
}
