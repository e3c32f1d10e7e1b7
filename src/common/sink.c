/*
 * sink.c: where records go (PQTLS_LOG).
 *
 * Nothing happens before the first record: no descriptor is opened and no
 * handler registered at load, so a program that never connects pays nothing.
 *
 * A record is one line written with one system call.  Files are opened with
 * O_APPEND, which makes each write land whole at the end of the file however
 * many threads and processes share it; so the write itself needs no lock, and
 * the mutex only guards opening and reopening.
 *
 * Whatever goes wrong with the chosen destination, the record still goes to
 * stderr, after one message that says why: nothing is lost.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "pqtls/annotate.h"
#include "pqtls/diag.h"
#include "pqtls/settings.h"
#include "pqtls/sink.h"

#define SYSLOG_SOCKET	"/dev/log"
#define SYSLOG_PRI		(1 * 8 + 6)	/* facility user, severity info */
#define SYSLOG_HDR_MAX	64

enum sink_kind
{
	SINK_STDERR,
	SINK_SYSLOG,
	SINK_FILE,
};

/*
 * The descriptor records go to, the process it was opened in, and its device
 * and inode: a program may close every descriptor it did not open (daemons
 * do) and get our number back for a file of its own.  Before each record we
 * check that the number still names what we opened, so that records never
 * end up in someone else's file.
 */
typedef struct sink_fd
{
	int			fd;
	pid_t		pid;
	dev_t		dev;
	ino_t		ino;
} sink_fd;

static pthread_once_t sink_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static enum sink_kind sink_kind;
static const char *sink_template;	/* PQTLS_LOG as given */
static sink_fd sink_out = {-1, 0, 0, 0};
static char sink_path[PATH_MAX];	/* expanded path of sink_out (files) */

/* Set once the destination has failed: from then on records go to stderr. */
static atomic_int sink_failed;

/* First time the process asked for %t, for when /proc cannot tell. */
static time_t first_use;

/*
 * No lock of ours may be held across fork: a thread opening the log while
 * another forks would leave the child's mutex locked forever.
 */
static void
sink_atfork_prepare(void)
{
	pthread_mutex_lock(&sink_lock);
}

static void
sink_atfork_release(void)
{
	pthread_mutex_unlock(&sink_lock);
}

static void
sink_init(void)
{
	const char *log = settings_get()->log;

	sink_template = log;
	if (strcmp(log, "stderr") == 0)
		sink_kind = SINK_STDERR;
	else if (strcmp(log, "syslog") == 0)
		sink_kind = SINK_SYSLOG;
	else
		sink_kind = SINK_FILE;
	if (sink_kind != SINK_STDERR)
		pthread_atfork(sink_atfork_prepare, sink_atfork_release,
					   sink_atfork_release);
	ANNOTATE_HAPPENS_BEFORE(&sink_once);
}

/* ---- writing ---- */

/*
 * Write iov whole: retry on EINTR, and continue after a short write (the
 * record is then in two pieces, which only a full disk or a signal can cause).
 * Returns 0, or -1 with errno set.
 */
static int
writev_all(int fd, struct iovec *iov, int cnt)
{
	while (cnt > 0)
	{
		ssize_t		n = writev(fd, iov, cnt);

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
		{
			errno = EIO;
			return -1;
		}
		while (cnt > 0 && (size_t) n >= iov->iov_len)
		{
			n -= (ssize_t) iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0)
		{
			iov->iov_base = (char *) iov->iov_base + n;
			iov->iov_len -= (size_t) n;
		}
	}
	return 0;
}

/* One record and its newline, in one writev(2). */
static int
write_record(int fd, const char *line, size_t len)
{
	struct iovec iov[2];

	iov[0].iov_base = (void *) line;
	iov[0].iov_len = len;
	iov[1].iov_base = (void *) "\n";
	iov[1].iov_len = 1;
	return writev_all(fd, iov, 2);
}

static void
to_stderr(const char *line, size_t len)
{
	if (diag_stderr_usable())
		(void) write_record(2, line, len);
}

/* ---- descriptors we own ---- */

static bool
fd_is_ours(const sink_fd *s)
{
	struct stat st;

	return s->fd >= 0 && fstat(s->fd, &st) == 0 &&
		st.st_dev == s->dev && st.st_ino == s->ino;
}

/*
 * Keep our descriptor off 0, 1 and 2: a program that closed them expects its
 * next open to fill them (daemons reopen /dev/null there).
 */
static int
move_above_stdio(int fd)
{
	int			moved;
	int			save;

	if (fd > 2)
		return fd;
	moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	save = errno;
	close(fd);
	errno = save;
	return moved;
}

static int
adopt_fd(int fd)
{
	struct stat st;

	fd = move_above_stdio(fd);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0)
	{
		int			save = errno;

		close(fd);
		errno = save;
		return -1;
	}
	sink_out.fd = fd;
	sink_out.pid = getpid();
	sink_out.dev = st.st_dev;
	sink_out.ino = st.st_ino;
	return fd;
}

