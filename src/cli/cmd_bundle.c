/*
 * cmd_bundle.c: `pqtls bundle [--new-ca FILE] [--password P] [--format text|json] FILE...`
 *
 * Lists every certificate of CA bundles and trust stores (PEM, DER, Java
 * KeyStore, PKCS#12: truststore.h) with subject, issuer, validity, key and
 * SHA-256, and flags what is wrong with each: expired, not yet valid, not a CA,
 * duplicate.  With --new-ca it answers, per file, "does this trust file hold
 * the new CA?", with the same meaning as the interposer's after_rotation: a
 * certificate with the same subject and the same public key.
 *
 * Each file is also judged as libpq would load it as sslrootcert (trustfile.h:
 * the interposer's rule, with the OpenSSL this command links), and flagged when
 * libpq would refuse it (a damaged block, DER, no certificate).
 *
 * Exit 0 every file read (and, with --new-ca, every one holds a new CA);
 * 1 with --new-ca when some file holds none, or holds one but libpq cannot
 * load it; 2 when a file cannot be read or is not a certificate store, and on
 * usage errors.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pqtls/bundle_view.h"
#include "pqtls/cli.h"
#include "pqtls/json.h"
#include "pqtls/truststore.h"

static const char usage[] =
	"usage: pqtls bundle [--new-ca FILE] [--password P | --password-file F]\n"
	"                    [--format text|json] FILE...\n"
	"\n"
	"Lists each certificate of each trust FILE: subject, issuer, validity, key and\n"
	"SHA-256 of its DER, and flags the flaws: expired, not-yet-valid, not-a-ca (no\n"
	"basicConstraints cA), duplicate (the same certificate earlier in the file),\n"
	"same-subject-and-key (another certificate for the same CA earlier in the file).\n"
	"A file libpq cannot load as sslrootcert (OpenSSL refuses it: a damaged block,\n"
	"DER, no certificate) is flagged with OpenSSL's reason.\n"
	"\n"
	"A FILE may be a PEM bundle (any number of certificates), one DER certificate,\n"
	"a Java KeyStore (JKS or JCEKS: certificates are listed without the password)\n"
	"or a PKCS#12 file (opened with the password given, else the empty password or\n"
	"keytool's default). '-' reads standard input.\n"
	"\n"
	"  --new-ca FILE       the CA certificate(s) the servers will chain to; each FILE\n"
	"                      then says whether it holds one of them (same subject and\n"
	"                      same public key). May be given more than once.\n"
	"  --password P        the store password: checks the integrity of a JKS and\n"
	"                      opens a PKCS#12 (visible to other users in ps: prefer\n"
	"                      --password-file)\n"
	"  --password-file F   the store password, from the first line of F\n"
	"  --format text|json  text for people (default), json for scripts\n"
	"\n"
	"Exit status: 0 every file read (and with --new-ca, every file holds a new CA),\n"
	"1 with --new-ca when some file holds none of them or libpq cannot load it, 2 when\n"
	"a file cannot be read or is not a certificate store, or on a usage error.\n";

enum output_format
{
	OUT_TEXT,
	OUT_JSON,
};

/* ---------------------------------------------------------------------
 * The command
 * --------------------------------------------------------------------- */

