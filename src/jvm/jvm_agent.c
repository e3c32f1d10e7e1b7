/*
 * jvm_agent.c: the JVMTI agent (libpqtls-jvm.so, -agentpath:).
 *
 * Cheap until pgjdbc loads: the only event enabled for the whole JVM is
 * ClassPrepare, whose callback compares one class name.  When
 * org.postgresql.jdbc.PgConnection is prepared (in any class loader),
 * breakpoints go on the first instruction and on every return of its
 * constructor PgConnection(HostSpec[], Properties, String), through which
 * every pgjdbc connection passes, however it was opened.
 *
 * At the entry the agent reads the arguments (and, in enforce, changes the
 * Properties) and enables Exception events for that thread only.  A return
 * means the connection was made: the agent reads its TLS session.  An
 * exception whose handler lies outside the constructor's frame (or that has
 * none) means it failed with that exception.  Either way the record is
 * written there, and the thread's Exception events go off again.  No event
 * is enabled for any other thread, no other method has a breakpoint, and no
 * thread is made to run interpreted (as a frame-pop or method-exit event
 * would), so neither queries nor the handshake itself pay.
 *
 * The capabilities are taken at load (HotSpot grants local-variable access
 * and exception events only then).  In JDK 17 neither turns an optimisation
 * off for code the agent does not watch: escape analysis stays on with
 * local-variable access (JDK-8227745, JDK 16); exception events cost only
 * where an exception is thrown.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pqtls/diag.h"
#include "pqtls/jvm.h"
#include "pqtls/jvm_bytecode.h"
#include "pqtls/settings.h"

#define PGCONN_CLASS "Lorg/postgresql/jdbc/PgConnection;"
#define PGCONN_CTOR_SIG "([Lorg/postgresql/util/HostSpec;Ljava/util/Properties;Ljava/lang/String;)V"
#define MAX_CTORS 64
#define MAX_RETURNS 16

static jvmtiEnv *jvmti;

/* The constructors breakpoints were set on (one per class loader of pgjdbc). */
static jmethodID ctors[MAX_CTORS];
static int	n_ctors;
static pthread_mutex_t ctors_lock = PTHREAD_MUTEX_INITIALIZER;

/* The attempts this thread is inside (innermost first). */
static __thread jdbc_attempt *current;

static bool
is_ctor(jmethodID m)
{
	bool		r = false;

	pthread_mutex_lock(&ctors_lock);
	for (int i = 0; i < n_ctors && !r; i++)
		r = ctors[i] == m;
	pthread_mutex_unlock(&ctors_lock);
	return r;
}

/* Breakpoints on the entry and every return of the constructor m. */
static void
watch_ctor(jmethodID m)
{
	jint		len = 0;
	unsigned char *code = NULL;
	int64_t		rets[MAX_RETURNS];
	int			n;

	if ((*jvmti)->GetBytecodes(jvmti, m, &len, &code) != JVMTI_ERROR_NONE)
		return;
	n = bytecode_returns(code, (size_t) len, rets, MAX_RETURNS);
	(*jvmti)->Deallocate(jvmti, code);
	if (n <= 0)
	{
		diag_once("jvm-bytecode", "pgjdbc's PgConnection constructor could not be read; "
				  "its connections are not recorded");
		return;
	}
	pthread_mutex_lock(&ctors_lock);
	if (n_ctors < MAX_CTORS && (*jvmti)->SetBreakpoint(jvmti, m, 0) == JVMTI_ERROR_NONE)
	{
		for (int i = 0; i < n; i++)
			(*jvmti)->SetBreakpoint(jvmti, m, (jlocation) rets[i]);
		ctors[n_ctors++] = m;
	}
	pthread_mutex_unlock(&ctors_lock);
}

static void
watch_class(jclass klass)
{
	jint		n = 0;
	jmethodID  *methods = NULL;

	if ((*jvmti)->GetClassMethods(jvmti, klass, &n, &methods) != JVMTI_ERROR_NONE)
		return;
	for (jint i = 0; i < n; i++)
	{
		char	   *name = NULL,
				   *sig = NULL;

		if ((*jvmti)->GetMethodName(jvmti, methods[i], &name, &sig, NULL) != JVMTI_ERROR_NONE)
			continue;
		if (strcmp(name, "<init>") == 0 && strcmp(sig, PGCONN_CTOR_SIG) == 0)
			watch_ctor(methods[i]);
		(*jvmti)->Deallocate(jvmti, (unsigned char *) name);
		(*jvmti)->Deallocate(jvmti, (unsigned char *) sig);
	}
	(*jvmti)->Deallocate(jvmti, (unsigned char *) methods);
}

