/*
 * test_sink.c: where records go.
 *
 * The destination is chosen once per process from PQTLS_LOG, so every case
 * that writes records runs in a child of its own (this process never calls
 * sink_write()): the child sets PQTLS_LOG, writes, and reports on stdout;
 * the parent checks the files and the messages on the child's stderr.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "sinkchild.h"
#include "pqtls/diag.h"
#include "pqtls/sink.h"

/* ---- templates, in process ---- */

TEST(template_pid_and_percent)
{
	char		out[256];
	char		want[256];

	CHECK_INT(sink_expand_template("/tmp/x-%p.log", out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "/tmp/x-%ld.log", (long) getpid());
	CHECK_STR(out, want);

	CHECK_INT(sink_expand_template("a%%b%%%%c", out, sizeof(out)), 0);
	CHECK_STR(out, "a%b%%c");

	/* unknown %x kept literally; a lone trailing % stays */
	CHECK_INT(sink_expand_template("a%xb%Zc%", out, sizeof(out)), 0);
	CHECK_STR(out, "a%xb%Zc%");

	CHECK_INT(sink_expand_template("", out, sizeof(out)), 0);
	CHECK_STR(out, "");
}

TEST(template_program_and_host)
{
	char		out[512];
	char		host[256];
	char		want[600];

	CHECK_INT(sink_expand_template("%e", out, sizeof(out)), 0);
	CHECK_STR(out, "test_sink");

	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	CHECK_INT(sink_expand_template("/l/%h/%e.%p", out, sizeof(out)), 0);
	snprintf(want, sizeof(want), "/l/%s/test_sink.%ld", host, (long) getpid());
	CHECK_STR(out, want);
}

TEST(template_start_time)
{
	char		out[64];
	char	   *end;
	long long	t,
				t2;
	time_t		now = time(NULL);

	CHECK_INT(sink_expand_template("%t", out, sizeof(out)), 0);
	t = strtoll(out, &end, 10);
	CHECK(*end == '\0');
	/* this process started a moment ago; boot time rounding allows a second */
	CHECK(t <= (long long) now + 1);
	CHECK(t >= (long long) now - 600);

	/* stable: the start of the process, not the time of the call */
	sleep(1);
	CHECK_INT(sink_expand_template("%t", out, sizeof(out)), 0);
	t2 = strtoll(out, NULL, 10);
	CHECK_INT(t2, t);
}

TEST(template_too_long)
{
	char		out[8];
	char		big[PATH_MAX + 10];

	CHECK_INT(sink_expand_template("1234567", out, sizeof(out)), 0);
	CHECK_STR(out, "1234567");
	CHECK_INT(sink_expand_template("12345678", out, sizeof(out)), -1);
	CHECK_INT(sink_expand_template("%p%p%p%p", out, sizeof(out)), -1);
	CHECK_INT(sink_expand_template("x", out, 0), -1);

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	{
		char		path[PATH_MAX];

		CHECK_INT(sink_expand_template(big, path, sizeof(path)), -1);
	}
}

/* ---- syslog formatting, in process ---- */

TEST(syslog_format_rfc3164)
{
	char		out[256];
	const char *rec = "{\"api\":\"PQconnectdb\"}";
	int			n;

	setenv("TZ", "UTC", 1);
	tzset();

	/* 2023-11-14 22:13:20 UTC */
	n = sink_format_syslog(out, sizeof(out), rec, strlen(rec), 1700000000, 4242);
	CHECK_STR(out, "<14>Nov 14 22:13:20 pqtls[4242]: {\"api\":\"PQconnectdb\"}");
	CHECK_INT(n, strlen(out));

	/* a one-digit day is padded with a space: 2024-01-05 03:04:05 UTC */
	n = sink_format_syslog(out, sizeof(out), "{}", 2, 1704423845, 7);
	CHECK_STR(out, "<14>Jan  5 03:04:05 pqtls[7]: {}");

	n = sink_syslog_header(out, sizeof(out), 1704423845, 7);
	CHECK_STR(out, "<14>Jan  5 03:04:05 pqtls[7]: ");
	CHECK_INT(n, strlen("<14>Jan  5 03:04:05 pqtls[7]: "));

	/* local time, as RFC 3164 and syslogd expect */
	setenv("TZ", "UTC-2", 1);
	tzset();
	sink_format_syslog(out, sizeof(out), "{}", 2, 1704423845, 7);
	CHECK_STR(out, "<14>Jan  5 05:04:05 pqtls[7]: {}");

	/* too small: refused, not cut */
	CHECK_INT(sink_format_syslog(out, 20, "{}", 2, 1704423845, 7), -1);
	CHECK_INT(sink_format_syslog(out, strlen("<14>Jan  5 05:04:05 pqtls[7]: {}"),
								 "{}", 2, 1704423845, 7), -1);

	unsetenv("TZ");
	tzset();
}

/* ---- files, one child per case ---- */

static char child_template[PATH_MAX];

static void
child_write_two(void)
{
	umask(0);					/* so that only our 0600 limits the mode */
	setenv("PQTLS_LOG", child_template, 1);
	write_str("{\"n\":1}");
	write_str("{\"n\":2}");
}

TEST(file_created_0600_with_whole_lines)
{
	child_result r;
	struct stat st;
	char	   *text;

	make_tmpdir();
	tmp_path(child_template, sizeof(child_template), "log.jsonl");
	run_child(child_write_two, &r);
	CHECK_STR(r.err, "");
	CHECK_INT(stat(child_template, &st), 0);
	CHECK_INT(st.st_mode & 07777, 0600);
	CHECK(S_ISREG(st.st_mode));
	text = slurp(child_template);
	CHECK_STR(text, "{\"n\":1}\n{\"n\":2}\n");
	free(text);
	remove_tmpdir();
}

TEST(file_appended_never_truncated)
{
	child_result r;
	char	   *text;
	struct stat st;

	make_tmpdir();
	tmp_path(child_template, sizeof(child_template), "log.jsonl");
	spew(child_template, "{\"earlier\":true}\n");
	chmod(child_template, 0640);
	run_child(child_write_two, &r);
	run_child(child_write_two, &r);
	CHECK_STR(r.err, "");
	text = slurp(child_template);
	CHECK_STR(text, "{\"earlier\":true}\n{\"n\":1}\n{\"n\":2}\n{\"n\":1}\n{\"n\":2}\n");
	free(text);
	/* an existing file keeps its mode */
	stat(child_template, &st);
	CHECK_INT(st.st_mode & 07777, 0640);
	remove_tmpdir();
}

TEST(file_template_expanded)
{
	child_result r;
	char		path[PATH_MAX];
	DIR		   *d;
	struct dirent *e;
	int			files = 0;

	make_tmpdir();
	tmp_path(child_template, sizeof(child_template), "%e-%p.jsonl");
	run_child(child_write_two, &r);
	CHECK_STR(r.err, "");
	d = opendir(tmpdir);
	while ((e = readdir(d)) != NULL)
	{
		if (e->d_name[0] == '.')
			continue;
		files++;
		CHECK(strncmp(e->d_name, "test_sink-", 10) == 0);
		tmp_path(path, sizeof(path), e->d_name);
	}
	closedir(d);
	CHECK_INT(files, 1);
	if (files == 1)
	{
		char	   *text = slurp(path);

		CHECK_STR(text, "{\"n\":1}\n{\"n\":2}\n");
		free(text);
	}
	remove_tmpdir();
}

TEST(file_symlink_refused)
{
	child_result r;
	char		target[PATH_MAX];
	char	   *text;

	make_tmpdir();
	tmp_path(target, sizeof(target), "target");
	tmp_path(child_template, sizeof(child_template), "link");
	spew(target, "");
	CHECK_INT(symlink(target, child_template), 0);
	run_child(child_write_two, &r);

	/* nothing through the link; the records on stderr after one message */
	text = slurp(target);
	CHECK_STR(text, "");
	free(text);
	CHECK_INT(count_substr(r.err, "pqtls: "), 1);
	CHECK(strstr(r.err, "PQTLS_LOG") != NULL);
	CHECK(strstr(r.err, child_template) != NULL);
	CHECK(strstr(r.err, "symbolic link") != NULL);
	CHECK(strstr(r.err, "\n{\"n\":1}\n{\"n\":2}\n") != NULL);
	CHECK_INT(count_lines(r.err), 3);
	remove_tmpdir();
}

TEST(file_directory_refused)
{
	child_result r;

	make_tmpdir();
	snprintf(child_template, sizeof(child_template), "%s", tmpdir);
	run_child(child_write_two, &r);
	CHECK_INT(count_substr(r.err, "pqtls: "), 1);
	CHECK(strstr(r.err, "PQTLS_LOG") != NULL);
	CHECK(strstr(r.err, tmpdir) != NULL);
	CHECK(strstr(r.err, "Is a directory") != NULL);
	CHECK(strstr(r.err, "\n{\"n\":1}\n{\"n\":2}\n") != NULL);
	remove_tmpdir();
}

TEST(file_missing_directory)
{
	child_result r;

	make_tmpdir();
	tmp_path(child_template, sizeof(child_template), "no/such/dir/%p.log");
	run_child(child_write_two, &r);
	CHECK_INT(count_substr(r.err, "pqtls: "), 1);
	CHECK(strstr(r.err, "No such file or directory") != NULL);
	CHECK(strstr(r.err, "\n{\"n\":1}\n{\"n\":2}\n") != NULL);
	remove_tmpdir();
}

TEST(file_unwritable)
{
	child_result r;

	if (geteuid() == 0)
	{
		/* root ignores permissions; check EACCES through a read-only file */
		make_tmpdir();
		tmp_path(child_template, sizeof(child_template), "ro");
		spew(child_template, "");
		chmod(child_template, 0400);
		run_child(child_write_two, &r);
		/* root may write anyway: either way, nothing is lost */
		if (count_substr(r.err, "pqtls: ") == 1)
			CHECK(strstr(r.err, "\n{\"n\":1}\n{\"n\":2}\n") != NULL);
		else
		{
			char	   *text = slurp(child_template);

			CHECK_STR(text, "{\"n\":1}\n{\"n\":2}\n");
			free(text);
		}
		remove_tmpdir();
		return;
	}
	make_tmpdir();
	chmod(tmpdir, 0500);
	tmp_path(child_template, sizeof(child_template), "x.log");
	run_child(child_write_two, &r);
	chmod(tmpdir, 0700);
	CHECK_INT(count_substr(r.err, "pqtls: "), 1);
	CHECK(strstr(r.err, "Permission denied") != NULL);
	CHECK(strstr(r.err, "\n{\"n\":1}\n{\"n\":2}\n") != NULL);
	remove_tmpdir();
}

static void
child_write_three(void)
{
	setenv("PQTLS_LOG", child_template, 1);
	write_str("{\"n\":1}");
	write_str("{\"n\":2}");
	write_str("{\"n\":3}");
}

TEST(file_full_disk)
{
	child_result r;

	snprintf(child_template, sizeof(child_template), "/dev/full");
	run_child(child_write_three, &r);
	/* one message, and all three records on stderr */
	CHECK_INT(count_substr(r.err, "pqtls: "), 1);
	CHECK(strstr(r.err, "PQTLS_LOG") != NULL);
	CHECK(strstr(r.err, "/dev/full") != NULL);
	CHECK(strstr(r.err, "No space left on device") != NULL);
	CHECK(strstr(r.err, "\n{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n") != NULL);
	CHECK_INT(count_lines(r.err), 4);
}

TEST(file_fifo_without_reader_does_not_hang)
{
	child_result r;

	make_tmpdir();
	tmp_path(child_template, sizeof(child_template), "fifo");
	CHECK_INT(mkfifo(child_template, 0600), 0);
	alarm(20);
	run_child(child_write_two, &r);
	alarm(0);
	CHECK_INT(count_substr(r.err, "pqtls: "), 1);
	CHECK(strstr(r.err, "\n{\"n\":1}\n{\"n\":2}\n") != NULL);
	remove_tmpdir();
}

static void
child_fork(void)
{
	pid_t		kid;

	setenv("PQTLS_LOG", child_template, 1);
	write_str("{\"who\":\"parent\",\"n\":1}");
	kid = fork();
	if (kid == 0)
	{
		write_str("{\"who\":\"child\"}");
		_exit(0);
	}
	waitpid(kid, NULL, 0);
	write_str("{\"who\":\"parent\",\"n\":2}");
	dprintf(1, "%ld %ld", (long) getpid(), (long) kid);
}

TEST(fork_with_pid_gives_child_its_own_file)
{
	child_result r;
	long		me = 0,
				kid = 0;
	char		name[64];
	char		path[PATH_MAX];
	char	   *text;

	make_tmpdir();
	tmp_path(child_template, sizeof(child_template), "%p.log");
	run_child(child_fork, &r);
	CHECK_STR(r.err, "");
	CHECK_INT(sscanf(r.out, "%ld %ld", &me, &kid), 2);

	snprintf(name, sizeof(name), "%ld.log", me);
	tmp_path(path, sizeof(path), name);
	text = slurp(path);
	CHECK_STR(text, "{\"who\":\"parent\",\"n\":1}\n{\"who\":\"parent\",\"n\":2}\n");
	free(text);

	snprintf(name, sizeof(name), "%ld.log", kid);
	tmp_path(path, sizeof(path), name);
	text = slurp(path);
	CHECK_STR(text, "{\"who\":\"child\"}\n");
	free(text);
	remove_tmpdir();
}

TEST(fork_without_pid_shares_the_file)
{
	child_result r;
	char	   *text;

	make_tmpdir();
	tmp_path(child_template, sizeof(child_template), "all.log");
	run_child(child_fork, &r);
	CHECK_STR(r.err, "");
	text = slurp(child_template);
	CHECK_STR(text, "{\"who\":\"parent\",\"n\":1}\n{\"who\":\"child\"}\n"
			  "{\"who\":\"parent\",\"n\":2}\n");
	free(text);
	remove_tmpdir();
}

#define THREADS 64
#define LINES	100

static void *
thread_writer(void *arg)
{
	int			t = (int) (long) arg;
	char		line[600];
	char		pad[401];

	memset(pad, 'a' + t % 26, sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (int i = 0; i < LINES; i++)
	{
		int			n = snprintf(line, sizeof(line),
								 "{\"t\":%d,\"i\":%d,\"pad\":\"%s\"}", t, i, pad);

		sink_write(line, (size_t) n);
	}
	return NULL;
}

static void
child_threads(void)
{
	pthread_t	th[THREADS];

	setenv("PQTLS_LOG", child_template, 1);
	for (long t = 0; t < THREADS; t++)
		pthread_create(&th[t], NULL, thread_writer, (void *) t);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
}

TEST(threads_write_whole_lines)
{
	child_result r;
	char	   *text;
	char	   *line;
	char	   *save = NULL;
	static bool seen[THREADS][LINES];
	int			lines = 0;
	int			good = 0;

	make_tmpdir();
	tmp_path(child_template, sizeof(child_template), "threads.log");
	run_child(child_threads, &r);
	CHECK_STR(r.err, "");
	text = slurp(child_template);
	CHECK(text != NULL);
	if (text == NULL)
		return;
	CHECK_INT(count_lines(text), THREADS * LINES);
	memset(seen, 0, sizeof(seen));
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
	{
		int			t,
					i,
					used = 0;
		char		pad[401];

		lines++;
		if (sscanf(line, "{\"t\":%d,\"i\":%d,\"pad\":\"%400[a-z]\"}%n", &t, &i, pad, &used) == 3 &&
			used == (int) strlen(line) && t >= 0 && t < THREADS && i >= 0 && i < LINES &&
			strlen(pad) == 400 && pad[0] == 'a' + t % 26 && pad[399] == pad[0] && !seen[t][i])
		{
			seen[t][i] = true;
			good++;
		}
	}
	CHECK_INT(lines, THREADS * LINES);
	CHECK_INT(good, THREADS * LINES);
	free(text);
	remove_tmpdir();
}

static void
child_fd_taken(void)
{
	char		other[PATH_MAX];
	char		link[PATH_MAX];
	char		fdpath[64];
	int			ours = -1;
	int			fd;

	setenv("PQTLS_LOG", child_template, 1);
	write_str("{\"n\":1}");

	/* find our descriptor, close it behind our back, reuse its number */
	for (int i = 3; i < 1024 && ours < 0; i++)
	{
		ssize_t		n;

		snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", i);
		n = readlink(fdpath, link, sizeof(link) - 1);
		if (n > 0)
		{
			link[n] = '\0';
			if (strcmp(link, child_template) == 0)
				ours = i;
		}
	}
	close(ours);
	tmp_path(other, sizeof(other), "program-data");
	fd = open(other, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	write_str("{\"n\":2}");
	dprintf(1, "%d %d", ours, fd);
}

TEST(descriptor_taken_by_program_is_left_alone)
{
	child_result r;
	char		other[PATH_MAX];
	char	   *text;
	int			ours = -1,
				theirs = -2;

	make_tmpdir();
	tmp_path(child_template, sizeof(child_template), "log");
	run_child(child_fd_taken, &r);
	CHECK_INT(sscanf(r.out, "%d %d", &ours, &theirs), 2);
	CHECK_INT(ours, theirs);	/* the program really did get our number */
	CHECK_STR(r.err, "");
	tmp_path(other, sizeof(other), "program-data");
	text = slurp(other);
	CHECK_STR(text, "");
	free(text);
	text = slurp(child_template);
	CHECK_STR(text, "{\"n\":1}\n{\"n\":2}\n");
	free(text);
	remove_tmpdir();
}

static void
child_stdin_closed(void)
{
	char		link[PATH_MAX];
	ssize_t		n;

	close(0);
	setenv("PQTLS_LOG", child_template, 1);
	write_str("{\"n\":1}");
	n = readlink("/proc/self/fd/0", link, sizeof(link) - 1);
	dprintf(1, "%s", n < 0 ? "fd0-free" : "fd0-taken");
}

TEST(log_descriptor_avoids_stdio_numbers)
{
	child_result r;

	make_tmpdir();
	tmp_path(child_template, sizeof(child_template), "log");
	run_child(child_stdin_closed, &r);
	CHECK_STR(r.out, "fd0-free");
	CHECK_STR(r.err, "");
	remove_tmpdir();
}

static void
child_nothing_before_first_record(void)
{
	struct stat st;

	setenv("PQTLS_LOG", child_template, 1);
	/* settings read, sink not used: no file, no descriptor */
	dprintf(1, "%s", stat(child_template, &st) == 0 ? "created" : "absent");
}

TEST(nothing_opened_before_first_record)
{
	child_result r;

	make_tmpdir();
	tmp_path(child_template, sizeof(child_template), "log");
	run_child(child_nothing_before_first_record, &r);
	CHECK_STR(r.out, "absent");
	remove_tmpdir();
}

/* ---- stderr and syslog ---- */

TEST(stderr_destination)
{
	child_result r;

	snprintf(child_template, sizeof(child_template), "stderr");
	run_child(child_write_two, &r);
	CHECK_STR(r.err, "{\"n\":1}\n{\"n\":2}\n");
}

/*
 * A program started with fd 2 closed, which then opened a file of its own
 * there: neither messages nor records may land in it.  Runs as a fresh
 * process (the check is made at load), started by the test below.
 */
TEST(helper_closed_stderr)
{
	char		path[PATH_MAX];
	const char *dir = getenv("PQTLS_TEST_HELPER_DIR");
	struct stat st;
	int			fd;

	if (dir == NULL)
		return;					/* only as the helper of the test below */
	snprintf(path, sizeof(path), "%s/data", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK_INT(fd, 2);
	CHECK_INT(diag_stderr_usable(), 0);
	diag("must not appear");
	diag_once("k", "must not appear either");
	setenv("PQTLS_LOG", "stderr", 1);
	setenv("PQTLS_MODE", "nonsense", 1);	/* its message must not appear */
	write_str("{\"n\":1}");
	fstat(fd, &st);
	CHECK_INT(st.st_size, 0);
}

TEST(closed_stderr_is_never_written)
{
	pid_t		pid;
	int			status = -1;

	char		self[PATH_MAX];
	ssize_t		n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	/* by name, not /proc/self/exe: under valgrind that is valgrind */
	CHECK(n > 0);
	if (n <= 0)
		return;
	self[n] = '\0';
	make_tmpdir();
	fflush(stdout);
	pid = fork();
	if (pid == 0)
	{
		char	   *argv[] = {"test_sink", "helper_closed_stderr", NULL};
		int			null = open("/dev/null", O_WRONLY);

		setenv("PQTLS_TEST_HELPER_DIR", tmpdir, 1);
		dup2(null, 1);
		close(null);
		close(2);
		execv(self, argv);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
	{
		/* valgrind --trace-children=yes cannot exec with fd 2 closed */
		printf("skipped: could not start the helper with fd 2 closed\n");
		remove_tmpdir();
		return;
	}
	CHECK_INT(WEXITSTATUS(status), 0);
	remove_tmpdir();
}

static void
child_syslog(void)
{
	setenv("PQTLS_LOG", "syslog", 1);
	write_str("{\"n\":1}");
	write_str("{\"n\":2}");
}

TEST(syslog_unreachable_falls_back_to_stderr)
{
	child_result r;
	struct stat st;

	if (lstat("/dev/log", &st) == 0)
	{
		printf("skipped: /dev/log exists here\n");
		return;
	}
	run_child(child_syslog, &r);
	CHECK_INT(count_substr(r.err, "pqtls: "), 1);
	CHECK(strstr(r.err, "PQTLS_LOG=syslog") != NULL);
	CHECK(strstr(r.err, "/dev/log") != NULL);
	CHECK(strstr(r.err, "\n{\"n\":1}\n{\"n\":2}\n") != NULL);
}

/*
 * End to end with a fake /dev/log: in a mount namespace of its own, the
 * child puts a tmpfs over /dev and listens there itself.  Needs the right
 * to unshare (root in most test containers); skipped otherwise.
 */
static int
listen_dev_log(void)
{
	struct sockaddr_un sa;
	int			fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, "/dev/log");
	unlink("/dev/log");
	if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0)
		return -1;
	return fd;
}

static void
print_datagram(int fd)
{
	char		buf[4096];
	ssize_t		n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	if (n < 0)
		n = 0;
	buf[n] = '\0';
	dprintf(1, "%s\n", buf);
}

static void
child_fake_syslog(void)
{
	int			fd;
	size_t		biglen = 1024 * 1024;
	char	   *big;

	if (unshare(CLONE_NEWNS) != 0 ||
		mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0 ||
		mount("tmpfs", "/dev", "tmpfs", 0, "size=1m") != 0)
	{
		dprintf(1, "skip");
		return;
	}
	fd = listen_dev_log();
	if (fd < 0)
	{
		dprintf(1, "skip");
		return;
	}
	setenv("PQTLS_LOG", "syslog", 1);
	setenv("TZ", "UTC", 1);
	write_str("{\"n\":1}");
	print_datagram(fd);

	/* too big for a datagram: that record only goes to stderr */
	big = malloc(biglen);
	memset(big, 'x', biglen);
	big[0] = '{';
	big[biglen - 1] = '}';
	sink_write(big, biglen);
	free(big);
	write_str("{\"n\":2}");
	print_datagram(fd);

	/* the syslog daemon restarts: a new socket at the same path */
	close(fd);
	fd = listen_dev_log();
	write_str("{\"n\":3}");
	print_datagram(fd);
}

TEST(syslog_end_to_end)
{
	child_result r;
	const char *line;

	run_child(child_fake_syslog, &r);
	if (strcmp(r.out, "skip") == 0)
	{
		printf("skipped: cannot make a mount namespace here\n");
		return;
	}
	/* "<14>Mmm dd hh:mm:ss pqtls[PID]: {json}" three times */
	CHECK_INT(count_lines(r.out), 3);
	line = r.out;
	for (int n = 1; n <= 3 && line; n++)
	{
		char		want[64];
		const char *nl = strchr(line, '\n');

		CHECK(strncmp(line, "<14>", 4) == 0);
		CHECK(line[7] == ' ' && line[10] == ' ' && line[13] == ':' && line[16] == ':');
		CHECK(strncmp(line + 19, " pqtls[", 7) == 0);
		snprintf(want, sizeof(want), "]: {\"n\":%d}\n", n);
		CHECK(nl != NULL && strncmp(nl - strlen(want) + 1, want, strlen(want)) == 0);
		line = nl ? nl + 1 : NULL;
	}
	/* one message for the oversized record, which went to stderr whole */
	CHECK_INT(count_substr(r.err, "pqtls: "), 1);
	CHECK(strstr(r.err, "too large") != NULL);
	CHECK(strstr(r.err, "\n{xxxx") != NULL);
}
