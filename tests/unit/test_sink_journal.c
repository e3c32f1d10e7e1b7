/*
 * test_sink_journal.c: PQTLS_LOG=journal, journald's native protocol.
 *
 * The entries are read back by a parser of the protocol written here from
 * systemd's description (NAME=value\n, or NAME\n + 64-bit little-endian
 * length + bytes + \n), never by the code under test.  End to end, a child
 * in a mount namespace of its own puts a tmpfs over /run/systemd and listens
 * on /run/systemd/journal/socket itself, as journald would (the real
 * journald: tests/integration/test_journal.py).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "sinkchild.h"

#ifndef F_GET_SEALS
#define F_GET_SEALS 1034
#endif

/* ---- a reader of the native protocol ---- */

#define MAX_FIELDS 128

typedef struct jfield
{
	char		name[80];
	char	   *value;			/* malloc'ed, NUL-terminated (may hold NULs) */
	size_t		len;
	int			binary;			/* came in the length-prefixed form */
} jfield;

typedef struct jentry
{
	jfield		f[MAX_FIELDS];
	int			n;
	int			ok;				/* the whole buffer parsed */
} jentry;

static void
jentry_parse(jentry *e, const char *p, size_t len)
{
	size_t		i = 0;

	memset(e, 0, sizeof(*e));
	while (i < len && e->n < MAX_FIELDS)
	{
		jfield	   *f = &e->f[e->n];
		size_t		k = i;

		while (k < len && p[k] != '=' && p[k] != '\n')
			k++;
		if (k == len || k - i >= sizeof(f->name))
			return;
		memcpy(f->name, p + i, k - i);
		if (p[k] == '=')
		{
			const char *nl = memchr(p + k + 1, '\n', len - k - 1);

			if (nl == NULL)
				return;
			f->len = (size_t) (nl - (p + k + 1));
			f->value = malloc(f->len + 1);
			memcpy(f->value, p + k + 1, f->len);
			i = (size_t) (nl - p) + 1;
		}
		else
		{
			uint64_t	n = 0;

			if (len - k - 1 < 8)
				return;
			for (int b = 7; b >= 0; b--)
				n = (n << 8) | (unsigned char) p[k + 1 + b];
			if (n > len - k - 9 || len - k - 9 - n < 1 || p[k + 9 + n] != '\n')
				return;
			f->len = n;
			f->value = malloc(n + 1);
			memcpy(f->value, p + k + 9, n);
			f->binary = 1;
			i = k + 9 + n + 1;
		}
		f->value[f->len] = '\0';
		e->n++;
	}
	e->ok = i == len;
}

static void
jentry_free(jentry *e)
{
	for (int i = 0; i < e->n; i++)
		free(e->f[i].value);
	e->n = 0;
}

/* The idx-th value of field name, or NULL. */
static const jfield *
jget(const jentry *e, const char *name, int idx)
{
	for (int i = 0; i < e->n; i++)
		if (strcmp(e->f[i].name, name) == 0 && idx-- == 0)
			return &e->f[i];
	return NULL;
}

static const char *
jval(const jentry *e, const char *name)
{
	const jfield *f = jget(e, name, 0);

	return f ? f->value : NULL;
}

static int
jcount(const jentry *e, const char *name)
{
	int			n = 0;

	while (jget(e, name, n))
		n++;
	return n;
}

static void
format_and_parse(const char *rec, jentry *e)
{
	sink_jbuf	b = {0};

	CHECK_INT(sink_format_journal(&b, rec, strlen(rec)), 0);
	jentry_parse(e, b.p, b.len);
	CHECK(e->ok);
	sink_jbuf_free(&b);
}

/* ---- the entry, in process ---- */