/* The first line of a file, without its line end; NULL (errno set) when unreadable. */
static char *
read_password_file(const char *path)
{
	FILE	   *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		n;

	if (fp == NULL)
		return NULL;
	n = getline(&line, &cap, fp);
	if (fp != stdin)
		fclose(fp);
	if (n < 0)
	{
		/* An empty file: the empty password. */
		free(line);
		return strdup("");
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

/* "--opt VALUE" or "--opt=VALUE"; returns the value or NULL, advancing *i. */
static const char *
option_value(int argc, char **argv, int *i, const char *name, bool *matched)
{
	size_t		n = strlen(name);

	*matched = false;
	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
	{
		*matched = true;
		return argv[*i] + n + 1;
	}
	if (argv[*i][n] != '\0')
		return NULL;
	*matched = true;
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

int
cmd_bundle(int argc, char **argv)
{
	const char **files = NULL;
	const char **newca_paths = NULL;
	int			nfiles = 0,
				nnew = 0;
	const char *password = NULL;
	char	   *password_buf = NULL;
	enum output_format format = OUT_TEXT;
	bool		options_done = false;
	int			rc = cli_common_flags(argc, argv, usage);
	int			exit_code = 0;
	file_view	newca = {0};
	file_view  *newca_files = NULL;
	int			readable_new = 0;
	time_t		now = time(NULL);
	pqtls_buf	jbuf;
	json_writer w;

	if (rc >= 0)
		return rc;
	files = calloc((size_t) argc, sizeof(*files));
	newca_paths = calloc((size_t) argc, sizeof(*newca_paths));
	if (files == NULL || newca_paths == NULL)
	{
		free(files);
		free(newca_paths);
		fprintf(stderr, "pqtls bundle: out of memory\n");
		return 2;
	}
	for (int i = 1; i < argc; i++)
	{
		const char *v;
		bool		m;

		if (options_done || argv[i][0] != '-' || strcmp(argv[i], "-") == 0)
		{
			files[nfiles++] = argv[i];
			continue;
		}
		if (strcmp(argv[i], "--") == 0)
		{
			options_done = true;
			continue;
		}
		v = option_value(argc, argv, &i, "--new-ca", &m);
		if (m)
		{
			if (v == NULL || *v == '\0')
			{
				rc = cli_usage_error("bundle", "--new-ca needs a FILE");
				goto out;
			}
			newca_paths[nnew++] = v;
			continue;
		}
		v = option_value(argc, argv, &i, "--password", &m);
		if (m)
		{
			if (v == NULL || password != NULL)
			{
				rc = cli_usage_error("bundle", v ? "one password only" : "--password needs a value");
				goto out;
			}
			password = v;
			continue;
		}
		v = option_value(argc, argv, &i, "--password-file", &m);
		if (m)
		{
			if (v == NULL || password != NULL)
			{
				rc = cli_usage_error("bundle", v ? "one password only" :
									 "--password-file needs a FILE");
				goto out;
			}
			password_buf = read_password_file(v);
			if (password_buf == NULL)
			{
				fprintf(stderr, "pqtls bundle: cannot read the password file %s: %s\n", v,
						strerror(errno));
				rc = 2;
				goto out;
			}
			password = password_buf;
			continue;
		}
		v = option_value(argc, argv, &i, "--format", &m);
		if (m)
		{
			if (v != NULL && strcmp(v, "text") == 0)
				format = OUT_TEXT;
			else if (v != NULL && strcmp(v, "json") == 0)
				format = OUT_JSON;
			else
			{
				rc = cli_usage_error("bundle", "--format takes text or json");
				goto out;
			}
			continue;
		}
		rc = cli_usage_error("bundle", "unknown option '%s'", argv[i]);
		goto out;
	}
	if (nfiles == 0)
	{
		rc = cli_usage_error("bundle", "no FILE given");
		goto out;
	}

	/* The new CAs: every certificate of every --new-ca file. */
	if (nnew > 0)
	{
		newca_files = calloc((size_t) nnew, sizeof(*newca_files));
		if (newca_files == NULL)
		{
			fprintf(stderr, "pqtls bundle: out of memory\n");
			rc = 2;
			goto out;
		}
		for (int k = 0; k < nnew; k++)
		{
			if (!bundle_view_load(&newca_files[k], newca_paths[k], NULL, now) ||
				bundle_view_merge(&newca, &newca_files[k]) != 0)
			{
				fprintf(stderr, "pqtls bundle: --new-ca %s\n",
						newca_files[k].error ? newca_files[k].error : "out of memory");
				rc = 2;
				goto out;
			}
		}
		for (int j = 0; j < newca.n; j++)
			readable_new += newca.items[j].x != NULL;
		if (readable_new == 0)
		{
			fprintf(stderr, "pqtls bundle: --new-ca: no certificate that can be read\n");
			rc = 2;
			goto out;
		}
	}

	buf_init(&jbuf);
	json_init(&w, &jbuf);
	if (format == OUT_JSON)
	{
		json_begin_object(&w);
		json_key(&w, "new_ca");
		if (nnew == 0)
			json_null(&w);
		else
		{
			json_begin_array(&w);
			for (int j = 0; j < newca.n; j++)
			{
				if (newca.items[j].x == NULL)
					continue;
				json_begin_object(&w);
				json_kv_string(&w, "subject", newca.items[j].x->subject);
				json_kv_string(&w, "sha256", newca.items[j].sha256);
				json_kv_string(&w, "not_after", newca.items[j].x->not_after_text);
				json_end_object(&w);
			}
			json_end_array(&w);
		}
		json_key(&w, "files");
		json_begin_array(&w);
	}
	else if (nnew > 0)
	{
		for (int j = 0; j < newca.n; j++)
		{
			if (newca.items[j].x == NULL)
				continue;
			fputs("new CA: ", stdout);
			bundle_put_clean(stdout, newca.items[j].x->subject);
			printf(" (sha256 %s)\n", newca.items[j].sha256);
		}
		fputc('\n', stdout);
	}

	for (int k = 0; k < nfiles; k++)
	{
		file_view	f;
		bool		ok = bundle_view_load(&f, files[k], password, now);

		if (ok && nnew > 0 && !bundle_view_check_new_ca(&f, &newca))
		{
			free(f.error);
			f.error = strdup("out of memory");
			ok = false;
		}
		if (!ok)
		{
			fprintf(stderr, "pqtls bundle: %s\n", f.error ? f.error : "out of memory");
			exit_code = 2;
		}
		else if (nnew > 0 && (f.held == 0 || f.libpq_problem != NULL) && exit_code == 0)
			exit_code = 1;	/* a new CA in a file libpq refuses helps no connection */

		if (format == OUT_JSON)
			bundle_json_file(&w, &f, ok, nnew > 0 ? &newca : NULL);
		else if (ok)
		{
			if (k > 0)
				fputc('\n', stdout);
			bundle_print_text(stdout, &f, nnew > 0 ? &newca : NULL, readable_new);
			fflush(stdout);
		}
		bundle_view_free(&f);
	}

	if (format == OUT_JSON)
	{
		json_end_array(&w);
		json_kv_int(&w, "exit", exit_code);
		json_end_object(&w);
		if (jbuf.oom)
		{
			fprintf(stderr, "pqtls bundle: out of memory\n");
			exit_code = 2;
		}
		else
		{
			fputs(jbuf.data, stdout);
			fputc('\n', stdout);
		}
	}
	buf_free(&jbuf);
	if (fflush(stdout) != 0 && exit_code == 0)
		exit_code = 2;
	rc = exit_code;

out:
	/* The merged new CAs point into the lists of their files: free them first. */
	bundle_view_free(&newca);
	if (newca_files != NULL)
	{
		for (int k = 0; k < nnew; k++)
			bundle_view_free(&newca_files[k]);
		free(newca_files);
	}
	if (password_buf != NULL)
	{
		memset(password_buf, 0, strlen(password_buf));
		free(password_buf);
	}
	free(files);
	free(newca_paths);
	return rc;
}
