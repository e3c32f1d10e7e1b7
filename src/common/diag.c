/*
 * diag.c: pqtls's own messages to the person running the program.
 *
 * These may be reached from odd places (a hook running inside a program that
 * is half way through fork, or low on memory), so nothing here allocates:
 * a message is formatted into a stack buffer and leaves with one write(2).
 * No stdio on fd 2: the program owns stderr's FILE, its buffering and its lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pqtls/diag.h"

#define DIAG_PREFIX		"pqtls: "
#define DIAG_BUFSIZE	1024
#define DIAG_ONCE_SLOTS 64

/*
 * Whether fd 2 was open when the library was loaded.  A daemon that closed
 * stderr may since have opened a data file that landed on fd 2, and writing
 * our messages into it would corrupt it; so if fd 2 was closed at start we
 * never write there.  -1 means "not checked" (a program that calls us from
 * its own constructor, before ours ran).
 */
static int	stderr_usable = -1;

/*
 * fcntl(2, F_GETFD) != -1, as a bare system call where we know how. The first
 * call of a C library function from the library makes the loader look the
 * function up (lazy binding): about 750 instructions added to every program
 * start, for a call that runs before anything else of ours.
 */
static int
fd2_open(void)
{
#if defined(__x86_64__) && defined(__linux__)
	long		ret;

	__asm__ volatile ("syscall"
					  : "=a"(ret)
					  : "0"((long) SYS_fcntl), "D"(2L), "S"((long) F_GETFD)
					  : "rcx", "r11", "memory");
	return ret >= 0;			/* the kernel returns -errno */
#elif defined(__aarch64__) && defined(__linux__)
	register long x8 __asm__("x8") = SYS_fcntl;
	register long x0 __asm__("x0") = 2;
	register long x1 __asm__("x1") = F_GETFD;

	__asm__ volatile ("svc 0" : "+r"(x0) : "r"(x8), "r"(x1) : "memory");
	return x0 >= 0;
#else
	return fcntl(2, F_GETFD) != -1;
#endif
}

/*
 * The only work the library does at load: "was fd 2 open at start" must be
 * known before the program gets a chance to close it.
 */
__attribute__((constructor))
static void
diag_check_stderr(void)
{
	stderr_usable = fd2_open();
}

int
diag_stderr_usable(void)
{
	if (stderr_usable < 0)
		diag_check_stderr();
	return stderr_usable;
}

/* write(2) all of buf, retrying on EINTR and short writes; errors are dropped. */
static void
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0)
	{
		ssize_t		n = write(fd, buf, len);

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= (size_t) n;
	}
}

static void
diag_v(const char *fmt, va_list ap)
{
	char		buf[DIAG_BUFSIZE];
	size_t		prefix = sizeof(DIAG_PREFIX) - 1;
	size_t		room = sizeof(buf) - prefix - 1;	/* keep a byte for '\n' */
	size_t		len;
	int			n;
	int			saved_errno = errno;

	if (!diag_stderr_usable())
		return;

	memcpy(buf, DIAG_PREFIX, prefix);
	n = vsnprintf(buf + prefix, room + 1, fmt, ap);
	if (n < 0)
		n = 0;
	if ((size_t) n > room)
	{
		/* Truncated: say so rather than end mid-word without a hint. */
		memcpy(buf + prefix + room - 3, "...", 3);
		len = prefix + room;
	}
	else
		len = prefix + (size_t) n;

	/* One message is one line, whatever the text held. */
	for (size_t i = prefix; i < len; i++)
		if (buf[i] == '\n' || buf[i] == '\r')
			buf[i] = ' ';
	buf[len++] = '\n';

	write_all(2, buf, len);
	errno = saved_errno;
}

void
diag(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	diag_v(fmt, ap);
	va_end(ap);
}

/*
 * Keys already said.  Lock free on purpose: a mutex could be held by another
 * thread at fork and then never released in the child.  A slot goes from NULL
 * to a key once and never changes after, so a compare-and-swap per slot is
 * enough.  Should the table ever fill up, messages are said again rather than
 * lost.
 */
static _Atomic(const char *) once_seen[DIAG_ONCE_SLOTS];

/* Returns 1 when key is seen for the first time (and records it). */
static int
diag_once_claim(const char *key)
{
	for (int i = 0; i < DIAG_ONCE_SLOTS; i++)
	{
		const char *cur = atomic_load(&once_seen[i]);

		if (cur == NULL)
		{
			if (atomic_compare_exchange_strong(&once_seen[i], &cur, key))
				return 1;
			/* lost the race for this slot; cur now holds the winner */
		}
		if (cur == key)
			return 0;
	}
	return 1;
}

void
diag_once(const char *key, const char *fmt,...)
{
	va_list		ap;

	if (!diag_once_claim(key))
		return;
	va_start(ap, fmt);
	diag_v(fmt, ap);
	va_end(ap);
}
