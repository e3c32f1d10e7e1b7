/*
 * cmd_run.c: `pqtls run [--mode M] [--bundle F] [--new-ca F] [--log T] [--quiet]
 *            [--] PROGRAM [ARG...]`
 *
 * Runs PROGRAM with libpqtls.so in front of any LD_PRELOAD it already has, the
 * JVM agent at the end of JAVA_TOOL_OPTIONS, and the PQTLS_* settings from the
 * flags, waits for it, prints a summary of the
 * distinct connections to stderr, and exits as PROGRAM did (a signal included:
 * pqtls dies of the same signal).
 *
 * Without --log the records go to a private directory (one file per process)
 * that is removed after the summary; with --log they go where it says and the
 * summary reads back what was written there during the run.
 */
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pqtls/cli.h"
#include "pqtls/report.h"
#include "pqtls/settings.h"

#ifndef PQTLS_LIBDIR
#define PQTLS_LIBDIR "/usr/local/lib"
#endif

static const char usage[] =
	"usage: pqtls run [--mode observe|dry-run|enforce] [--bundle FILE] [--new-ca FILE]\n"
	"                 [--log TEMPLATE] [--quiet] [--] PROGRAM [ARG...]\n"
	"\n"
	"Runs PROGRAM under libpqtls.so (and Java programs under the JVM agent, through\n"
	"JAVA_TOOL_OPTIONS): every libpq or pgjdbc connection it opens is recorded\n"
	"(one JSON line each), and at the end the distinct connections are summarised\n"
	"on stderr. The exit status is PROGRAM's.\n"
	"\n"
	"  --mode M        observe (default), dry-run or enforce (PQTLS_MODE)\n"
	"  --bundle FILE   the CA bundle clients should trust after the rotation\n"
	"  --new-ca FILE   the CA certificate(s) servers will chain to after the rotation\n"
	"  --log TEMPLATE  where records go: stderr, syslog, journal or a path with %p %e %h %t\n"
	"                  (default: a private directory removed after the summary)\n"
	"  --quiet         no summary\n";

typedef struct run_options
{
	const char *mode;
	const char *bundle;
	const char *new_ca;
	const char *log;
	bool		quiet;
	char	  **program;
} run_options;

static int
parse_options(int argc, char **argv, run_options *o)
{
	enum pqtls_mode m;
	int			i;

	memset(o, 0, sizeof(*o));
	for (i = 1; i < argc; i++)
	{
		const char *a = argv[i];

		if (strcmp(a, "--") == 0)
		{
			i++;
			break;
		}
		if (a[0] != '-')
			break;
		if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0)
			o->quiet = true;
		else if (i + 1 < argc && strcmp(a, "--mode") == 0)
			o->mode = argv[++i];
		else if (i + 1 < argc && strcmp(a, "--bundle") == 0)
			o->bundle = argv[++i];
		else if (i + 1 < argc && strcmp(a, "--new-ca") == 0)
			o->new_ca = argv[++i];
		else if (i + 1 < argc && strcmp(a, "--log") == 0)
			o->log = argv[++i];
		else
			return cli_usage_error("run", "unknown option '%s'", a);
	}
	if (i >= argc)
		return cli_usage_error("run", "PROGRAM is missing");
	o->program = argv + i;
	if (o->mode != NULL && settings_parse_mode(o->mode, &m) != 0)
		return cli_usage_error("run", "--mode is observe, dry-run or enforce, not '%s'", o->mode);
	if (o->bundle != NULL && access(o->bundle, R_OK) != 0)
		return cli_usage_error("run", "--bundle %s: %s", o->bundle, strerror(errno));
	if (o->new_ca != NULL && access(o->new_ca, R_OK) != 0)
		return cli_usage_error("run", "--new-ca %s: %s", o->new_ca, strerror(errno));
	return -1;
}

/*
 * One of pqtls's libraries by absolute path: $<variable>, else beside this
 * binary (the build tree), else ../lib beside it, else the configured LIBDIR.
 */
