/*
 * record.c: rendering an attempt as one JSON line (SPEC, "The record").
 *
 * Only named fields are written, each from a known source: no password can
 * reach a record except through libpq's error message, which is scrubbed of
 * every password the call carried or the environment holds.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pqtls/annotate.h"
#include "pqtls/record.h"
#include "pqtls/rehearsal.h"
#include "pqtls/scrub.h"
#include "pqtls/sink.h"
#include "pqtls/x509.h"
#include "pqtls/certjson.h"

static char exe_path[4096];
static pthread_once_t exe_once = PTHREAD_ONCE_INIT;

static void
read_exe_path(void)
{
	ssize_t		n = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1);

	exe_path[n > 0 ? n : 0] = '\0';
	ANNOTATE_HAPPENS_BEFORE(&exe_once);
}

static const char *
outcome_name(outcome o)
{
	switch (o)
	{
		case OUTCOME_OK:
			return "ok";
		case OUTCOME_ABANDONED:
			return "abandoned";
		case OUTCOME_FAILED:
			break;
	}
	return "failed";
}

/* Mask every secret the call carried (scrub.c says how). */
void
record_scrub(char *s, const given *g)
{
	if (s == NULL)
		return;
	for (int i = 0; i < g->n_secrets; i++)
		scrub_secret(s, g->secrets[i]);
}

static void
render_tls(json_writer *w, const tls_info *t, const peer_chain *captured)
{
	const peer_chain *chain = t->chain.n > 0 ? &t->chain : captured;

	json_key(w, "tls");
	if (!t->in_use)
	{
		json_null(w);
		return;
	}
	json_begin_object(w);
	json_kv_string(w, "protocol", t->protocol[0] ? t->protocol : NULL);
	json_kv_string(w, "cipher", t->cipher[0] ? t->cipher : NULL);
	json_key(w, "peer");
	if (chain->n > 0)
		record_render_cert(w, chain->cert[0].der, chain->cert[0].len);
	else
		json_null(w);
	json_end_object(w);
}

/*
 * A failed handshake leaves no TLS on the connection, but the certificate that
 * made it fail is what a person needs to see.
 */
static void
render_failed_peer(json_writer *w, const peer_chain *captured)
{
	if (captured->n == 0)
		return;
	json_key(w, "failed_peer");
	record_render_cert(w, captured->cert[0].der, captured->cert[0].len);
}

static void
render_effective(json_writer *w, const effective *e)
{
	json_kv_string(w, "host", e->host);
	json_kv_string(w, "hostaddr", e->hostaddr);
	json_kv_string(w, "port", e->port);
	json_kv_string(w, "dbname", e->dbname);
	json_kv_string(w, "user", e->user);
	if (e->hosts != NULL)
		record_kv_hosts(w, e->hosts);
	json_kv_string(w, "application_name", e->application_name);
	json_kv_string(w, "transport", e->transport);
	json_kv_string(w, "sslmode", e->sslmode);
	json_kv_string(w, "sslmode_source", e->sslmode_source);
	json_kv_string(w, "sslrootcert", e->sslrootcert);
	json_kv_string(w, "sslrootcert_source", e->sslrootcert_source);
	json_kv_string(w, "rootcert_file", e->rootcert_file);
	json_kv_bool(w, "rootcert_exists", e->rootcert_exists);
	json_kv_string(w, "verify", e->verify);
	for (int i = 0; i < VS_COUNT; i++)
		if (e->versioned[i].present)
			json_kv_string(w, effective_versioned_names[i], e->versioned[i].value);
}

/*
 * PQlibVersion() as major.minor (10 and later: major * 10000 + minor), e.g.
 * 170010 -> "17.10". Absent when the serving libpq does not say (before 9.1).
 */
static void
render_libpq(json_writer *w, const pq_api *pq)
{
	char		v[24];

	if (pq == NULL || pq->version <= 0)
		return;
	snprintf(v, sizeof(v), "%d.%d", pq->version / 10000, pq->version % 10000);
	json_kv_string(w, "libpq", v);
}

static void
render_forced(json_writer *w, const forced *f)
{
	if (!f->active)
		return;
	json_key(w, "forced");
	json_begin_object(w);
	json_key(w, "from");
	json_begin_object(w);
	json_kv_string(w, "sslmode", f->from_sslmode);
	json_kv_string(w, "sslrootcert", f->from_sslrootcert);
	json_end_object(w);
	json_key(w, "to");
	json_begin_object(w);
	json_kv_string(w, "sslmode", f->to_sslmode);
	json_kv_string(w, "sslrootcert", f->to_sslrootcert);
	json_end_object(w);
	json_end_object(w);
}

void
record_render(pqtls_buf *out, const attempt *a, const record_data *d)
{
	json_writer w;

	pthread_once(&exe_once, read_exe_path);
	ANNOTATE_HAPPENS_AFTER(&exe_once);
	json_init(&w, out);
	json_begin_object(&w);
	record_kv_now(&w);
	json_kv_int(&w, "pid", getpid());
	json_kv_string(&w, "exe", exe_path);
	json_kv_string(&w, "api", a->api);
	json_kv_string(&w, "mode", settings_mode_name(a->set->mode));
	render_libpq(&w, a->pq);
	if (d->have_effective)
		render_effective(&w, &d->eff);
	json_kv_string(&w, "outcome", outcome_name(d->outcome));
	json_kv_string(&w, "error", d->error);
	if (d->ping != NULL)
		json_kv_string(&w, "ping", d->ping);
	render_tls(&w, &d->tls, &a->captured);
	if (!d->tls.in_use)
		render_failed_peer(&w, &a->captured);
	if (d->dry_run != NULL)
		verdict_render(&w, "dry_run", d->dry_run);
	if (d->after_rotation != NULL)
		rotation_render(&w, d->after_rotation);
	render_forced(&w, &a->forced);
	json_end_object(&w);
}

void
record_emit(const attempt *a, const record_data *d)
{
	pqtls_buf	b;

	buf_init(&b);
	record_render(&b, a, d);
	if (!b.oom && b.len > 0)
		sink_write(b.data, b.len);
	buf_free(&b);
}

void
record_data_free(record_data *d)
{
	if (d->have_effective)
		effective_free(&d->eff);
	tlsinfo_free(&d->tls);
	free(d->error);
	verdict_free(d->dry_run);
	rotation_free(d->after_rotation);
	memset(d, 0, sizeof(*d));
}
