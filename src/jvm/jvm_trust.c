/*
 * jvm_trust.c: trust material as the JVM reads it, asked of the JVM itself.
 *
 * pgjdbc's LibPQFactory (42.5.5) reads its root file with
 * CertificateFactory.getInstance("X.509").generateCertificates(), puts every
 * certificate into an empty "jks" KeyStore and makes a PKIX TrustManagerFactory
 * from it; JSSE reads a trust store with KeyStore.getInstance(type).load(in,
 * javax.net.ssl.trustStorePassword).  The agent does the same calls, so a
 * file counts exactly as it would count for the program.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pqtls/jvm.h"
#include "pqtls/jvm_trust.h"

#define X500_SIG "()Ljavax/security/auth/x500/X500Principal;"

/* The exception pending (if any), as text, and cleared. */
static char *
take_error(JNIEnv *env, const char *fallback)
{
	jthrowable	t = (*env)->ExceptionOccurred(env);
	char	   *msg = NULL;

	if (t != NULL)
	{
		(*env)->ExceptionClear(env);
		msg = jni_call_str(env, t, "toString");
		(*env)->DeleteLocalRef(env, t);
	}
	return msg ? msg : strdup(fallback);
}

/* Call an object method raw (no clearing): the caller wants the exception. */
static jobject
call_raw(JNIEnv *env, jobject obj, const char *name, const char *sig, jobject arg)
{
	jclass		c = (*env)->GetObjectClass(env, obj);
	jmethodID	m = (*env)->GetMethodID(env, c, name, sig);

	(*env)->DeleteLocalRef(env, c);
	if (m == NULL)
		return NULL;
	return (*env)->CallObjectMethod(env, obj, m, arg);
}

static jobject
open_file(JNIEnv *env, const char *path)
{
	jstring		p = jni_jstr(env, path);
	jclass		c = p ? (*env)->FindClass(env, "java/io/FileInputStream") : NULL;
	jmethodID	m = c ? (*env)->GetMethodID(env, c, "<init>", "(Ljava/lang/String;)V") : NULL;
	jobject		in = m ? (*env)->NewObject(env, c, m, p) : NULL;

	if (c != NULL)
		(*env)->DeleteLocalRef(env, c);
	if (p != NULL)
		(*env)->DeleteLocalRef(env, p);
	return in;					/* NULL with the exception pending */
}

static void
close_file(JNIEnv *env, jobject in)
{
	jthrowable	t = (*env)->ExceptionOccurred(env);

	if (t != NULL)
		(*env)->ExceptionClear(env);
	if (in != NULL)
		jni_call_void(env, in, "close", "()V");
	if (t != NULL)
		(*env)->Throw(env, t);
}

jobjectArray
jtrust_pem_certs(JNIEnv *env, const char *path, char **error)
{
	jobject		cf,
				in,
				coll = NULL;
	jobjectArray arr = NULL;
	jstring		x509 = jni_jstr(env, "X.509");

	*error = NULL;
	cf = jni_static_obj(env, "java/security/cert/CertificateFactory", "getInstance",
						"(Ljava/lang/String;)Ljava/security/cert/CertificateFactory;", x509);
	in = cf ? open_file(env, path) : NULL;
	if (in != NULL)
		coll = call_raw(env, cf, "generateCertificates",
						"(Ljava/io/InputStream;)Ljava/util/Collection;", in);
	close_file(env, in);
	if (coll != NULL && !(*env)->ExceptionCheck(env))
		arr = (jobjectArray) call_raw(env, coll, "toArray", "()[Ljava/lang/Object;", NULL);
	if ((*env)->ExceptionCheck(env) || arr == NULL)
	{
		*error = take_error(env, "the file could not be read");
		return NULL;
	}
	if ((*env)->GetArrayLength(env, arr) == 0)
	{
		*error = strdup("it holds no certificate");
		return NULL;
	}
	return arr;
}

