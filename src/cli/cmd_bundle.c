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
 * Exit 0 every file read (and, with --new-ca, every one holds a new CA);
 * 1 with --new-ca when some file holds none; 2 when a file cannot be read or
 * is not a certificate store, and on usage errors.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "pqtls/cli.h"
#include "pqtls/json.h"
#include "pqtls/sha256.h"
#include "pqtls/truststore.h"
#include "pqtls/x509.h"

static const char usage[] =
	"usage: pqtls bundle [--new-ca FILE] [--password P | --password-file F]\n"
	"                    [--format text|json] FILE...\n"
	"\n"
	"Lists each certificate of each trust FILE: subject, issuer, validity, key and\n"
	"SHA-256 of its DER, and flags the flaws: expired, not-yet-valid, not-a-ca (no\n"
	"basicConstraints cA), duplicate (the same certificate earlier in the file),\n"
	"same-subject-and-key (another certificate for the same CA earlier in the file).\n"
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
	"1 with --new-ca when some file holds none of them, 2 when a file cannot be read\n"
	"or is not a certificate store, or on a usage error.\n";

/* One certificate of a file, with what is known about it. */
typedef struct item
{
	const truststore_cert *tc;
	x509_cert  *x;				/* NULL when it cannot be read as a certificate */
	uint8_t    *name_key;		/* x509_name_key() of the subject */
	size_t		name_key_len;
	char		sha256[2 * SHA256_LEN + 1];
	char		not_before[21];
	char		not_after[21];
	bool		self_signed;
	bool		expired;
	bool		not_yet_valid;
	bool		not_ca;
	int			duplicate_of;	/* 1-based index of the same DER earlier; 0 none */
	int			same_as;		/* 1-based index of another certificate with the same
								 * subject and key earlier; 0 none */
} item;

typedef struct file_view
{
	const char *path;
	char	   *error;
	cert_list	list;
	item	   *items;
	int			n;
	int			expired,
				not_yet_valid,
				not_ca,
				duplicates,
				same_key,
				unreadable;
	/* With --new-ca: for each new CA, the 1-based index holding it here (0 none). */
	int		   *held_by;
	int			held;
} file_view;

enum output_format
{
	OUT_TEXT,
	OUT_JSON,
};

/* ---------------------------------------------------------------------
 * Reading and judging one file
 * --------------------------------------------------------------------- */

/* Self-signed: the issuer is the subject and the signature verifies with its own key. */
static bool
is_self_signed(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509	   *x = len <= (size_t) 0x7FFFFFFF ? d2i_X509(NULL, &p, (long) len) : NULL;
	bool		yes = x != NULL && X509_self_signed(x, 1) == 1;

	X509_free(x);
	ERR_clear_error();
	return yes;
}

static int
cmp_sha(const void *a, const void *b, void *arg)
{
	const item *items = arg;
	int			ia = *(const int *) a,
				ib = *(const int *) b;
	int			c = strcmp(items[ia].sha256, items[ib].sha256);

	return c ? c : ia - ib;
}

static int
cmp_subject_key(const void *a, const void *b, void *arg)
{
	const item *items = arg;
	int			ia = *(const int *) a,
				ib = *(const int *) b;
	const item *x = &items[ia],
			   *y = &items[ib];
	int			c;

	/* Unreadable certificates sort last and are never grouped. */
	if ((x->name_key == NULL) != (y->name_key == NULL))
		return x->name_key == NULL ? 1 : -1;
	if (x->name_key == NULL)
		return ia - ib;
	if (x->name_key_len != y->name_key_len)
		return x->name_key_len < y->name_key_len ? -1 : 1;
	if ((c = memcmp(x->name_key, y->name_key, x->name_key_len)) != 0)
		return c;
	if (x->x->spki.len != y->x->spki.len)
		return x->x->spki.len < y->x->spki.len ? -1 : 1;
	if ((c = memcmp(x->x->spki.p, y->x->spki.p, x->x->spki.len)) != 0)
		return c;
	return ia - ib;
}

static bool
same_subject_key(const item *x, const item *y)
{
	return x->name_key != NULL && y->name_key != NULL &&
		x->name_key_len == y->name_key_len &&
		memcmp(x->name_key, y->name_key, x->name_key_len) == 0 &&
		x->x->spki.len == y->x->spki.len &&
		memcmp(x->x->spki.p, y->x->spki.p, x->x->spki.len) == 0;
}

