/*
 * test_settings.c: the PQTLS_* environment.
 *
 * settings_get() reads the environment once per process, so every case that
 * goes through it runs in a child of its own: the child sets the environment,
 * calls settings_get(), and prints the values on stdout; the parent checks
 * them and the messages the child wrote on stderr.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "pqtls/settings.h"

/* ---- running a case in a child ---- */

typedef struct child_result
{
	char		out[8192];
	char		err[8192];
	int			status;
} child_result;

static void
read_pipes(int outfd, int errfd, child_result *r)
{
	struct pollfd pfd[2] = {{outfd, POLLIN, 0}, {errfd, POLLIN, 0}};
	char	   *buf[2] = {r->out, r->err};
	size_t		len[2] = {0, 0};
	int			open_count = 2;

	while (open_count > 0)
	{
		if (poll(pfd, 2, -1) < 0)
		{
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++)
		{
			ssize_t		n;

			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			n = read(pfd[i].fd, buf[i] + len[i], sizeof(r->out) - 1 - len[i]);
			if (n <= 0)
			{
				close(pfd[i].fd);
				pfd[i].fd = -1;
				open_count--;
				continue;
			}
			len[i] += (size_t) n;
		}
	}
	r->out[len[0]] = '\0';
	r->err[len[1]] = '\0';
}

/* Run fn in a child with stdout and stderr captured. */
static void
run_child(void (*fn) (void), child_result *r)
{
	int			outp[2],
				errp[2];
	pid_t		pid;

	fflush(stdout);
	fflush(stderr);
	if (pipe(outp) != 0 || pipe(errp) != 0)
		abort();
	pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0)
	{
		dup2(outp[1], 1);
		dup2(errp[1], 2);
		close(outp[0]);
		close(outp[1]);
		close(errp[0]);
		close(errp[1]);
		fn();
		_exit(0);
	}
	close(outp[1]);
	close(errp[1]);
	read_pipes(outp[0], errp[0], r);
	waitpid(pid, &r->status, 0);
}

static void
clear_env(void)
{
	unsetenv("PQTLS_MODE");
	unsetenv("PQTLS_BUNDLE");
	unsetenv("PQTLS_NEW_CA");
	unsetenv("PQTLS_LOG");
	unsetenv("PQTLS_PROBE_TIMEOUT_MS");
	unsetenv("PQTLS_CACHE_TTL");
}

/* In the child: print what settings_get() holds, one line. */
static void
print_settings(void)
{
	const pqtls_settings *s = settings_get();

	dprintf(1, "mode=%s bundle=%s new_ca=%s log=%s timeout=%ld ttl=%ld",
			settings_mode_name(s->mode),
			s->bundle ? s->bundle : "(null)",
			s->new_ca ? s->new_ca : "(null)",
			s->log ? s->log : "(null)",
			s->probe_timeout_ms, s->cache_ttl);
}

