/*
 * bundle.c: CA bundles, indexed from their DER (see bundle.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pqtls/bundle.h"
#include "pqtls/pem.h"
#include "pqtls/x509_strict.h"

/* Bundles larger than this are refused rather than read into memory. */
#define BUNDLE_MAX_BYTES (64 * 1024 * 1024)
/* Distinct bundle files a process keeps (PQTLS_BUNDLE, PQTLS_NEW_CA, root files). */
#define BUNDLE_CACHE 16

static char *
read_file(const char *path, size_t *len, struct stat *st, char **error)
{
	/*
	 * O_NONBLOCK: a FIFO (or a device) named as a bundle must be refused, not
	 * block the program's connection until someone writes to it.  Reading a
	 * regular file ignores the flag.
	 */
	int			fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	char	   *data = NULL;
	size_t		got = 0;
	char		msg[512];

	if (fd < 0 || fstat(fd, st) != 0)
	{
		snprintf(msg, sizeof(msg), "cannot read %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st->st_mode))
	{
		snprintf(msg, sizeof(msg), "%s is not a regular file", path);
		goto fail;
	}
	if (st->st_size > BUNDLE_MAX_BYTES)
	{
		snprintf(msg, sizeof(msg), "%s is larger than %d MiB", path, BUNDLE_MAX_BYTES >> 20);
		goto fail;
	}
	data = malloc(st->st_size + 1);
	if (data == NULL)
	{
		snprintf(msg, sizeof(msg), "out of memory reading %s", path);
		goto fail;
	}
	while (got < (size_t) st->st_size)
	{
		ssize_t		n = read(fd, data + got, st->st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	data[got] = '\0';
	*len = got;
	return data;

fail:
	if (fd >= 0)
		close(fd);
	free(data);
	*error = strdup(msg);
	return NULL;
}

/* Index one DER certificate; false when our reader cannot read it. */
static bool
index_cert(bundle_cert *bc, uint8_t *der, size_t len)
{
	x509_cert  *c = malloc(sizeof(*c));
	bool		ok = false;

	memset(bc, 0, sizeof(*bc));
	if (c == NULL || x509_parse(der, len, c) != 0)
		goto done;
	bc->der = der;
	bc->der_len = len;
	bc->subject_key = x509_name_key(c->subject_raw, &bc->subject_key_len);
	/* A root (self-signed: the same Name bytes twice) needs its key made once. */
	if (bc->subject_key != NULL && c->issuer_raw.len == c->subject_raw.len &&
		memcmp(c->issuer_raw.p, c->subject_raw.p, c->subject_raw.len) == 0)
	{
		bc->issuer_key = malloc(bc->subject_key_len ? bc->subject_key_len : 1);
		if (bc->issuer_key != NULL)
		{
			memcpy(bc->issuer_key, bc->subject_key, bc->subject_key_len);
			bc->issuer_key_len = bc->subject_key_len;
		}
	}
	else
		bc->issuer_key = x509_name_key(c->issuer_raw, &bc->issuer_key_len);
	bc->spki = c->spki;
	bc->subject = c->subject ? strdup(c->subject) : NULL;
	bc->issuer = c->issuer ? strdup(c->issuer) : NULL;
	bc->not_before = c->not_before;
	bc->not_after = c->not_after;
	bc->is_ca = c->is_ca;
	memcpy(bc->key_desc, c->key_desc, sizeof(bc->key_desc));
	ok = bc->subject_key != NULL && bc->issuer_key != NULL;
	x509_free(c);
done:
	free(c);
	return ok;
}

static void
add_cert(bundle *b, uint8_t *der, size_t len, int *cap)
{
	if (b->n == *cap)
	{
		int			ncap = *cap ? *cap * 2 : 16;
		bundle_cert *grown = realloc(b->certs, ncap * sizeof(*grown));

		if (grown == NULL)
		{
			free(der);
			b->skipped++;
			return;
		}
		b->certs = grown;
		*cap = ncap;
	}
	if (index_cert(&b->certs[b->n], der, len))
	{
		/* Only a plain file can spare OpenSSL the question (trustfile.c). */
		if (b->plain && !x509_strict(der, len))
			b->unsure++;
		b->n++;
	}
	else
	{
		free(b->certs[b->n].subject_key);
		free(b->certs[b->n].issuer_key);
		free(b->certs[b->n].subject);
		free(b->certs[b->n].issuer);
		free(der);
		b->skipped++;
	}
}

bundle *
bundle_load(const char *path)
{
	bundle	   *b = calloc(1, sizeof(*b));
	struct stat st;
	size_t		len = 0,
				pos = 0;
	char	   *text;
	int			cap = 0;
	char		msg[600];

	if (b == NULL)
		return NULL;
	b->refs = 1;
	b->path = strdup(path);
	text = read_file(path, &len, &st, &b->error);
	if (text == NULL)
		return b;
	b->dev = st.st_dev;
	b->ino = st.st_ino;
	b->size = st.st_size;
	b->mtime = st.st_mtim;
	b->read = true;
	b->der = der_is_single_cert((const uint8_t *) text, len);
	b->plain = !b->der && pem_plain(text, len);

	if (b->der)
	{
		uint8_t    *der = malloc(len);

		if (der != NULL)
		{
			memcpy(der, text, len);
			add_cert(b, der, len, &cap);
		}
	}
	else
	{
		for (;;)
		{
			uint8_t    *der = NULL;
			size_t		der_len = 0;
			int			r = pem_next_cert(text, len, &pos, &der, &der_len);

			if (r == 0)
				break;
			if (r < 0)
			{
				b->skipped++;
				continue;
			}
			add_cert(b, der, der_len, &cap);
		}
	}
	free(text);
	if (b->n == 0)
	{
		snprintf(msg, sizeof(msg), "%s holds no certificate%s", path,
				 b->skipped ? " that can be read" : "");
		b->error = strdup(msg);
	}
	return b;
}

static void
bundle_destroy(bundle *b)
{
	for (int i = 0; i < b->n; i++)
	{
		free(b->certs[i].der);
		free(b->certs[i].subject_key);
		free(b->certs[i].issuer_key);
		free(b->certs[i].subject);
		free(b->certs[i].issuer);
	}
	free(b->certs);
	free(b->path);
	free(b->error);
	free(b);
}

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t cache_atfork_once = PTHREAD_ONCE_INIT;
static bundle *cache[BUNDLE_CACHE];

/*
 * No lock of ours is held across fork(): a thread inside bundle_get() while
 * another forks would leave the child's cache locked forever (its first
 * dry-run record would hang).
 */
static void
cache_lock_take(void)
{
	pthread_mutex_lock(&cache_lock);
}

static void
cache_lock_give(void)
{
	pthread_mutex_unlock(&cache_lock);
}

static void
cache_register_atfork(void)
{
	pthread_atfork(cache_lock_take, cache_lock_give, cache_lock_give);
}

static bool
unchanged(const bundle *b, const struct stat *st)
{
	return b->dev == st->st_dev && b->ino == st->st_ino && b->size == st->st_size &&
		b->mtime.tv_sec == st->st_mtim.tv_sec && b->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/*
 * One stat() per call decides whether the kept copy still stands; the file is
 * read again only when it changed. A file that cannot be read is not kept, so
 * it is tried again at the next connection.
 */
bundle *
bundle_get(const char *path)
{
	struct stat st;
	bundle	   *b = NULL,
			   *fresh,
			   *old = NULL;
	int			slot = -1;
	bool		exists = stat(path, &st) == 0;

	pthread_once(&cache_atfork_once, cache_register_atfork);
	pthread_mutex_lock(&cache_lock);
	for (int i = 0; i < BUNDLE_CACHE; i++)
	{
		if (cache[i] != NULL && strcmp(cache[i]->path, path) == 0)
		{
			slot = i;
			if (exists && unchanged(cache[i], &st))
			{
				b = cache[i];
				b->refs++;
			}
			break;
		}
	}
	pthread_mutex_unlock(&cache_lock);
	if (b != NULL)
		return b;

	/* Read outside the lock: another thread's connection need not wait for it. */
	fresh = bundle_load(path);
	if (fresh == NULL || fresh->error != NULL)
		return fresh;
	pthread_mutex_lock(&cache_lock);
	if (slot < 0 || cache[slot] == NULL || strcmp(cache[slot]->path, path) != 0)
	{
		slot = -1;
		for (int i = 0; i < BUNDLE_CACHE && slot < 0; i++)
			if (cache[i] == NULL)
				slot = i;
	}
	if (slot >= 0)
	{
		old = cache[slot];
		cache[slot] = fresh;
		fresh->refs++;
	}
	pthread_mutex_unlock(&cache_lock);
	bundle_release(old);
	return fresh;
}

void
bundle_release(bundle *b)
{
	bool		last;

	if (b == NULL)
		return;
	pthread_mutex_lock(&cache_lock);
	last = --b->refs == 0;
	pthread_mutex_unlock(&cache_lock);
	if (last)
		bundle_destroy(b);
}

const bundle_cert *
bundle_next_subject(const bundle *b, const uint8_t *key, size_t len, int *pos)
{
	for (int i = *pos; i < b->n; i++)
	{
		if (b->certs[i].subject_key_len == len && memcmp(b->certs[i].subject_key, key, len) == 0)
		{
			*pos = i + 1;
			return &b->certs[i];
		}
	}
	*pos = b->n;
	return NULL;
}

bool
bundle_holds(const bundle *b, const bundle_cert *c)
{
	int			pos = 0;
	const bundle_cert *h;

	while ((h = bundle_next_subject(b, c->subject_key, c->subject_key_len, &pos)) != NULL)
		if (h->spki.len == c->spki.len && memcmp(h->spki.p, c->spki.p, c->spki.len) == 0)
			return true;
	return false;
}

const bundle_cert *
bundle_holds_any(const bundle *b, const bundle *wanted)
{
	for (int i = 0; i < wanted->n; i++)
		if (bundle_holds(b, &wanted->certs[i]))
			return &wanted->certs[i];
	return NULL;
}
