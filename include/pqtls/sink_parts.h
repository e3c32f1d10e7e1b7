/*
 * sink_parts.h: what the files of the record sink share among themselves
 * (sink.c, sink_open.c, sink_syslog.c, sink_journal.c).  Not for other modules: they use sink.h.
 */
#ifndef PQTLS_SINK_PARTS_H
#define PQTLS_SINK_PARTS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

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

/* Guards opening and reopening (never the write itself). */
extern pthread_mutex_t sink_lock;
/* Our descriptor: the log file or the syslog socket. */
extern sink_fd sink_out;
/* Set once the destination has failed: from then on records go to stderr. */
extern atomic_int sink_failed;

/* The record and a newline on stderr, when stderr is usable. */
void		sink_to_stderr(const char *line, size_t len);

/* Does sink_out's number still name what we opened? */
bool		sink_fd_is_ours(const sink_fd *s);

/* Make fd (moved above 0, 1 and 2) sink_out; the descriptor or -1. */
int			sink_adopt_fd(int fd);

/* Switch to stderr for good; called with sink_lock held. */
void		sink_fail_over(void);

/* Is a log file ours alone (sink_open.c)? */
typedef enum sink_owner_verdict
{
	SINK_OWNER_OK,
	SINK_OWNER_OTHER_USER,		/* not owned by the effective user */
	SINK_OWNER_SHARED_WRITE,	/* writable by group or others */
} sink_owner_verdict;

struct stat;

/* The rule itself, on what fstat() said (character devices pass). */
sink_owner_verdict sink_owner_check(const struct stat *st, uid_t euid);

/*
 * Open (or create, 0600) a log file for appending, never through a symbolic
 * link, and check its owner and mode on the open descriptor.  Returns the
 * descriptor with *st filled, or -1 with errno set; a file that fails the
 * rule gives -1, errno EPERM and *why other than SINK_OWNER_OK.
 */
int			sink_open_log(const char *path, struct stat *st, sink_owner_verdict *why);

/* The one message for a refused log file. */
void		sink_say_refused(const char *path, const struct stat *st,
							 sink_owner_verdict why);

/*
 * Our datagram socket connected to path (sink_syslog.c), connecting it the
 * first time or again when reconnect is set (the daemon restarted); -1 after
 * one message naming PQTLS_LOG=log, and stderr from then on.  Called with
 * sink_lock held.
 */
int			sink_dgram_fd_locked(const char *path, const char *log, bool reconnect);

/* One record to syslog (sink_syslog.c). */
void		sink_syslog_write(const char *line, size_t len);

/* One record to journald (sink_journal.c). */
void		sink_journal_write(const char *line, size_t len);

#endif