static const char breaking[] =
"{\"ts\":\"2026-12-06T07:00:00.123Z\",\"pid\":4242,\"exe\":\"/usr/bin/psql\","
"\"api\":\"PQconnectdb\",\"host\":\"db1\",\"hosts\":[\"db1\",\"db2\"],"
"\"port\":\"5432\",\"user\":\"\\u00e9l\\u00e8ve\",\"sslmode\":\"verify-full\","
"\"sslmode_source\":\"conninfo\",\"sslrootcert\":null,\"rootcert_exists\":true,"
"\"outcome\":\"failed\",\"error\":\"line one\\nline two\","
"\"tls\":{\"protocol\":\"TLSv1.3\",\"peer\":{\"subject\":\"CN=db1\","
"\"san\":[\"db1\",\"db1.example.com\"]}},"
"\"dry_run\":{\"result\":\"fail\",\"reason\":\"untrusted-ca\",\"method\":\"chain\"},"
"\"after_rotation\":\"breaks\"}";

TEST(entry_has_message_identifier_priority_and_fields)
{
	jentry		e;
	const jfield *f;

	format_and_parse(breaking, &e);
	CHECK_STR(jval(&e, "MESSAGE"), breaking);
	CHECK_INT(jcount(&e, "MESSAGE"), 1);
	CHECK_STR(jval(&e, "SYSLOG_IDENTIFIER"), "pqtls");
	CHECK_STR(jval(&e, "PRIORITY"), "4");
	CHECK_INT(jcount(&e, "PRIORITY"), 1);

	/* every top-level field, named PQTLS_<NAME> */
	CHECK_STR(jval(&e, "PQTLS_TS"), "2026-12-06T07:00:00.123Z");
	CHECK_STR(jval(&e, "PQTLS_PID"), "4242");
	CHECK_STR(jval(&e, "PQTLS_EXE"), "/usr/bin/psql");
	CHECK_STR(jval(&e, "PQTLS_API"), "PQconnectdb");
	CHECK_STR(jval(&e, "PQTLS_HOST"), "db1");
	CHECK_STR(jval(&e, "PQTLS_PORT"), "5432");
	CHECK_STR(jval(&e, "PQTLS_SSLMODE"), "verify-full");
	CHECK_STR(jval(&e, "PQTLS_SSLMODE_SOURCE"), "conninfo");
	CHECK_STR(jval(&e, "PQTLS_ROOTCERT_EXISTS"), "true");
	CHECK_STR(jval(&e, "PQTLS_OUTCOME"), "failed");
	CHECK_STR(jval(&e, "PQTLS_AFTER_ROTATION"), "breaks");
	/* strings unescaped to UTF-8 */
	CHECK_STR(jval(&e, "PQTLS_USER"), "\xc3\xa9l\xc3\xa8ve");
	/* null: left out */
	CHECK(jget(&e, "PQTLS_SSLROOTCERT", 0) == NULL);
	/* arrays: the field once per element */
	CHECK_INT(jcount(&e, "PQTLS_HOSTS"), 2);
	CHECK_STR(jget(&e, "PQTLS_HOSTS", 1)->value, "db2");
	/* objects: flattened */
	CHECK_STR(jval(&e, "PQTLS_TLS_PROTOCOL"), "TLSv1.3");
	CHECK_STR(jval(&e, "PQTLS_TLS_PEER_SUBJECT"), "CN=db1");
	CHECK_INT(jcount(&e, "PQTLS_TLS_PEER_SAN"), 2);
	CHECK_STR(jget(&e, "PQTLS_TLS_PEER_SAN", 1)->value, "db1.example.com");
	CHECK_STR(jval(&e, "PQTLS_DRY_RUN_RESULT"), "fail");
	CHECK_STR(jval(&e, "PQTLS_DRY_RUN_REASON"), "untrusted-ca");
	CHECK(jget(&e, "PQTLS_TLS", 0) == NULL && jget(&e, "PQTLS_DRY_RUN", 0) == NULL);

	/* a newline in a value: the binary-safe form, whole */
	f = jget(&e, "PQTLS_ERROR", 0);
	CHECK(f != NULL && f->binary);
	CHECK_STR(f ? f->value : NULL, "line one\nline two");
	/* and only there */
	CHECK(!jget(&e, "MESSAGE", 0)->binary);
	CHECK(!jget(&e, "PQTLS_EXE", 0)->binary);
	jentry_free(&e);
}

