/*
 * jvm_tls.c: how a pgjdbc connection attempt ended, read from pgjdbc's own
 * objects: the TLS session of the socket it kept, or the exception it threw.
 *
 * The path to the socket is pgjdbc's (42.x): PgConnection.queryExecutor
 * (a QueryExecutorBase) holds pgStream, whose `connection` is the Socket
 * MakeSSL replaced with its SSLSocket when the connection uses TLS.
 */
#include <stdlib.h>
#include <string.h>

#include "pqtls/jvm.h"
#include "pqtls/scrub.h"

/* The host and port of the HostSpec the connection was made to. */
static void
read_peer_host(JNIEnv *env, jdbc_attempt *a, jobject stream)
{
	jobject		hs = jni_call_obj(env, stream, "getHostSpec", "()Lorg/postgresql/util/HostSpec;");
	char	   *h;
	jint		p;
	char		buf[16];

	if (hs == NULL)
		return;
	h = jni_call_str(env, hs, "getHost");
	p = jni_call_int(env, hs, "getPort", "()I");
	if (h != NULL)
	{
		free(a->host);
		a->host = h;
		free(a->port);
		snprintf(buf, sizeof(buf), "%d", (int) p);
		a->port = strdup(buf);
	}
	(*env)->DeleteLocalRef(env, hs);
}

static void
read_session(JNIEnv *env, jdbc_attempt *a, jobject session)
{
	jobjectArray chain;
	jobject		leaf,
				der;

	a->protocol = jni_call_str(env, session, "getProtocol");
	a->cipher = jni_call_str(env, session, "getCipherSuite");
	chain = (jobjectArray) jni_call_obj(env, session, "getPeerCertificates",
										"()[Ljava/security/cert/Certificate;");
	if (chain == NULL)
		return;
	a->chain = (jobjectArray) (*env)->NewGlobalRef(env, chain);
	a->session = (*env)->NewGlobalRef(env, session);
	if ((*env)->GetArrayLength(env, chain) > 0 &&
		(leaf = (*env)->GetObjectArrayElement(env, chain, 0)) != NULL)
	{
		der = jni_call_obj(env, leaf, "getEncoded", "()[B");
		a->peer_der = jni_bytes(env, (jbyteArray) der, &a->peer_len);
		if (der != NULL)
			(*env)->DeleteLocalRef(env, der);
		(*env)->DeleteLocalRef(env, leaf);
	}
	jni_clear(env);
	(*env)->DeleteLocalRef(env, chain);
}

void
jdbc_read_tls(JNIEnv *env, jdbc_attempt *a)
{
	jobject		qe,
				stream,
				sock,
				session;

	qe = jni_field_obj(env, a->conn, "queryExecutor", "Lorg/postgresql/core/QueryExecutor;");
	stream = jni_field_obj(env, qe, "pgStream", "Lorg/postgresql/core/PGStream;");
	if (stream == NULL)
		return;
	read_peer_host(env, a, stream);
	sock = jni_call_obj(env, stream, "getSocket", "()Ljava/net/Socket;");
	if (jni_instance_of(env, sock, "javax/net/ssl/SSLSocket"))
	{
		/* getSession() on a socket whose handshake is done returns it at once. */
		session = jni_call_obj(env, sock, "getSession", "()Ljavax/net/ssl/SSLSession;");
		if (session != NULL)
		{
			a->tls = true;
			read_session(env, a, session);
			(*env)->DeleteLocalRef(env, session);
		}
	}
}

/*
 * pgjdbc's message, as the program sees it in getMessage(), with every
 * password of the connection masked (pgjdbc does not put them in messages,
 * but a server's or a factory's message is not pgjdbc's to control).
 */
void
jdbc_read_error(JNIEnv *env, jdbc_attempt *a)
{
	jclass		c;

	if (a->exc == NULL)
	{
		a->error = strdup("the connection attempt ended without an exception pqtls could read");
		return;
	}
	a->error = jni_call_str(env, a->exc, "getMessage");
	if (a->error == NULL)
		a->error = jni_call_str(env, a->exc, "toString");
	c = (*env)->GetObjectClass(env, a->exc);
	a->error_class = jni_call_str(env, c, "getName");
	(*env)->DeleteLocalRef(env, c);
	for (int i = 0; i < a->n_secrets; i++)
		scrub_secret(a->error, a->secrets[i]);
}
