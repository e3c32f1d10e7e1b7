/*
 * sink_template.c: PQTLS_LOG path templates expanded (sink.h): %p the pid,
 * %e the program name, %h the host name, %t the process start time, %% a
 * percent sign.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pqtls/sink.h"

/* First time the process asked for %t, for when /proc cannot tell. */
static time_t first_use;

/* ---- path templates ---- */

/* Read a small file into buf (NUL-terminated); returns its length or -1. */
static ssize_t
read_small_file(const char *path, char *buf, size_t bufsz)
{
	size_t		n = 0;
	int			fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (n + 1 < bufsz)
	{
		ssize_t		r = read(fd, buf + n, bufsz - 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t) r;
	}
	close(fd);
	buf[n] = '\0';
	return (ssize_t) n;
}

/*
 * "btime" of /proc/stat: boot time in Unix seconds.  The file can be long
 * (one "intr" line of thousands of counters), so it is scanned as a stream
 * rather than read whole.
 */
static long long
boot_time(void)
{
	static const char key[] = "btime ";
	char		buf[4096];
	size_t		matched = 0;	/* bytes of key matched at a line start */
	bool		skipping = false;	/* in a line that is not ours */
	bool		in_value = false;
	long long	v = 0;
	int			fd = open("/proc/stat", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	for (;;)
	{
		ssize_t		r = read(fd, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r; i++)
		{
			char		c = buf[i];

			if (in_value)
			{
				if (c >= '0' && c <= '9' && v < LLONG_MAX / 10)
				{
					v = v * 10 + (c - '0');
					continue;
				}
				close(fd);
				return v > 0 ? v : -1;
			}
			if (c == '\n')
			{
				matched = 0;
				skipping = false;
			}
			else if (skipping)
				continue;
			else if (c == key[matched])
			{
				if (++matched == sizeof(key) - 1)
					in_value = true;
			}
			else
				skipping = true;
		}
	}
	close(fd);
	return in_value && v > 0 ? v : -1;
}

/*
 * When this process started, in Unix seconds: boot time plus field 22 of
 * /proc/self/stat (clock ticks since boot).  Field 2 is the command name in
 * parentheses and may itself hold spaces and parentheses, so fields are
 * counted from the last ')'.
 */
static long long
process_start_time(void)
{
	char		buf[1024];
	const char *p;
	long		ticks = sysconf(_SC_CLK_TCK);
	unsigned long long start = 0;
	long long	btime;
	int			field = 2;

	if (ticks <= 0 || read_small_file("/proc/self/stat", buf, sizeof(buf)) <= 0)
		return -1;
	p = strrchr(buf, ')');
	if (p == NULL)
		return -1;
	p++;
	while (field < 22 && *p)
	{
		while (*p == ' ')
			p++;
		field++;
		if (field == 22)
			break;
		while (*p && *p != ' ')
			p++;
	}
	if (field != 22 || *p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++)
		start = start * 10 + (unsigned long long) (*p - '0');
	btime = boot_time();
	if (btime < 0)
		return -1;
	return btime + (long long) (start / (unsigned long long) ticks);
}

/* Make a host or program name safe as part of a file name. */
static void
sanitize_component(char *s)
{
	for (; *s; s++)
		if (*s == '/')
			*s = '_';
}

/*
 * glibc's program_invocation_short_name, looked up when needed: a reference
 * to a C library variable is bound at load, a symbol lookup added to every
 * program start, and this is only the fallback when /proc is not mounted.
 */
static const char *
invocation_name(void)
{
	char	  **var = dlsym(RTLD_DEFAULT, "program_invocation_short_name");

	return var != NULL ? *var : NULL;
}

static void
program_name(char *out, size_t outsz)
{
	char		exe[PATH_MAX];
	ssize_t		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const char *name = NULL;

	if (n > 0)
	{
		static const char deleted[] = " (deleted)";
		size_t		dl = sizeof(deleted) - 1;
		char	   *slash;

		exe[n] = '\0';
		/* the kernel's mark for an executable replaced since it started */
		if ((size_t) n > dl && strcmp(exe + n - dl, deleted) == 0)
			exe[n - dl] = '\0';
		slash = strrchr(exe, '/');
		name = slash ? slash + 1 : exe;
	}
	if (name == NULL || *name == '\0')
		name = invocation_name();
	if (name == NULL || *name == '\0')
		name = "unknown";
	snprintf(out, outsz, "%s", name);
	sanitize_component(out);
}

static void
host_name(char *out, size_t outsz)
{
	if (gethostname(out, outsz) != 0)
		out[0] = '\0';
	out[outsz - 1] = '\0';
	if (out[0] == '\0')
		snprintf(out, outsz, "unknown");
	sanitize_component(out);
}

static void
start_time_text(char *out, size_t outsz)
{
	long long	t = process_start_time();

	if (t < 0)
	{
		if (first_use == 0)
			first_use = time(NULL);
		t = (long long) first_use;
	}
	snprintf(out, outsz, "%lld", t);
}

int
sink_expand_template(const char *tmpl, char *out, size_t outsz)
{
	char		piece[PATH_MAX];
	size_t		n = 0;

	if (outsz == 0)
		return -1;
	for (const char *p = tmpl; *p; p++)
	{
		const char *s = piece;
		size_t		slen;

		if (*p != '%')
		{
			s = p;
			slen = 1;
		}
		else
		{
			switch (p[1])
			{
				case 'p':
					snprintf(piece, sizeof(piece), "%ld", (long) getpid());
					break;
				case 'e':
					program_name(piece, sizeof(piece));
					break;
				case 'h':
					host_name(piece, sizeof(piece));
					break;
				case 't':
					start_time_text(piece, sizeof(piece));
					break;
				case '%':
					s = "%";
					break;
				case '\0':
					/* a lone '%' at the end stays as it is */
					s = "%";
					p--;
					break;
				default:
					/* an unknown %x is kept literally */
					piece[0] = '%';
					piece[1] = p[1];
					piece[2] = '\0';
					break;
			}
			p++;
			slen = strlen(s);
		}
		if (n + slen >= outsz)
			return -1;
		memcpy(out + n, s, slen);
		n += slen;
	}
	out[n] = '\0';
	return 0;
}
