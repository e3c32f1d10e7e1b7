/*
 * stress: many threads opening and closing libpq connections at once, and
 * optionally a main thread that forks children while they do. The integration
 * tests (tests/integration/test_stress.py) run it under libpqtls.so and count
 * the records against what it prints.
 *
 *   stress THREADS CONNS_PER_THREAD CONNINFO [options]
 *
 *   --also CONNINFO2        more targets (repeatable): with n targets in all, thread t
 *                           connects to target t mod n (CONNINFO is target 0)
 *   --nonblocking-every N   every Nth attempt of a thread is PQconnectStart driven
 *                           by a PQconnectPoll loop (default 0: none)
 *   --ping-every N          every Nth attempt of a thread is a PQping (default 0)
 *   --fork-children K       the main thread forks K children while the workers are
 *                           connecting; each child makes --child-conns attempts of
 *                           its own (blocking, non-blocking and a ping) and exits
 *   --child-conns M         attempts of each child (default 3)
 *   --child-conninfo C      what the children connect to (default CONNINFO). With
 *                           libpq 15 and OpenSSL 3.0, with or without pqtls, a child
 *                           can hang in its first connect on a lock another thread
 *                           held at the fork: OpenSSL's RAND lock (so: no TLS in the
 *                           children), GSSAPI's (so: gssencmode=disable), and, rarely,
 *                           libpq's ssl_config_mutex, which every connect takes
 *   --child-timeout S       seconds the parent waits for its children (default 60):
 *                           a child still running then is reported and killed
 *   --backtrace-hung        before killing a hung child, print gdb's backtrace of
 *                           it ("bt pid=P: ..." lines), so that a test can tell
 *                           whose lock it waits for
 *
 * Blocking attempts alternate between PQconnectdb and PQconnectdbParams (the
 * conninfo as an expanded dbname). The kind of an attempt depends on its index
 * and on the thread's number, so that at any moment the threads are in different
 * entry points.
 *
 * Output: one line per process (the parent's last), written with one write(2):
 *
 *   proc pid=P role=parent|child attempts=N ok=N failed=N PQconnectdb=N
 *        PQconnectdbParams=N PQconnectStart=N PQping=N
 *
 * (on one line), and failures as "fail pid=P api=... error=..." lines before it.
 * Exit status 0 when every attempt of every process succeeded, 1 when one did
 * not, 2 on usage errors, 3 when a child hung or died of a signal.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attempt.h"

typedef struct counts
{
	atomic_long attempts;
	atomic_long ok;
	atomic_long failed;
	atomic_long by_kind[ATTEMPT_KINDS];
} counts;

static const char *conninfo;
static const char **targets;	/* CONNINFO and every --also */
static int	n_targets;
static const char *child_conninfo;
static int	n_threads,
			conns_per_thread,
			nonblocking_every,
			ping_every,
			fork_children,
			child_conns = 3,
			child_timeout = 60;
static bool backtrace_hung;
static counts totals;
static atomic_long started;		/* attempts begun by the workers */

/* One line to stdout with a single write(2): lines of processes never mix. */
static void
say(const char *fmt, ...)
{
	char		line[2048];
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int) sizeof(line) - 2)
		n = (int) sizeof(line) - 2;
	line[n++] = '\n';
	while (write(1, line, (size_t) n) < 0 && errno == EINTR)
		;
}

static enum attempt_kind
kind_of(int index, int salt)
{
	int			n = index + salt;

	if (ping_every > 0 && n % ping_every == ping_every - 1)
		return ATTEMPT_PING;
	if (nonblocking_every > 0 && n % nonblocking_every == 0)
		return ATTEMPT_CONNECT_START;
	return (n / 2) % 2 ? ATTEMPT_CONNECTDB_PARAMS : ATTEMPT_CONNECTDB;
}

