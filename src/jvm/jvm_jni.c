/*
 * jvm_jni.c: calling Java from the agent's C code.
 *
 * Every helper clears any exception its call raised and answers NULL (or
 * false, or 0) instead: the agent runs inside the program's own threads, in
 * the middle of pgjdbc's connect, and must never leave an exception pending
 * for the program to see.  Local references are the caller's: each event
 * callback runs inside its own local frame (jvm_agent.c).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pqtls/jvm.h"

bool
jni_clear(JNIEnv *env)
{
	if (!(*env)->ExceptionCheck(env))
		return false;
	(*env)->ExceptionClear(env);
	return true;
}

void
jni_drop(JNIEnv *env, jobject *global)
{
	if (*global != NULL)
		(*env)->DeleteGlobalRef(env, *global);
	*global = NULL;
}

static jmethodID
method_of(JNIEnv *env, jobject obj, const char *name, const char *sig)
{
	jclass		c;
	jmethodID	m;

	if (obj == NULL)
		return NULL;
	c = (*env)->GetObjectClass(env, obj);
	m = (*env)->GetMethodID(env, c, name, sig);
	(*env)->DeleteLocalRef(env, c);
	if (jni_clear(env))
		return NULL;
	return m;
}

jobject
jni_call_obj(JNIEnv *env, jobject obj, const char *name, const char *sig,...)
{
	jmethodID	m = method_of(env, obj, name, sig);
	jobject		r;
	va_list		ap;

	if (m == NULL)
		return NULL;
	va_start(ap, sig);
	r = (*env)->CallObjectMethodV(env, obj, m, ap);
	va_end(ap);
	return jni_clear(env) ? NULL : r;
}

void
jni_call_void(JNIEnv *env, jobject obj, const char *name, const char *sig,...)
{
	jmethodID	m = method_of(env, obj, name, sig);
	va_list		ap;

	if (m == NULL)
		return;
	va_start(ap, sig);
	(*env)->CallVoidMethodV(env, obj, m, ap);
	va_end(ap);
	jni_clear(env);
}

jboolean
jni_call_bool(JNIEnv *env, jobject obj, const char *name, const char *sig,...)
{
	jmethodID	m = method_of(env, obj, name, sig);
	jboolean	r;
	va_list		ap;

	if (m == NULL)
		return JNI_FALSE;
	va_start(ap, sig);
	r = (*env)->CallBooleanMethodV(env, obj, m, ap);
	va_end(ap);
	return jni_clear(env) ? JNI_FALSE : r;
}

jint
jni_call_int(JNIEnv *env, jobject obj, const char *name, const char *sig,...)
{
	jmethodID	m = method_of(env, obj, name, sig);
	jint		r;
	va_list		ap;

	if (m == NULL)
		return 0;
	va_start(ap, sig);
	r = (*env)->CallIntMethodV(env, obj, m, ap);
	va_end(ap);
	return jni_clear(env) ? 0 : r;
}

jobject
jni_static_obj(JNIEnv *env, const char *cls, const char *name, const char *sig,...)
{
	jclass		c = (*env)->FindClass(env, cls);
	jmethodID	m;
	jobject		r = NULL;
	va_list		ap;

	if (jni_clear(env) || c == NULL)
		return NULL;
	m = (*env)->GetStaticMethodID(env, c, name, sig);
	if (!jni_clear(env) && m != NULL)
	{
		va_start(ap, sig);
		r = (*env)->CallStaticObjectMethodV(env, c, m, ap);
		va_end(ap);
		if (jni_clear(env))
			r = NULL;
	}
	(*env)->DeleteLocalRef(env, c);
	return r;
}

jobject
jni_new(JNIEnv *env, const char *cls, const char *sig,...)
{
	jclass		c = (*env)->FindClass(env, cls);
	jmethodID	m;
	jobject		r = NULL;
	va_list		ap;

	if (jni_clear(env) || c == NULL)
		return NULL;
	m = (*env)->GetMethodID(env, c, "<init>", sig);
	if (!jni_clear(env) && m != NULL)
	{
		va_start(ap, sig);
		r = (*env)->NewObjectV(env, c, m, ap);
		va_end(ap);
		if (jni_clear(env))
			r = NULL;
	}
	(*env)->DeleteLocalRef(env, c);
	return r;
}

/* A field of obj's class or of one of its superclasses, whatever its access. */
jobject
jni_field_obj(JNIEnv *env, jobject obj, const char *name, const char *sig)
{
	jclass		c;
	jfieldID	f;
	jobject		r;

	if (obj == NULL)
		return NULL;
	c = (*env)->GetObjectClass(env, obj);
	f = (*env)->GetFieldID(env, c, name, sig);
	(*env)->DeleteLocalRef(env, c);
	if (jni_clear(env) || f == NULL)
		return NULL;
	r = (*env)->GetObjectField(env, obj, f);
	return jni_clear(env) ? NULL : r;
}

