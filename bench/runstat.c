/*
 * runstat: run a program and write what the kernel accounted for it.
 *
 *     runstat OUT PROGRAM [ARG...]
 *
 * Runs PROGRAM (standard streams inherited), waits for it with wait4(), and
 * writes one line to the file OUT:
 *
 *     WALL_SECONDS USER_SECONDS SYS_SECONDS MAX_RSS_KIB EXIT_STATUS
 *
 * Why not let Python's subprocess do it: a child's ru_maxrss keeps the high-water
 * mark of the image it was forked from (exec does not reset it), so every child
 * of the benchmark's Python process would report at least Python's own 25 MB.
 * Forked from this small program, the figure is the program's own.
 *
 * Exit status: PROGRAM's, or 125 when runstat itself fails.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct timespec t0,
				t1;
	struct rusage ru;
	pid_t		pid;
	int			status,
				code;
	FILE	   *out;

	if (argc < 3)
	{
		fprintf(stderr, "usage: runstat OUT PROGRAM [ARG...]\n");
		return 125;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0)
	{
		fprintf(stderr, "runstat: fork: %s\n", strerror(errno));
		return 125;
	}
	if (pid == 0)
	{
		execvp(argv[2], argv + 2);
		fprintf(stderr, "runstat: cannot run %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	while (wait4(pid, &status, 0, &ru) < 0)
	{
		if (errno != EINTR)
		{
			fprintf(stderr, "runstat: wait4: %s\n", strerror(errno));
			return 125;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if ((out = fopen(argv[1], "w")) == NULL)
	{
		fprintf(stderr, "runstat: cannot write %s: %s\n", argv[1], strerror(errno));
		return 125;
	}
	fprintf(out, "%.6f %.6f %.6f %ld %d\n",
			(double) (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
			(double) ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
			(double) ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
			ru.ru_maxrss, code);
	fclose(out);
	return code;
}