/* LibPQFactory's trust manager over the certificates of certs. */
static jobject
manager_of(JNIEnv *env, jobjectArray certs, char **error)
{
	jstring		jks = jni_jstr(env, "jks"),
				pkix = jni_jstr(env, "PKIX");
	jobject		ks = jni_static_obj(env, "java/security/KeyStore", "getInstance",
									"(Ljava/lang/String;)Ljava/security/KeyStore;", jks),
				tmf = jni_static_obj(env, "javax/net/ssl/TrustManagerFactory", "getInstance",
									 "(Ljava/lang/String;)Ljavax/net/ssl/TrustManagerFactory;",
									 pkix);
	jobjectArray tms;
	jobject		tm = NULL;
	jsize		n = (*env)->GetArrayLength(env, certs);
	char		alias[32];

	if (ks == NULL || tmf == NULL)
	{
		*error = strdup("the JVM has no jks KeyStore or PKIX TrustManagerFactory");
		return NULL;
	}
	jni_call_void(env, ks, "load", "(Ljava/io/InputStream;[C)V", NULL, NULL);
	for (jsize i = 0; i < n; i++)
	{
		jobject		c = (*env)->GetObjectArrayElement(env, certs, i);
		jstring		al;

		snprintf(alias, sizeof(alias), "cert%d", (int) i);
		al = jni_jstr(env, alias);
		jni_call_void(env, ks, "setCertificateEntry",
					 "(Ljava/lang/String;Ljava/security/cert/Certificate;)V", al, c);
		(*env)->DeleteLocalRef(env, al);
		(*env)->DeleteLocalRef(env, c);
	}
	{
		jclass		c = (*env)->GetObjectClass(env, tmf);
		jmethodID	init = (*env)->GetMethodID(env, c, "init", "(Ljava/security/KeyStore;)V");

		if (init != NULL)
			(*env)->CallVoidMethod(env, tmf, init, ks);
	}
	if ((*env)->ExceptionCheck(env))
	{
		*error = take_error(env, "no trust manager");
		return NULL;
	}
	tms = (jobjectArray) jni_call_obj(env, tmf, "getTrustManagers", "()[Ljavax/net/ssl/TrustManager;");
	if (tms != NULL && (*env)->GetArrayLength(env, tms) > 0)
		tm = (*env)->GetObjectArrayElement(env, tms, 0);
	if (tm == NULL)
		*error = strdup("no trust manager");
	return tm;
}

/*
 * One trust manager per bundle file, made once and kept (a bundle of a
 * hundred certificates costs its parsing once per process, not per
 * connection), remade when the file changes.
 */
static struct
{
	char	   *path;
	struct timespec mtime;
	off_t		size;
	jobject		tm;				/* global ref */
	char	   *error;
}			cached;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

jobject
jtrust_bundle_manager(JNIEnv *env, const char *path, char **error)
{
	struct stat st;
	jobject		tm = NULL;
	jobjectArray certs;

	*error = NULL;
	if (stat(path, &st) != 0)
		st.st_size = -1;
	pthread_mutex_lock(&cache_lock);
	if (cached.path == NULL || strcmp(cached.path, path) != 0 ||
		cached.mtime.tv_sec != st.st_mtim.tv_sec || cached.mtime.tv_nsec != st.st_mtim.tv_nsec ||
		cached.size != st.st_size)
	{
		free(cached.path);
		free(cached.error);
		jni_drop(env, &cached.tm);
		cached.path = strdup(path);
		cached.mtime = st.st_mtim;
		cached.size = st.st_size;
		cached.error = NULL;
		certs = jtrust_pem_certs(env, path, &cached.error);
		if (certs != NULL && (tm = manager_of(env, certs, &cached.error)) != NULL)
			cached.tm = (*env)->NewGlobalRef(env, tm);
	}
	if (cached.tm != NULL)
		tm = (*env)->NewLocalRef(env, cached.tm);
	else
		*error = strdup(cached.error ? cached.error : "unusable");
	pthread_mutex_unlock(&cache_lock);
	return tm;
}

/*
 * The certificates JSSE trusts in a key store (KeyStores.getTrustedCerts):
 * each trusted-certificate entry, and the certificate of each key entry.
 * The password is javax.net.ssl.trustStorePassword, as JSSE uses it (never
 * written anywhere).
 */
