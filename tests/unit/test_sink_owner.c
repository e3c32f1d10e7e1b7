/*
 * test_sink_owner.c: a log file is the process's own (sink_open.c).
 *
 * Tried as a new user would: another local user (postgres, who runs the test
 * server) creates the file in /tmp beforehand, mode 0666, and a root program
 * is pointed at it.  Such a file, a group- or world-writable file of our own
 * and a symbolic link are refused with one message, the records going to
 * stderr; the same rule holds for the %p file a forked child opens, and for
 * the file put back after the log was deleted.  Cases that need another user
 * need root (to become that user); they say "skipped" otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "sinkchild.h"
#include "pqtls/sink_parts.h"

static char child_template[PATH_MAX];

static void
child_write_two(void)
{
	setenv("PQTLS_LOG", child_template, 1);
	write_str("{\"n\":1}");
	write_str("{\"n\":2}");
}

/* The other local user, when we may become them (root); else NULL. */
static const struct passwd *
other_user(void)
{
	static struct passwd copy;
	struct passwd *pw;

	if (geteuid() != 0)
		return NULL;
	pw = getpwnam("postgres");
	if (pw == NULL || pw->pw_uid == 0)
		return NULL;
	copy = *pw;
	return &copy;
}

/*
 * Create path as that user would: in a child that has become them, with
 * umask 0 and O_EXCL (the file is theirs from the first byte).  0 on success.
 */
