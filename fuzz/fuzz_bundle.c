/*
 * fuzz_bundle.c: CA bundles as the interposer indexes them (bundle.h), and the
 * verify-full judge on top of them (judge.h).
 *
 * bundle.c reads files only (bundle_load(path)), so the input is written to a
 * memfd once per run and loaded through /proc/self/fd/N: the real code path,
 * read(), fstat() and all.  The input is
 *
 *     BUNDLE [ "#PEER\n" CHAIN [ "#HOST " HOST "\n" ] ]
 *
 * BUNDLE is the bundle file (PEM, or one DER certificate); CHAIN is what the
 * server sent, leaf first, as PEM blocks or one DER certificate; HOST the
 * host name the program connected to (default "localhost").
 *
 * Checked, for every input:
 *   - a bundle is either usable (n > 0, no error) or has an error, never
 *     both; every certificate has its DER, name keys, subject and issuer
 *     strings, and a SubjectPublicKeyInfo inside its DER; the index finds
 *     every certificate by its subject key, and bundle_holds() says the
 *     bundle holds each of its own certificates and bundle_holds_any() that
 *     it holds itself;
 *   - with a chain: judge_verify_full() gives a verdict with a reason and a
 *     detail; and judge_chain(), which hands OpenSSL only the bundle
 *     certificates whose subjects its own name keys connect to the chain,
 *     reaches the same reason as OpenSSL given every certificate of the
 *     bundle (X509_verify_cert with the same purpose, security level and
 *     trust settings): the index must never leave out a CA OpenSSL would
 *     have used.  (Where a sent certificate is one x509.c cannot read, only
 *     pass or fail is compared: see judge().)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "pqtls/bundle.h"
#include "pqtls/judge.h"
#include "pqtls/ossl.h"
#include "pqtls/pem.h"
#include "pqtls/x509.h"

#define FAIL(...) do { fprintf(stderr, "fuzz_bundle: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

static int	memfd = -1;
static char path[64];

static bundle *
load(const uint8_t *data, size_t size)
{
	if (memfd < 0)
	{
		memfd = memfd_create("fuzz_bundle", MFD_CLOEXEC);
		if (memfd < 0)
			FAIL("memfd_create");
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	}
	if (ftruncate(memfd, 0) != 0 || pwrite(memfd, data, size, 0) != (ssize_t) size)
		FAIL("writing the memfd");
	return bundle_load(path);
}

static void
check_bundle(const bundle *b)
{
	if (b == NULL)
		FAIL("bundle_load returned NULL");
	if ((b->error == NULL) != (b->n > 0))
		FAIL("n %d with error %s", b->n, b->error ? b->error : "(none)");
	if (b->error != NULL)
		(void) strlen(b->error);
	for (int i = 0; i < b->n; i++)
	{
		const bundle_cert *c = &b->certs[i];
		const bundle_cert *found;
		int			pos = 0;
		bool		seen = false;

		if (c->der == NULL || c->der_len == 0 || c->subject_key == NULL || c->issuer_key == NULL ||
			c->subject == NULL || c->issuer == NULL)
			FAIL("certificate %d incomplete", i);
		if (c->spki.p < c->der || c->spki.p + c->spki.len > c->der + c->der_len || c->spki.len == 0)
			FAIL("certificate %d: spki outside its DER", i);
		if (memchr(c->key_desc, '\0', sizeof(c->key_desc)) == NULL)
			FAIL("key_desc");
		while ((found = bundle_next_subject(b, c->subject_key, c->subject_key_len, &pos)) != NULL)
			if (found == c)
				seen = true;
		if (!seen)
			FAIL("certificate %d not found by its own subject key", i);
		if (!bundle_holds(b, c))
			FAIL("certificate %d not held", i);
	}
	if (b->n > 0 && bundle_holds_any(b, b) != &b->certs[0])
		FAIL("the bundle does not hold its own first certificate");
}

/* What OpenSSL says of the chain against the whole bundle, as judge.c asks it. */
static int
openssl_verdict(const bundle *b, const peer_chain *chain, int *depth)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	const unsigned char *p = chain->cert[0].der;
	X509	   *leaf = d2i_X509(NULL, &p, (long) chain->cert[0].len);
	SSL_CTX    *ssl = SSL_CTX_new(TLS_client_method());
	int			err = -1;

	*depth = 0;
	if (leaf == NULL)
		goto done;
	for (int i = 0; i < b->n; i++)
	{
		X509	   *x;

		p = b->certs[i].der;
		x = d2i_X509(NULL, &p, (long) b->certs[i].der_len);
		if (x != NULL)
		{
			X509_STORE_add_cert(store, x);
			X509_free(x);
		}
	}
	for (int i = 1; i < chain->n; i++)
	{
		X509	   *x;

		p = chain->cert[i].der;
		x = d2i_X509(NULL, &p, (long) chain->cert[i].len);
		if (x != NULL)
			sk_X509_push(untrusted, x);
	}
	if (!X509_STORE_CTX_init(ctx, store, leaf, untrusted))
		goto done;
	X509_STORE_CTX_set_default(ctx, "ssl_server");
	X509_VERIFY_PARAM_set_auth_level(X509_STORE_CTX_get0_param(ctx), SSL_CTX_get_security_level(ssl));
	if (X509_verify_cert(ctx) == 1)
		err = X509_V_OK;
	else
	{
		err = X509_STORE_CTX_get_error(ctx);
		*depth = X509_STORE_CTX_get_error_depth(ctx);
	}
