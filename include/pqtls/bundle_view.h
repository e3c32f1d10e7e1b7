/*
 * bundle_view.h: one trust file as `pqtls bundle` shows it: its
 * certificates (truststore.h) with their facts (certfacts.h, OpenSSL) and
 * flaws, and which of the new CAs it holds.  bundle_view.c reads and judges,
 * bundle_print.c prints as text or JSON, cmd_bundle.c is the command.
 */
#ifndef PQTLS_BUNDLE_VIEW_H
#define PQTLS_BUNDLE_VIEW_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "pqtls/certfacts.h"
#include "pqtls/json.h"
#include "pqtls/truststore.h"

/* One certificate of a file, with what is known about it. */
typedef struct bundle_item
{
	const truststore_cert *tc;
	cert_facts *x;				/* NULL when it cannot be read as a certificate */
	char		sha256[CERT_SHA256_HEX];
	bool		expired;
	bool		not_yet_valid;
	bool		not_ca;
	int			duplicate_of;	/* 1-based index of the same DER earlier; 0 none */
	int			same_as;		/* 1-based index of another certificate with the same
								 * subject and key earlier; 0 none */
} bundle_item;

typedef struct file_view
{
	const char *path;
	char	   *error;
	cert_list	list;
	bundle_item *items;
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
	/* Why libpq's OpenSSL would refuse the file as sslrootcert (trustfile.h); NULL when it loads it. */
	char	   *libpq_problem;
	bool		libpq_checked;	/* false for standard input: there is no file to load */
} file_view;

/* Read and judge one file; false when it cannot be read (f->error says why). */
bool		bundle_view_load(file_view *f, const char *path, const char *password, time_t now);
void		bundle_view_free(file_view *f);

/* Which of the new CAs does f hold (f->held_by, f->held)?  false when out of memory. */
bool		bundle_view_check_new_ca(file_view *f, const file_view *newca);

/* Move one's certificates to the end of all (the new CAs of every --new-ca file); -1 when out of memory. */
int			bundle_view_merge(file_view *all, file_view *one);

/* Text for people: control characters (from an alias, say) shown as \xNN. */
void		bundle_put_clean(FILE *out, const char *s);

/* The text output of one file: header, each certificate, flaws, and the new-CA verdict. */
void		bundle_print_text(FILE *out, const file_view *f, const file_view *newca, int readable_new);

/* The JSON object of one file (see SPEC); newca NULL without --new-ca. */
void		bundle_json_file(json_writer *w, const file_view *f, bool read_ok, const file_view *newca);

#endif
