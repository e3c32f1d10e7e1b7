/*
 * capture.c: the server's certificate of a handshake that failed.
 *
 * When verification fails ("certificate verify failed"), libpq frees its SSL
 * object before returning, and PQsslStruct() has nothing left to show. Yet the
 * certificate that failed is exactly what a person needs to see, and what
 * dry-run judges (method "chain"). So pqtls stands in front of SSL_connect():
 * libpq's open_client_SSL() calls it, and when it returns from inside a libpq
 * connect on this thread, the chain the server sent is copied out as DER before
 * libpq can free it.
 *
 * Every other caller of SSL_connect() in the process goes straight to the
 * OpenSSL its own module links, found the way resolve.c finds libpq.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>

#include "pqtls/attempt.h"
#include "pqtls/diag.h"
#include "pqtls/ossl.h"
#include "pqtls/resolve.h"
#include "pqtls/tlsinfo.h"

#define PQTLS_EXPORT __attribute__((visibility("default")))
#define MAX_CALLERS 32

typedef int (*ssl_connect_fn) (SSL *ssl);

static struct
{
	_Atomic(const void *) base;
	_Atomic(ssl_connect_fn) fn;
}			cache[MAX_CALLERS];
static _Atomic int n_cache;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* No lock of ours is held across fork(): the child starts with it free. */
static void
atfork_prepare(void)
{
	pthread_mutex_lock(&lock);
}

static void
atfork_release(void)
{
	pthread_mutex_unlock(&lock);
}

static void
register_atfork(void)
{
	pthread_atfork(atfork_prepare, atfork_release, atfork_release);
}

static ssl_connect_fn
cached(const void *base)
{
	int			n = atomic_load_explicit(&n_cache, memory_order_acquire);

	for (int i = 0; i < n; i++)
		if (atomic_load_explicit(&cache[i].base, memory_order_relaxed) == base)
			return atomic_load_explicit(&cache[i].fn, memory_order_relaxed);
	return NULL;
}

static void
remember(const void *base, ssl_connect_fn fn)
{
	pthread_once(&atfork_once, register_atfork);
	pthread_mutex_lock(&lock);
	if (cached(base) == NULL && n_cache < MAX_CALLERS)
	{
		atomic_store_explicit(&cache[n_cache].base, base, memory_order_relaxed);
		atomic_store_explicit(&cache[n_cache].fn, fn, memory_order_relaxed);
		atomic_store_explicit(&n_cache, n_cache + 1, memory_order_release);
	}
	pthread_mutex_unlock(&lock);
}

/* SSL_connect as the calling module would have bound it without pqtls. */
static ssl_connect_fn
next_ssl_connect(const void *caller)
{
	Dl_info		info;
	ssl_connect_fn fn;
	void	   *h,
			   *sym = NULL;

	if (!dladdr(caller, &info))
		return (ssl_connect_fn) resolve_next("SSL_connect", caller);
	fn = cached(info.dli_fbase);
	if (fn != NULL)
		return fn;
	if (info.dli_fname != NULL && (h = dlopen(info.dli_fname, RTLD_NOLOAD | RTLD_LAZY)) != NULL)
	{
		sym = real_dlsym(h, "SSL_connect");
		dlclose(h);
		if (sym != NULL && pqtls_owns(sym))
			sym = NULL;
	}
	if (sym == NULL)
		sym = resolve_next("SSL_connect", caller);
	fn = (ssl_connect_fn) sym;
	if (fn != NULL)
		remember(info.dli_fbase, fn);
	return fn;
}

/* Did SSL_connect() end the handshake, one way or the other? */
static bool
handshake_over(const ossl *o, SSL *ssl, int r)
{
	int			err;

	if (r == 1)
		return true;
	if (o->SSL_get_error == NULL)
		return false;
	err = o->SSL_get_error(ssl, r);
	return err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE;
}

PQTLS_EXPORT int
SSL_connect(SSL *ssl)
{
	attempt    *a = guard_current();
	const ossl *o = a != NULL ? pq_ossl(a->pq) : NULL;
	ssl_connect_fn fn;
	int			r;

	/* Inside a libpq connect, libpq's own OpenSSL is the right one for sure. */
	fn = o != NULL && o->SSL_connect != NULL ? o->SSL_connect :
		next_ssl_connect(__builtin_return_address(0));
	if (fn == NULL)
	{
		diag_once("no-ssl-connect", "SSL_connect was called but no OpenSSL is loaded");
		return -1;
	}
	r = fn(ssl);

	/*
	 * Keep the chain of the handshake that just ended, successful or not: libpq
	 * checks the host name only after a successful SSL_connect(), and closes the
	 * connection when it does not match. The last handshake wins (several hosts).
	 */
	if (a != NULL && o != NULL && handshake_over(o, ssl, r))
		tlsinfo_copy_chain(&a->captured, o, ssl);
	return r;
}
