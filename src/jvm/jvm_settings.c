/*
 * jvm_settings.c: what pgjdbc was asked, resolved by pgjdbc's rules.
 *
 * Read at the entry of PgConnection(HostSpec[], Properties, String url): by
 * then pgjdbc's Driver has merged the URL's parameters over the caller's
 * Properties (Driver.parseURL), so the Properties hold the effective values,
 * and the URL tells which of them came from it.  pgjdbc's data sources build
 * a URL from their setters (BaseDataSource.getUrl), so their settings count
 * as `url`.  The rules mirrored are pgjdbc 42.5.5's (SslMode.of,
 * SocketFactoryFactory.getSslSocketFactory, LibPQFactory, MakeSSL); each one
 * was checked by running pgjdbc itself (tests/integration/test_jvm.py).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "pqtls/jvm.h"

#define LIBPQ_FACTORY "org.postgresql.ssl.LibPQFactory"

/* Is `key` among the URL's parameters (after '?', split on '&')? */
static bool
url_has_param(const char *url, const char *key)
{
	const char *q = url ? strchr(url, '?') : NULL;
	size_t		klen = strlen(key);

	while (q != NULL)
	{
		q++;
		if (strncmp(q, key, klen) == 0 && (q[klen] == '=' || q[klen] == '&' || q[klen] == '\0'))
			return true;
		q = strchr(q, '&');
	}
	return false;
}

static const char *
source_of(const char *url, const char *key, const char *value)
{
	if (url_has_param(url, key))
		return "url";
	return value != NULL ? "properties" : "default";
}

static bool
file_exists(const char *path)
{
	struct stat st;

	return path != NULL && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * SslMode.of (42.5.5): the sslmode property, matched without regard to case;
 * without one, ssl=true (or ssl given with no value) means verify-full, and
 * anything else prefer.  An unknown sslmode is kept as given: pgjdbc refuses
 * it and the record says so in `error`.
 */
static char *
resolve_sslmode(const char *sslmode, const char *ssl)
{
	static const char *const modes[] = {
		"disable", "allow", "prefer", "require", "verify-ca", "verify-full",
	};

	if (sslmode == NULL)
		return strdup(ssl != NULL && (ssl[0] == '\0' || strcasecmp(ssl, "true") == 0) ?
					  "verify-full" : "prefer");
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcasecmp(sslmode, modes[i]) == 0)
			return strdup(modes[i]);
	return strdup(sslmode);
}

enum factory_kind
{
	FACTORY_LIBPQ,
	FACTORY_JAVA,
	FACTORY_NONVALIDATING,
	FACTORY_OTHER,
};

static enum factory_kind
factory_kind(const char *factory)
{
	if (factory == NULL || strcmp(factory, LIBPQ_FACTORY) == 0 ||
		strcmp(factory, "org.postgresql.ssl.jdbc4.LibPQFactory") == 0)
		return FACTORY_LIBPQ;
	if (strcmp(factory, "org.postgresql.ssl.DefaultJavaSSLFactory") == 0)
		return FACTORY_JAVA;
	if (strcmp(factory, "org.postgresql.ssl.NonValidatingFactory") == 0)
		return FACTORY_NONVALIDATING;
	return FACTORY_OTHER;
}

/*
 * What the connection checks of the server, when it uses TLS:
 * - disable and allow: nothing (SslMode.verifyCertificate() is false, and
 *   allow's TLS retry uses the same factory rules as below);
 * - LibPQFactory: the chain against sslrootcert for verify-ca and
 *   verify-full, nothing for prefer and require (its NonValidatingTM);
 * - DefaultJavaSSLFactory: the chain against the JVM's trust store whatever
 *   the sslmode (the JVM's default SSLSocketFactory always checks);
 * - NonValidatingFactory: no chain, whatever the sslmode (verify-full still
 *   checks the host name, but no CA: `none`, which a rotation cannot break);
 * - and MakeSSL checks the host name for verify-full with every factory.
 * A factory of the program's own is unknown: NULL.
 */
const char *
jdbc_verify_rule(const char *sslmode, const char *factory)
{
	bool		full = strcmp(sslmode, "verify-full") == 0;
	bool		ca = full || strcmp(sslmode, "verify-ca") == 0;

	if (strcmp(sslmode, "disable") == 0 || strcmp(sslmode, "allow") == 0)
		return "none";
	switch (factory_kind(factory))
	{
		case FACTORY_LIBPQ:
			return full ? "full" : ca ? "ca" : "none";
		case FACTORY_JAVA:
			return full ? "full" : "ca";
		case FACTORY_NONVALIDATING:
			return "none";	/* verify-full checks the host name only */
		case FACTORY_OTHER:
			break;
	}
	return NULL;
}