/*
 * Let go of our descriptor: close it only if the number still names what we
 * opened, else it now belongs to the program.
 */
static void
drop_fd(void)
{
	if (fd_is_ours(&sink_out))
		close(sink_out.fd);
	sink_out.fd = -1;
}

/* Switch to stderr for good; called with sink_lock held. */
static void
fail_over(void)
{
	atomic_store(&sink_failed, 1);
}

/* ---- files ---- */

static int
open_log_file(const char *path)
{
	int			fd;
	int			flags;

	/*
	 * O_NOFOLLOW: never through a symlink at the last component (a planted
	 * link must not make us append to someone else's file).  O_NONBLOCK only
	 * for the open, so that a FIFO without a reader fails instead of hanging
	 * the program at its first connection.
	 */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
			  O_NOCTTY | O_NONBLOCK, 0600);
	if (fd < 0)
		return -1;
	flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		(void) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	return adopt_fd(fd);
}

static void
say_open_failed(const char *path, int err)
{
	char		ebuf[128];
	struct stat st;

	/* ELOOP also means a loop of links further up; name the usual case */
	if (err == ELOOP && lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
		diag("PQTLS_LOG: cannot open \"%.512s\": it is a symbolic link, which "
			 "pqtls does not follow; writing records to stderr", path);
	else
		diag("PQTLS_LOG: cannot open \"%.512s\": %s; writing records to stderr",
			 path, strerror_r(err, ebuf, sizeof(ebuf)));
}

static bool
unlinked(const sink_fd *s)
{
	struct stat st;

	return fstat(s->fd, &st) == 0 && st.st_nlink == 0;
}

/*
 * The log file was deleted while in use (a rotation by rm, a cleanup): records
 * written to it would be lost. Create the file again and put it on the same
 * descriptor number with dup3(), atomically, so that a thread writing at this
 * moment writes either to the old file or to the new one, never to a number
 * the program may have reused. 0 on success.
 */
static int
replace_deleted_file(void)
{
	struct stat st;
	int			fd = open(sink_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
						  O_NOCTTY | O_NONBLOCK, 0600);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || dup3(fd, sink_out.fd, O_CLOEXEC) < 0)
	{
		close(fd);
		return -1;
	}
	close(fd);
	sink_out.dev = st.st_dev;
	sink_out.ino = st.st_ino;
	return 0;
}

/*
 * The descriptor of the log file for this process, opening or reopening it
 * as needed; -1 when records must go to stderr.  Called with sink_lock held.
 */
static int
file_fd_locked(void)
{
	char		path[PATH_MAX];

	if (sink_out.fd >= 0 && sink_out.pid == getpid() && fd_is_ours(&sink_out))
	{
		if (!unlinked(&sink_out) || replace_deleted_file() == 0)
			return sink_out.fd;
	}

	/*
	 * First record, a new process after fork (with %p the child gets a file
	 * of its own), or the program took our descriptor away.
	 */
	drop_fd();
	if (sink_expand_template(sink_template, path, sizeof(path)) != 0)
	{
		diag("PQTLS_LOG: the path template expands to more than %d bytes; "
			 "writing records to stderr (template \"%.200s%s\")",
			 PATH_MAX - 1, sink_template,
			 strlen(sink_template) > 200 ? "..." : "");
		fail_over();
		return -1;
	}
	if (open_log_file(path) < 0)
	{
		say_open_failed(path, errno);
		fail_over();
		return -1;
	}
	memcpy(sink_path, path, sizeof(path));
	return sink_out.fd;
}

static void
file_write(const char *line, size_t len)
{
	int			fd;
	int			err;
	char		ebuf[128];

	pthread_mutex_lock(&sink_lock);
	fd = atomic_load(&sink_failed) ? -1 : file_fd_locked();
	pthread_mutex_unlock(&sink_lock);

	if (fd < 0)
	{
		to_stderr(line, len);
		return;
	}
	if (write_record(fd, line, len) == 0)
		return;

	err = errno;
	pthread_mutex_lock(&sink_lock);
	if (!atomic_load(&sink_failed))
	{
		/*
		 * The descriptor stays open: another thread may be writing to it
		 * right now, and closing it could hand its number to the program
		 * in the middle of that write.
		 */
		diag("PQTLS_LOG: cannot write to \"%.512s\": %s; writing records to "
			 "stderr from now on", sink_path, strerror_r(err, ebuf, sizeof(ebuf)));
		fail_over();
	}
	pthread_mutex_unlock(&sink_lock);
	to_stderr(line, len);
}

/* ---- syslog ---- */

int
sink_syslog_header(char *out, size_t outsz, time_t when, long pid)
{
	static const char months[12][4] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
	};
	struct tm	tm;
	int			n;

	/* RFC 3164 wants local time, in English whatever the locale. */
	if (localtime_r(&when, &tm) == NULL)
		return -1;
	n = snprintf(out, outsz, "<%d>%s %2d %02d:%02d:%02d pqtls[%ld]: ",
				 SYSLOG_PRI, months[tm.tm_mon % 12], tm.tm_mday,
				 tm.tm_hour, tm.tm_min, tm.tm_sec, pid);
	if (n < 0 || (size_t) n >= outsz)
		return -1;
	return n;
}