static int
count_lines(const char *s)
{
	int			n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* ---- parse helpers, in process ---- */

TEST(parse_long_accepts_plain_digits)
{
	long		v = -1;

	CHECK_INT(settings_parse_long("0", 10, &v), 0);
	CHECK_INT(v, 0);
	CHECK_INT(settings_parse_long("007", 10, &v), 0);
	CHECK_INT(v, 7);
	CHECK_INT(settings_parse_long("600000", 600000, &v), 0);
	CHECK_INT(v, 600000);
	CHECK_INT(settings_parse_long("9223372036854775807", LONG_MAX, &v), 0);
	CHECK_INT(v, LONG_MAX);
}

TEST(parse_long_rejects_everything_else)
{
	const char *bad[] = {
		"", "-1", "+1", " 1", "1 ", "0x10", "1e3", "12a", "3.5",
		"600001", "9223372036854775808", "99999999999999999999999999", NULL
	};
	long		v = 42;

	for (int i = 0; bad[i]; i++)
	{
		if (settings_parse_long(bad[i], 600000, &v) == 0)
		{
			fprintf(stderr, "accepted \"%s\"\n", bad[i]);
			CHECK(0);
		}
	}
	CHECK_INT(settings_parse_long(NULL, 10, &v), -1);
	CHECK_INT(settings_parse_long("9223372036854775808", LONG_MAX, &v), -1);
	CHECK_INT(v, 42);			/* untouched on failure */
}

TEST(parse_mode)
{
	enum pqtls_mode m = PQTLS_ENFORCE;

	CHECK_INT(settings_parse_mode("observe", &m), 0);
	CHECK_INT(m, PQTLS_OBSERVE);
	CHECK_INT(settings_parse_mode("dry-run", &m), 0);
	CHECK_INT(m, PQTLS_DRY_RUN);
	CHECK_INT(settings_parse_mode("enforce", &m), 0);
	CHECK_INT(m, PQTLS_ENFORCE);
	CHECK_INT(settings_parse_mode("enforcce", &m), -1);
	CHECK_INT(settings_parse_mode("Observe", &m), -1);
	CHECK_INT(settings_parse_mode("dry_run", &m), -1);
	CHECK_INT(settings_parse_mode("", &m), -1);
	CHECK_INT(settings_parse_mode(NULL, &m), -1);
	CHECK_INT(m, PQTLS_ENFORCE);
}

TEST(mode_names_round_trip)
{
	enum pqtls_mode all[] = {PQTLS_OBSERVE, PQTLS_DRY_RUN, PQTLS_ENFORCE};

	for (int i = 0; i < 3; i++)
	{
		enum pqtls_mode m;

		CHECK_INT(settings_parse_mode(settings_mode_name(all[i]), &m), 0);
		CHECK_INT(m, all[i]);
	}
}

/* ---- settings_get(), one child per case ---- */

static void
child_defaults(void)
{
	clear_env();
	print_settings();
}

TEST(defaults_when_unset)
{
	child_result r;

	run_child(child_defaults, &r);
	CHECK_STR(r.out, "mode=observe bundle=(null) new_ca=(null) log=stderr timeout=3000 ttl=300");
	CHECK_STR(r.err, "");
}

static void
child_empty(void)
{
	clear_env();
	setenv("PQTLS_MODE", "", 1);
	setenv("PQTLS_BUNDLE", "", 1);
	setenv("PQTLS_NEW_CA", "", 1);
	setenv("PQTLS_LOG", "", 1);
	setenv("PQTLS_PROBE_TIMEOUT_MS", "", 1);
	setenv("PQTLS_CACHE_TTL", "", 1);
	print_settings();
}

TEST(empty_counts_as_unset)
{
	child_result r;

	run_child(child_empty, &r);
	CHECK_STR(r.out, "mode=observe bundle=(null) new_ca=(null) log=stderr timeout=3000 ttl=300");
	CHECK_STR(r.err, "");
}

static void
child_all_valid(void)
{
	clear_env();
	setenv("PQTLS_MODE", "dry-run", 1);
	setenv("PQTLS_BUNDLE", "/etc/ssl/new-bundle.pem", 1);
	setenv("PQTLS_NEW_CA", "/etc/ssl/new-ca.pem", 1);
	setenv("PQTLS_LOG", "/var/log/pqtls/%e-%p.jsonl", 1);
	setenv("PQTLS_PROBE_TIMEOUT_MS", "1500", 1);
	setenv("PQTLS_CACHE_TTL", "0", 1);
	print_settings();
}

TEST(all_valid_values)
{
	child_result r;

	run_child(child_all_valid, &r);
	CHECK_STR(r.out, "mode=dry-run bundle=/etc/ssl/new-bundle.pem new_ca=/etc/ssl/new-ca.pem "
			  "log=/var/log/pqtls/%e-%p.jsonl timeout=1500 ttl=0");
	CHECK_STR(r.err, "");
}

static void
child_enforce_limits(void)
{
	clear_env();
	setenv("PQTLS_MODE", "enforce", 1);
	setenv("PQTLS_PROBE_TIMEOUT_MS", "600000", 1);
	setenv("PQTLS_CACHE_TTL", "86400", 1);
	print_settings();
}

TEST(limits_are_inclusive)
{
	child_result r;

	run_child(child_enforce_limits, &r);
	CHECK_STR(r.out, "mode=enforce bundle=(null) new_ca=(null) log=stderr timeout=600000 ttl=86400");
	CHECK_STR(r.err, "");
}

static void
child_bad_mode(void)
{
	clear_env();
	setenv("PQTLS_MODE", "enforcce", 1);
	print_settings();
}

TEST(bad_mode_says_so_and_observes)
{
	child_result r;

	run_child(child_bad_mode, &r);
	CHECK_STR(r.out, "mode=observe bundle=(null) new_ca=(null) log=stderr timeout=3000 ttl=300");
	CHECK_STR(r.err, "pqtls: PQTLS_MODE=\"enforcce\" is not observe, dry-run or enforce; using observe\n");
}

static const char *bad_timeout;

static void
child_bad_timeout(void)
{
	clear_env();
	setenv("PQTLS_PROBE_TIMEOUT_MS", bad_timeout, 1);
	dprintf(1, "%ld", settings_get()->probe_timeout_ms);
}

TEST(bad_timeouts)
{
	const char *cases[] = {"0", "600001", "abc", "-5", "+5", " 5", "3s",
	"99999999999999999999999", NULL};

	for (int i = 0; cases[i]; i++)
	{
		child_result r;
		char		want[256];

		bad_timeout = cases[i];
		run_child(child_bad_timeout, &r);
		snprintf(want, sizeof(want),
				 "pqtls: PQTLS_PROBE_TIMEOUT_MS=\"%s\" is not a whole number of "
				 "milliseconds from 1 to 600000; using 3000\n", cases[i]);
		CHECK_STR(r.out, "3000");
		CHECK_STR(r.err, want);
	}
}

static const char *bad_ttl;

static void
child_bad_ttl(void)
{
	clear_env();
	setenv("PQTLS_CACHE_TTL", bad_ttl, 1);
	dprintf(1, "%ld", settings_get()->cache_ttl);
}

TEST(bad_ttls)
{
	const char *cases[] = {"86401", "-1", "5m", "1.5", NULL};

	for (int i = 0; cases[i]; i++)
	{
		child_result r;
		char		want[256];

		bad_ttl = cases[i];
		run_child(child_bad_ttl, &r);
		snprintf(want, sizeof(want),
				 "pqtls: PQTLS_CACHE_TTL=\"%s\" is not a whole number of "
				 "seconds from 0 to 86400; using 300\n", cases[i]);
		CHECK_STR(r.out, "300");
		CHECK_STR(r.err, want);
	}
}

static void
child_several_bad(void)
{
	clear_env();
	setenv("PQTLS_MODE", "loud", 1);
	setenv("PQTLS_PROBE_TIMEOUT_MS", "0", 1);
	setenv("PQTLS_CACHE_TTL", "forever", 1);
	setenv("PQTLS_BUNDLE", "/nonexistent/bundle.pem", 1);	/* not checked here */
	setenv("PQTLS_LOG", "/nonexistent/dir/%p.log", 1);	/* nor this */
	print_settings();
	/* later calls say nothing more */
	settings_get();
	settings_get();
}

TEST(one_message_per_bad_variable_once)
{
	child_result r;

	run_child(child_several_bad, &r);
	CHECK_STR(r.out, "mode=observe bundle=/nonexistent/bundle.pem new_ca=(null) "
			  "log=/nonexistent/dir/%p.log timeout=3000 ttl=300");
	CHECK_INT(count_lines(r.err), 3);
	CHECK(strstr(r.err, "PQTLS_MODE=\"loud\"") != NULL);
	CHECK(strstr(r.err, "PQTLS_PROBE_TIMEOUT_MS=\"0\"") != NULL);
	CHECK(strstr(r.err, "PQTLS_CACHE_TTL=\"forever\"") != NULL);
	CHECK(strstr(r.err, "bundle") == NULL);
}

static void *
thread_get(void *arg)
{
	(void) arg;
	return (void *) settings_get();
}

static void
child_threads(void)
{
	pthread_t	t[16];
	void	   *got[16];
	bool		same = true;

	clear_env();
	setenv("PQTLS_MODE", "bogus", 1);
	for (int i = 0; i < 16; i++)
		pthread_create(&t[i], NULL, thread_get, NULL);
	for (int i = 0; i < 16; i++)
	{
		pthread_join(t[i], &got[i]);
		same = same && got[i] == got[0];
	}
	dprintf(1, "%s", same ? "same" : "different");
}

TEST(concurrent_first_calls_read_once)
{
	child_result r;

	run_child(child_threads, &r);
	CHECK_STR(r.out, "same");
	CHECK_INT(count_lines(r.err), 1);
}

static void
child_copies(void)
{
	const pqtls_settings *s;

	clear_env();
	setenv("PQTLS_BUNDLE", "/first/bundle.pem", 1);
	setenv("PQTLS_LOG", "/first/log", 1);
	s = settings_get();
	setenv("PQTLS_BUNDLE", "/second/bundle.pem", 1);
	setenv("PQTLS_LOG", "syslog", 1);
	unsetenv("PQTLS_NEW_CA");
	s = settings_get();
	dprintf(1, "%s %s %s", s->bundle, s->log,
			s->bundle == getenv("PQTLS_BUNDLE") ? "shared" : "copied");
}

TEST(values_are_copies)
{
	child_result r;

	run_child(child_copies, &r);
	CHECK_STR(r.out, "/first/bundle.pem /first/log copied");
	CHECK_STR(r.err, "");
}

static void
child_ugly_value(void)
{
	char		longv[300];

	clear_env();
	memset(longv, 'x', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	setenv("PQTLS_MODE", "a\nb\x1b[31m", 1);
	setenv("PQTLS_CACHE_TTL", longv, 1);
	settings_get();
}

TEST(bad_values_are_quoted_safely)
{
	child_result r;
	char		want[512];

	run_child(child_ugly_value, &r);
	snprintf(want, sizeof(want),
			 "pqtls: PQTLS_MODE=\"a?b?[31m\" is not observe, dry-run or enforce; using observe\n"
			 "pqtls: PQTLS_CACHE_TTL=\"%.80s...\" is not a whole number of seconds "
			 "from 0 to 86400; using 300\n",
			 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	CHECK_STR(r.err, want);
}

static void
child_not_read_at_load(void)
{
	/*
	 * The environment is read at the first settings_get(), not at load:
	 * values set by the program before its first connection count.
	 */
	clear_env();
	setenv("PQTLS_MODE", "enforce", 1);
	dprintf(1, "%s", settings_mode_name(settings_get()->mode));
}

TEST(read_at_first_use_not_at_load)
{
	child_result r;

	run_child(child_not_read_at_load, &r);
	CHECK_STR(r.out, "enforce");
}
