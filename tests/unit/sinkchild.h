/*
 * sinkchild.h: running a sink case in a child of its own, for the unit tests
 * of the record sink (test_sink*.c).
 *
 * The destination is chosen once per process from PQTLS_LOG, so every case
 * that writes records runs in a child: the child sets PQTLS_LOG, writes, and
 * reports on stdout; the parent checks the files and the child's stderr.
 * Static functions in a header: each test binary is one translation unit.
 */
#ifndef PQTLS_TESTS_SINKCHILD_H
#define PQTLS_TESTS_SINKCHILD_H

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pqtls/sink.h"

/* ---- running a case in a child ---- */

typedef struct child_result
{
	char		out[16384];
	char		err[16384];
	int			status;
} child_result;

__attribute__((unused)) static void
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
			char		scratch[4096];
			size_t		room = sizeof(r->out) - 1 - len[i];
			ssize_t		n;

			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			/* keep draining past a full buffer so the child never blocks */
			n = room ? read(pfd[i].fd, buf[i] + len[i], room)
				: read(pfd[i].fd, scratch, sizeof(scratch));
			if (n <= 0)
			{
				close(pfd[i].fd);
				pfd[i].fd = -1;
				open_count--;
				continue;
			}
			if (room)
				len[i] += (size_t) n;
		}
	}
	r->out[len[0]] = '\0';
	r->err[len[1]] = '\0';
}

__attribute__((unused)) static void
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

__attribute__((unused)) static int
count_lines(const char *s)
{
	int			n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

__attribute__((unused)) static int
count_substr(const char *s, const char *sub)
{
	int			n = 0;

	while ((s = strstr(s, sub)) != NULL)
	{
		n++;
		s += strlen(sub);
	}
	return n;
}

/* A whole file into a malloc'ed string (NULL if it cannot be read). */
__attribute__((unused)) static char *
slurp(const char *path)
{
	FILE	   *f = fopen(path, "r");
	char	   *buf;
	long		n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t) n + 1);
	if (fread(buf, 1, (size_t) n, f) != (size_t) n)
		n = 0;
	buf[n] = '\0';
	fclose(f);
	return buf;
}

__attribute__((unused)) static void
spew(const char *path, const char *text)
{
	FILE	   *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

__attribute__((unused)) static char tmpdir[64];

__attribute__((unused)) static void
make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pqtls-sink-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		abort();
}

__attribute__((unused)) static void
remove_tmpdir(void)
{
	DIR		   *d = opendir(tmpdir);
	struct dirent *e;
	char		p[PATH_MAX * 2];

	while (d && (e = readdir(d)) != NULL)
	{
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
		if (unlink(p) != 0)
			rmdir(p);
	}
	if (d)
		closedir(d);
	rmdir(tmpdir);
}

__attribute__((unused)) static void
tmp_path(char *out, size_t outsz, const char *name)
{
	if (snprintf(out, outsz, "%s/%s", tmpdir, name) >= (int) outsz)
		abort();
}

__attribute__((unused)) static void
write_str(const char *s)
{
	sink_write(s, strlen(s));
}

#endif