static char *
find_library(const char *name, const char *variable)
{
	const char *env = getenv(variable);
	char		self[PATH_MAX],
				path[PATH_MAX + 32];
	ssize_t		n;
	char	   *slash;

	if (env != NULL && env[0] == '/')
		return strdup(env);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0)
	{
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash != NULL)
		{
			*slash = '\0';
			snprintf(path, sizeof(path), "%s/%s", self, name);
			if (access(path, R_OK) == 0)
				return strdup(path);
			snprintf(path, sizeof(path), "%s/../lib/%s", self, name);
			if (access(path, R_OK) == 0)
				return realpath(path, NULL);
		}
	}
	snprintf(path, sizeof(path), "%s/%s", PQTLS_LIBDIR, name);
	return access(path, R_OK) == 0 ? strdup(path) : NULL;
}

/*
 * Java programs: the JVM agent goes at the end of JAVA_TOOL_OPTIONS, after
 * whatever the environment already holds there (the JVM reads it by itself,
 * so a `java` started by a script several levels down gets it too).  Without
 * the agent installed, non-Java programs lose nothing: JAVA_TOOL_OPTIONS is
 * left alone.
 */
static void
attach_jvm_agent(void)
{
	char	   *agent = find_library("libpqtls-jvm.so", "PQTLS_JVM_AGENT"),
			   *opts;
	const char *old = getenv("JAVA_TOOL_OPTIONS");
	const char *q;

	if (agent == NULL)
		return;
	q = strpbrk(agent, " \t") ? "\"" : "";
	if (asprintf(&opts, "%s%s%s-agentpath:%s%s", old ? old : "", old && old[0] ? " " : "",
				 q, agent, q) >= 0)
	{
		setenv("JAVA_TOOL_OPTIONS", opts, 1);
		free(opts);
	}
	free(agent);
}

static bool
is_sanitizer_runtime(const char *entry, size_t len)
{
	char		buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%.*s", (int) len, entry);
	return strstr(buf, "libasan") != NULL || strstr(buf, "libubsan") != NULL ||
		strstr(buf, "libtsan") != NULL || strstr(buf, "clang_rt.") != NULL;
}

/*
 * libpqtls.so goes in front of what LD_PRELOAD already holds, except that a
 * sanitizer runtime must stay first or it refuses to start.
 */
static char *
preload_with(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	size_t		keep = 0;
	char	   *out;

	if (old == NULL || old[0] == '\0')
		return strdup(lib);
	while (old[keep] != '\0')
	{
		size_t		len = strcspn(old + keep, ": ");

		if (!is_sanitizer_runtime(old + keep, len))
			break;
		keep += len;
		keep += strspn(old + keep, ": ");
	}
	if (asprintf(&out, "%.*s%s%s%s%s", (int) keep, old, keep && old[keep - 1] != ':' &&
				 old[keep - 1] != ' ' ? ":" : "", lib, old[keep] ? ":" : "", old + keep) < 0)
		return NULL;
	return out;
}

static volatile pid_t child_pid;

