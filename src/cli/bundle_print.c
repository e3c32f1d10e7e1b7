/*
 * bundle_print.c: `pqtls bundle`'s output of one trust file, as text for
 * people or as JSON (bundle_view.h).
 */
#include <stdio.h>
#include <string.h>

#include "pqtls/bundle_view.h"

/* ---------------------------------------------------------------------
 * Text output
 * --------------------------------------------------------------------- */

/* Text a person reads: control characters (from an alias, say) shown as \xNN. */
void
bundle_put_clean(FILE *out, const char *s)
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
	bundle_put_clean(out, value);
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

	bundle_put_clean(out, f->path);
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
	const bundle_item *it = &f->items[i];
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
	put_label(out, "issuer", it->x->self_signed ? "(self-signed)" : it->x->issuer);
	put_label(out, "not before", it->x->not_before_text);
	put_label(out, "not after", it->x->not_after_text);
	put_label(out, "key", it->x->key_desc);
	put_label(out, "kind", it->x->is_ca ? (it->x->self_signed ? "root CA (self-signed)" :
										   "intermediate CA") :
			  (it->x->self_signed ? "self-signed, not a CA" : "end-entity certificate, not a CA"));
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
		ADD_FLAG("expired %s", it->x->not_after_text);
	if (it->not_yet_valid)
		ADD_FLAG("not-yet-valid until %s", it->x->not_before_text);
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
	if (f->libpq_problem != NULL)
	{
		fprintf(out, "  %-14s%s", "libpq", "CANNOT USE this file (sslrootcert, PQTLS_BUNDLE): ");
		bundle_put_clean(out, f->libpq_problem);
		fputc('\n', out);
	}
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
		bundle_put_clean(out, newca->items[j].x->subject);
	}
	if (readable > shown)
		fprintf(out, "; and %d more", readable - shown);
}

static void
text_verdict(FILE *out, const file_view *f, const file_view *newca, int readable_new)
{
	fprintf(out, "  %-14s", "new CA");
	if (f->held > 0 && f->libpq_problem != NULL)
	{
		fputs("held, but of no use: libpq cannot load this file (see libpq above)\n", out);
		return;
	}
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
		bundle_put_clean(out, newca->items[j].x->subject);
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
	const bundle_item *it = &f->items[i];
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
	json_kv_string(w, "not_before", it->x ? it->x->not_before_text : NULL);
	json_kv_string(w, "not_after", it->x ? it->x->not_after_text : NULL);
	json_kv_string(w, "key", it->x ? it->x->key_desc : NULL);
	json_key(w, "is_ca");
	if (it->x)
		json_bool(w, it->x->is_ca);
	else
		json_null(w);
	json_kv_bool(w, "self_signed", it->x != NULL && it->x->self_signed);
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

void
bundle_json_file(json_writer *w, const file_view *f, bool read_ok, const file_view *newca)
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
	json_key(w, "libpq");
	if (!f->libpq_checked)
		json_null(w);
	else
	{
		json_begin_object(w);
		json_kv_bool(w, "usable", f->libpq_problem == NULL);
		json_kv_string(w, "problem", f->libpq_problem);
		json_end_object(w);
	}
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

void
bundle_print_text(FILE *out, const file_view *f, const file_view *newca, int readable_new)
{
	text_header(out, f);
	for (int i = 0; i < f->n; i++)
		text_item(out, f, i);
	text_summary(out, f);
	if (newca != NULL)
		text_verdict(out, f, newca, readable_new);
}