done:
	SSL_CTX_free(ssl);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_pop_free(untrusted, X509_free);
	X509_free(leaf);
	return err;
}

static reason
reason_of(int err)
{
	switch (err)
	{
		case X509_V_OK:
			return REASON_OK;
		case X509_V_ERR_CERT_HAS_EXPIRED:
			return REASON_EXPIRED;
		case X509_V_ERR_CERT_NOT_YET_VALID:
			return REASON_NOT_YET_VALID;
		case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
		case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
		case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		case X509_V_ERR_CERT_UNTRUSTED:
			return REASON_UNTRUSTED_CA;
		default:
			return REASON_HANDSHAKE_FAILED;
	}
}

/* The chain part: PEM blocks, or one DER certificate. */
static void
read_chain(const uint8_t *s, size_t n, peer_chain *chain)
{
	size_t		pos = 0;

	memset(chain, 0, sizeof(*chain));
	if (der_is_single_cert(s, n))
	{
		chain->cert[0].der = memcpy(malloc(n), s, n);
		chain->cert[0].len = n;
		chain->n = 1;
		return;
	}
	while (chain->n < MAX_CHAIN)
	{
		uint8_t    *der;
		size_t		len;
		int			r = pem_next_cert((const char *) s, n, &pos, &der, &len);

		if (r == 0)
			break;
		if (r < 0)
			continue;
		chain->cert[chain->n].der = der;
		chain->cert[chain->n].len = len;
		chain->n++;
	}
}

static void
judge(const bundle *b, const peer_chain *chain, const char *host)
{
	const ossl *o = ossl_static();
	verdict    *v = judge_verify_full(o, b, chain, host, METHOD_CHAIN);
	char	   *detail = NULL;
	reason		ours;
	int			err,
				depth;
	bool		readable = true;

	if (v == NULL || v->detail == NULL || (v->pass != (v->reason == REASON_OK)) ||
		v->method != METHOD_CHAIN)
		FAIL("verdict incomplete");
	(void) strlen(v->detail);
	verdict_free(v);
	if (b->error != NULL || chain->n == 0)
		return;
	ours = judge_chain(o, b, chain, &detail);
	if ((ours == REASON_OK) != (detail == NULL))
		FAIL("judge_chain: reason %d with detail %s", ours, detail ? detail : "(none)");
	free(detail);
	err = openssl_verdict(b, chain, &depth);
	if (err < 0)
		return;					/* the leaf does not decode: nothing to compare */
	/*
	 * The index can only follow names that x509.c reads: when a sent
	 * certificate is beyond it (OpenSSL decodes more than DER), judge.c hands
	 * OpenSSL no anchor for it and the reason may differ (the chain fails
	 * both ways, but as "untrusted-ca" here); only pass or fail must agree.
	 */
	for (int i = 0; i < chain->n; i++)
	{
		x509_cert  *c = malloc(sizeof(*c));

		if (x509_parse(chain->cert[i].der, chain->cert[i].len, c) != 0)
			readable = false;
		else
			x509_free(c);
		free(c);
	}
	if (readable ? reason_of(err) != ours : (err == X509_V_OK) != (ours == REASON_OK))
		FAIL("judge_chain says reason %d, OpenSSL with the whole bundle %d (%s, depth %d)",
			 ours, reason_of(err), X509_verify_cert_error_string(err), depth);
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *peer = memmem(data, size, "#PEER\n", 6);
	size_t		bundle_len = peer ? (size_t) (peer - data) : size;
	bundle	   *b = load(data, bundle_len);

	check_bundle(b);
	if (peer != NULL)
	{
		const uint8_t *cs = peer + 6,
				   *end = data + size,
				   *h = memmem(cs, end - cs, "#HOST ", 6);
		char	   *host = NULL;
		peer_chain	chain;

		if (h != NULL)
		{
			const uint8_t *hs = h + 6,
					   *nl = memchr(hs, '\n', end - hs);

			host = strndup((const char *) hs, (nl ? nl : end) - hs);
		}
		read_chain(cs, (h ? h : end) - cs, &chain);
		judge(b, &chain, host ? host : "localhost");
		peer_chain_free(&chain);
		free(host);
	}
	bundle_release(b);
	return 0;
}