/*
 * Java's String as UTF-8.  GetStringUTFChars gives modified UTF-8 (NUL as two
 * bytes, supplementary characters as two 3-byte surrogates); the JSON writer
 * replaces what is not valid UTF-8, so a record stays valid whatever it holds.
 */
char *
jni_str(JNIEnv *env, jobject s)
{
	const char *utf;
	char	   *r;

	if (s == NULL)
		return NULL;
	utf = (*env)->GetStringUTFChars(env, (jstring) s, NULL);
	if (jni_clear(env) || utf == NULL)
		return NULL;
	r = strdup(utf);
	(*env)->ReleaseStringUTFChars(env, (jstring) s, utf);
	return r;
}

char *
jni_call_str(JNIEnv *env, jobject obj, const char *name)
{
	jobject		s = jni_call_obj(env, obj, name, "()Ljava/lang/String;");
	char	   *r = jni_str(env, s);

	if (s != NULL)
		(*env)->DeleteLocalRef(env, s);
	return r;
}

jstring
jni_jstr(JNIEnv *env, const char *s)
{
	jstring		r = (*env)->NewStringUTF(env, s);

	return jni_clear(env) ? NULL : r;
}

char *
jni_prop(JNIEnv *env, jobject props, const char *key)
{
	jstring		k = jni_jstr(env, key);
	jobject		v;
	char	   *r;

	if (k == NULL)
		return NULL;
	v = jni_call_obj(env, props, "getProperty", "(Ljava/lang/String;)Ljava/lang/String;", k);
	r = jni_str(env, v);
	(*env)->DeleteLocalRef(env, k);
	if (v != NULL)
		(*env)->DeleteLocalRef(env, v);
	return r;
}

void
jni_set_prop(JNIEnv *env, jobject props, const char *key, const char *value)
{
	jstring		k = jni_jstr(env, key),
				v = jni_jstr(env, value);
	jobject		old;

	if (k != NULL && v != NULL)
	{
		old = jni_call_obj(env, props, "setProperty",
						   "(Ljava/lang/String;Ljava/lang/String;)Ljava/lang/Object;", k, v);
		if (old != NULL)
			(*env)->DeleteLocalRef(env, old);
	}
	if (k != NULL)
		(*env)->DeleteLocalRef(env, k);
	if (v != NULL)
		(*env)->DeleteLocalRef(env, v);
}

char *
jni_sysprop(JNIEnv *env, const char *key)
{
	jstring		k = jni_jstr(env, key);
	jobject		v;
	char	   *r;

	if (k == NULL)
		return NULL;
	v = jni_static_obj(env, "java/lang/System", "getProperty",
					   "(Ljava/lang/String;)Ljava/lang/String;", k);
	r = jni_str(env, v);
	(*env)->DeleteLocalRef(env, k);
	if (v != NULL)
		(*env)->DeleteLocalRef(env, v);
	return r;
}

bool
jni_instance_of(JNIEnv *env, jobject obj, const char *cls)
{
	jclass		c;
	bool		r;

	if (obj == NULL)
		return false;
	c = (*env)->FindClass(env, cls);
	if (jni_clear(env) || c == NULL)
		return false;
	r = (*env)->IsInstanceOf(env, obj, c);
	(*env)->DeleteLocalRef(env, c);
	return r;
}

/* Class.forName(name, true, loader): pgjdbc's classes through pgjdbc's loader. */
jclass
jni_load_class(JNIEnv *env, jobject loader, const char *name)
{
	jstring		n = jni_jstr(env, name);
	jobject		c;

	if (n == NULL)
		return NULL;
	c = jni_static_obj(env, "java/lang/Class", "forName",
					   "(Ljava/lang/String;ZLjava/lang/ClassLoader;)Ljava/lang/Class;",
					   n, JNI_TRUE, loader);
	(*env)->DeleteLocalRef(env, n);
	return (jclass) c;
}

uint8_t *
jni_bytes(JNIEnv *env, jbyteArray a, size_t *len)
{
	jsize		n;
	uint8_t    *r;

	*len = 0;
	if (a == NULL)
		return NULL;
	n = (*env)->GetArrayLength(env, a);
	r = malloc(n > 0 ? (size_t) n : 1);
	if (r == NULL)
		return NULL;
	(*env)->GetByteArrayRegion(env, a, 0, n, (jbyte *) r);
	if (jni_clear(env))
	{
		free(r);
		return NULL;
	}
	*len = (size_t) n;
	return r;
}