static int
create_as(const struct passwd *pw, const char *path, mode_t mode)
{
	pid_t		pid = fork();
	int			status = 0;

	if (pid == 0)
	{
		int			fd;

		if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
			setuid(pw->pw_uid) != 0)
			_exit(2);
		umask(0);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
		_exit(fd < 0 ? 3 : 0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* A fresh name directly in /tmp, where anyone may create files. */
static void
tmp_name(char *out, size_t outsz, const char *what)
{
	snprintf(out, outsz, "/tmp/pqtls-owner-%ld-%s.jsonl", (long) getpid(), what);
	unlink(out);
}

static void
check_refused(const child_result *r, const char *path, const char *why)
{
	CHECK_INT(count_substr(r->err, "pqtls: "), 1);
	CHECK(strstr(r->err, "PQTLS_LOG: refusing") != NULL);
	CHECK(strstr(r->err, path) != NULL);
	CHECK(strstr(r->err, why) != NULL);
	/* every record on stderr, whole, after the message */
	CHECK(strstr(r->err, "\n{\"n\":1}\n{\"n\":2}\n") != NULL);
	CHECK_INT(count_lines(r->err), 3);
}

static void
check_empty(const char *path)
{
	struct stat st;

	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_size, 0);
}

/* ---- the rule, on what fstat() says ---- */

TEST(rule_on_owner_and_mode)
{
	struct stat st;

	memset(&st, 0, sizeof(st));
	st.st_uid = 1000;
	st.st_mode = S_IFREG | 0600;
	CHECK_INT(sink_owner_check(&st, 1000), SINK_OWNER_OK);
	st.st_mode = S_IFREG | 0644;	/* readable is the owner's choice */
	CHECK_INT(sink_owner_check(&st, 1000), SINK_OWNER_OK);
	st.st_mode = S_IFREG | 0620;
	CHECK_INT(sink_owner_check(&st, 1000), SINK_OWNER_SHARED_WRITE);
	st.st_mode = S_IFREG | 0602;
	CHECK_INT(sink_owner_check(&st, 1000), SINK_OWNER_SHARED_WRITE);
	st.st_mode = S_IFIFO | 0666;
	CHECK_INT(sink_owner_check(&st, 1000), SINK_OWNER_SHARED_WRITE);
	st.st_mode = S_IFREG | 0600;
	CHECK_INT(sink_owner_check(&st, 0), SINK_OWNER_OTHER_USER);
	st.st_uid = 0;
	CHECK_INT(sink_owner_check(&st, 1000), SINK_OWNER_OTHER_USER);
	/* a character device (/dev/null, a terminal) keeps nothing to read back */
	st.st_mode = S_IFCHR | 0666;
	CHECK_INT(sink_owner_check(&st, 1000), SINK_OWNER_OK);
}

/* ---- files, one child per case ---- */

TEST(other_users_world_writable_file_in_tmp_refused)
{
	const struct passwd *pw = other_user();
	child_result r;
	char		want[64];

	if (pw == NULL)
	{
		printf("skipped: needs root and a postgres user\n");
		return;
	}
	tmp_name(child_template, sizeof(child_template), "planted");
	CHECK_INT(create_as(pw, child_template, 0666), 0);
	run_child(child_write_two, &r);
	snprintf(want, sizeof(want), "belongs to uid %ld", (long) pw->pw_uid);
	check_refused(&r, child_template, want);
	check_empty(child_template);
	unlink(child_template);
}

TEST(other_users_private_file_refused)
{
	const struct passwd *pw = other_user();
	child_result r;

	if (pw == NULL)
	{
		printf("skipped: needs root and a postgres user\n");
		return;
	}
	/* root could write to it anyway; it is still someone else's file */
	tmp_name(child_template, sizeof(child_template), "theirs");
	CHECK_INT(create_as(pw, child_template, 0600), 0);
	run_child(child_write_two, &r);
	check_refused(&r, child_template, "belongs to uid");
	check_empty(child_template);
	unlink(child_template);
}

static void
own_file_mode_case(mode_t mode, const char *why)
{
	child_result r;

	make_tmpdir();
	tmp_path(child_template, sizeof(child_template), "log.jsonl");
	spew(child_template, "");
	CHECK_INT(chmod(child_template, mode), 0);
	run_child(child_write_two, &r);
	check_refused(&r, child_template, why);
	check_empty(child_template);
	remove_tmpdir();
}

TEST(own_group_writable_file_refused)
{
	own_file_mode_case(0660, "lets the group write");
}

TEST(own_world_writable_file_refused)
{
	own_file_mode_case(0666, "lets the group and others write");
	own_file_mode_case(0602, "lets others write");
}

TEST(symlink_in_tmp_refused)
{
	child_result r;
	char		target[PATH_MAX];

	make_tmpdir();
	tmp_path(target, sizeof(target), "target.jsonl");
	spew(target, "");
	chmod(target, 0600);
	tmp_name(child_template, sizeof(child_template), "link");
	CHECK_INT(symlink(target, child_template), 0);
	run_child(child_write_two, &r);
	CHECK_INT(count_substr(r.err, "pqtls: "), 1);
	CHECK(strstr(r.err, "symbolic link") != NULL);
	CHECK(strstr(r.err, "\n{\"n\":1}\n{\"n\":2}\n") != NULL);
	check_empty(target);
	unlink(child_template);
	remove_tmpdir();
}

TEST(own_private_files_accepted)
{
	static const mode_t modes[] = {0600, 0640, 0644, 0400};
	child_result r;

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
	{
		char	   *text;

		make_tmpdir();
		tmp_path(child_template, sizeof(child_template), "log.jsonl");
		spew(child_template, "");
		chmod(child_template, modes[i]);
		run_child(child_write_two, &r);
		text = slurp(child_template);
		if (geteuid() == 0 || (modes[i] & 0200))
		{
			CHECK_STR(r.err, "");
			CHECK_STR(text, "{\"n\":1}\n{\"n\":2}\n");
		}
		free(text);
		remove_tmpdir();
	}
}

TEST(new_file_created_0600_even_with_open_umask)
{
	child_result r;
	struct stat st;
	mode_t		old = umask(0);

	make_tmpdir();
	tmp_path(child_template, sizeof(child_template), "new.jsonl");
	run_child(child_write_two, &r);
	umask(old);
	CHECK_STR(r.err, "");
	CHECK_INT(stat(child_template, &st), 0);
	CHECK_INT(st.st_mode & 07777, 0600);
	CHECK_INT(st.st_uid, geteuid());
	remove_tmpdir();
}

TEST(character_device_accepted)
{
	child_result r;

	snprintf(child_template, sizeof(child_template), "/dev/null");
	run_child(child_write_two, &r);
	CHECK_STR(r.err, "");
}

/*
 * %p: the parent's file is fine, but the other user has already created the
 * one the child will open: the child refuses it (its own message, its
 * records on its stderr), the parent goes on writing to its file.
 */
static void
child_fork_into_planted(void)
{
	const struct passwd *pw = other_user();
	char		kidpath[PATH_MAX];
	pid_t		kid;
	int			go[2];

	setenv("PQTLS_LOG", child_template, 1);
	write_str("{\"who\":\"parent\",\"n\":1}");
	if (pipe(go) != 0)
		abort();
	kid = fork();
	if (kid == 0)
	{
		char		c;

		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		write_str("{\"who\":\"child\"}");
		_exit(0);
	}
	close(go[0]);
	/* the child's name is known once it exists: plant the file, then let it go */
	if (sink_expand_template(child_template, kidpath, sizeof(kidpath)) != 0)
		abort();
	snprintf(strrchr(kidpath, '/') + 1, 32, "%ld.jsonl", (long) kid);
	(void) create_as(pw, kidpath, 0666);
	if (write(go[1], "x", 1) != 1)
		abort();
	close(go[1]);
	waitpid(kid, NULL, 0);
	write_str("{\"who\":\"parent\",\"n\":2}");
	dprintf(1, "%ld %ld", (long) getpid(), (long) kid);
}

TEST(forked_child_percent_p_file_same_rule)
{
	child_result r;
	long		me = 0,
				kid = 0;
	char		path[PATH_MAX];
	char		name[64];
	char	   *text;

	if (other_user() == NULL)
	{
		printf("skipped: needs root and a postgres user\n");
		return;
	}
	make_tmpdir();
	chmod(tmpdir, 0777);		/* (the other user plants the child's file) */
	tmp_path(child_template, sizeof(child_template), "%p.jsonl");
	run_child(child_fork_into_planted, &r);
	CHECK_INT(sscanf(r.out, "%ld %ld", &me, &kid), 2);

	/* the parent's own file holds its two records */
	snprintf(name, sizeof(name), "%ld.jsonl", me);
	tmp_path(path, sizeof(path), name);
	text = slurp(path);
	CHECK_STR(text, "{\"who\":\"parent\",\"n\":1}\n{\"who\":\"parent\",\"n\":2}\n");
	free(text);

	/* the child refused the planted file: one message, its record on stderr */
	snprintf(name, sizeof(name), "%ld.jsonl", kid);
	tmp_path(path, sizeof(path), name);
	check_empty(path);
	CHECK_INT(count_substr(r.err, "pqtls: "), 1);
	CHECK(strstr(r.err, "refusing") != NULL && strstr(r.err, path) != NULL);
	CHECK(strstr(r.err, "\n{\"who\":\"child\"}\n") != NULL);
	remove_tmpdir();
}

/*
 * The log is deleted while in use and another user puts a file of theirs
 * at its path before the next record: that file is refused too.
 */
static void
child_deleted_then_planted(void)
{
	setenv("PQTLS_LOG", child_template, 1);
	write_str("{\"n\":0}");
	unlink(child_template);
	(void) create_as(other_user(), child_template, 0666);
	write_str("{\"n\":1}");
	write_str("{\"n\":2}");
}

TEST(replanted_after_deletion_refused)
{
	child_result r;

	if (other_user() == NULL)
	{
		printf("skipped: needs root and a postgres user\n");
		return;
	}
	make_tmpdir();
	chmod(tmpdir, 0777);
	tmp_path(child_template, sizeof(child_template), "log.jsonl");
	run_child(child_deleted_then_planted, &r);
	check_refused(&r, child_template, "belongs to uid");
	check_empty(child_template);
	remove_tmpdir();
}
