/*
 * sink_syslog.c: records to syslog (PQTLS_LOG=syslog), as RFC 3164 datagrams
 * on /dev/log (sink.h).
 */
#include <errno.h>
#include <fcntl.h>
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

#include "pqtls/diag.h"
#include "pqtls/sink.h"
#include "pqtls/sink_parts.h"

#define SYSLOG_SOCKET	"/dev/log"
#define SYSLOG_PRI		(1 * 8 + 6)	/* facility user, severity info */
#define SYSLOG_HDR_MAX	64

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
 * program.  The same datagram connection serves journald (sink_journal.c).
 */
static int
dgram_socket(const char *path)
{
	struct sockaddr_un sa;
	int			fd;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
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
 * Connect, or reconnect after the daemon restarted.  A reconnection puts the
 * new socket on the old number with dup3(), atomically: another thread may
 * be sending on that number right now, and it must never name anything but
 * our socket.
 */
static int
dgram_connect(const char *path)
{
	int			fd = dgram_socket(path);
	int			save;

	if (fd < 0)
		return -1;
	if (!sink_fd_is_ours(&sink_out))
	{
		sink_out.fd = -1;
		return sink_adopt_fd(fd);
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
	return sink_adopt_fd(fd);
}

int
sink_dgram_fd_locked(const char *path, const char *log, bool reconnect)
{
	char		ebuf[128];

	if (!reconnect && sink_fd_is_ours(&sink_out))
		return sink_out.fd;
	if (dgram_connect(path) < 0)
	{
		diag("PQTLS_LOG=%s: cannot reach %s: %s; writing records to stderr",
			 log, path, strerror_r(errno, ebuf, sizeof(ebuf)));
		sink_fail_over();
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

void
sink_syslog_write(const char *line, size_t len)
{
	char		hdr[SYSLOG_HDR_MAX];
	char		ebuf[128];
	int			hdrlen;
	int			fd;
	int			err = 0;

	hdrlen = sink_syslog_header(hdr, sizeof(hdr), time(NULL), (long) getpid());
	if (hdrlen < 0)
	{
		sink_to_stderr(line, len);
		return;
	}

	for (int attempt = 0; attempt < 2; attempt++)
	{
		pthread_mutex_lock(&sink_lock);
		fd = atomic_load(&sink_failed) ? -1 :
			sink_dgram_fd_locked(SYSLOG_SOCKET, "syslog", attempt > 0);
		pthread_mutex_unlock(&sink_lock);
		if (fd < 0)
		{
			sink_to_stderr(line, len);
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
		sink_to_stderr(line, len);
		return;
	}
	pthread_mutex_lock(&sink_lock);
	if (!atomic_load(&sink_failed))
	{
		diag("PQTLS_LOG=syslog: cannot send to %s: %s; writing records to "
			 "stderr from now on", SYSLOG_SOCKET,
			 strerror_r(err, ebuf, sizeof(ebuf)));
		sink_fail_over();
	}
	pthread_mutex_unlock(&sink_lock);
	sink_to_stderr(line, len);
}
