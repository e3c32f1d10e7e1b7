/*
 * sysroots.c: the OpenSSL default store that sslrootcert=system means (see
 * sysroots.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "pqtls/sysroots.h"

/*
 * OpenSSL's by_file and by_dir lookups read the variable that
 * X509_get_default_cert_file_env() / _dir_env() name, with secure_getenv (a
 * setuid program ignores it), and fall back to the compiled-in default only
 * when it is not set at all: an empty value is used as it is.
 */
static char *
default_location(const char *(*env_name) (void), const char *(*fallback) (void))
{
	const char *value;

	if (env_name == NULL || fallback == NULL)
		return NULL;
	value = secure_getenv(env_name());
	return strdup(value != NULL ? value : fallback());
}

char *
sysroots_file(const ossl *o)
{
	return o ? default_location(o->X509_get_default_cert_file_env,
								o->X509_get_default_cert_file) : NULL;
}

char *
sysroots_dir(const ossl *o)
{
	return o ? default_location(o->X509_get_default_cert_dir_env,
								o->X509_get_default_cert_dir) : NULL;
}

static bool
can_ask(const ossl *o)
{
	return o != NULL && o->X509_STORE_new && o->X509_STORE_set_default_paths &&
		o->X509_STORE_CTX_new && o->X509_STORE_CTX_init && o->X509_STORE_CTX_get1_certs &&
		o->X509_get_subject_name && o->X509_get_X509_PUBKEY && o->i2d_X509_PUBKEY &&
		o->OPENSSL_sk_free && o->OPENSSL_sk_num && o->OPENSSL_sk_value && o->d2i_X509 &&
		o->X509_free && o->X509_STORE_free && o->X509_STORE_CTX_free;
}

/* Is the public key of x (its whole SubjectPublicKeyInfo) the one of c? */
static bool
same_key(const ossl *o, X509 *x, const bundle_cert *c)
{
	X509_PUBKEY *k = o->X509_get_X509_PUBKEY(x);
	int			len = k ? o->i2d_X509_PUBKEY(k, NULL) : -1;
	unsigned char *buf,
			   *p;
	bool		same;

	if (len <= 0 || (size_t) len != c->spki.len || (buf = malloc(len)) == NULL)
		return false;
	p = buf;
	same = o->i2d_X509_PUBKEY(k, &p) == len && memcmp(buf, c->spki.p, len) == 0;
	free(buf);
	return same;
}

/*
 * Does the store hold c? X509_STORE_CTX_get1_certs() finds the certificates of
 * c's subject as verification would: loaded from the file, or looked up by
 * subject hash in the directories.
 */
static bool
store_holds(const ossl *o, X509_STORE *st, const bundle_cert *c)
{
	const unsigned char *der = c->der;
	X509	   *x = o->d2i_X509(NULL, &der, (long) c->der_len);
	X509_STORE_CTX *ctx = o->X509_STORE_CTX_new();
	STACK_OF(X509) *found = NULL;
	bool		held = false;

	if (x != NULL && ctx != NULL && o->X509_STORE_CTX_init(ctx, st, NULL, NULL) == 1)
		found = o->X509_STORE_CTX_get1_certs(ctx, o->X509_get_subject_name(x));
	/* get1: each certificate found holds a reference of ours, and the stack too. */
	for (int i = 0; found != NULL && i < o->OPENSSL_sk_num((OPENSSL_STACK *) found); i++)
	{
		X509	   *f = o->OPENSSL_sk_value((OPENSSL_STACK *) found, i);

		held = held || same_key(o, f, c);
		o->X509_free(f);
	}
	if (found != NULL)
		o->OPENSSL_sk_free((OPENSSL_STACK *) found);
	if (ctx != NULL)
		o->X509_STORE_CTX_free(ctx);
	if (x != NULL)
		o->X509_free(x);
	return held;
}

