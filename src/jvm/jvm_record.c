/*
 * jvm_record.c: one JSON line per pgjdbc connection attempt, through the same
 * sinks as the interposer's records (PQTLS_LOG: stderr, syslog, journal, path
 * templates), with the SPEC's names ("The record", "The JVM").
 *
 * Only named fields are written, each from a known source: no password from
 * the URL or the Properties can reach a record; pgjdbc's message is masked
 * of them (jvm_tls.c).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pqtls/certjson.h"
#include "pqtls/jvm.h"
#include "pqtls/settings.h"
#include "pqtls/sink.h"
#include "pqtls/x509.h"

/* What pgjdbc was asked, as it resolved it. */
static void
render_settings(json_writer *w, const jdbc_attempt *a)
{
	json_kv_string(w, "driver", a->driver);
	json_kv_string(w, "host", a->host);
	json_kv_string(w, "port", a->port);
	json_kv_string(w, "dbname", a->dbname);
	json_kv_string(w, "user", a->user);
	if (a->hosts != NULL)
		record_kv_hosts(w, a->hosts);
	json_kv_string(w, "transport", "tcp");
	json_kv_string(w, "sslmode", a->sslmode);
	json_kv_string(w, "sslmode_source", a->sslmode_source);
	if (a->ssl != NULL)
	{
		json_kv_string(w, "ssl", a->ssl);
		json_kv_string(w, "ssl_source", a->ssl_source);
	}
	json_kv_string(w, "sslfactory", a->sslfactory);
	json_kv_string(w, "sslfactory_source", a->sslfactory_source);
	json_kv_string(w, "sslrootcert", a->sslrootcert);
	json_kv_string(w, "sslrootcert_source", a->sslrootcert_source);
	if (a->rootcert_file != NULL)
	{
		json_kv_string(w, "rootcert_file", a->rootcert_file);
		json_kv_bool(w, "rootcert_exists", a->rootcert_exists);
	}
	json_key(w, "truststore");
	if (a->truststore == NULL)
		json_null(w);
	else
	{
		json_begin_object(w);
		json_kv_string(w, "path", a->truststore);
		json_kv_string(w, "type", a->truststore_type);
		json_kv_bool(w, "exists", a->truststore_exists);
		json_end_object(w);
	}
	json_kv_string(w, "verify", a->verify);
}

static void
render_tls(json_writer *w, const jdbc_attempt *a)
{
	json_key(w, "tls");
	if (!a->tls)
	{
		json_null(w);
		return;
	}
	json_begin_object(w);
	json_kv_string(w, "protocol", a->protocol);
	json_kv_string(w, "cipher", a->cipher);
	json_key(w, "peer");
	if (a->peer_der != NULL)
		record_render_cert(w, a->peer_der, a->peer_len);
	else
		json_null(w);
	json_end_object(w);
}

static void
render_side(json_writer *w, const char *key, const char *sslmode, const char *sslrootcert,
			const char *sslfactory)
{
	json_key(w, key);
	json_begin_object(w);
	json_kv_string(w, "sslmode", sslmode);
	json_kv_string(w, "sslrootcert", sslrootcert);
	json_kv_string(w, "sslfactory", sslfactory);
	json_end_object(w);
}

static void
render_forced(json_writer *w, const jdbc_attempt *a)
{
	if (!a->forced)
		return;
	json_key(w, "forced");
	json_begin_object(w);
	render_side(w, "from", a->from_sslmode, a->from_sslrootcert, a->from_sslfactory);
	render_side(w, "to", "verify-full", a->to_sslrootcert, "org.postgresql.ssl.LibPQFactory");
	json_end_object(w);
}

static void
render(pqtls_buf *out, const jdbc_attempt *a)
{
	json_writer w;
	char		exe[4096];
	ssize_t		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	exe[n > 0 ? n : 0] = '\0';
	json_init(&w, out);
	json_begin_object(&w);
	record_kv_now(&w);
	json_kv_int(&w, "pid", getpid());
	json_kv_string(&w, "exe", exe);
	if (a->program != NULL)
		json_kv_string(&w, "program", a->program);
	json_kv_string(&w, "api", "jdbc");
	json_kv_string(&w, "mode", settings_mode_name(settings_get()->mode));
	render_settings(&w, a);
	json_kv_string(&w, "outcome", a->ok ? "ok" : "failed");
	json_kv_string(&w, "error", a->error);
	if (a->error_class != NULL)
		json_kv_string(&w, "error_class", a->error_class);
	render_tls(&w, a);
	if (a->dry_run != NULL)
		verdict_render(&w, "dry_run", a->dry_run);
	if (a->after_rotation != NULL)
		rotation_render(&w, a->after_rotation);
	render_forced(&w, a);
	json_end_object(&w);
}

void
jdbc_emit(jdbc_attempt *a)
{
	pqtls_buf	b;

	buf_init(&b);
	render(&b, a);
	if (!b.oom && b.len > 0)
		sink_write(b.data, b.len);
	buf_free(&b);
}

void
jdbc_attempt_free(JNIEnv *env, jdbc_attempt *a)
{
	char	  **strs[] = {
		&a->driver, &a->program, &a->host, &a->port, &a->dbname, &a->user, &a->hosts, &a->sslmode,
		&a->ssl, &a->sslfactory, &a->sslrootcert, &a->rootcert_file, &a->truststore,
		&a->truststore_type, &a->from_sslmode, &a->from_sslrootcert, &a->from_sslfactory,
		&a->to_sslrootcert, &a->error, &a->error_class, &a->protocol, &a->cipher,
		&a->peer_host,
	};

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		free(*strs[i]);
	for (int i = 0; i < a->n_secrets; i++)
	{
		memset(a->secrets[i], 0, strlen(a->secrets[i]));
		free(a->secrets[i]);
	}
	free(a->peer_der);
	verdict_free(a->dry_run);
	rotation_free(a->after_rotation);
	jni_drop(env, (jobject *) &a->chain);
	jni_drop(env, &a->session);
	jni_drop(env, &a->conn);
	jni_drop(env, &a->props);
	jni_drop(env, &a->loader);
	jni_drop(env, (jobject *) &a->exc);
	free(a);
}