jobjectArray
jtrust_store_certs(JNIEnv *env, const char *path, const char *type, char **error)
{
	jstring		t = jni_jstr(env, type ? type : "pkcs12");
	jobject		ks = jni_static_obj(env, "java/security/KeyStore", "getInstance",
									"(Ljava/lang/String;)Ljava/security/KeyStore;", t),
				in,
				aliases,
				list;
	char	   *pass = jni_sysprop(env, "javax.net.ssl.trustStorePassword");
	jcharArray	pw = NULL;
	jclass		c;
	jmethodID	load;

	*error = NULL;
	if (ks == NULL)
	{
		*error = strdup("the JVM knows no KeyStore of that type");
		free(pass);
		return NULL;
	}
	if (pass != NULL)
	{
		jstring		ps = jni_jstr(env, pass);

		pw = (jcharArray) jni_call_obj(env, ps, "toCharArray", "()[C");
		memset(pass, 0, strlen(pass));
		free(pass);
	}
	in = open_file(env, path);
	if (in != NULL)
	{
		c = (*env)->GetObjectClass(env, ks);
		load = (*env)->GetMethodID(env, c, "load", "(Ljava/io/InputStream;[C)V");
		(*env)->CallVoidMethod(env, ks, load, in, pw);
	}
	close_file(env, in);
	if ((*env)->ExceptionCheck(env))
	{
		*error = take_error(env, "the trust store could not be read");
		return NULL;
	}
	list = jni_new(env, "java/util/ArrayList", "()V");
	aliases = jni_call_obj(env, ks, "aliases", "()Ljava/util/Enumeration;");
	while (aliases != NULL && list != NULL &&
		   jni_call_bool(env, aliases, "hasMoreElements", "()Z"))
	{
		jobject		al = jni_call_obj(env, aliases, "nextElement", "()Ljava/lang/Object;");
		jobject		cert = jni_call_obj(env, ks, "getCertificate",
										"(Ljava/lang/String;)Ljava/security/cert/Certificate;", al);

		if (cert != NULL)
			jni_call_bool(env, list, "add", "(Ljava/lang/Object;)Z", cert);
		(*env)->DeleteLocalRef(env, al);
		if (cert != NULL)
			(*env)->DeleteLocalRef(env, cert);
	}
	return list ? (jobjectArray) jni_call_obj(env, list, "toArray", "()[Ljava/lang/Object;") : NULL;
}

/*
 * The first certificate of `have` that is one of `want` (same subject, same
 * public key: a CA re-issued with its key counts), as its subject text, or
 * NULL.
 */
char *
jtrust_holds_any(JNIEnv *env, jobjectArray have, jobjectArray want)
{
	jsize		nh = have ? (*env)->GetArrayLength(env, have) : 0,
				nw = want ? (*env)->GetArrayLength(env, want) : 0;
	char	   *found = NULL;

	for (jsize i = 0; i < nh && found == NULL; i++)
	{
		jobject		h,
					hs,
					hk;

		if ((*env)->PushLocalFrame(env, 16) != 0)
			break;
		h = (*env)->GetObjectArrayElement(env, have, i);
		hs = jni_call_obj(env, h, "getSubjectX500Principal", X500_SIG);
		hk = jni_call_obj(env, h, "getPublicKey", "()Ljava/security/PublicKey;");
		for (jsize k = 0; k < nw && hs != NULL && hk != NULL && found == NULL; k++)
		{
			jobject		w = (*env)->GetObjectArrayElement(env, want, k);
			jobject		ws = jni_call_obj(env, w, "getSubjectX500Principal", X500_SIG);
			jobject		wk = jni_call_obj(env, w, "getPublicKey", "()Ljava/security/PublicKey;");

			if (ws != NULL && wk != NULL &&
				jni_call_bool(env, hs, "equals", "(Ljava/lang/Object;)Z", ws) &&
				jni_call_bool(env, hk, "equals", "(Ljava/lang/Object;)Z", wk))
				found = jni_call_str(env, hs, "toString");
			(*env)->DeleteLocalRef(env, w);
			if (ws != NULL)
				(*env)->DeleteLocalRef(env, ws);
			if (wk != NULL)
				(*env)->DeleteLocalRef(env, wk);
		}
		(*env)->PopLocalFrame(env, NULL);
	}
	return found;
}
