/*
 * bundle.h: a CA bundle (PEM or DER file) indexed once per process.
 *
 * Loading the 102-certificate RDS bundle into an OpenSSL X509_STORE costs about
 * 150 million instructions; this index costs a small fraction of that, because
 * each certificate is read with pqtls's own DER reader (subject, key, validity)
 * and OpenSSL later decodes only the few certificates a chain needs (judge.c).
 * A loaded bundle is kept and reused until its file changes.
 */
#ifndef PQTLS_BUNDLE_H
#define PQTLS_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "pqtls/x509.h"

typedef struct bundle_cert
{
	uint8_t    *der;
	size_t		der_len;
	uint8_t    *subject_key;	/* x509_name_key() of the subject */
	size_t		subject_key_len;
	uint8_t    *issuer_key;
	size_t		issuer_key_len;
	der_span	spki;			/* into der */
	char	   *subject;
	char	   *issuer;
	time_t		not_before;
	time_t		not_after;
	bool		is_ca;
	char		key_desc[32];
} bundle_cert;

typedef struct bundle
{
	char	   *path;
	int			n;
	bundle_cert *certs;
	char	   *error;			/* why it is unusable; NULL when usable */
	int			skipped;		/* PEM blocks that were not certificates we could read */
	bool		read;			/* the file was read (error, if any, is about its content) */
	bool		der;			/* one DER certificate, not PEM */
	bool		plain;			/* PEM in the plain form (pem_plain()) */
	int			unsure;			/* certificates x509_strict() cannot vouch for */
	/* What the file was when read, to notice a change. */
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec mtime;
	int			refs;
} bundle;

/* Read and index a file now (no cache). Never NULL unless out of memory. */
bundle	   *bundle_load(const char *path);

/* The process's copy of `path`, reloaded when the file changed; release it after use. */
bundle	   *bundle_get(const char *path);
void		bundle_release(bundle *b);

/* Certificates whose subject key equals `key`, from index *pos on; NULL when none left. */
const bundle_cert *bundle_next_subject(const bundle *b, const uint8_t *key, size_t len, int *pos);

/* Does b hold a certificate with the same subject and public key as c? */
bool		bundle_holds(const bundle *b, const bundle_cert *c);

/* Does b hold any certificate of `wanted`? Returns the first one held, or NULL. */
const bundle_cert *bundle_holds_any(const bundle *b, const bundle *wanted);

#endif
