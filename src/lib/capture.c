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
 * Under OpenSSL 1.1.1 (the copy a Python wheel or an embedded PostgreSQL brings
 * beside libpq) a chain that fails verification never reaches the SSL object:
 * tls_process_server_certificate() calls ssl_verify_cert_chain() and returns on
 * failure before storing the peer chain, so SSL_get_peer_cert_chain() is NULL
 * afterwards (3.0 stores it before verifying). The chain is then taken where
 * OpenSSL shows it: libpq's verify callback (verify_cb() in fe-secure-openssl.c,
 * set with SSL_set_verify() by initialize_SSL() of 13 to 18) is wrapped for the
 * length of each SSL_connect() call, and the wrapper copies the verify
 * context's untrusted chain (what the server sent, leaf first) the first time
 * it is told verification fails, then answers as libpq's callback does.
 *
 * Every other caller of SSL_connect() in the process goes straight to the
 * OpenSSL its own module links, found the way resolve.c finds libpq.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

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

/* ---- libpq's verify callback, wrapped for one SSL_connect() call ---------- */

typedef struct verify_wrap
{
	attempt    *a;
	const ossl *o;
	SSL_verify_cb inner;		/* libpq's verify_cb (NULL: OpenSSL's verdict as is) */
	bool		copied;			/* the failing chain is in a->captured */
} verify_wrap;

/* The wrap of the SSL_connect() call on this thread's stack (initial-exec: no allocation). */
static __thread verify_wrap *wrapping __attribute__((tls_model("initial-exec")));

/*
 * Called by OpenSSL for each certificate and each error while it verifies the
 * server's chain inside SSL_connect(). Verification that succeeds costs
 * nothing more: only a failure (ok == 0) copies the chain, once.
 */
static int
wrapped_verify(int ok, X509_STORE_CTX *ctx)
{
	verify_wrap *w = wrapping;

	if (w == NULL)
		return ok;
	if (!ok && !w->copied)
	{
		chain_copy_stack(&w->a->captured, w->o, w->o->X509_STORE_CTX_get0_untrusted(ctx));
		w->copied = w->a->captured.n > 0;
	}
	return w->inner != NULL ? w->inner(ok, ctx) : ok;
}

/* Put the wrapper in front of the callback libpq set, when libpq verifies at all. */
static bool
wrap_verify(verify_wrap *w, attempt *a, const ossl *o, SSL *ssl, int *mode)
{
	memset(w, 0, sizeof(*w));
	if (o->SSL_get_verify_mode == NULL || o->SSL_get_verify_callback == NULL ||
		o->SSL_set_verify == NULL || o->X509_STORE_CTX_get0_untrusted == NULL)
		return false;
	*mode = o->SSL_get_verify_mode(ssl);
	if (!(*mode & SSL_VERIFY_PEER))
		return false;			/* nothing can fail: OpenSSL keeps the chain */
	w->a = a;
	w->o = o;
	w->inner = o->SSL_get_verify_callback(ssl);
	o->SSL_set_verify(ssl, *mode, wrapped_verify);
	return true;
}

/*
 * What the handshake negotiated, read as libpq's PQsslAttribute() reads it
 * (SSL_get_version, SSL_CIPHER_get_name of SSL_get_current_cipher): a cancel
 * connection's SSL object is freed before libpq reports how it ended. And the
 * ALPN the server selected, which libpq 17's open_client_SSL() demands of a
 * direct TLS connection.
 */
static void
note_handshake(handshake_info *h, const ossl *o, SSL *ssl, bool ok)
{
	memset(h, 0, sizeof(*h));
	if (!ok || o->SSL_get_version == NULL || o->SSL_get_current_cipher == NULL ||
		o->SSL_CIPHER_get_name == NULL)
		return;
	h->ok = true;
	if (o->SSL_get0_alpn_selected != NULL)
	{
		const unsigned char *sel = NULL;
		unsigned int len = 0;

		o->SSL_get0_alpn_selected(ssl, &sel, &len);
		h->alpn_postgresql = sel != NULL && len == 10 && memcmp(sel, "postgresql", 10) == 0;
	}
	snprintf(h->protocol, sizeof(h->protocol), "%s", o->SSL_get_version(ssl));
	snprintf(h->cipher, sizeof(h->cipher), "%s",
			 o->SSL_CIPHER_get_name(o->SSL_get_current_cipher(ssl)));
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
	verify_wrap w,
			   *prev = wrapping;
	bool		wrapped = false;
	int			r,
				mode = 0;

	/* Inside a libpq connect, libpq's own OpenSSL is the right one for sure. */
	fn = o != NULL && o->SSL_connect != NULL ? o->SSL_connect :
		next_ssl_connect(__builtin_return_address(0));
	if (fn == NULL)
	{
		diag_once("no-ssl-connect", "SSL_connect was called but no OpenSSL is loaded");
		return -1;
	}
	if (a != NULL && o != NULL && fn == o->SSL_connect)
		wrapped = wrap_verify(&w, a, o, ssl, &mode);
	if (wrapped)
		wrapping = &w;
	r = fn(ssl);
	if (wrapped)
	{
		/* libpq's SSL object as it was: its own callback, its own mode. */
		wrapping = prev;
		o->SSL_set_verify(ssl, mode, w.inner);
	}

	/*
	 * Keep the chain of the handshake that just ended, successful or not: libpq
	 * checks the host name only after a successful SSL_connect(), and closes the
	 * connection when it does not match. The last handshake wins (several hosts).
	 * The SSL object's chain when it has one; else what the verify callback saw.
	 */
	if (a != NULL && o != NULL && handshake_over(o, ssl, r))
	{
		peer_chain	held = {0};

		note_handshake(&a->handshake, o, ssl, r == 1);

		tlsinfo_copy_chain(&held, o, ssl);
		if (held.n > 0 || !(wrapped && w.copied))
		{
			peer_chain_free(&a->captured);
			a->captured = held;
		}
	}
	return r;
}