/* Ask the OpenSSL: the index in `wanted` of the first certificate its store holds, or -1. */
static int
ask_store(const ossl *o, const bundle *wanted, char **error)
{
	X509_STORE *st;
	int			held = -1;

	if (!can_ask(o) || (st = o->X509_STORE_new()) == NULL)
	{
		*error = strdup("the OpenSSL of this libpq cannot be asked for its default store");
		return -1;
	}
	/* What SSL_CTX_set_default_verify_paths() does to libpq's context. */
	o->X509_STORE_set_default_paths(st);
	if (o->ERR_clear_error)
		o->ERR_clear_error();
	for (int i = 0; i < wanted->n && held < 0; i++)
		if (store_holds(o, st, &wanted->certs[i]))
			held = i;
	if (o->ERR_clear_error)
		o->ERR_clear_error();
	o->X509_STORE_free(st);
	return held;
}

/* ---- the answers kept ------------------------------------------------------ */

/*
 * Loading the default store costs OpenSSL 3 about 80 ms (Debian's 140-certificate
 * ca-certificates.crt), far too much for each connection. An answer is kept per
 * OpenSSL copy, store locations and what they were (file identity, size, mtime;
 * each directory's mtime), and new-CA file, for at most the TTL.
 */
#define KEPT_MAX 8
#define KEY_MAX 4608

typedef struct kept
{
	char		key[KEY_MAX];
	int			held;
	time_t		expires;
} kept;

static kept answers[KEPT_MAX];
static int	next_slot;
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void
lock_kept(void)
{
	pthread_mutex_lock(&kept_lock);
}

static void
unlock_kept(void)
{
	pthread_mutex_unlock(&kept_lock);
}

static void
register_atfork(void)
{
	pthread_atfork(lock_kept, unlock_kept, unlock_kept);
}

static size_t
put_stat(char *key, size_t at, const char *path)
{
	struct stat st;

	if (at >= KEY_MAX)
		return at;
	if (stat(path, &st) != 0)
		return at + snprintf(key + at, KEY_MAX - at, "|%s:-", path);
	return at + snprintf(key + at, KEY_MAX - at, "|%s:%lu:%lu:%lld:%lld.%ld", path,
						 (unsigned long) st.st_dev, (unsigned long) st.st_ino,
						 (long long) st.st_size, (long long) st.st_mtim.tv_sec,
						 st.st_mtim.tv_nsec);
}

/* False when the key does not fit (then nothing is kept). */
static bool
make_key(char *key, const ossl *o, const bundle *wanted)
{
	char	   *file = sysroots_file(o),
			   *dirs = sysroots_dir(o),
			   *save = NULL;
	size_t		at = (size_t) snprintf(key, KEY_MAX, "%p", (const void *) o);

	at = put_stat(key, at, file ? file : "");
	for (char *d = dirs ? strtok_r(dirs, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save))
		at = put_stat(key, at, d);
	at = put_stat(key, at, wanted->path);
	free(file);
	free(dirs);
	return at < KEY_MAX;
}

static bool
recall(const char *key, int *held)
{
	bool		found = false;

	lock_kept();
	for (int i = 0; i < KEPT_MAX && !found; i++)
		if (answers[i].expires > time(NULL) && strcmp(answers[i].key, key) == 0)
		{
			*held = answers[i].held;
			found = true;
		}
	unlock_kept();
	return found;
}

static void
keep(const char *key, int held, long ttl)
{
	lock_kept();
	snprintf(answers[next_slot].key, KEY_MAX, "%s", key);
	answers[next_slot].held = held;
	answers[next_slot].expires = time(NULL) + ttl;
	next_slot = (next_slot + 1) % KEPT_MAX;
	unlock_kept();
}

const bundle_cert *
sysroots_holds_any(const ossl *o, const bundle *wanted, long ttl, char **error)
{
	char	   *key = malloc(KEY_MAX);
	bool		keyed;
	int			held;

	*error = NULL;
	pthread_once(&atfork_once, register_atfork);
	keyed = key != NULL && ttl > 0 && make_key(key, o, wanted);
	if (!keyed || !recall(key, &held))
	{
		held = ask_store(o, wanted, error);
		if (keyed && *error == NULL)
			keep(key, held, ttl);
	}
	free(key);
	return held >= 0 ? &wanted->certs[held] : NULL;
}
