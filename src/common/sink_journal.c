/*
 * sink_journal.c: records to journald (PQTLS_LOG=journal) in its native
 * protocol, on the datagram socket /run/systemd/journal/socket, without
 * libsystemd (the library links nothing but the C library).
 *
 * The protocol (systemd's "Native Journal Protocol", as sd_journal_sendv()
 * speaks it): one datagram per entry, a sequence of fields, each either
 *     NAME=value\n                      (a value without a newline), or
 *     NAME\n<64-bit little-endian length>value\n   (any bytes)
 * An entry too big for a datagram goes in a sealed memfd instead, passed as
 * SCM_RIGHTS with an empty datagram: journald accepts a descriptor only when
 * it is a memfd sealed against change.
 *
 * Each entry: MESSAGE (the record's JSON line, so `journalctl -o cat` gives
 * what `pqtls report` reads), PRIORITY, SYSLOG_IDENTIFIER=pqtls, and every
 * field of the record as a field of its own (sink_format_journal() says how),
 * so that `journalctl PQTLS_AFTER_ROTATION=breaks` finds what would break.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "pqtls/diag.h"
#include "pqtls/jsonread.h"
#include "pqtls/sink.h"
#include "pqtls/sink_parts.h"

#define JOURNAL_SOCKET	"/run/systemd/journal/socket"
#define FIELD_NAME_MAX	64		/* journald ignores longer names */
#define NEST_MAX		4		/* records nest 3 deep (tls.peer.san) */

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC		0x0001U
#define MFD_ALLOW_SEALING 0x0002U
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS		1033
#define F_SEAL_SEAL		0x0001
#define F_SEAL_SHRINK	0x0002
#define F_SEAL_GROW		0x0004
#define F_SEAL_WRITE	0x0008
#endif

/* ---- the entry, in a growing buffer ---- */