static bool
is_pgconnection(jclass klass)
{
	char	   *sig = NULL;
	bool		r;

	if ((*jvmti)->GetClassSignature(jvmti, klass, &sig, NULL) != JVMTI_ERROR_NONE)
		return false;
	r = strcmp(sig, PGCONN_CLASS) == 0;
	(*jvmti)->Deallocate(jvmti, (unsigned char *) sig);
	return r;
}

static void JNICALL
on_class_prepare(jvmtiEnv *j, JNIEnv *env, jthread thread, jclass klass)
{
	(void) j;
	(void) env;
	(void) thread;
	if (is_pgconnection(klass))
		watch_class(klass);
}

static jobject
local_object(jthread thread, jint slot)
{
	jobject		o = NULL;

	if ((*jvmti)->GetLocalObject(jvmti, thread, 0, slot, &o) != JVMTI_ERROR_NONE)
		return NULL;
	return o;
}

static jint
frame_count(jthread thread)
{
	jint		n = -1;

	(*jvmti)->GetFrameCount(jvmti, thread, &n);
	return n;
}

/* The entry of PgConnection(HostSpec[], Properties, String url). */
static void
enter(JNIEnv *env, jthread thread, jmethodID mid)
{
	const pqtls_settings *set = settings_get();
	jdbc_attempt *a = calloc(1, sizeof(*a));
	jclass		decl = NULL;
	jobject		loader = NULL,
				hostspecs = local_object(thread, 1),
				props = local_object(thread, 2),
				url = local_object(thread, 3);

	if (a == NULL || props == NULL)
	{
		free(a);
		return;
	}
	if ((*jvmti)->GetMethodDeclaringClass(jvmti, mid, &decl) == JVMTI_ERROR_NONE)
		(*jvmti)->GetClassLoader(jvmti, decl, &loader);
	a->loader = loader ? (*env)->NewGlobalRef(env, loader) : NULL;
	a->props = (*env)->NewGlobalRef(env, props);
	a->depth = frame_count(thread);
	jdbc_read_settings(env, a, (jobjectArray) hostspecs, props, (jstring) url);
	if (set->mode == PQTLS_ENFORCE)
		jdbc_enforce(env, a, set->bundle);
	jni_clear(env);
	a->outer = current;
	current = a;
	(*jvmti)->SetEventNotificationMode(jvmti, JVMTI_ENABLE, JVMTI_EVENT_EXCEPTION, thread);
}

/* The attempt is over: judge, write the record, stop watching if it was the last. */
static void
finish(JNIEnv *env, jthread thread, jdbc_attempt *a, bool ok)
{
	const pqtls_settings *set = settings_get();

	current = a->outer;
	if (current == NULL)
		(*jvmti)->SetEventNotificationMode(jvmti, JVMTI_DISABLE, JVMTI_EVENT_EXCEPTION, thread);
	a->ok = ok;
	if (ok)
		jdbc_read_tls(env, a);
	else
		jdbc_read_error(env, a);
	if (set->mode != PQTLS_OBSERVE || set->new_ca != NULL)
		jdbc_judge(env, a);
	jni_clear(env);
	jdbc_emit(a);
	jdbc_attempt_free(env, a);
}

static void JNICALL
on_breakpoint(jvmtiEnv *j, JNIEnv *env, jthread thread, jmethodID mid, jlocation loc)
{
	jdbc_attempt *a = current;

	(void) j;
	if (!is_ctor(mid) || (*env)->PushLocalFrame(env, 64) != 0)
		return;
	if (loc == 0)
		enter(env, thread, mid);
	else if (a != NULL && a->depth == frame_count(thread))
	{
		a->conn = (*env)->NewGlobalRef(env, local_object(thread, 0));
		finish(env, thread, a, true);
	}
	(*env)->PopLocalFrame(env, NULL);
}

/*
 * Is the handler of an exception thrown in the thread inside the watched
 * constructor's frame?  The frames from the top down to the constructor's are
 * those the exception could be caught in without leaving it.
 */
