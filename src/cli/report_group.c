/*
 * report_group.c: the groups of `pqtls report` (report_group.h): an
 * open-addressing index by key, what one record adds to its group, and the
 * order groups are listed in.  Each group copies only what it keeps, and only
 * when that changes, so memory follows the number of groups, not of records.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pqtls/report.h"
#include "pqtls/report_group.h"

static uint32_t key_hash(const void *key, size_t n);

const char *const report_rotation_names[ROT_KINDS] = {"unaffected", "ready", "downgrades", "breaks"};
const char *const report_verdict_names[V_KINDS] = {"breaks", "downgrades", "ready", "unaffected", "passes", "unjudged"};
const char *const report_status_names[] = {"breaks", "downgrades", "ok", "observed"};
const char *const report_mode_names[REPORT_N_MODES] = {"observe", "dry-run", "enforce"};
const char *const report_protocol_names[REPORT_N_PROTOCOLS] = {"SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};

/* ---------------------------------------------------------------- memory */

void
report_out_of_memory(void)
{
	fputs("pqtls: out of memory\n", stderr);
	exit(2);
}

void *
report_xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
		report_out_of_memory();
	return p;
}

void *
report_xcalloc(size_t n, size_t size)
{
	void	   *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		report_out_of_memory();
	return p;
}

