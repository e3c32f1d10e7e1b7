/*
 * jvm.h: the JVM agent (libpqtls-jvm.so), shared by the files of src/jvm.
 *
 * The agent sees every pgjdbc connection at one place all of pgjdbc's ways in
 * go through (DriverManager, its data sources, pools above them): the
 * constructor PgConnection(HostSpec[], Properties, String url).  A breakpoint
 * at its first instruction reads what pgjdbc was asked (and, in enforce,
 * changes the Properties); the frame's pop says how it ended.  Nothing runs on
 * the query path.
 */
#ifndef PQTLS_JVM_H
#define PQTLS_JVM_H

#include <jni.h>
#include <jvmti.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pqtls/rehearsal.h"

#define JDBC_MAX_SECRETS 4
#define JDBC_MAX_CHAIN 16

/* One connection attempt of pgjdbc, from the constructor's entry to its pop. */
typedef struct jdbc_attempt
{
	/* What pgjdbc was asked, as it resolves it (jvm_settings.c). */
	char	   *driver;			/* "pgjdbc 42.5.5" */
	char	   *program;		/* "java <main class or jar>" (sun.java.command's first word) */
	char	   *host,
			   *port,
			   *dbname,
			   *user,
			   *hosts;			/* every host:port, comma separated, when several */
	char	   *sslmode;
	const char *sslmode_source; /* url, properties or default */
	char	   *ssl;			/* the ssl property as given, or NULL */
	const char *ssl_source;
	char	   *sslfactory;
	const char *sslfactory_source;
	char	   *sslrootcert;	/* the property, or NULL */
	const char *sslrootcert_source;
	char	   *rootcert_file;	/* LibPQFactory: the file it reads */
	bool		rootcert_exists;
	char	   *truststore;		/* DefaultJavaSSLFactory: the JVM's trust store */
	char	   *truststore_type;
	bool		truststore_exists;
	const char *verify;			/* none, ca or full, by pgjdbc's rules */
	char	   *secrets[JDBC_MAX_SECRETS];	/* masked in messages, never written */
	int			n_secrets;

	/* enforce: what was asked before pqtls changed it */
	bool		forced;
	char	   *from_sslmode,
			   *from_sslrootcert,
			   *from_sslfactory;
	char	   *to_sslrootcert;

	/* How it ended (jvm_tls.c, jvm_agent.c). */
	bool		ok;
	char	   *error;			/* pgjdbc's message, secrets masked */
	char	   *error_class;
	bool		tls;
	char	   *protocol,
			   *cipher,
			   *peer_host;		/* the host of the HostSpec connected to */
	uint8_t    *peer_der;
	size_t		peer_len;
	jobjectArray chain;			/* global ref: the session's peer certificates */
	jobject		session;		/* global ref: the SSLSession */
	verdict    *dry_run;
	rotation   *after_rotation;

	/* The frame being watched. */
	jobject		conn;			/* global ref: the PgConnection */
	jobject		props;			/* global ref: its Properties */
	jobject		loader;			/* global ref: pgjdbc's class loader */
	jthrowable	exc;			/* global ref: the exception that ended it */
	jint		depth;			/* frames on the thread at the constructor's entry */
	struct jdbc_attempt *outer; /* a connection opened inside this one */
} jdbc_attempt;

/* jvm_jni.c: calling Java from C, every pending exception cleared. */
jobject		jni_call_obj(JNIEnv *env, jobject obj, const char *name, const char *sig,...);
void		jni_call_void(JNIEnv *env, jobject obj, const char *name, const char *sig,...);
jboolean	jni_call_bool(JNIEnv *env, jobject obj, const char *name, const char *sig,...);
jint		jni_call_int(JNIEnv *env, jobject obj, const char *name, const char *sig,...);
jobject		jni_static_obj(JNIEnv *env, const char *cls, const char *name, const char *sig,...);
jobject		jni_new(JNIEnv *env, const char *cls, const char *sig,...);
jobject		jni_field_obj(JNIEnv *env, jobject obj, const char *name, const char *sig);
/* A java.lang.String as malloc'ed UTF-8 (modified UTF-8 made standard), or NULL. */
char	   *jni_str(JNIEnv *env, jobject s);
/* Call a no-argument String method and convert: toString(), getMessage()... */
char	   *jni_call_str(JNIEnv *env, jobject obj, const char *name);
jstring		jni_jstr(JNIEnv *env, const char *s);
/* Properties.getProperty(key), or NULL. */
char	   *jni_prop(JNIEnv *env, jobject props, const char *key);
void		jni_set_prop(JNIEnv *env, jobject props, const char *key, const char *value);
/* System.getProperty(key), or NULL. */
char	   *jni_sysprop(JNIEnv *env, const char *key);
bool		jni_instance_of(JNIEnv *env, jobject obj, const char *cls);
/* Load a class through loader (NULL: the system class loader). */
jclass		jni_load_class(JNIEnv *env, jobject loader, const char *name);
/* The byte[] as malloc'ed bytes. */
uint8_t    *jni_bytes(JNIEnv *env, jbyteArray a, size_t *len);
/* Clear a pending exception; true if there was one. */
bool		jni_clear(JNIEnv *env);
void		jni_drop(JNIEnv *env, jobject *global);

/* jvm_settings.c: read what pgjdbc was asked, by pgjdbc's rules. */
void		jdbc_read_settings(JNIEnv *env, jdbc_attempt *a, jobjectArray hostspecs,
							   jobject props, jstring url);
/* enforce: verify-full, the bundle, LibPQFactory, on the Properties. */
void		jdbc_enforce(JNIEnv *env, jdbc_attempt *a, const char *bundle);
/* verify under pgjdbc's rules for an sslmode and a factory. */
const char *jdbc_verify_rule(const char *sslmode, const char *factory);

/* jvm_tls.c: the connection's TLS session, once the constructor returned. */
void		jdbc_read_tls(JNIEnv *env, jdbc_attempt *a);
/* The message of the exception that ended the attempt. */
void		jdbc_read_error(JNIEnv *env, jdbc_attempt *a);

/* jvm_judge.c: dry_run and after_rotation. */
void		jdbc_judge(JNIEnv *env, jdbc_attempt *a);

/* jvm_record.c */
void		jdbc_emit(jdbc_attempt *a);
void		jdbc_attempt_free(JNIEnv *env, jdbc_attempt *a);

#endif
