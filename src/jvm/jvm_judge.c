/*
 * jvm_judge.c: dry_run and after_rotation for a pgjdbc connection, asked of
 * the JVM and of pgjdbc.
 *
 * dry_run: would the connection pass pgjdbc's sslmode=verify-full with
 * sslrootcert=$PQTLS_BUNDLE (LibPQFactory)?  The chain is the one the
 * program's own handshake received (else a side handshake, jvm_probe.c); it
 * goes to checkServerTrusted of the trust manager LibPQFactory would make
 * from the bundle (jvm_trust.c), then the host name to pgjdbc's own
 * PGjdbcHostnameVerifier, in that order, as MakeSSL does.
 *
 * after_rotation: would it still connect once the server chains to
 * PQTLS_NEW_CA?  It checks certificates when `verify` says so (pgjdbc's
 * rules, jvm_settings.c); then its own trust source (LibPQFactory's root file,
 * or the JVM's trust store under DefaultJavaSSLFactory) must hold a new CA.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pqtls/diag.h"
#include "pqtls/jvm.h"
#include "pqtls/jvm_probe.h"
#include "pqtls/jvm_trust.h"
#include "pqtls/settings.h"

static verdict *
verdict_fmt(const char *bundle, bool pass, reason r, method m, const char *fmt,
			const char *x, const char *y)
{
	char		detail[1024];

	snprintf(detail, sizeof(detail), fmt, x ? x : "", y ? y : "");
	return verdict_new(bundle, pass, r, m, detail);
}

/*
 * The authType JSSE's client hands its trust manager: the key exchange of a
 * TLS 1.2 suite (TLS_ECDHE_RSA_WITH_... gives ECDHE_RSA), "UNKNOWN" in 1.3.
 */
static char *
auth_type(JNIEnv *env, jobject session)
{
	char	   *suite = jni_call_str(env, session, "getCipherSuite");
	char	   *with = suite ? strstr(suite, "_WITH_") : NULL;
	char	   *r;

	if (suite == NULL || strncmp(suite, "TLS_", 4) != 0 || with == NULL)
		r = strdup("UNKNOWN");
	else
		r = strndup(suite + 4, (size_t) (with - suite - 4));
	free(suite);
	return r;
}

/* Certificate[] as X509Certificate[], the type checkServerTrusted takes. */
static jobjectArray
x509_array(JNIEnv *env, jobjectArray chain)
{
	jsize		n = (*env)->GetArrayLength(env, chain);
	jclass		c = (*env)->FindClass(env, "java/security/cert/X509Certificate");
	jobjectArray out = c ? (*env)->NewObjectArray(env, n, c, NULL) : NULL;

	for (jsize i = 0; out != NULL && i < n; i++)
	{
		jobject		e = (*env)->GetObjectArrayElement(env, chain, i);

		(*env)->SetObjectArrayElement(env, out, i, e);
		(*env)->DeleteLocalRef(env, e);
	}
	return jni_clear(env) ? NULL : out;
}

/* The reason a trust manager refused the chain, from the exception's causes. */
static reason
refusal_reason(JNIEnv *env, jthrowable t)
{
	for (int depth = 0; t != NULL && depth < 8; depth++)
	{
		if (jni_instance_of(env, t, "java/security/cert/CertificateExpiredException"))
			return REASON_EXPIRED;
		if (jni_instance_of(env, t, "java/security/cert/CertificateNotYetValidException"))
			return REASON_NOT_YET_VALID;
		t = (jthrowable) jni_call_obj(env, t, "getCause", "()Ljava/lang/Throwable;");
	}
	return REASON_UNTRUSTED_CA;
}

/* Does the chain pass the trust manager?  NULL when it does, else why not. */
static char *
check_trusted(JNIEnv *env, jobject tm, jobjectArray chain, jobject session, reason *why)
{
	jobjectArray certs = x509_array(env, chain);
	char	   *auth = auth_type(env, session);
	jstring		a = jni_jstr(env, auth);
	jclass		c = (*env)->FindClass(env, "javax/net/ssl/X509TrustManager");
	jmethodID	m = c ? (*env)->GetMethodID(env, c, "checkServerTrusted",
											"([Ljava/security/cert/X509Certificate;Ljava/lang/String;)V") : NULL;
	jthrowable	t;
	char	   *msg;

	free(auth);
	if (certs == NULL || m == NULL)
	{
		jni_clear(env);
		*why = REASON_HANDSHAKE_FAILED;
		return strdup("the chain could not be handed to the trust manager");
	}
	(*env)->CallVoidMethod(env, tm, m, certs, a);
	if ((t = (*env)->ExceptionOccurred(env)) == NULL)
		return NULL;
	(*env)->ExceptionClear(env);
	*why = refusal_reason(env, t);
	msg = jni_call_str(env, t, "getMessage");
	return msg ? msg : strdup("refused");
}