int
sink_format_syslog(char *out, size_t outsz, const char *line, size_t len,
				   time_t when, long pid)
{
	int			n = sink_syslog_header(out, outsz, when, pid);

	if (n < 0 || (size_t) n + len >= outsz)
		return -1;
	memcpy(out + n, line, len);
	out[n + len] = '\0';
	return n + (int) len;
}

/*
 * We talk to /dev/log ourselves rather than through openlog()/syslog():
 * those keep one process-wide ident and connection, which belong to the
 * program.
 */
static int
syslog_socket(void)
{
	struct sockaddr_un sa;
	int			fd;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, SYSLOG_SOCKET, sizeof(SYSLOG_SOCKET));
	if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0)
	{
		int			save = errno;

		close(fd);
		errno = save;
		return -1;
	}
	return fd;
}

/*
 * Connect, or reconnect after the syslog daemon restarted.  A reconnection
 * puts the new socket on the old number with dup3(), atomically: another
 * thread may be sending on that number right now, and it must never name
 * anything but our socket.
 */
static int
syslog_connect(void)
{
	int			fd = syslog_socket();
	int			save;

	if (fd < 0)
		return -1;
	if (!fd_is_ours(&sink_out))
	{
		sink_out.fd = -1;
		return adopt_fd(fd);
	}
	if (dup3(fd, sink_out.fd, O_CLOEXEC) < 0)
	{
		save = errno;
		close(fd);
		errno = save;
		return -1;
	}
	close(fd);
	fd = sink_out.fd;
	sink_out.fd = -1;
	return adopt_fd(fd);
}

/* Called with sink_lock held; -1 when records must go to stderr. */
static int
syslog_fd_locked(bool reconnect)
{
	char		ebuf[128];

	if (!reconnect && fd_is_ours(&sink_out))
		return sink_out.fd;
	if (syslog_connect() < 0)
	{
		diag("PQTLS_LOG=syslog: cannot reach %s: %s; writing records to stderr",
			 SYSLOG_SOCKET, strerror_r(errno, ebuf, sizeof(ebuf)));
		fail_over();
		return -1;
	}
	return sink_out.fd;
}

static int
syslog_send(int fd, const char *hdr, size_t hdrlen, const char *line, size_t len)
{
	struct iovec iov[2];
	struct msghdr msg;

	iov[0].iov_base = (void *) hdr;
	iov[0].iov_len = hdrlen;
	iov[1].iov_base = (void *) line;
	iov[1].iov_len = len;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	for (;;)
	{
		if (sendmsg(fd, &msg, MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

static void
syslog_write(const char *line, size_t len)
{
	char		hdr[SYSLOG_HDR_MAX];
	char		ebuf[128];
	int			hdrlen;
	int			fd;
	int			err = 0;

	hdrlen = sink_syslog_header(hdr, sizeof(hdr), time(NULL), (long) getpid());
	if (hdrlen < 0)
	{
		to_stderr(line, len);
		return;
	}

	for (int attempt = 0; attempt < 2; attempt++)
	{
		pthread_mutex_lock(&sink_lock);
		fd = atomic_load(&sink_failed) ? -1 : syslog_fd_locked(attempt > 0);
		pthread_mutex_unlock(&sink_lock);
		if (fd < 0)
		{
			to_stderr(line, len);
			return;
		}
		if (syslog_send(fd, hdr, (size_t) hdrlen, line, len) == 0)
			return;
		err = errno;
		/* The syslog daemon restarted: connect to the new socket, once. */
		if (err != ECONNREFUSED && err != ENOTCONN)
			break;
	}

	if (err == EMSGSIZE)
	{
		/* Too big for a datagram: this record only goes to stderr. */
		diag_once("sink-emsgsize", "PQTLS_LOG=syslog: a record of %zu bytes "
				  "is too large for %s; writing such records to stderr",
				  len, SYSLOG_SOCKET);
		to_stderr(line, len);
		return;
	}
	pthread_mutex_lock(&sink_lock);
	if (!atomic_load(&sink_failed))
	{
		diag("PQTLS_LOG=syslog: cannot send to %s: %s; writing records to "
			 "stderr from now on", SYSLOG_SOCKET,
			 strerror_r(err, ebuf, sizeof(ebuf)));
		fail_over();
	}
	pthread_mutex_unlock(&sink_lock);
	to_stderr(line, len);
}

/* ---- the entry point ---- */

void
sink_write(const char *line, size_t len)
{
	pthread_once(&sink_once, sink_init);
	ANNOTATE_HAPPENS_AFTER(&sink_once);

	if (sink_kind == SINK_STDERR || atomic_load(&sink_failed))
		to_stderr(line, len);
	else if (sink_kind == SINK_SYSLOG)
		syslog_write(line, len);
	else
		file_write(line, len);
}

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