static bool
caught_inside(jthread thread, const jdbc_attempt *a, jmethodID catch_method)
{
	jvmtiFrameInfo frames[256];
	jint		inside = frame_count(thread) - a->depth + 1,
				got = 0;

	if (catch_method == NULL || inside <= 0)
		return false;
	if (inside > 256 ||
		(*jvmti)->GetStackTrace(jvmti, thread, 0, inside, frames, &got) != JVMTI_ERROR_NONE)
		return true;			/* cannot tell: wait for a return or a later throw */
	for (jint i = 0; i < got; i++)
		if (frames[i].method == catch_method)
			return true;
	return false;
}

/*
 * An exception thrown while the thread is inside the constructor: when it
 * leaves the constructor's frame, the attempt failed with it.  The exception
 * is set aside (if pending) while the agent calls Java, and put back.
 */
static void JNICALL
on_exception(jvmtiEnv *j, JNIEnv *env, jthread thread, jmethodID mid, jlocation loc,
			 jobject exception, jmethodID catch_method, jlocation catch_loc)
{
	jthrowable	pending;

	(void) j;
	(void) mid;
	(void) loc;
	(void) catch_loc;
	if (current == NULL || exception == NULL || caught_inside(thread, current, catch_method))
		return;
	if ((*env)->PushLocalFrame(env, 64) != 0)
		return;
	pending = (*env)->ExceptionOccurred(env);
	if (pending != NULL)
		(*env)->ExceptionClear(env);
	while (current != NULL && !caught_inside(thread, current, catch_method))
	{
		current->exc = (jthrowable) (*env)->NewGlobalRef(env, exception);
		finish(env, thread, current, false);
	}
	if (pending != NULL)
		(*env)->Throw(env, pending);
	(*env)->PopLocalFrame(env, NULL);
}

static int
start(JavaVM *vm, bool live)
{
	jvmtiCapabilities caps;
	jvmtiEventCallbacks cb;
	jint		n = 0;
	jclass	   *classes = NULL;

	if ((*vm)->GetEnv(vm, (void **) &jvmti, JVMTI_VERSION_1_2) != JNI_OK)
	{
		diag("the JVM agent needs JVMTI 1.2; pgjdbc connections are not recorded");
		return 0;
	}
	memset(&caps, 0, sizeof(caps));
	caps.can_generate_breakpoint_events = 1;
	caps.can_access_local_variables = 1;
	caps.can_get_bytecodes = 1;
	caps.can_generate_exception_events = 1;
	if ((*jvmti)->AddCapabilities(jvmti, &caps) != JVMTI_ERROR_NONE)
	{
		diag("this JVM grants the agent no breakpoints, exception events or local variables%s; "
			 "pgjdbc connections are not recorded",
			 live ? " after start-up (use -agentpath: or JAVA_TOOL_OPTIONS)" : "");
		return 0;
	}
	memset(&cb, 0, sizeof(cb));
	cb.ClassPrepare = on_class_prepare;
	cb.Breakpoint = on_breakpoint;
	cb.Exception = on_exception;
	(*jvmti)->SetEventCallbacks(jvmti, &cb, sizeof(cb));
	(*jvmti)->SetEventNotificationMode(jvmti, JVMTI_ENABLE, JVMTI_EVENT_CLASS_PREPARE, NULL);
	(*jvmti)->SetEventNotificationMode(jvmti, JVMTI_ENABLE, JVMTI_EVENT_BREAKPOINT, NULL);
	if (live && (*jvmti)->GetLoadedClasses(jvmti, &n, &classes) == JVMTI_ERROR_NONE)
	{
		for (jint i = 0; i < n; i++)
			if (is_pgconnection(classes[i]))
				watch_class(classes[i]);
		(*jvmti)->Deallocate(jvmti, (unsigned char *) classes);
	}
	return 0;
}

JNIEXPORT jint JNICALL
Agent_OnLoad(JavaVM *vm, char *options, void *reserved)
{
	(void) options;
	(void) reserved;
	return start(vm, false);
}

JNIEXPORT jint JNICALL
Agent_OnAttach(JavaVM *vm, char *options, void *reserved)
{
	(void) options;
	(void) reserved;
	return start(vm, true);
}