/* pgjdbc's PGjdbcHostnameVerifier.INSTANCE.verify(host, session). */
static bool
hostname_ok(JNIEnv *env, jobject loader, const char *host, jobject session)
{
	jclass		c = jni_load_class(env, loader, "org.postgresql.ssl.PGjdbcHostnameVerifier");
	jfieldID	f = c ? (*env)->GetStaticFieldID(env, c, "INSTANCE",
												 "Lorg/postgresql/ssl/PGjdbcHostnameVerifier;") : NULL;
	jobject		v = f ? (*env)->GetStaticObjectField(env, c, f) : NULL;
	jstring		h = jni_jstr(env, host);

	jni_clear(env);
	return v != NULL && h != NULL &&
		jni_call_bool(env, v, "verify", "(Ljava/lang/String;Ljavax/net/ssl/SSLSession;)Z", h, session);
}

static char *
leaf_subject(JNIEnv *env, jobjectArray chain)
{
	jobject		leaf = (*env)->GetArrayLength(env, chain) > 0 ?
		(*env)->GetObjectArrayElement(env, chain, 0) : NULL;
	jobject		s = jni_call_obj(env, leaf, "getSubjectX500Principal",
								 "()Ljavax/security/auth/x500/X500Principal;");

	return s ? jni_call_str(env, s, "toString") : NULL;
}

static verdict *
judge_chain(JNIEnv *env, const jdbc_attempt *a, const char *bundle, jobjectArray chain,
			jobject session, method m)
{
	char	   *error = NULL,
			   *refusal,
			   *subject;
	jobject		tm = jtrust_bundle_manager(env, bundle, &error);
	reason		why = REASON_OK;
	verdict    *v;

	if (tm == NULL)
	{
		v = verdict_fmt(bundle, false, REASON_BUNDLE_UNUSABLE, m,
						"pgjdbc's LibPQFactory cannot use the bundle: %s%s", error, NULL);
		free(error);
		return v;
	}
	subject = leaf_subject(env, chain);
	if ((refusal = check_trusted(env, tm, chain, session, &why)) != NULL)
		v = verdict_fmt(bundle, false, why, m,
						"pgjdbc with sslmode=verify-full and this bundle would refuse the server's "
						"certificate: %s%s", refusal, NULL);
	else if (!hostname_ok(env, a->loader, a->host, session))
		v = verdict_fmt(bundle, false, REASON_HOSTNAME_MISMATCH, m,
						"the chain is trusted, but pgjdbc's host name check refuses \"%s\" for "
						"the certificate of %s", a->host, subject);
	else
		v = verdict_fmt(bundle, true, REASON_OK, m,
						"pgjdbc with sslmode=verify-full and this bundle would accept %s%s",
						subject, NULL);
	free(refusal);
	free(subject);
	return v;
}

static verdict *
dry_run(JNIEnv *env, const jdbc_attempt *a, const pqtls_settings *set)
{
	jvm_probe	p;
	verdict    *v;

	if (set->bundle == NULL)
	{
		diag_once("PQTLS_BUNDLE", "PQTLS_BUNDLE is not set; the rehearsal has no bundle to judge against");
		return verdict_new(NULL, false, REASON_BUNDLE_UNUSABLE, METHOD_NONE, "PQTLS_BUNDLE is not set");
	}
	if (a->chain != NULL && a->session != NULL)
		return judge_chain(env, a, set->bundle, a->chain, a->session, METHOD_CHAIN);
	if (a->host == NULL || a->port == NULL)
		return verdict_new(set->bundle, false, REASON_UNREACHABLE, METHOD_PROBE, "no host to probe");
	if (jvm_probe_run(env, a->loader, a->host, atoi(a->port), (int) set->probe_timeout_ms, &p))
		v = judge_chain(env, a, set->bundle, p.chain, p.session, METHOD_PROBE);
	else
		v = verdict_fmt(set->bundle, false, p.reason, METHOD_PROBE,
						"a side handshake with %s failed: %s", a->host, p.detail);
	jvm_probe_close(env, &p);
	return v;
}

