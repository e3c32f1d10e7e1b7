/*
 * rehearsal.h: the rotation rehearsal's verdicts (SPEC: dry_run, after_rotation).
 */
#ifndef PQTLS_REHEARSAL_H
#define PQTLS_REHEARSAL_H

#include <stdbool.h>

#include "pqtls/json.h"

/* The SPEC's reason codes. */
typedef enum reason
{
	REASON_OK,
	REASON_UNTRUSTED_CA,
	REASON_HOSTNAME_MISMATCH,
	REASON_NO_TLS,
	REASON_EXPIRED,
	REASON_NOT_YET_VALID,
	REASON_BUNDLE_UNUSABLE,
	REASON_UNREACHABLE,
	REASON_TIMEOUT,
	REASON_HANDSHAKE_FAILED,
} reason;

typedef enum method
{
	METHOD_CHAIN,
	METHOD_PROBE,
	METHOD_NONE,				/* nothing to judge (a Unix socket) */
} method;

/* Would this connection pass sslmode=verify-full sslrootcert=<bundle>? */
typedef struct verdict
{
	char	   *bundle;
	bool		pass;
	reason		reason;
	method		method;
	char	   *detail;			/* a sentence a person can act on */
} verdict;

typedef enum rotation_kind
{
	ROTATION_UNAFFECTED,
	ROTATION_READY,
	ROTATION_DOWNGRADES,
	ROTATION_BREAKS,
} rotation_kind;

typedef struct rotation
{
	rotation_kind kind;
	char	   *detail;
} rotation;

const char *reason_name(reason r);
const char *rotation_name(rotation_kind k);

verdict    *verdict_new(const char *bundle, bool pass, reason r, method m, const char *detail);
void		verdict_free(verdict *v);
void		verdict_render(json_writer *w, const char *key, const verdict *v);

rotation   *rotation_new(rotation_kind k, const char *detail);
void		rotation_free(rotation *r);
void		rotation_render(json_writer *w, const rotation *r);

#endif
