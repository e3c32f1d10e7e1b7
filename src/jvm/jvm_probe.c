/*
 * jvm_probe.c: the side handshake of dry-run, made by the JVM.
 *
 * When the program's own connection received no chain (it used no TLS, or
 * failed before the agent could read one), dry-run asks the server for its
 * chain the way pgjdbc starts TLS: a TCP connection, PostgreSQL's SSLRequest,
 * the server's 'S', then a TLS handshake over the same socket
 * (SSLSocketFactory.createSocket(socket, host, port, true), as MakeSSL does)
 * with pgjdbc's own NonValidatingFactory, so every chain is received whatever
 * it is; no authentication follows.  The chain is then judged like a live one.
 */
#include <stdlib.h>
#include <string.h>

#include "pqtls/jvm.h"
#include "pqtls/jvm_probe.h"

static const jbyte ssl_request[8] = {0, 0, 0, 8, 4, (jbyte) 0xd2, 0x16, 0x2f};

/* The reason of a failed step, from the exception the JVM threw. */
static reason
reason_of(JNIEnv *env, jthrowable t, reason otherwise)
{
	return jni_instance_of(env, t, "java/net/SocketTimeoutException") ? REASON_TIMEOUT : otherwise;
}

/* Run a step; on an exception, set the probe's reason and detail and say false. */
static bool
step_ok(JNIEnv *env, jvm_probe *p, reason otherwise, const char *what)
{
	jthrowable	t = (*env)->ExceptionOccurred(env);
	char	   *msg;
	size_t		n;

	if (t == NULL)
		return true;
	(*env)->ExceptionClear(env);
	p->reason = reason_of(env, t, otherwise);
	msg = jni_call_str(env, t, "toString");
	n = strlen(what) + (msg ? strlen(msg) : 0) + 4;
	if ((p->detail = malloc(n)) != NULL)
		snprintf(p->detail, n, "%s: %s", what, msg ? msg : "?");
	free(msg);
	return false;
}

static jobject
make_socket(JNIEnv *env, jvm_probe *p, const char *host, int port, int timeout_ms)
{
	jobject		sock = jni_new(env, "java/net/Socket", "()V");
	jstring		h = jni_jstr(env, host);
	jclass		c = (*env)->FindClass(env, "java/net/InetSocketAddress");
	jmethodID	m = c ? (*env)->GetMethodID(env, c, "<init>", "(Ljava/lang/String;I)V") : NULL;
	jobject		addr = m ? (*env)->NewObject(env, c, m, h, (jint) port) : NULL;
	jclass		sc;
	jmethodID	connect,
				so;

	if (sock == NULL || addr == NULL)
	{
		step_ok(env, p, REASON_UNREACHABLE, "no socket");
		return NULL;
	}
	sc = (*env)->GetObjectClass(env, sock);
	connect = (*env)->GetMethodID(env, sc, "connect", "(Ljava/net/SocketAddress;I)V");
	so = (*env)->GetMethodID(env, sc, "setSoTimeout", "(I)V");
	(*env)->CallVoidMethod(env, sock, connect, addr, (jint) timeout_ms);
	if (!step_ok(env, p, REASON_UNREACHABLE, "cannot connect"))
		return NULL;
	(*env)->CallVoidMethod(env, sock, so, (jint) timeout_ms);
	jni_clear(env);
	return sock;
}

/* SSLRequest, and the server's one-byte answer. */
static bool
request_ssl(JNIEnv *env, jvm_probe *p, jobject sock)
{
	jobject		out = jni_call_obj(env, sock, "getOutputStream", "()Ljava/io/OutputStream;"),
				in = jni_call_obj(env, sock, "getInputStream", "()Ljava/io/InputStream;");
	jbyteArray	req = (*env)->NewByteArray(env, sizeof(ssl_request));
	jclass		c;
	jint		answer;

	if (out == NULL || in == NULL || req == NULL)
		return step_ok(env, p, REASON_UNREACHABLE, "no stream");
	(*env)->SetByteArrayRegion(env, req, 0, sizeof(ssl_request), ssl_request);
	c = (*env)->GetObjectClass(env, out);
	(*env)->CallVoidMethod(env, out, (*env)->GetMethodID(env, c, "write", "([B)V"), req);
	if (!step_ok(env, p, REASON_UNREACHABLE, "cannot send SSLRequest"))
		return false;
	c = (*env)->GetObjectClass(env, in);
	answer = (*env)->CallIntMethod(env, in, (*env)->GetMethodID(env, c, "read", "()I"));
	if (!step_ok(env, p, REASON_UNREACHABLE, "no answer to SSLRequest"))
		return false;
	if (answer != 'S')
	{
		p->reason = REASON_NO_TLS;
		p->detail = strdup("the server does not accept TLS (it answered the SSLRequest with no)");
		return false;
	}
	return true;
}

bool
jvm_probe_run(JNIEnv *env, jobject loader, const char *host, int port, int timeout_ms,
			  jvm_probe *p)
{
	jobject		sock,
				factory,
				ssl;
	jclass		fc;
	jmethodID	m;
	jstring		h;

	memset(p, 0, sizeof(*p));
	if ((sock = make_socket(env, p, host, port, timeout_ms)) == NULL)
		return false;
	p->socket = (*env)->NewGlobalRef(env, sock);
	if (!request_ssl(env, p, sock))
		return false;
	fc = jni_load_class(env, loader, "org.postgresql.ssl.NonValidatingFactory");
	m = fc ? (*env)->GetMethodID(env, fc, "<init>", "(Ljava/lang/String;)V") : NULL;
	factory = m ? (*env)->NewObject(env, fc, m, NULL) : NULL;
	if (!step_ok(env, p, REASON_HANDSHAKE_FAILED, "no NonValidatingFactory") || factory == NULL)
		return false;
	h = jni_jstr(env, host);
	ssl = jni_call_obj(env, factory, "createSocket",
					   "(Ljava/net/Socket;Ljava/lang/String;IZ)Ljava/net/Socket;",
					   sock, h, (jint) port, JNI_TRUE);
	if (ssl == NULL)
		return step_ok(env, p, REASON_HANDSHAKE_FAILED, "no TLS socket");
	jni_drop(env, &p->socket);
	p->socket = (*env)->NewGlobalRef(env, ssl);
	fc = (*env)->GetObjectClass(env, ssl);
	(*env)->CallVoidMethod(env, ssl, (*env)->GetMethodID(env, fc, "startHandshake", "()V"));
	if (!step_ok(env, p, REASON_HANDSHAKE_FAILED, "the TLS handshake failed"))
		return false;
	p->session = jni_call_obj(env, ssl, "getSession", "()Ljavax/net/ssl/SSLSession;");
	p->chain = p->session ? (jobjectArray) jni_call_obj(env, p->session, "getPeerCertificates",
														"()[Ljava/security/cert/Certificate;") : NULL;
	if (p->chain == NULL)
	{
		p->reason = REASON_HANDSHAKE_FAILED;
		p->detail = strdup("the server sent no certificate");
		return false;
	}
	return true;
}

void
jvm_probe_close(JNIEnv *env, jvm_probe *p)
{
	if (p->socket != NULL)
		jni_call_void(env, p->socket, "close", "()V");
	jni_drop(env, &p->socket);
	free(p->detail);
	p->detail = NULL;
}