static bool
jb_reserve(sink_jbuf *b, size_t more)
{
	size_t		cap;
	char	   *p;

	if (b->failed)
		return false;
	if (b->len + more <= b->cap)
		return true;
	cap = b->cap ? b->cap : 1024;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (p == NULL)
	{
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void
jb_put(sink_jbuf *b, const void *data, size_t n)
{
	if (!jb_reserve(b, n))
		return;
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

/*
 * One field.  A value holding a newline (or a NUL, which a \u0000 in the
 * record can give) takes the length-prefixed form; journald reads that one
 * as bytes.
 */
static void
put_field(sink_jbuf *b, const char *name, size_t nlen, const char *v, size_t vlen)
{
	if (memchr(v, '\n', vlen) == NULL && memchr(v, '\0', vlen) == NULL)
	{
		jb_put(b, name, nlen);
		jb_put(b, "=", 1);
	}
	else
	{
		unsigned char le[8];
		uint64_t	n = vlen;

		for (int i = 0; i < 8; i++)
			le[i] = (unsigned char) (n >> (8 * i));
		jb_put(b, name, nlen);
		jb_put(b, "\n", 1);
		jb_put(b, le, 8);
	}
	jb_put(b, v, vlen);
	jb_put(b, "\n", 1);
}

/*
 * name + "_" + KEY: journald field names are upper-case letters, digits and
 * underscores; anything else becomes '_'.  Returns the new length, or 0
 * when the name would be too long (that field is left out).
 */
static size_t
field_name(char *name, size_t nlen, const char *key, size_t klen)
{
	if (nlen + 1 + klen > FIELD_NAME_MAX)
		return 0;
	name[nlen++] = '_';
	for (size_t i = 0; i < klen; i++)
	{
		char		c = key[i];

		if (c >= 'a' && c <= 'z')
			c = (char) (c - 'a' + 'A');
		else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			c = '_';
		name[nlen++] = c;
	}
	name[nlen] = '\0';
	return nlen;
}

/* A string value, unescaped. */
static void
put_string(sink_jbuf *b, const char *name, size_t nlen, const jsr_doc *d, int t)
{
	size_t		n = jsr_string_len(d, t);
	char		small[256];
	char	   *v = n < sizeof(small) ? small : malloc(n + 1);

	if (v == NULL)
	{
		b->failed = true;
		return;
	}
	jsr_string(d, t, v, n + 1);
	put_field(b, name, nlen, v, n);
	if (v != small)
		free(v);
}

static void put_value(sink_jbuf *b, char *name, size_t nlen, const jsr_doc *d,
					  int t, int depth);

static void
put_object(sink_jbuf *b, char *name, size_t nlen, const jsr_doc *d, int obj,
		   int depth)
{
	for (int k = jsr_first(d, obj); k >= 0; k = jsr_next(d, obj, k))
	{
		char		key[FIELD_NAME_MAX + 1];
		size_t		klen = jsr_string(d, k, key, sizeof(key));
		size_t		n;

		if (klen >= sizeof(key))
			continue;
		n = field_name(name, nlen, key, klen);
		if (n > 0)
			put_value(b, name, n, d, k + 1, depth + 1);
		name[nlen] = '\0';
	}
}

/*
 * A value under its name: a string as its text, a number or boolean as in
 * JSON, an object as one field per member (tls.peer.subject is
 * PQTLS_TLS_PEER_SUBJECT), an array as the same field once per element
 * (journald keeps every value, and a match on any one finds the entry);
 * null is left out.  Deeper than records go, the JSON text itself.
 */
static void
put_value(sink_jbuf *b, char *name, size_t nlen, const jsr_doc *d, int t, int depth)
{
	size_t		rawlen;
	const char *raw;

	switch (jsr_type_of(d, t))
	{
		case JSR_STRING:
			put_string(b, name, nlen, d, t);
			return;
		case JSR_NULL:
		case JSR_NONE:
			return;
		case JSR_OBJECT:
			if (depth < NEST_MAX)
			{
				put_object(b, name, nlen, d, t, depth);
				return;
			}
			break;
		case JSR_ARRAY:
			if (depth < NEST_MAX)
			{
				for (int e = jsr_first(d, t); e >= 0; e = jsr_next(d, t, e))
					put_value(b, name, nlen, d, e, depth + 1);
				return;
			}
			break;
		default:
			break;
	}
	raw = jsr_raw(d, t, &rawlen);
	put_field(b, name, nlen, raw, rawlen);
}

/* Would the connection break or downgrade after the rotation? */
static bool
record_warns(const jsr_doc *d)
{
	int			rot = jsr_find(d, 0, "after_rotation");
	int			dry = jsr_find(d, 0, "dry_run.result");

	return jsr_string_eq(d, rot, "breaks", 6) ||
		jsr_string_eq(d, rot, "downgrades", 10) ||
		jsr_string_eq(d, dry, "fail", 4);
}

int
sink_format_journal(sink_jbuf *b, const char *line, size_t len)
{
	jsr_doc		d;
	char		name[FIELD_NAME_MAX + 1] = "PQTLS";
	bool		warns = false;

	b->len = 0;
	b->failed = false;
	jsr_init(&d);
	put_field(b, "MESSAGE", 7, line, len);
	put_field(b, "SYSLOG_IDENTIFIER", 17, "pqtls", 5);
	if (jsr_parse(&d, line, len) == 0 && jsr_is_object(&d, 0))
	{
		warns = record_warns(&d);
		put_object(b, name, 5, &d, 0, 0);
	}
	/* 4 warning: breaks or downgrades after the rotation; 6 info otherwise */
	put_field(b, "PRIORITY", 8, warns ? "4" : "6", 1);
	jsr_free(&d);
	return b->failed ? -1 : 0;
}

void
sink_jbuf_free(sink_jbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* ---- sending ---- */

static int
send_datagram(int fd, const char *p, size_t n)
{
	struct iovec iov = {(void *) p, n};
	struct msghdr msg;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	for (;;)
	{
		if (sendmsg(fd, &msg, MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

/*
 * Too big for a datagram: the entry in a memfd, sealed so that journald can
 * trust it will not change under it, sent as SCM_RIGHTS with no data (what
 * sd_journal_sendv() does).  memfd_create through syscall(): the libc
 * wrapper would add a symbol version (GLIBC_2.27) for the loader to check at
 * every program start (libcver.h).
 */
static int
send_memfd(int sock, const char *p, size_t n)
{
	int			fd = (int) syscall(SYS_memfd_create, "pqtls-journal",
								   MFD_CLOEXEC | MFD_ALLOW_SEALING);
	size_t		off = 0;
	int			rc = -1;
	int			save;
	union
	{
		struct cmsghdr h;
		char		buf[CMSG_SPACE(sizeof(int))];
	}			ctl;
	struct msghdr msg;
	struct cmsghdr *c;

	if (fd < 0)
		return -1;
	while (off < n)
	{
		ssize_t		w = write(fd, p + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto out;
		off += (size_t) w;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
			  F_SEAL_SEAL) != 0)
		goto out;
	memset(&msg, 0, sizeof(msg));
	memset(&ctl, 0, sizeof(ctl));
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	for (;;)
	{
		if (sendmsg(sock, &msg, MSG_NOSIGNAL) >= 0)
		{
			rc = 0;
			break;
		}
		if (errno != EINTR)
			break;
	}
out:
	save = errno;
	close(fd);
	errno = save;
	return rc;
}

/* Send the entry; 0, or -1 with errno of the failure. */
static int
journal_send(int fd, const sink_jbuf *b)
{
	if (send_datagram(fd, b->p, b->len) == 0)
		return 0;
	if (errno != EMSGSIZE && errno != ENOBUFS)
		return -1;
	return send_memfd(fd, b->p, b->len);
}

void
sink_journal_write(const char *line, size_t len)
{
	sink_jbuf	b = {0};
	char		ebuf[128];
	int			fd;
	int			err = 0;

	if (sink_format_journal(&b, line, len) != 0)
	{
		sink_jbuf_free(&b);
		sink_to_stderr(line, len);
		return;
	}
	for (int attempt = 0; attempt < 2; attempt++)
	{
		pthread_mutex_lock(&sink_lock);
		fd = atomic_load(&sink_failed) ? -1 :
			sink_dgram_fd_locked(JOURNAL_SOCKET, "journal", attempt > 0);
		pthread_mutex_unlock(&sink_lock);
		if (fd < 0)
		{
			sink_jbuf_free(&b);
			sink_to_stderr(line, len);
			return;
		}
		if (journal_send(fd, &b) == 0)
		{
			sink_jbuf_free(&b);
			return;
		}
		err = errno;
		/* journald restarted: connect to the new socket, once */
		if (err != ECONNREFUSED && err != ENOTCONN)
			break;
	}
	sink_jbuf_free(&b);
	pthread_mutex_lock(&sink_lock);
	if (!atomic_load(&sink_failed))
	{
		diag("PQTLS_LOG=journal: cannot send to %s: %s; writing records to "
			 "stderr from now on", JOURNAL_SOCKET,
			 strerror_r(err, ebuf, sizeof(ebuf)));
		sink_fail_over();
	}
	pthread_mutex_unlock(&sink_lock);
	sink_to_stderr(line, len);
}