/* One attempt of the given kind, counted in c; true when it succeeded. */
static bool
attempt_one(enum attempt_kind k, counts *c, const char *info)
{
	char		why[ATTEMPT_WHY_LEN];
	bool		ok;

	atomic_fetch_add(&c->attempts, 1);
	atomic_fetch_add(&c->by_kind[k], 1);
	ok = attempt_run(k, info, why);
	if (!ok)
		say("fail pid=%ld api=%s error=%s", (long) getpid(), attempt_name[k], why);
	atomic_fetch_add(ok ? &c->ok : &c->failed, 1);
	return ok;
}

static void *
worker(void *arg)
{
	int			t = (int) (long) arg;
	const char *info = targets[t % n_targets];

	for (int i = 0; i < conns_per_thread; i++)
	{
		atomic_fetch_add(&started, 1);
		attempt_one(kind_of(i, t), &totals, info);
	}
	return NULL;
}

static void
print_counts(const char *role, counts *c)
{
	say("proc pid=%ld role=%s attempts=%ld ok=%ld failed=%ld %s=%ld %s=%ld %s=%ld %s=%ld",
		(long) getpid(), role, atomic_load(&c->attempts), atomic_load(&c->ok),
		atomic_load(&c->failed),
		attempt_name[0], atomic_load(&c->by_kind[0]), attempt_name[1], atomic_load(&c->by_kind[1]),
		attempt_name[2], atomic_load(&c->by_kind[2]), attempt_name[3], atomic_load(&c->by_kind[3]));
}

/* A forked child: a few attempts of every kind of its own, then exit. */
static void
child_main(int number)
{
	static counts mine;			/* a fresh copy in this process */
	static const enum attempt_kind order[] = {
		ATTEMPT_CONNECTDB, ATTEMPT_CONNECT_START, ATTEMPT_PING, ATTEMPT_CONNECTDB_PARAMS
	};
	bool		all_ok = true;

	/* Let gdb attach even where Yama allows tracing descendants only. */
	if (backtrace_hung)
		(void) prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
	memset(&mine, 0, sizeof(mine));
	for (int i = 0; i < child_conns; i++)
		all_ok &= attempt_one(order[(i + number) % 4], &mine, child_conninfo);
	print_counts("child", &mine);
	_exit(all_ok ? 0 : 1);
}

static int
parse_int(const char *s, const char *what)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || v > 1000000)
	{
		fprintf(stderr, "stress: bad %s: %s\n", what, s);
		exit(2);
	}
	return (int) v;
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Wait for every child, at most child_timeout seconds in all. Returns the worst
 * status: 0 all succeeded, 1 one failed, 3 one hung or died of a signal.
 */
static int
reap_children(pid_t *pids, int n)
{
	double		deadline = now_seconds() + child_timeout;
	int			worst = 0,
				left = n;

	while (left > 0)
	{
		for (int i = 0; i < n; i++)
		{
			int			status;
			pid_t		r;

			if (pids[i] <= 0)
				continue;
			r = waitpid(pids[i], &status, WNOHANG);
			if (r == 0)
				continue;
			if (r < 0)
			{
				say("child pid=%ld lost: %s", (long) pids[i], strerror(errno));
				worst = 3;
			}
			else if (WIFSIGNALED(status))
			{
				say("child pid=%ld died of signal %d", (long) pids[i], WTERMSIG(status));
				worst = 3;
			}
			else if (WEXITSTATUS(status) != 0 && worst < 1)
				worst = 1;
			pids[i] = 0;
			left--;
		}
		if (left == 0)
			break;
		if (now_seconds() > deadline)
		{
			for (int i = 0; i < n; i++)
			{
				if (pids[i] <= 0)
					continue;
				say("child pid=%ld hung: still running after %d s; killed", (long) pids[i],
					child_timeout);
				if (backtrace_hung)
				{
					char		cmd[512];

					snprintf(cmd, sizeof(cmd),
							 "env -u LD_PRELOAD gdb -q -nx -batch -p %ld "
							 "-ex 'thread apply all bt' </dev/null 2>&1 | "
							 "sed -u 's/^/bt pid=%ld: /'", (long) pids[i], (long) pids[i]);
					fflush(stdout);
					if (system(cmd) != 0)
						say("bt pid=%ld: (gdb failed)", (long) pids[i]);
				}
				kill(pids[i], SIGKILL);
				waitpid(pids[i], NULL, 0);
			}
			return 3;
		}
		usleep(10000);
	}
	return worst;
}

