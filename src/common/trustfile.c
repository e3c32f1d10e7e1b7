/*
 * trustfile.c: trust files judged the way libpq's OpenSSL loads them
 * (see trustfile.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pqtls/trustfile.h"

/* Distinct (file, OpenSSL) answers a process keeps; the oldest goes first. */
#define ANSWERS 16

typedef struct answer
{
	char	   *path;
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec mtime;
	const ossl *o;
	char	   *why;			/* NULL: OpenSSL loaded the file */
} answer;

static answer answers[ANSWERS];
static int	next_slot;
static unsigned long loads;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* No lock of ours is held across fork() (as bundle.c). */
static void
take(void)
{
	pthread_mutex_lock(&lock);
}

static void
give(void)
{
	pthread_mutex_unlock(&lock);
}

static void
register_atfork(void)
{
	pthread_atfork(take, give, give);
}

unsigned long
trustfile_loads(void)
{
	return __atomic_load_n(&loads, __ATOMIC_RELAXED);
}

static bool
same_file(const answer *a, const bundle *b, const ossl *o)
{
	return a->path != NULL && a->o == o && a->dev == b->dev && a->ino == b->ino &&
		a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
		a->mtime.tv_nsec == b->mtime.tv_nsec && strcmp(a->path, b->path) == 0;
}

/* What a person can do about it, from what the fast reader saw. */
static const char *
hint(const bundle *b)
{
	if (b->der)
		return "; the file is DER, and libpq reads PEM only "
			"(openssl x509 -inform DER -in FILE -out FILE.pem converts it)";
	if (b->n == 0)
		return b->skipped ? "; it holds no certificate that can be read" :
			"; it holds no certificate";
	if (b->skipped > 0)
		return "; a certificate block in it is damaged: replace the file with an intact copy";
	return "";
}

static bool
can_ask(const ossl *o)
{
	return o != NULL && o->SSL_CTX_new != NULL && o->TLS_client_method != NULL &&
		o->SSL_CTX_free != NULL && o->SSL_CTX_load_verify_locations != NULL &&
		o->ERR_get_error != NULL && o->ERR_clear_error != NULL;
}

/*
 * Load the file as libpq 13..18 loads its root file: a fresh SSL_CTX of the
 * client method, SSL_CTX_load_verify_locations(ctx, file, NULL), and on failure
 * the reason of the first error in the queue (libpq's SSLerrmessage()).
 */
static char *
ask_openssl(const ossl *o, const bundle *b)
{
	SSL_CTX    *ctx;
	unsigned long e;
	const char *reason = NULL;
	char		code[48];
	char	   *why = NULL;
	int			ok;

	__atomic_fetch_add(&loads, 1, __ATOMIC_RELAXED);
	o->ERR_clear_error();
	ctx = o->SSL_CTX_new(o->TLS_client_method());
	if (ctx == NULL)
	{
		o->ERR_clear_error();
		return NULL;			/* cannot tell: no verdict of ours rests on it */
	}
	ok = o->SSL_CTX_load_verify_locations(ctx, b->path, NULL) == 1;
	e = o->ERR_get_error();
	o->ERR_clear_error();
	o->SSL_CTX_free(ctx);
	if (ok)
		return NULL;
	if (e != 0 && o->ERR_reason_error_string != NULL)
		reason = o->ERR_reason_error_string(e);
	if (reason == NULL)
	{
		snprintf(code, sizeof(code), e ? "SSL error code %lu" : "no SSL error reported", e);
		reason = code;
	}
	if (asprintf(&why, "%s refuses %s as libpq loads a root file "
				 "(SSL_CTX_load_verify_locations): %s%s",
				 o->OpenSSL_version ? o->OpenSSL_version(0) : "OpenSSL", b->path, reason,
				 hint(b)) < 0)
		why = strdup("OpenSSL refuses the file");
	return why;
}

/* Without an OpenSSL to ask: the fast reader's rule, which errs on refusing. */
static char *
own_rule(const bundle *b)
{
	char	   *why = NULL;

	if (b->der || b->skipped > 0 || b->n == 0)
	{
		if (asprintf(&why, "%s cannot be loaded as libpq loads a root file%s", b->path,
					 hint(b)) < 0)
			why = NULL;
	}
	return why;
}

static char *
cached(const ossl *o, const bundle *b, bool *found)
{
	char	   *why = NULL;

	*found = false;
	pthread_mutex_lock(&lock);
	for (int i = 0; i < ANSWERS && !*found; i++)
	{
		if (same_file(&answers[i], b, o))
		{
			*found = true;
			why = answers[i].why ? strdup(answers[i].why) : NULL;
		}
	}
	pthread_mutex_unlock(&lock);
	return why;
}

static void
remember(const ossl *o, const bundle *b, const char *why)
{
	answer		a = {.dev = b->dev, .ino = b->ino, .size = b->size, .mtime = b->mtime, .o = o};
	answer		old;

	a.path = strdup(b->path);
	a.why = why ? strdup(why) : NULL;
	if (a.path == NULL || (why != NULL && a.why == NULL))
	{
		free(a.path);
		free(a.why);
		return;
	}
	pthread_mutex_lock(&lock);
	old = answers[next_slot];
	answers[next_slot] = a;
	next_slot = (next_slot + 1) % ANSWERS;
	pthread_mutex_unlock(&lock);
	free(old.path);
	free(old.why);
}

char *
trustfile_problem(const ossl *o, const bundle *b)
{
	char	   *why;
	bool		found;

	if (b == NULL)
		return strdup("no trust file");
	if (!b->read)
		return strdup(b->error ? b->error : "the file cannot be read");
	if (b->plain && b->skipped == 0 && b->unsure == 0 && b->n > 0)
		return NULL;
	if (!can_ask(o))
		why = own_rule(b);
	else
	{
		pthread_once(&atfork_once, register_atfork);
		why = cached(o, b, &found);
		if (!found)
		{
			why = ask_openssl(o, b);
			remember(o, b, why);
		}
	}
	/* OpenSSL loads it, but pqtls found nothing to judge with (a CRL alone). */
	if (why == NULL && b->error != NULL)
		why = strdup(b->error);
	return why;
}