/* LibPQFactory's root file: sslrootcert, else ~/.postgresql/root.crt of user.home. */
static void
read_libpq_trust(JNIEnv *env, jdbc_attempt *a)
{
	char	   *home;

	if (a->sslrootcert != NULL)
		a->rootcert_file = strdup(a->sslrootcert);
	else if ((home = jni_sysprop(env, "user.home")) != NULL)
	{
		size_t		n = strlen(home) + sizeof("/.postgresql/root.crt");

		a->rootcert_file = malloc(n);
		if (a->rootcert_file != NULL)
			snprintf(a->rootcert_file, n, "%s/.postgresql/root.crt", home);
		free(home);
	}
	a->rootcert_exists = file_exists(a->rootcert_file);
}

/*
 * The JVM's trust store as JSSE finds it (TrustStoreManager): the
 * javax.net.ssl.trustStore property, else java.home's lib/security/jssecacerts
 * when it exists, else cacerts; its type is javax.net.ssl.trustStoreType,
 * else KeyStore.getDefaultType().
 */
static void
read_java_trust(JNIEnv *env, jdbc_attempt *a)
{
	char	   *home;
	jobject		t;

	a->truststore = jni_sysprop(env, "javax.net.ssl.trustStore");
	if (a->truststore == NULL && (home = jni_sysprop(env, "java.home")) != NULL)
	{
		size_t		n = strlen(home) + sizeof("/lib/security/jssecacerts");

		a->truststore = malloc(n);
		if (a->truststore != NULL)
		{
			snprintf(a->truststore, n, "%s/lib/security/jssecacerts", home);
			if (!file_exists(a->truststore))
				snprintf(a->truststore, n, "%s/lib/security/cacerts", home);
		}
		free(home);
	}
	a->truststore_exists = file_exists(a->truststore);
	a->truststore_type = jni_sysprop(env, "javax.net.ssl.trustStoreType");
	if (a->truststore_type == NULL)
	{
		t = jni_static_obj(env, "java/security/KeyStore", "getDefaultType", "()Ljava/lang/String;");
		a->truststore_type = jni_str(env, t);
		if (t != NULL)
			(*env)->DeleteLocalRef(env, t);
	}
}

static char *
hostspec_text(JNIEnv *env, jobject hs, char **host, char **port)
{
	jint		p = jni_call_int(env, hs, "getPort", "()I");
	char		buf[16];

	*host = jni_call_str(env, hs, "getHost");
	snprintf(buf, sizeof(buf), "%d", (int) p);
	*port = strdup(buf);
	return *host;
}

/* host and port of the first HostSpec, and every host:port when several. */
static void
read_hosts(JNIEnv *env, jdbc_attempt *a, jobjectArray hostspecs)
{
	jsize		n = hostspecs ? (*env)->GetArrayLength(env, hostspecs) : 0;
	size_t		len = 0;

	for (jsize i = 0; i < n; i++)
	{
		jobject		hs = (*env)->GetObjectArrayElement(env, hostspecs, i);
		char	   *h = NULL,
				   *p = NULL;

		if (jni_clear(env) || hs == NULL)
			continue;
		hostspec_text(env, hs, &h, &p);
		if (i == 0)
		{
			a->host = h ? strdup(h) : NULL;
			a->port = p ? strdup(p) : NULL;
		}
		if (n > 1 && h != NULL && p != NULL)
		{
			size_t		add = strlen(h) + strlen(p) + 2;
			char	   *grown = realloc(a->hosts, len + add + 1);

			if (grown != NULL)
			{
				a->hosts = grown;
				len += (size_t) snprintf(a->hosts + len, add + 1, "%s%s:%s",
										 len ? "," : "", h, p);
			}
		}
		free(h);
		free(p);
		(*env)->DeleteLocalRef(env, hs);
	}
}

static void
add_secret(JNIEnv *env, jdbc_attempt *a, jobject props, const char *key)
{
	char	   *v = jni_prop(env, props, key);

	if (v != NULL && a->n_secrets < JDBC_MAX_SECRETS)
		a->secrets[a->n_secrets++] = v;
	else
		free(v);
}

/*
 * Which Java program this is: every one's exe is `java`, so the report names
 * it by its main class or jar, the first word of sun.java.command (never the
 * arguments after it, which may hold anything).
 */