/* Duplicates in O(n log n): sort by fingerprint, then by subject and key. */
static bool
find_duplicates(file_view *f)
{
	int		   *order = malloc((size_t) (f->n ? f->n : 1) * sizeof(int));

	if (order == NULL)
		return false;
	for (int i = 0; i < f->n; i++)
		order[i] = i;
	qsort_r(order, (size_t) f->n, sizeof(int), cmp_sha, f->items);
	for (int k = 1; k < f->n; k++)
	{
		item	   *prev = &f->items[order[k - 1]],
				   *cur = &f->items[order[k]];

		if (strcmp(prev->sha256, cur->sha256) == 0 && cur->tc->der_len == prev->tc->der_len &&
			memcmp(cur->tc->der, prev->tc->der, cur->tc->der_len) == 0)
			cur->duplicate_of = prev->duplicate_of ? prev->duplicate_of : order[k - 1] + 1;
	}
	for (int i = 0; i < f->n; i++)
		order[i] = i;
	qsort_r(order, (size_t) f->n, sizeof(int), cmp_subject_key, f->items);
	for (int k = 1, first = 0; k < f->n; k++)
	{
		if (!same_subject_key(&f->items[order[first]], &f->items[order[k]]))
		{
			first = k;
			continue;
		}
		if (f->items[order[k]].duplicate_of == 0)
			f->items[order[k]].same_as = order[first] + 1;
	}
	free(order);
	for (int i = 0; i < f->n; i++)
	{
		f->duplicates += f->items[i].duplicate_of != 0;
		f->same_key += f->items[i].same_as != 0;
	}
	return true;
}

static void
view_free(file_view *f)
{
	for (int i = 0; i < f->n; i++)
	{
		if (f->items[i].x != NULL)
			x509_free(f->items[i].x);
		free(f->items[i].x);
		free(f->items[i].name_key);
	}
	free(f->items);
	free(f->held_by);
	free(f->error);
	cert_list_free(&f->list);
}

/* Read and judge one file; false when it cannot be read (f->error says why). */
static bool
view_load(file_view *f, const char *path, const char *password, time_t now)
{
	memset(f, 0, sizeof(*f));
	f->path = path;
	if (truststore_read(path, password, &f->list, &f->error) != 0)
		return false;
	f->items = calloc((size_t) f->list.n, sizeof(item));
	if (f->items == NULL)
		goto oom;
	f->n = f->list.n;
	for (int i = 0; i < f->n; i++)
	{
		item	   *it = &f->items[i];
		const truststore_cert *tc = &f->list.certs[i];

		it->tc = tc;
		sha256_hex(tc->der, tc->der_len, it->sha256);
		it->x = malloc(sizeof(x509_cert));
		if (it->x == NULL)
			goto oom;
		if (x509_parse(tc->der, tc->der_len, it->x) != 0)
		{
			free(it->x);
			it->x = NULL;
			f->unreadable++;
			continue;
		}
		it->name_key = x509_name_key(it->x->subject_raw, &it->name_key_len);
		x509_format_time(it->x->not_before, it->not_before);
		x509_format_time(it->x->not_after, it->not_after);
		it->expired = it->x->not_after < now;
		it->not_yet_valid = it->x->not_before > now;
		it->not_ca = !it->x->is_ca;
		it->self_signed = is_self_signed(tc->der, tc->der_len);
		f->expired += it->expired;
		f->not_yet_valid += it->not_yet_valid;
		f->not_ca += it->not_ca;
	}
	if (!find_duplicates(f))
		goto oom;
	return true;
oom:
	free(f->error);
	f->error = strdup("out of memory");
	return false;
}

/* Which of the new CAs does f hold? */
static bool
check_new_ca(file_view *f, const file_view *newca)
{
	f->held_by = calloc((size_t) (newca->n ? newca->n : 1), sizeof(int));
	if (f->held_by == NULL)
		return false;
	for (int j = 0; j < newca->n; j++)
	{
		if (newca->items[j].x == NULL)
			continue;
		for (int i = 0; i < f->n && f->held_by[j] == 0; i++)
			if (f->items[i].x != NULL &&
				x509_same_subject_and_key(f->items[i].x, newca->items[j].x))
				f->held_by[j] = i + 1;
		f->held += f->held_by[j] != 0;
	}
	return true;
}

/* ---------------------------------------------------------------------
 * Text output
 * --------------------------------------------------------------------- */

/* Text a person reads: control characters (from an alias, say) shown as \xNN. */
static void
put_clean(FILE *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
	{
		if (*p < 0x20 || *p == 0x7F)
			fprintf(out, "\\x%02X", *p);
		else
			fputc(*p, out);
	}
}

static void
put_label(FILE *out, const char *label, const char *value)
{
	fprintf(out, "    %-12s", label);
	put_clean(out, value);
	fputc('\n', out);
}