static void
forward_signal(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

static int
run_child(const run_options *o, const char *log)
{
	struct sigaction ign,
				fwd,
				old_int,
				old_quit,
				old_term,
				old_hup;
	int			status;
	pid_t		pid;

	/* Like system(): a Ctrl-C reaches the program, and pqtls waits for it. */
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	memset(&fwd, 0, sizeof(fwd));
	fwd.sa_handler = forward_signal;
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	sigaction(SIGTERM, &fwd, &old_term);
	sigaction(SIGHUP, &fwd, &old_hup);

	fflush(NULL);
	pid = fork();
	if (pid == 0)
	{
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGQUIT, &old_quit, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		sigaction(SIGHUP, &old_hup, NULL);
		setenv("PQTLS_LOG", log, 1);
		execvp(o->program[0], o->program);
		fprintf(stderr, "pqtls run: cannot run %s: %s\n", o->program[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	if (pid < 0)
	{
		fprintf(stderr, "pqtls run: cannot fork: %s\n", strerror(errno));
		return -1;
	}
	child_pid = pid;
	while (waitpid(pid, &status, 0) < 0)
	{
		if (errno != EINTR)
		{
			status = 127 << 8;
			break;
		}
	}
	child_pid = 0;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	return status;
}

/* The files a --log template can have produced: each %x becomes a wildcard. */
static char *
template_glob(const char *tmpl)
{
	char	   *out = malloc(strlen(tmpl) * 2 + 1),
			   *p = out;

	if (out == NULL)
		return NULL;
	for (const char *s = tmpl; *s; s++)
	{
		if (s[0] == '%' && s[1] == '%')
		{
			*p++ = '%';
			s++;
		}
		else if (s[0] == '%' && s[1] != '\0')
		{
			*p++ = '*';
			s++;
		}
		else
			*p++ = *s;
	}
	*p = '\0';
	return out;
}

static void
summarise_dir(report *r, const char *dir)
{
	DIR		   *d = opendir(dir);
	struct dirent *e;
	char		path[PATH_MAX];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
	{
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		report_feed_file(r, path);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* Files written through a --log template since `start`. */
static void
summarise_template(report *r, const char *tmpl, time_t start)
{
	char	   *pattern = template_glob(tmpl);
	glob_t		g;
	struct stat st;

	if (pattern == NULL || glob(pattern, 0, NULL, &g) != 0)
	{
		free(pattern);
		return;
	}
	for (size_t i = 0; i < g.gl_pathc; i++)
		if (stat(g.gl_pathv[i], &st) == 0 && S_ISREG(st.st_mode) && st.st_mtime >= start)
			report_feed_file(r, g.gl_pathv[i]);
	globfree(&g);
	free(pattern);
}

static int
exit_like(int status)
{
	if (WIFSIGNALED(status))
	{
		int			sig = WTERMSIG(status);

		signal(sig, SIG_DFL);
		fflush(NULL);
		raise(sig);
		return 128 + sig;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int
cmd_run(int argc, char **argv)
{
	run_options o;
	char	   *lib,
			   *preload,
				dir[] = "/tmp/pqtls-run-XXXXXX",
				log[sizeof(dir) + 16];
	time_t		start = time(NULL);
	int			rc,
				status;
	bool		own_dir = false;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "--version") == 0))
		return cli_common_flags(2, argv, usage);
	rc = parse_options(argc, argv, &o);
	if (rc >= 0)
		return rc;
	lib = find_library("libpqtls.so", "PQTLS_LIBRARY");
	if (lib == NULL)
	{
		fprintf(stderr, "pqtls run: libpqtls.so not found: set PQTLS_LIBRARY to its absolute path\n");
		return 2;
	}
	preload = preload_with(lib);
	setenv("LD_PRELOAD", preload, 1);
	attach_jvm_agent();
	if (o.mode)
		setenv("PQTLS_MODE", o.mode, 1);
	if (o.bundle)
		setenv("PQTLS_BUNDLE", o.bundle, 1);
	if (o.new_ca)
		setenv("PQTLS_NEW_CA", o.new_ca, 1);
	if (o.log == NULL)
	{
		if (mkdtemp(dir) == NULL)
		{
			fprintf(stderr, "pqtls run: cannot create a directory for records: %s\n",
					strerror(errno));
			return 2;
		}
		own_dir = true;
		snprintf(log, sizeof(log), "%s/%%p.jsonl", dir);
	}
	else
		snprintf(log, sizeof(log), "%s", "");

	status = run_child(&o, own_dir ? log : o.log);
	if (status < 0)
		status = 127 << 8;

	if (own_dir || (!o.quiet && strcmp(o.log, "stderr") != 0 &&
						 strcmp(o.log, "syslog") != 0 && strcmp(o.log, "journal") != 0))
	{
		report	   *r = report_new();

		report_set_name(r, "pqtls run");
		if (own_dir)
			summarise_dir(r, dir);
		else
			summarise_template(r, o.log, start);
		if (!o.quiet)
			report_print(r, stderr, REPORT_SUMMARY, false);
		report_free(r);
	}
	free(lib);
	free(preload);
	return exit_like(status);
}
