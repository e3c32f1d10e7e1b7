/*
 * jvm_probe.h: dry-run's side handshake, made by the JVM (jvm_probe.c).
 */
#ifndef PQTLS_JVM_PROBE_H
#define PQTLS_JVM_PROBE_H

#include <jni.h>
#include <stdbool.h>

#include "pqtls/rehearsal.h"

typedef struct jvm_probe
{
	jobject		socket;			/* global ref, closed by jvm_probe_close */
	jobject		session;		/* local ref */
	jobjectArray chain;			/* local ref: the server's certificates */
	reason		reason;			/* when it failed */
	char	   *detail;
} jvm_probe;

/* true with session and chain; false with reason and detail. */
bool		jvm_probe_run(JNIEnv *env, jobject loader, const char *host, int port,
						  int timeout_ms, jvm_probe *p);
void		jvm_probe_close(JNIEnv *env, jvm_probe *p);

#endif