int
main(int argc, char **argv)
{
	pthread_t  *threads;
	pid_t	   *children = NULL;
	int			n_forked = 0,
				child_status = 0,
				i;

	if (argc < 4)
	{
		fprintf(stderr, "usage: stress THREADS CONNS_PER_THREAD CONNINFO [--also CONNINFO2]... "
				"[--nonblocking-every N] "
				"[--ping-every N] [--fork-children K] [--child-conns M] [--child-conninfo C] "
				"[--child-timeout S] [--backtrace-hung]\n");
		return 2;
	}
	n_threads = parse_int(argv[1], "THREADS");
	conns_per_thread = parse_int(argv[2], "CONNS_PER_THREAD");
	conninfo = argv[3];
	targets = calloc((size_t) argc, sizeof(*targets));
	if (targets == NULL)
		return 2;
	targets[n_targets++] = conninfo;
	for (i = 4; i < argc; i++)
	{
		const char *opt = argv[i];

		if (strcmp(opt, "--backtrace-hung") == 0)
		{
			backtrace_hung = true;
			continue;
		}
		if (i + 1 >= argc)
		{
			fprintf(stderr, "stress: %s needs a value\n", opt);
			return 2;
		}
		if (strcmp(opt, "--also") == 0)
			targets[n_targets++] = argv[++i];
		else if (strcmp(opt, "--nonblocking-every") == 0)
			nonblocking_every = parse_int(argv[++i], opt);
		else if (strcmp(opt, "--ping-every") == 0)
			ping_every = parse_int(argv[++i], opt);
		else if (strcmp(opt, "--fork-children") == 0)
			fork_children = parse_int(argv[++i], opt);
		else if (strcmp(opt, "--child-conns") == 0)
			child_conns = parse_int(argv[++i], opt);
		else if (strcmp(opt, "--child-conninfo") == 0)
			child_conninfo = argv[++i];
		else if (strcmp(opt, "--child-timeout") == 0)
			child_timeout = parse_int(argv[++i], opt);
		else
		{
			fprintf(stderr, "stress: unknown option %s\n", opt);
			return 2;
		}
	}

	if (child_conninfo == NULL)
		child_conninfo = conninfo;
	threads = calloc((size_t) n_threads + 1, sizeof(*threads));
	if (fork_children > 0)
		children = calloc((size_t) fork_children, sizeof(*children));
	if (threads == NULL || (fork_children > 0 && children == NULL))
	{
		fprintf(stderr, "stress: out of memory\n");
		return 2;
	}
	fflush(NULL);
	for (i = 0; i < n_threads; i++)
	{
		int			e = pthread_create(&threads[i], NULL, worker, (void *) (long) i);

		if (e != 0)
		{
			fprintf(stderr, "stress: pthread_create: %s\n", strerror(e));
			return 2;
		}
	}

	/*
	 * Fork while the workers are connecting: the k-th child once the workers
	 * have begun a (k+1)/(K+1) share of their attempts, so the forks are spread
	 * over the run and always land with threads inside libpq and pqtls.
	 */
	for (int k = 0; k < fork_children; k++)
	{
		long		total = (long) n_threads * conns_per_thread;
		long		mark = total * (k + 1) / (fork_children + 1);
		pid_t		pid;

		while (atomic_load(&started) < mark && atomic_load(&totals.attempts) < total)
			usleep(500);
		pid = fork();
		if (pid == 0)
			child_main(k);
		if (pid < 0)
		{
			say("fork failed: %s", strerror(errno));
			child_status = 3;
			break;
		}
		children[n_forked++] = pid;
	}

	for (i = 0; i < n_threads; i++)
		pthread_join(threads[i], NULL);
	if (n_forked > 0)
	{
		int			s = reap_children(children, n_forked);

		if (s > child_status)
			child_status = s;
	}
	print_counts("parent", &totals);
	if (child_status == 3)
		return 3;
	return atomic_load(&totals.failed) == 0 && child_status == 0 ? 0 : 1;
}
