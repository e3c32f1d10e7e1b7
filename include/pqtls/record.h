/*
 * record.h: one JSON line per connection attempt (the SPEC's "The record").
 */
#ifndef PQTLS_RECORD_H
#define PQTLS_RECORD_H

#include "pqtls/attempt.h"
#include "pqtls/effective.h"
#include "pqtls/json.h"
#include "pqtls/tlsinfo.h"

struct verdict;
struct rotation;

typedef struct record_data
{
	bool		have_effective;
	effective	eff;
	tls_info	tls;
	outcome		outcome;
	char	   *error;			/* libpq's message, secrets scrubbed */
	const char *ping;			/* PQping's answer, for the ping entry points */
	struct verdict *dry_run;	/* dry-run and enforce */
	struct rotation *after_rotation;	/* PQTLS_NEW_CA */
} record_data;

/* Render the record as one line of JSON (no newline) into out. */
void		record_render(pqtls_buf *out, const attempt *a, const record_data *d);

/* Render and write to the sink. */
void		record_emit(const attempt *a, const record_data *d);

void		record_data_free(record_data *d);

#include "pqtls/certjson.h"	/* record_render_cert() */

/* Replace every secret of g in s (in place, same length or shorter; scrub.h). */
void		record_scrub(char *s, const given *g);

#endif
