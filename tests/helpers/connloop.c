/*
 * connloop: many libpq connections, one after the other, in one process; prints
 * how much memory the process holds along the way. The integration tests
 * (tests/integration/test_stress.py) run it under libpqtls.so: the interposer
 * must cost nothing per connection that it keeps.
 *
 *   connloop [--sample-every N] COUNT:CONNINFO [COUNT:CONNINFO...]
 *
 * The targets are interleaved in proportion to their counts (2000 TLS ones among
 * 8000 others come one in five, from the first to the last), and the entry points
 * rotate: PQconnectdb, PQconnectdbParams, PQconnectStart driven by PQconnectPoll,
 * PQping, and PQconnectStart closed at once with PQfinish (abandoned). Every
 * connection is closed with PQfinish.
 *
 * Output, one line each:
 *
 *   sample n=N rss_kb=K heap_in_use=B heap_total=B   after every N-th connection
 *   fail n=N api=... error=...                       a connection that failed
 *   done attempts=N ok=N failed=N abandoned=N PQconnectdb=N ... PQping=N
 *
 * rss_kb is VmRSS of /proc/self/status; heap_in_use is what malloc has handed out
 * and not had back (mallinfo2: uordblks + hblkhd), heap_total what it holds from
 * the system (arena + hblkhd); built with ASan, the same two as its allocator
 * counts them. Exit status 0 when every connection that was not
 * abandoned succeeded, 1 otherwise, 2 on usage errors.
 */
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attempt.h"

/* The four entry points of attempt.h, then PQconnectStart closed at once. */
#define K_ABANDON ATTEMPT_KINDS
#define K_COUNT (ATTEMPT_KINDS + 1)

static const char *
kind_name(int k)
{
	return k == K_ABANDON ? "abandoned" : attempt_name[k];
}

typedef struct target
{
	const char *conninfo;
	long		count;
	long		done;
} target;

static long ok,
			failed,
			abandoned,
			by_kind[K_COUNT];

static long
rss_kb(void)
{
	FILE	   *f = fopen("/proc/self/status", "r");
	char		line[256];
	long		kb = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
		{
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

#ifdef __SANITIZE_ADDRESS__
/*
 * Under ASan (make asan) malloc is the sanitizer's allocator, and glibc's
 * mallinfo2() sees none of it (zeros): ask the allocator itself (declared in
 * clang's sanitizer/allocator_interface.h, which gcc 12 does not ship).
 */
extern size_t __sanitizer_get_current_allocated_bytes(void);
extern size_t __sanitizer_get_heap_size(void);
#endif

static void
sample(long n)
{
#ifdef __SANITIZE_ADDRESS__
	size_t		in_use = __sanitizer_get_current_allocated_bytes(),
				total = __sanitizer_get_heap_size();
#else
	struct mallinfo2 mi = mallinfo2();
	size_t		in_use = mi.uordblks + mi.hblkhd,
				total = mi.arena + mi.hblkhd;
#endif

	printf("sample n=%ld rss_kb=%ld heap_in_use=%zu heap_total=%zu\n", n, rss_kb(),
		   in_use, total);
	fflush(stdout);
}

static void
one(long n, int k, const char *info)
{
	char		why[ATTEMPT_WHY_LEN];

	by_kind[k]++;
	if (k == K_ABANDON)
	{
		PQfinish(PQconnectStart(info));
		abandoned++;
	}
	else if (attempt_run((enum attempt_kind) k, info, why))
		ok++;
	else
	{
		printf("fail n=%ld api=%s error=%s\n", n, kind_name(k), why);
		failed++;
	}
}

int
main(int argc, char **argv)
{
	target	   *targets = calloc((size_t) argc, sizeof(*targets));
	int			n_targets = 0;
	long		every = 1000,
				total = 0;

	if (targets == NULL)
		return 2;
	for (int i = 1; i < argc; i++)
	{
		char	   *colon,
				   *end;

		if (strcmp(argv[i], "--sample-every") == 0 && i + 1 < argc)
		{
			every = strtol(argv[++i], &end, 10);
			if (*end != '\0' || every <= 0)
			{
				fprintf(stderr, "connloop: bad --sample-every\n");
				return 2;
			}
			continue;
		}
		colon = strchr(argv[i], ':');
		if (colon == NULL)
		{
			fprintf(stderr, "usage: connloop [--sample-every N] COUNT:CONNINFO...\n");
			return 2;
		}
		targets[n_targets].count = strtol(argv[i], &end, 10);
		if (end != colon || targets[n_targets].count < 0)
		{
			fprintf(stderr, "connloop: bad count in %s\n", argv[i]);
			return 2;
		}
		targets[n_targets].conninfo = colon + 1;
		total += targets[n_targets].count;
		n_targets++;
	}
	if (n_targets == 0)
	{
		fprintf(stderr, "usage: connloop [--sample-every N] COUNT:CONNINFO...\n");
		return 2;
	}

	for (long n = 1; n <= total; n++)
	{
		target	   *t = NULL;

		/* The target furthest behind its share. */
		for (int i = 0; i < n_targets; i++)
		{
			target	   *c = &targets[i];

			if (c->done >= c->count)
				continue;
			if (t == NULL || (double) c->done / c->count < (double) t->done / t->count)
				t = c;
		}
		one(n, (int) ((n - 1) % K_COUNT), t->conninfo);
		t->done++;
		if (n % every == 0 || n == total)
			sample(n);
	}
	printf("done attempts=%ld ok=%ld failed=%ld abandoned=%ld", total, ok, failed, abandoned);
	for (int k = 0; k < K_COUNT; k++)
		printf(" %s=%ld", kind_name(k), by_kind[k]);
	printf("\n");
	free(targets);
	return failed == 0 ? 0 : 1;
}
