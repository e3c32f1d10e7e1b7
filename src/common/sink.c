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
 *
 * This file: the destination chosen once, the writes, the descriptor we own
 * and log files.  sink_open.c opens a log file and refuses one that is not
 * ours alone, sink_syslog.c talks to /dev/log, sink_journal.c to journald,
 * sink_template.c expands path templates (%p %e %h %t).
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
#include "pqtls/sink_parts.h"


enum sink_kind
{
	SINK_STDERR,
	SINK_SYSLOG,
	SINK_JOURNAL,
	SINK_FILE,
};

static pthread_once_t sink_once = PTHREAD_ONCE_INIT;
pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static enum sink_kind sink_kind;
static const char *sink_template;	/* PQTLS_LOG as given */
sink_fd		sink_out = {-1, 0, 0, 0};
static char sink_path[PATH_MAX];	/* expanded path of sink_out (files) */

/* Set once the destination has failed: from then on records go to stderr. */
atomic_int	sink_failed;

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
	else if (strcmp(log, "journal") == 0)
		sink_kind = SINK_JOURNAL;
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

void
sink_to_stderr(const char *line, size_t len)
{
	if (diag_stderr_usable())
		(void) write_record(2, line, len);
}

/* ---- descriptors we own ---- */

bool
sink_fd_is_ours(const sink_fd *s)
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

int
sink_adopt_fd(int fd)
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
	if (sink_fd_is_ours(&sink_out))
		close(sink_out.fd);
	sink_out.fd = -1;
}

/* Switch to stderr for good; called with sink_lock held. */
void
sink_fail_over(void)
{
	atomic_store(&sink_failed, 1);
}

/* ---- files ---- */

/*
 * The log file, opened by sink_open_log() (sink_open.c: no symbolic link,
 * ours alone), as sink_out.  On failure *refused tells whether the file
 * broke the ownership rule (and st says how).
 */
static int
open_log_file(const char *path, struct stat *st, sink_owner_verdict *why)
{
	int			fd = sink_open_log(path, st, why);

	if (fd < 0)
		return -1;
	return sink_adopt_fd(fd);
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
	sink_owner_verdict why;
	int			fd = sink_open_log(sink_path, &st, &why);

	/* a refused file is named by the full open that follows */
	if (fd < 0)
		return -1;
	if (dup3(fd, sink_out.fd, O_CLOEXEC) < 0)
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
	struct stat st;
	sink_owner_verdict why;

	if (sink_out.fd >= 0 && sink_out.pid == getpid() && sink_fd_is_ours(&sink_out))
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
		sink_fail_over();
		return -1;
	}
	if (open_log_file(path, &st, &why) < 0)
	{
		if (why != SINK_OWNER_OK)
			sink_say_refused(path, &st, why);
		else
			say_open_failed(path, errno);
		sink_fail_over();
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
		sink_to_stderr(line, len);
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
		sink_fail_over();
	}
	pthread_mutex_unlock(&sink_lock);
	sink_to_stderr(line, len);
}

/* ---- the entry point ---- */

void
sink_write(const char *line, size_t len)
{
	pthread_once(&sink_once, sink_init);
	ANNOTATE_HAPPENS_AFTER(&sink_once);

	if (sink_kind == SINK_STDERR || atomic_load(&sink_failed))
		sink_to_stderr(line, len);
	else if (sink_kind == SINK_SYSLOG)
		sink_syslog_write(line, len);
	else if (sink_kind == SINK_JOURNAL)
		sink_journal_write(line, len);
	else
		file_write(line, len);
}