static char *
xstrndup(const char *s, size_t n)
{
	char	   *p = report_xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
report_xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
report_slice_dup(report_slice s)
{
	return s.p ? xstrndup(s.p, s.n) : NULL;
}

bool
report_slice_is(report_slice s, const char *lit)
{
	size_t		n = strlen(lit);

	return s.p != NULL && s.n == n && memcmp(s.p, lit, n) == 0;
}

/* Does the kept string equal s (both absent counts as equal)? */
static bool
same_text(const char *kept, report_slice s)
{
	if (kept == NULL || s.p == NULL)
		return kept == NULL && s.p == NULL;
	/* (A string with an escaped NUL compares unequal to its own copy: harmless.) */
	return strnlen(kept, s.n + 1) == s.n && memcmp(kept, s.p, s.n) == 0;
}

void
report_keep_text(char **kept, report_slice s)
{
	if (same_text(*kept, s))
		return;
	free(*kept);
	*kept = report_slice_dup(s);
}

void
report_keep_first(char **kept, bool *varies, report_slice s)
{
	if (s.p == NULL || *varies)
		return;
	if (*kept == NULL)
		*kept = report_slice_dup(s);
	else if (!same_text(*kept, s))
		*varies = true;
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
static uint32_t
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
	return (uint32_t) h;
}

/* Once per process, from the clock, the pid and an address. */
static void
seed_hash(const void *addr)
{
	struct timespec ts;

	if (hash_seed != 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	hash_seed = ((uint64_t) ts.tv_nsec << 20) ^ (uint64_t) ts.tv_sec ^
		((uint64_t) getpid() << 40) ^ (uint64_t) (uintptr_t) addr;
	hash_seed |= 1;
}

/* ------------------------------------------------------------------- key */

/*
 * The key: for each field a byte 0 (null), or 1, its length (4 bytes, host
 * order), its bytes and a NUL, so that a group can use each as a C string.
 * Returns its length; t->key holds it.
 */
static size_t
build_key(report_table *t, const report_slice *key)
{
	size_t		need = 0;
	char	   *p;

	for (int i = 0; i < K_COUNT; i++)
		need += 1 + sizeof(uint32_t) + key[i].n + 1;
	if (need > t->key_cap)
	{
		free(t->key);
		t->key_cap = need > 1024 ? need : 1024;
		t->key = report_xmalloc(t->key_cap);
	}
	p = t->key;
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
	return (size_t) (p - t->key);
}

/* Point g->f[] at the fields inside g->key. */
static void
key_split(report_group *g)
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

/* ----------------------------------------------------------------- table */

/* Twice the slots, every group put back by its hash. */
static void
grow_index(report_table *t)
{
	size_t		n = t->nslot ? t->nslot * 2 : 1024;
	report_group **slot = report_xcalloc(n, sizeof(*slot));
	uint32_t   *hash = report_xcalloc(n, sizeof(*hash));

	for (size_t i = 0; i < t->nslot; i++)
	{
		size_t		k;

		if (t->slot[i] == NULL)
			continue;
		for (k = t->slot_hash[i] & (n - 1); slot[k] != NULL; k = (k + 1) & (n - 1))
			;
		slot[k] = t->slot[i];
		hash[k] = t->slot_hash[i];
	}
	free(t->slot);
	free(t->slot_hash);
	t->slot = slot;
	t->slot_hash = hash;
	t->nslot = n;
}

static report_group *
new_group(report_table *t, size_t keylen)
{
	report_group *g = report_xcalloc(1, sizeof(*g));

	g->key = report_xmalloc(keylen);
	memcpy(g->key, t->key, keylen);
	g->keylen = keylen;
	key_split(g);
	g->rot_worst = ROT_NONE;
	g->last_pid = -1;
	if ((size_t) t->ngroups == t->groups_cap)
	{
		t->groups_cap = t->groups_cap ? t->groups_cap * 2 : 256;
		t->groups = realloc(t->groups, t->groups_cap * sizeof(*t->groups));
		if (t->groups == NULL)
			report_out_of_memory();
	}
	t->groups[t->ngroups++] = g;
	return g;
}

report_group *
report_table_get(report_table *t, const report_slice key[K_COUNT])
{
	size_t		keylen;
	uint32_t	h;
	size_t		k;
	report_group *g;

	seed_hash(t);
	keylen = build_key(t, key);
	h = key_hash(t->key, keylen);
	if (t->nslot == 0)
		grow_index(t);
	for (k = h & (t->nslot - 1); (g = t->slot[k]) != NULL; k = (k + 1) & (t->nslot - 1))
		if (t->slot_hash[k] == h && g->keylen == keylen &&
			memcmp(g->key, t->key, keylen) == 0)
			return g;
	g = new_group(t, keylen);
	t->slot[k] = g;
	t->slot_hash[k] = h;
	if ((size_t) t->ngroups * 2 > t->nslot)
		grow_index(t);
	return g;
}

static void
group_free(report_group *g)
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
report_table_free(report_table *t)
{
	for (long i = 0; i < t->ngroups; i++)
		group_free(t->groups[i]);
	free(t->groups);
	free(t->slot);
	free(t->slot_hash);
	free(t->key);
	memset(t, 0, sizeof(*t));
}

/* ------------------------------------------------------------- one record */

void
report_group_pid(report_group *g, long long pid)
{
	uint32_t	v = (uint32_t) pid;
	unsigned	mask,
				h;

	/* Once past the exact count, no pid can change what is reported. */
	if (pid == g->last_pid || v == 0 || g->pids_more)
		return;
	g->last_pid = pid;
	if (g->pidcap == 0)
	{
		g->pidcap = 16;
		g->pids = report_xcalloc(g->pidcap, sizeof(uint32_t));
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
		uint32_t   *t = report_xcalloc(cap, sizeof(uint32_t));

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

static void
keep_ts(char *dst, report_slice s)
{
	size_t		n = s.n < REPORT_TS_KEEP - 1 ? s.n : REPORT_TS_KEEP - 1;

	memcpy(dst, s.p, n);
	dst[n] = '\0';
}

/* strcmp of a kept (possibly cut) time stamp with s. */
static int
ts_cmp(const char *kept, report_slice s)
{
	size_t		kn = strlen(kept);
	size_t		n = s.n < REPORT_TS_KEEP - 1 ? s.n : REPORT_TS_KEEP - 1;
	int			c = memcmp(kept, s.p, kn < n ? kn : n);

	if (c != 0)
		return c;
	return kn < n ? -1 : kn > n ? 1 : 0;
}

/* First and last ts, compared as text (RFC 3339 UTC as pqtls writes it). */
void
report_group_ts(report_group *g, report_slice s)
{
	if (s.p == NULL)
		return;
	if (g->first_ts[0] == '\0' || ts_cmp(g->first_ts, s) > 0)
		keep_ts(g->first_ts, s);
	if (g->last_ts[0] == '\0' || ts_cmp(g->last_ts, s) < 0)
		keep_ts(g->last_ts, s);
}

const char *
report_dry_result_name(const report_group *g)
{
	return g->dry_rank == DRY_NONE ? NULL : g->dry_rank == DRY_PASS ? "pass" : "fail";
}

const char *
report_rot_name(const report_group *g)
{
	return g->rot_worst == ROT_NONE ? NULL : report_rotation_names[g->rot_worst];
}

/* -------------------------------------------------------------- ordering */

static int
group_status(const report_group *g)
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
	const report_group *a = *(const report_group *const *) pa;
	const report_group *b = *(const report_group *const *) pb;
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

report_group **
report_table_sorted(report_table *t, size_t *n)
{
	report_group **v = report_xmalloc(sizeof(report_group *) * (size_t) (t->ngroups + 1));
	size_t		i = 0;

	for (long k = 0; k < t->ngroups; k++)
	{
		t->groups[k]->status = group_status(t->groups[k]);
		v[i++] = t->groups[k];
	}
	qsort(v, i, sizeof(report_group *), group_cmp);
	*n = i;
	return v;
}