TEST(priority_info_unless_it_breaks_downgrades_or_fails)
{
	jentry		e;

	format_and_parse("{\"after_rotation\":\"ready\",\"dry_run\":{\"result\":\"pass\"}}", &e);
	CHECK_STR(jval(&e, "PRIORITY"), "6");
	jentry_free(&e);
	format_and_parse("{\"after_rotation\":\"downgrades\"}", &e);
	CHECK_STR(jval(&e, "PRIORITY"), "4");
	jentry_free(&e);
	format_and_parse("{\"dry_run\":{\"result\":\"fail\"}}", &e);
	CHECK_STR(jval(&e, "PRIORITY"), "4");
	jentry_free(&e);
	format_and_parse("{\"pid\":1}", &e);
	CHECK_STR(jval(&e, "PRIORITY"), "6");
	jentry_free(&e);
}

TEST(odd_values_stay_whole)
{
	jentry		e;
	const jfield *f;

	/* a NUL from \u0000 takes the binary form too; numbers stay as written */
	format_and_parse("{\"a\":\"x\\u0000y\",\"n\":-1.5e3,\"f\":false,\"o\":{},\"l\":[]}", &e);
	f = jget(&e, "PQTLS_A", 0);
	CHECK(f != NULL && f->binary && f->len == 3 && memcmp(f->value, "x\0y", 3) == 0);
	CHECK_STR(jval(&e, "PQTLS_N"), "-1.5e3");
	CHECK_STR(jval(&e, "PQTLS_F"), "false");
	CHECK(jget(&e, "PQTLS_O", 0) == NULL && jget(&e, "PQTLS_L", 0) == NULL);
	jentry_free(&e);

	/* a key that is not a field name: other characters become '_' */
	format_and_parse("{\"we-ird.key\":1}", &e);
	CHECK_STR(jval(&e, "PQTLS_WE_IRD_KEY"), "1");
	jentry_free(&e);

	/* not JSON (never written by pqtls): still the MESSAGE */
	format_and_parse("not json", &e);
	CHECK_STR(jval(&e, "MESSAGE"), "not json");
	CHECK_STR(jval(&e, "PRIORITY"), "6");
	CHECK_INT(e.n, 3);
	jentry_free(&e);
}

/* ---- end to end, in a mount namespace ---- */

#define JSOCK "/run/systemd/journal/socket"

/* A tmpfs over /run/systemd, in a namespace of our own; 0 or -1. */
static int
private_run_systemd(void)
{
	if (unshare(CLONE_NEWNS) != 0 ||
		mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return -1;
	mkdir("/run/systemd", 0755);
	if (mount("tmpfs", "/run/systemd", "tmpfs", 0, "size=4m") != 0)
		return -1;
	return mkdir("/run/systemd/journal", 0755);
}

static int
listen_journal(void)
{
	struct sockaddr_un sa;
	int			fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, JSOCK);
	unlink(JSOCK);
	if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0)
		return -1;
	return fd;
}

/*
 * One entry, as journald takes it: the datagram, or the memfd passed with
 * an empty one (journald insists on seals; we report them).  Saved to
 * tmpdir/name for the parent.
 */
static void
take_entry(int sock, const char *name)
{
	static char buf[4 << 20];
	char		path[PATH_MAX];
	union
	{
		struct cmsghdr h;
		char		b[CMSG_SPACE(sizeof(int))];
	}			ctl;
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr msg;
	struct cmsghdr *c;
	ssize_t		n;
	int			out;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.b;
	msg.msg_controllen = sizeof(ctl.b);
	n = recvmsg(sock, &msg, MSG_DONTWAIT);
	if (n < 0)
		n = 0;
	c = CMSG_FIRSTHDR(&msg);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
	{
		int			mfd;
		struct stat st;

		memcpy(&mfd, CMSG_DATA(c), sizeof(int));
		dprintf(1, "%s: memfd datagram=%zd seals=%d\n", name, n,
				fcntl(mfd, F_GET_SEALS));
		fstat(mfd, &st);
		n = pread(mfd, buf, sizeof(buf), 0);
		if (n != st.st_size)
			n = 0;
		close(mfd);
	}
	tmp_path(path, sizeof(path), name);
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (n > 0 && write(out, buf, (size_t) n) != n)
		abort();
	close(out);
}

