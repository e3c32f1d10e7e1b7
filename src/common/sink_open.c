/*
 * sink_open.c: opening a log file (PQTLS_LOG path) as a careful daemon does.
 *
 * Records name programs, users, hosts, databases and error messages.  A log
 * file someone else prepared for us (another user's /tmp/pqtls.jsonl, mode
 * 0666, made before our first record) would hand all of that to them, and a
 * file others may write to lets them forge records.  So the file we write to
 * must be the effective user's own and writable by nobody else:
 *
 *   - the last component is never a symbolic link (O_NOFOLLOW);
 *   - an existing file is opened without O_CREAT, and a missing one is
 *     created with O_CREAT|O_EXCL, mode 0600: we know which of the two we
 *     got, and fs.protected_regular (which turns O_CREAT on another user's
 *     file in /tmp into EACCES) cannot hide the real reason;
 *   - the owner and the mode are checked with fstat() on the descriptor we
 *     opened, not on the path, so nothing can be swapped in between.
 *
 * Character devices (/dev/null, a terminal, /dev/full) keep no record anyone
 * could read back later, and belong to root by nature: they are not checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pqtls/diag.h"
#include "pqtls/sink_parts.h"

/* O_NONBLOCK only for the open: a FIFO without a reader fails, never hangs. */
#define LOG_OPEN_FLAGS	(O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | \
						 O_NOCTTY | O_NONBLOCK)

/*
 * Open path as it is, or create it.  The loop covers the file appearing
 * (EEXIST) or vanishing (ENOENT) between our two attempts.
 */
static int
open_or_create(const char *path)
{
	for (int tries = 0; tries < 8; tries++)
	{
		int			fd = open(path, LOG_OPEN_FLAGS);

		if (fd >= 0 || errno != ENOENT)
			return fd;
		fd = open(path, LOG_OPEN_FLAGS | O_CREAT | O_EXCL, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	errno = EAGAIN;
	return -1;
}

sink_owner_verdict
sink_owner_check(const struct stat *st, uid_t euid)
{
	if (S_ISCHR(st->st_mode))
		return SINK_OWNER_OK;
	if (st->st_uid != euid)
		return SINK_OWNER_OTHER_USER;
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return SINK_OWNER_SHARED_WRITE;
	return SINK_OWNER_OK;
}

int
sink_open_log(const char *path, struct stat *st, sink_owner_verdict *why)
{
	int			fd = open_or_create(path);
	int			flags;

	*why = SINK_OWNER_OK;
	if (fd < 0)
		return -1;
	if (fstat(fd, st) != 0)
	{
		int			save = errno;

		close(fd);
		errno = save;
		return -1;
	}
	*why = sink_owner_check(st, geteuid());
	if (*why != SINK_OWNER_OK)
	{
		close(fd);
		errno = EPERM;
		return -1;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		(void) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	return fd;
}

void
sink_say_refused(const char *path, const struct stat *st, sink_owner_verdict why)
{
	if (why == SINK_OWNER_OTHER_USER)
		diag("PQTLS_LOG: refusing \"%.512s\": it belongs to uid %ld, not to "
			 "this process's user (uid %ld), who alone may read and write a "
			 "log of records; writing records to stderr",
			 path, (long) st->st_uid, (long) geteuid());
	else
		diag("PQTLS_LOG: refusing \"%.512s\": mode %04o lets %s write to it "
			 "(a log of records must be writable by its owner only: chmod "
			 "go-w); writing records to stderr", path,
			 (unsigned) (st->st_mode & 07777),
			 (st->st_mode & S_IWGRP) && (st->st_mode & S_IWOTH) ?
			 "the group and others" :
			 (st->st_mode & S_IWGRP) ? "the group" : "others");
}
