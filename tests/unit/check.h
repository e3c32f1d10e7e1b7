/*
 * check.h: the unit-test harness of pqtls, small on purpose.
 *
 *   TEST(name) { CHECK(expr); CHECK_STR(got, want); CHECK_INT(got, want); }
 *
 * Each test binary runs every test it holds, or only those named on the command
 * line; `--list` prints the names (pytest collects them one by one). A failed
 * check prints file, line and both values, and the binary exits 1.
 */
#ifndef PQTLS_TESTS_CHECK_H
#define PQTLS_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*check_fn)(void);

struct check_case
{
	const char *name;
	check_fn fn;
	struct check_case *next;
};

static struct check_case *check_cases;
static struct check_case **check_tail = &check_cases;
static int check_failed;

static inline void
check_register(struct check_case *c)
{
	*check_tail = c;
	check_tail = &c->next;
}

#define TEST(name)                                                          \
	static void test_##name(void);                                          \
	static struct check_case case_##name = {#name, test_##name, NULL};      \
	__attribute__((constructor)) static void register_##name(void)         \
	{                                                                       \
		check_register(&case_##name);                                       \
	}                                                                       \
	static void test_##name(void)

#define CHECK(expr)                                                         \
	do {                                                                    \
		if (!(expr)) {                                                      \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__,          \
					__LINE__, #expr);                                       \
			check_failed = 1;                                               \
		}                                                                   \
	} while (0)

#define CHECK_STR(got, want)                                                \
	do {                                                                    \
		const char *g_ = (got), *w_ = (want);                               \
		if ((g_ == NULL) != (w_ == NULL) || (g_ && strcmp(g_, w_) != 0)) {  \
			fprintf(stderr, "%s:%d: %s\n   got: %s%s%s\n  want: %s%s%s\n",  \
					__FILE__, __LINE__, #got, g_ ? "\"" : "",               \
					g_ ? g_ : "NULL", g_ ? "\"" : "", w_ ? "\"" : "",       \
					w_ ? w_ : "NULL", w_ ? "\"" : "");                      \
			check_failed = 1;                                               \
		}                                                                   \
	} while (0)

#define CHECK_INT(got, want)                                                \
	do {                                                                    \
		long long g_ = (long long) (got), w_ = (long long) (want);          \
		if (g_ != w_) {                                                     \
			fprintf(stderr, "%s:%d: %s\n   got: %lld\n  want: %lld\n",      \
					__FILE__, __LINE__, #got, g_, w_);                      \
			check_failed = 1;                                               \
		}                                                                   \
	} while (0)

static inline int
check_run(struct check_case *c)
{
	check_failed = 0;
	c->fn();
	printf("%s %s\n", check_failed ? "FAIL" : "ok", c->name);
	return check_failed;
}

int
main(int argc, char **argv)
{
	int failures = 0;

	if (argc > 1 && strcmp(argv[1], "--list") == 0) {
		for (struct check_case *c = check_cases; c; c = c->next)
			printf("%s\n", c->name);
		return 0;
	}
	for (struct check_case *c = check_cases; c; c = c->next) {
		int wanted = argc <= 1;

		for (int i = 1; i < argc && !wanted; i++)
			wanted = strcmp(argv[i], c->name) == 0;
		if (wanted)
			failures += check_run(c);
	}
	return failures ? 1 : 0;
}

#endif