static void
child_fake_journal(void)
{
	int			fd;
	size_t		biglen = 1024 * 1024;
	char	   *big;

	if (private_run_systemd() != 0 || (fd = listen_journal()) < 0)
	{
		dprintf(1, "skip");
		return;
	}
	setenv("PQTLS_LOG", "journal", 1);
	write_str("{\"n\":1,\"after_rotation\":\"breaks\"}");
	take_entry(fd, "e1");

	/* too big for a datagram: a sealed memfd */
	big = malloc(biglen + 32);
	strcpy(big, "{\"n\":2,\"big\":\"");
	memset(big + strlen(big), 'x', biglen);
	strcpy(big + 14 + biglen, "\"}");
	sink_write(big, strlen(big));
	free(big);
	take_entry(fd, "e2");

	/* journald restarts: a new socket at the same path */
	close(fd);
	fd = listen_journal();
	write_str("{\"n\":3}");
	take_entry(fd, "e3");
}

static jentry *
read_entry(const char *name)
{
	static jentry e;
	char		path[PATH_MAX];
	char	   *text;
	struct stat st;
	int			fd;

	tmp_path(path, sizeof(path), name);
	fd = open(path, O_RDONLY);
	memset(&e, 0, sizeof(e));
	if (fd < 0 || fstat(fd, &st) != 0)
		return &e;
	text = malloc((size_t) st.st_size + 1);
	if (read(fd, text, (size_t) st.st_size) == st.st_size)
		jentry_parse(&e, text, (size_t) st.st_size);
	close(fd);
	free(text);
	return &e;
}

TEST(journal_end_to_end_with_memfd_and_restart)
{
	child_result r;
	jentry	   *e;
	const char *big;

	make_tmpdir();
	run_child(child_fake_journal, &r);
	if (strcmp(r.out, "skip") == 0)
	{
		printf("skipped: cannot make a mount namespace here\n");
		remove_tmpdir();
		return;
	}
	CHECK_STR(r.err, "");

	e = read_entry("e1");
	CHECK(e->ok);
	CHECK_STR(jval(e, "MESSAGE"), "{\"n\":1,\"after_rotation\":\"breaks\"}");
	CHECK_STR(jval(e, "PQTLS_AFTER_ROTATION"), "breaks");
	CHECK_STR(jval(e, "PQTLS_N"), "1");
	CHECK_STR(jval(e, "PRIORITY"), "4");
	CHECK_STR(jval(e, "SYSLOG_IDENTIFIER"), "pqtls");
	jentry_free(e);

	/* the big one came as an empty datagram with a memfd sealed four ways */
	CHECK(strstr(r.out, "e2: memfd datagram=0 seals=15\n") != NULL);
	e = read_entry("e2");
	CHECK(e->ok);
	big = jval(e, "PQTLS_BIG");
	CHECK(big != NULL && strlen(big) == 1024 * 1024 && big[0] == 'x');
	CHECK(jval(e, "MESSAGE") != NULL && strlen(jval(e, "MESSAGE")) == 1024 * 1024 + 16);
	jentry_free(e);

	e = read_entry("e3");
	CHECK(e->ok);
	CHECK_STR(jval(e, "MESSAGE"), "{\"n\":3}");
	CHECK_STR(jval(e, "PRIORITY"), "6");
	jentry_free(e);
	remove_tmpdir();
}

static void
child_no_journal(void)
{
	if (private_run_systemd() != 0)
	{
		dprintf(1, "skip");
		return;
	}
	setenv("PQTLS_LOG", "journal", 1);
	write_str("{\"n\":1}");
	write_str("{\"n\":2}");
}

TEST(journal_absent_falls_back_to_stderr)
{
	child_result r;

	run_child(child_no_journal, &r);
	if (strcmp(r.out, "skip") == 0)
	{
		printf("skipped: cannot make a mount namespace here\n");
		return;
	}
	CHECK_INT(count_substr(r.err, "pqtls: "), 1);
	CHECK(strstr(r.err, "PQTLS_LOG=journal: cannot reach " JSOCK) != NULL);
	CHECK(strstr(r.err, "\n{\"n\":1}\n{\"n\":2}\n") != NULL);
	CHECK_INT(count_lines(r.err), 3);
}