static char *
program_name(JNIEnv *env)
{
	char	   *cmd = jni_sysprop(env, "sun.java.command"),
			   *out = NULL;
	size_t		n;

	if (cmd != NULL && (n = strcspn(cmd, " \t")) > 0 && asprintf(&out, "java %.*s", (int) n, cmd) < 0)
		out = NULL;
	free(cmd);
	return out;
}

void
jdbc_read_settings(JNIEnv *env, jdbc_attempt *a, jobjectArray hostspecs, jobject props,
				   jstring url)
{
	char	   *u = jni_str(env, url),
			   *mode;
	jobject		ver;

	ver = jni_load_class(env, a->loader, "org.postgresql.util.DriverInfo");
	if (ver != NULL)
	{
		jfieldID	f = (*env)->GetStaticFieldID(env, ver, "DRIVER_VERSION", "Ljava/lang/String;");
		jobject		s = (!jni_clear(env) && f) ? (*env)->GetStaticObjectField(env, ver, f) : NULL;
		char	   *v = jni_str(env, s);
		size_t		n = (v ? strlen(v) : 1) + sizeof("pgjdbc ");

		if ((a->driver = malloc(n)) != NULL)
			snprintf(a->driver, n, "pgjdbc %s", v ? v : "?");
		free(v);
	}
	a->program = program_name(env);
	read_hosts(env, a, hostspecs);
	a->dbname = jni_prop(env, props, "PGDBNAME");
	a->user = jni_prop(env, props, "user");
	add_secret(env, a, props, "password");
	add_secret(env, a, props, "sslpassword");

	mode = jni_prop(env, props, "sslmode");
	a->ssl = jni_prop(env, props, "ssl");
	a->ssl_source = a->ssl ? source_of(u, "ssl", a->ssl) : NULL;
	a->sslmode = resolve_sslmode(mode, a->ssl);
	a->sslmode_source = source_of(u, "sslmode", mode);
	free(mode);
	a->sslfactory = jni_prop(env, props, "sslfactory");
	a->sslfactory_source = source_of(u, "sslfactory", a->sslfactory);
	if (a->sslfactory == NULL)
		a->sslfactory = strdup(LIBPQ_FACTORY);
	a->sslrootcert = jni_prop(env, props, "sslrootcert");
	a->sslrootcert_source = source_of(u, "sslrootcert", a->sslrootcert);
	switch (factory_kind(a->sslfactory))
	{
		case FACTORY_LIBPQ:
			/* LibPQFactory opens its root file only to verify (rule 8 of jdbc-rules.md) */
			if (strcmp(a->sslmode, "verify-ca") == 0 || strcmp(a->sslmode, "verify-full") == 0)
				read_libpq_trust(env, a);
			break;
		case FACTORY_JAVA:
			read_java_trust(env, a);
			break;
		default:
			break;
	}
	a->verify = jdbc_verify_rule(a->sslmode, a->sslfactory);
	free(u);
}

/*
 * enforce: the connection is made with verify-full, the bundle as sslrootcert
 * and pgjdbc's LibPQFactory; every other property is kept.  The Properties
 * object is the one Driver.connect made for this connection (never the
 * caller's), so the change ends with the connection.
 */
void
jdbc_enforce(JNIEnv *env, jdbc_attempt *a, const char *bundle)
{
	a->forced = true;
	a->from_sslmode = a->sslmode ? strdup(a->sslmode) : NULL;
	a->from_sslrootcert = a->sslrootcert ? strdup(a->sslrootcert) : NULL;
	a->from_sslfactory = a->sslfactory ? strdup(a->sslfactory) : NULL;
	a->to_sslrootcert = bundle ? strdup(bundle) : NULL;
	jni_set_prop(env, a->props, "sslmode", "verify-full");
	jni_set_prop(env, a->props, "sslrootcert", bundle ? bundle : "");
	jni_set_prop(env, a->props, "sslfactory", LIBPQ_FACTORY);

	/* The record describes the connection as made. */
	free(a->sslmode);
	a->sslmode = strdup("verify-full");
	free(a->sslrootcert);
	a->sslrootcert = bundle ? strdup(bundle) : NULL;
	free(a->sslfactory);
	a->sslfactory = strdup(LIBPQ_FACTORY);
	free(a->rootcert_file);
	a->rootcert_file = NULL;
	free(a->truststore);
	free(a->truststore_type);
	a->truststore = a->truststore_type = NULL;
	read_libpq_trust(env, a);
	a->verify = "full";
}
