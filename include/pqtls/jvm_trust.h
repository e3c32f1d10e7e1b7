/*
 * jvm_trust.h: certificates and trust managers, made by the JVM (jvm_trust.c).
 * Every function returns local references, or NULL with *error set to a
 * malloc'ed sentence (the Java exception's text); no exception is left pending.
 */
#ifndef PQTLS_JVM_TRUST_H
#define PQTLS_JVM_TRUST_H

#include <jni.h>

/* The certificates of a PEM (or DER) file, read as pgjdbc's LibPQFactory reads it. */
jobjectArray jtrust_pem_certs(JNIEnv *env, const char *path, char **error);

/* LibPQFactory's X509TrustManager for a root file (cached per file). */
jobject		jtrust_bundle_manager(JNIEnv *env, const char *path, char **error);

/* The certificates JSSE would trust in a key store of that type. */
jobjectArray jtrust_store_certs(JNIEnv *env, const char *path, const char *type, char **error);

/* The subject of a certificate of have that is one of want (subject and key), or NULL. */
char	   *jtrust_holds_any(JNIEnv *env, jobjectArray have, jobjectArray want);

#endif