/* The certificates of the program's own trust source, or NULL with *error. */
static jobjectArray
trust_source(JNIEnv *env, const jdbc_attempt *a, const char **name, char **error)
{
	if (a->rootcert_file != NULL)
	{
		*name = a->rootcert_file;
		return jtrust_pem_certs(env, a->rootcert_file, error);
	}
	if (a->truststore != NULL)
	{
		*name = a->truststore;
		return jtrust_store_certs(env, a->truststore, a->truststore_type, error);
	}
	*name = "(none)";
	*error = strdup("no trust source");
	return NULL;
}

static rotation *
rotation_fmt(rotation_kind k, const char *fmt, const char *x, const char *y)
{
	char		detail[1024];

	snprintf(detail, sizeof(detail), fmt, x ? x : "", y ? y : "");
	return rotation_new(k, detail);
}

/*
 * Does pgjdbc's host name check refuse this connection's server now?  Only
 * verify-full checks the name, whatever the factory (rule 13), and the
 * rotation changes the CA, not the names: a refused name fails before and
 * after.  The certificate is the one of the program's session, else (the
 * connection failed) the one a side handshake receives.
 */
static bool
host_refused(JNIEnv *env, const jdbc_attempt *a, const pqtls_settings *set)
{
	jvm_probe	p = {0};
	bool		refused = false;

	if (a->sslmode == NULL || strcmp(a->sslmode, "verify-full") != 0 || a->host == NULL)
		return false;
	if (a->session != NULL)
		return !hostname_ok(env, a->loader, a->host, a->session);
	if (a->port != NULL &&
		jvm_probe_run(env, a->loader, a->host, atoi(a->port), (int) set->probe_timeout_ms, &p))
		refused = !hostname_ok(env, a->loader, a->host, p.session);
	jvm_probe_close(env, &p);
	return refused;
}

static rotation *
after_rotation(JNIEnv *env, const jdbc_attempt *a, const pqtls_settings *set)
{
	char	   *error = NULL,
			   *held;
	jobjectArray newca = jtrust_pem_certs(env, set->new_ca, &error),
				have;
	const char *name;
	rotation   *r;

	if (newca == NULL)
	{
		diag_once("PQTLS_NEW_CA", "PQTLS_NEW_CA: %s: %s", set->new_ca, error);
		free(error);
		return NULL;
	}
	if (a->verify == NULL)
		return NULL;			/* a factory of the program's own: pqtls cannot tell */
	if (host_refused(env, a, set))
		return rotation_fmt(ROTATION_BREAKS, "pgjdbc's host name check (verify-full) refuses "
							"\"%s\" for the server's certificate, before the rotation and after%s",
							a->host, NULL);
	if (strcmp(a->verify, "none") == 0)
		return rotation_fmt(ROTATION_UNAFFECTED, "checks no certificate chain (sslmode=%s, %s)",
							a->sslmode, a->sslfactory);
	if ((strcmp(a->sslmode, "allow") == 0 || strcmp(a->sslmode, "prefer") == 0) && a->ok && !a->tls)
		return rotation_fmt(ROTATION_UNAFFECTED, "sslmode=%s connects without TLS already%s",
							a->sslmode, NULL);
	have = trust_source(env, a, &name, &error);
	held = have ? jtrust_holds_any(env, have, newca) : NULL;
	if (held != NULL)
		r = rotation_fmt(ROTATION_READY, "%s holds the new CA \"%s\"", name, held);
	else if (have == NULL)
		r = rotation_fmt(ROTATION_BREAKS, "the trust source %s cannot be used: %s", name, error);
	else
		r = rotation_fmt(ROTATION_BREAKS, "%s holds none of the new CAs%s", name, NULL);
	free(held);
	free(error);
	return r;
}

void
jdbc_judge(JNIEnv *env, jdbc_attempt *a)
{
	const pqtls_settings *set = settings_get();

	if ((*env)->PushLocalFrame(env, 128) != 0)
		return;
	if (set->mode != PQTLS_OBSERVE)
		a->dry_run = dry_run(env, a, set);
	if (set->new_ca != NULL)
		a->after_rotation = after_rotation(env, a, set);
	jni_clear(env);
	(*env)->PopLocalFrame(env, NULL);
}
