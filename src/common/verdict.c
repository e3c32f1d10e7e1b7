/*
 * verdict.c: the rehearsal's verdicts as values, and as JSON.
 */
#include <stdlib.h>
#include <string.h>

#include "pqtls/rehearsal.h"

const char *
reason_name(reason r)
{
	/* Names in place, not pointers: no relocation at load (nametab.h). */
	static const char names[][20] = {
		"ok", "untrusted-ca", "hostname-mismatch", "no-tls", "expired",
		"not-yet-valid", "bundle-unusable", "unreachable", "timeout",
		"handshake-failed",
	};

	return (unsigned) r < sizeof(names) / sizeof(names[0]) ? names[r] : "handshake-failed";
}

const char *
rotation_name(rotation_kind k)
{
	static const char names[][12] = {"unaffected", "ready", "downgrades", "breaks"};

	return (unsigned) k < sizeof(names) / sizeof(names[0]) ? names[k] : "breaks";
}

static const char *
method_name(method m)
{
	return m == METHOD_CHAIN ? "chain" : m == METHOD_PROBE ? "probe" : NULL;
}

verdict *
verdict_new(const char *bundle, bool pass, reason r, method m, const char *detail)
{
	verdict    *v = calloc(1, sizeof(*v));

	if (v == NULL)
		return NULL;
	v->bundle = bundle ? strdup(bundle) : NULL;
	v->pass = pass;
	v->reason = r;
	v->method = m;
	v->detail = detail ? strdup(detail) : NULL;
	return v;
}

void
verdict_free(verdict *v)
{
	if (v == NULL)
		return;
	free(v->bundle);
	free(v->detail);
	free(v);
}

void
verdict_render(json_writer *w, const char *key, const verdict *v)
{
	json_key(w, key);
	json_begin_object(w);
	json_kv_string(w, "bundle", v->bundle);
	json_kv_string(w, "result", v->pass ? "pass" : "fail");
	json_kv_string(w, "reason", reason_name(v->reason));
	json_kv_string(w, "method", method_name(v->method));
	json_kv_string(w, "detail", v->detail);
	json_end_object(w);
}

rotation *
rotation_new(rotation_kind k, const char *detail)
{
	rotation   *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->kind = k;
	r->detail = detail ? strdup(detail) : NULL;
	return r;
}

void
rotation_free(rotation *r)
{
	if (r == NULL)
		return;
	free(r->detail);
	free(r);
}

void
rotation_render(json_writer *w, const rotation *r)
{
	json_kv_string(w, "after_rotation", rotation_name(r->kind));
	if (r->detail != NULL)
		json_kv_string(w, "after_rotation_detail", r->detail);
}