static const char *
integrity_text(const cert_list *l)
{
	switch (l->integrity)
	{
		case TS_INTEGRITY_NONE:
			return NULL;
		case TS_INTEGRITY_UNCHECKED:
			return "integrity not checked: no password given";
		case TS_INTEGRITY_VERIFIED:
			return "integrity verified with the password given";
		case TS_INTEGRITY_DEFAULT:
			return "integrity verified with a default password";
		case TS_INTEGRITY_ABSENT:
			return "no integrity check in the file";
	}
	return NULL;
}

static const char *
plural(int n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static void
text_header(FILE *out, const file_view *f)
{
	const cert_list *l = &f->list;
	const char *integrity = integrity_text(l);

	put_clean(out, f->path);
	fprintf(out, ": %s", truststore_format_name(l->format));
	if (l->version)
		fprintf(out, " version %d", l->version);
	fprintf(out, ", %d %s", f->n, plural(f->n, "certificate", "certificates"));
	if (l->format == TS_FORMAT_JKS || l->format == TS_FORMAT_JCEKS)
		fprintf(out, " in %d %s", l->entries, plural(l->entries, "entry", "entries"));
	if (l->key_entries)
		fprintf(out, ", %d private key %s", l->key_entries,
				plural(l->key_entries, "entry", "entries"));
	if (l->skipped)
		fprintf(out, ", %d %s skipped", l->skipped,
				l->format == TS_FORMAT_PEM ? plural(l->skipped, "malformed block", "malformed blocks") :
				plural(l->skipped, "certificate of another type", "certificates of another type"));
	if (integrity)
		fprintf(out, " (%s)", integrity);
	fputc('\n', out);
}

static void
text_item(FILE *out, const file_view *f, int i)
{
	const item *it = &f->items[i];
	const truststore_cert *tc = it->tc;
	char		buf[256];
	char		flags[512];
	size_t		fl = 0;

	fprintf(out, "\n  #%d\n", i + 1);
	if (tc->alias != NULL)
		put_label(out, "alias", tc->alias);
	if (f->list.format == TS_FORMAT_JKS || f->list.format == TS_FORMAT_JCEKS ||
		f->list.format == TS_FORMAT_PKCS12)
	{
		if (tc->key_entry && tc->chain_len > 0)
			snprintf(buf, sizeof(buf), "private key entry, certificate %d of its chain of %d",
					 tc->chain_pos, tc->chain_len);
		else
			snprintf(buf, sizeof(buf), "%s", tc->key_entry ? "certificate of the private key" :
					 "trusted certificate");
		put_label(out, "entry", buf);
	}
	if (it->x == NULL)
	{
		put_label(out, "sha256", it->sha256);
		put_label(out, "flags", "unreadable (not an X.509 certificate pqtls can read)");
		return;
	}
	put_label(out, "subject", it->x->subject);
	put_label(out, "issuer", it->self_signed ? "(self-signed)" : it->x->issuer);
	put_label(out, "not before", it->not_before);
	put_label(out, "not after", it->not_after);
	put_label(out, "key", it->x->key_desc);
	put_label(out, "kind", it->x->is_ca ? (it->self_signed ? "root CA (self-signed)" :
										   "intermediate CA") :
			  (it->self_signed ? "self-signed, not a CA" : "end-entity certificate, not a CA"));
	put_label(out, "sha256", it->sha256);

	flags[0] = '\0';
#define ADD_FLAG(...) \
	do { \
		if (fl < sizeof(flags)) \
		{ \
			int w_ = snprintf(flags + fl, sizeof(flags) - fl, "%s", fl ? ", " : ""); \
			if (w_ > 0) fl += (size_t) w_; \
		} \
		if (fl < sizeof(flags)) \
		{ \
			int w_ = snprintf(flags + fl, sizeof(flags) - fl, __VA_ARGS__); \
			if (w_ > 0) fl += (size_t) w_; \
		} \
	} while (0)
	if (it->expired)
		ADD_FLAG("expired %s", it->not_after);
	if (it->not_yet_valid)
		ADD_FLAG("not-yet-valid until %s", it->not_before);
	if (it->not_ca)
		ADD_FLAG("not-a-ca");
	if (it->duplicate_of)
		ADD_FLAG("duplicate of #%d", it->duplicate_of);
	if (it->same_as)
		ADD_FLAG("same-subject-and-key as #%d", it->same_as);
#undef ADD_FLAG
	if (fl > 0)
		put_label(out, "flags", flags);
}

static void
text_summary(FILE *out, const file_view *f)
{
	char		buf[256];
	size_t		n = 0;
	const struct
	{
		int			count;
		const char *what;
	}			parts[] = {
		{f->expired, "expired"},
		{f->not_yet_valid, "not yet valid"},
		{f->not_ca, "not a CA"},
		{f->duplicates, f->duplicates == 1 ? "duplicate" : "duplicates"},
		{f->same_key, "same subject and key as another"},
		{f->unreadable, "unreadable"},
	};

	for (size_t k = 0; k < sizeof(parts) / sizeof(parts[0]); k++)
	{
		if (parts[k].count == 0 || n >= sizeof(buf))
			continue;
		int			w = snprintf(buf + n, sizeof(buf) - n, "%s%d %s", n ? ", " : "",
								 parts[k].count, parts[k].what);

		if (w > 0)
			n += (size_t) w;
	}
	fputc('\n', out);
	fprintf(out, "  %-14s%s\n", "flaws", n ? buf : "none");
}

/* Up to three subjects, then "and N more". */
static void
text_subjects(FILE *out, const file_view *newca)
{
	int			shown = 0,
				readable = 0;

	for (int j = 0; j < newca->n; j++)
		readable += newca->items[j].x != NULL;
	for (int j = 0; j < newca->n && shown < 3; j++)
	{
		if (newca->items[j].x == NULL)
			continue;
		if (shown++)
			fputs("; ", out);
		put_clean(out, newca->items[j].x->subject);
	}
	if (readable > shown)
		fprintf(out, "; and %d more", readable - shown);
}

static void
text_verdict(FILE *out, const file_view *f, const file_view *newca, int readable_new)
{
	fprintf(out, "  %-14s", "new CA");
	if (f->held == 0)
	{
		fputs("does NOT hold any of the new CAs (", out);
		text_subjects(out, newca);
		fputs(")\n", out);
		return;
	}
	for (int j = 0; j < newca->n; j++)
	{
		if (f->held_by[j] == 0)
			continue;
		fputs("holds the new CA: ", out);
		put_clean(out, newca->items[j].x->subject);
		fprintf(out, " (#%d", f->held_by[j]);
		if (readable_new > 1)
			fprintf(out, "; %d of the %d new CAs", f->held, readable_new);
		fputs(")\n", out);
		break;
	}
}

/* ---------------------------------------------------------------------
 * JSON output
 * --------------------------------------------------------------------- */

static const char *
integrity_name(const cert_list *l)
{
	switch (l->integrity)
	{
		case TS_INTEGRITY_NONE:
			return NULL;
		case TS_INTEGRITY_UNCHECKED:
			return "unchecked";
		case TS_INTEGRITY_VERIFIED:
			return "verified";
		case TS_INTEGRITY_DEFAULT:
			return "verified-default-password";
		case TS_INTEGRITY_ABSENT:
			return "absent";
	}
	return NULL;
}

static void
json_kv_index(json_writer *w, const char *key, int index)
{
	json_key(w, key);
	if (index > 0)
		json_int(w, index);
	else
		json_null(w);
}

static void
json_item(json_writer *w, const file_view *f, int i)
{
	const item *it = &f->items[i];
	const truststore_cert *tc = it->tc;

	json_begin_object(w);
	json_kv_int(w, "index", i + 1);
	json_kv_string(w, "alias", tc->alias);
	json_kv_index(w, "entry", tc->entry);
	json_kv_bool(w, "key_entry", tc->key_entry);
	json_kv_string(w, "sha256", it->sha256);
	json_kv_bool(w, "readable", it->x != NULL);
	json_kv_string(w, "subject", it->x ? it->x->subject : NULL);
	json_kv_string(w, "issuer", it->x ? it->x->issuer : NULL);
	json_kv_string(w, "not_before", it->x ? it->not_before : NULL);
	json_kv_string(w, "not_after", it->x ? it->not_after : NULL);
	json_kv_string(w, "key", it->x ? it->x->key_desc : NULL);
	json_key(w, "is_ca");
	if (it->x)
		json_bool(w, it->x->is_ca);
	else
		json_null(w);
	json_kv_bool(w, "self_signed", it->self_signed);
	json_key(w, "flags");
	json_begin_array(w);
	if (it->x == NULL)
		json_string(w, "unreadable");
	if (it->expired)
		json_string(w, "expired");
	if (it->not_yet_valid)
		json_string(w, "not-yet-valid");
	if (it->not_ca)
		json_string(w, "not-a-ca");
	if (it->duplicate_of)
		json_string(w, "duplicate");
	if (it->same_as)
		json_string(w, "same-subject-and-key");
	json_end_array(w);
	json_kv_index(w, "duplicate_of", it->duplicate_of);
	json_kv_index(w, "same_subject_and_key_as", it->same_as);
	json_end_object(w);
}

static void
json_file(json_writer *w, const file_view *f, bool read_ok, const file_view *newca)
{
	json_begin_object(w);
	json_kv_string(w, "path", f->path);
	json_kv_string(w, "error", read_ok ? NULL : f->error);
	if (!read_ok)
	{
		json_end_object(w);
		return;
	}
	json_kv_string(w, "format", truststore_format_name(f->list.format));
	json_kv_index(w, "version", f->list.version);
	json_key(w, "entries");
	if (f->list.format == TS_FORMAT_JKS || f->list.format == TS_FORMAT_JCEKS)
		json_int(w, f->list.entries);
	else
		json_null(w);
	json_kv_int(w, "key_entries", f->list.key_entries);
	json_kv_int(w, "count", f->n);
	json_kv_int(w, "skipped", f->list.skipped);
	json_kv_string(w, "integrity", integrity_name(&f->list));
	json_key(w, "certificates");
	json_begin_array(w);
	for (int i = 0; i < f->n; i++)
		json_item(w, f, i);
	json_end_array(w);
	json_key(w, "summary");
	json_begin_object(w);
	json_kv_int(w, "expired", f->expired);
	json_kv_int(w, "not_yet_valid", f->not_yet_valid);
	json_kv_int(w, "not_a_ca", f->not_ca);
	json_kv_int(w, "duplicate", f->duplicates);
	json_kv_int(w, "same_subject_and_key", f->same_key);
	json_kv_int(w, "unreadable", f->unreadable);
	json_end_object(w);
	json_key(w, "new_ca");
	if (newca == NULL)
		json_null(w);
	else
	{
		json_begin_object(w);
		json_kv_bool(w, "holds", f->held > 0);
		json_key(w, "held");
		json_begin_array(w);
		for (int j = 0; j < newca->n; j++)
		{
			if (f->held_by[j] == 0)
				continue;
			json_begin_object(w);
			json_kv_string(w, "subject", newca->items[j].x->subject);
			json_kv_string(w, "sha256", newca->items[j].sha256);
			json_kv_int(w, "index", f->held_by[j]);
			json_end_object(w);
		}
		json_end_array(w);
		json_key(w, "missing");
		json_begin_array(w);
		for (int j = 0; j < newca->n; j++)
		{
			if (f->held_by[j] != 0 || newca->items[j].x == NULL)
				continue;
			json_begin_object(w);
			json_kv_string(w, "subject", newca->items[j].x->subject);
			json_kv_string(w, "sha256", newca->items[j].sha256);
			json_end_object(w);
		}
		json_end_array(w);
		json_end_object(w);
	}
	json_end_object(w);
}

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

static int
merge_new_ca(file_view *all, file_view *one)
{
	/* Keep every file's list alive by moving its items into `all`. */
	item	   *grown = realloc(all->items, (size_t) (all->n + one->n ? all->n + one->n : 1) *
									sizeof(item));

	if (grown == NULL)
		return -1;
	all->items = grown;
	memcpy(all->items + all->n, one->items, (size_t) one->n * sizeof(item));
	all->n += one->n;
	free(one->items);
	one->items = NULL;
	one->n = 0;
	return 0;
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
			if (!view_load(&newca_files[k], newca_paths[k], NULL, now) ||
				merge_new_ca(&newca, &newca_files[k]) != 0)
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
				json_kv_string(&w, "not_after", newca.items[j].not_after);
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
			put_clean(stdout, newca.items[j].x->subject);
			printf(" (sha256 %s)\n", newca.items[j].sha256);
		}
		fputc('\n', stdout);
	}

	for (int k = 0; k < nfiles; k++)
	{
		file_view	f;
		bool		ok = view_load(&f, files[k], password, now);

		if (ok && nnew > 0 && !check_new_ca(&f, &newca))
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
		else if (nnew > 0 && f.held == 0 && exit_code == 0)
			exit_code = 1;

		if (format == OUT_JSON)
			json_file(&w, &f, ok, nnew > 0 ? &newca : NULL);
		else if (ok)
		{
			if (k > 0)
				fputc('\n', stdout);
			text_header(stdout, &f);
			for (int i = 0; i < f.n; i++)
				text_item(stdout, &f, i);
			text_summary(stdout, &f);
			if (nnew > 0)
				text_verdict(stdout, &f, &newca, readable_new);
			fflush(stdout);
		}
		view_free(&f);
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
	view_free(&newca);
	if (newca_files != NULL)
	{
		for (int k = 0; k < nnew; k++)
			view_free(&newca_files[k]);
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
