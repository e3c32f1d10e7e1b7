/*
 * judge.c: verify-full, judged the way libpq's connection would judge it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pqtls/annotate.h"
#include "pqtls/hostname.h"
#include "pqtls/judge.h"
#include "pqtls/trustfile.h"

/* A chain longer than this is not something a server sends. */
#define MAX_ANCHORS 16

typedef struct anchors
{
	int			n;
	const bundle_cert *cert[MAX_ANCHORS];
} anchors;

static bool
have_anchor(const anchors *a, const bundle_cert *c)
{
	for (int i = 0; i < a->n; i++)
		if (a->cert[i] == c)
			return true;
	return false;
}

/* Every bundle certificate named as issuer by `key`, and theirs in turn. */
static void
add_issuers(anchors *a, const bundle *b, const uint8_t *key, size_t len, int depth)
{
	int			pos = 0;
	const bundle_cert *c;

	if (depth > MAX_ANCHORS)
		return;
	while ((c = bundle_next_subject(b, key, len, &pos)) != NULL && a->n < MAX_ANCHORS)
	{
		if (have_anchor(a, c))
			continue;
		a->cert[a->n++] = c;
		/* A bundle may hold intermediates too: follow them up to their roots. */
		if (c->issuer_key_len != c->subject_key_len ||
			memcmp(c->issuer_key, c->subject_key, c->subject_key_len) != 0)
			add_issuers(a, b, c->issuer_key, c->issuer_key_len, depth + 1);
	}
}

/*
 * Only the certificates the chain can use go to OpenSSL: those whose subject is
 * the issuer of a certificate the server sent (by OpenSSL's canonical name
 * comparison), or of one of those. A certificate OpenSSL would not consider
 * cannot change its answer, so the verdict is the same as with the whole bundle.
 */
static void
select_anchors(anchors *a, const bundle *b, const peer_chain *chain)
{
	memset(a, 0, sizeof(*a));
	for (int i = 0; i < chain->n; i++)
	{
		x509_cert  *c = malloc(sizeof(*c));
		uint8_t    *key;
		size_t		len;

		if (c == NULL)
			return;
		if (x509_parse(chain->cert[i].der, chain->cert[i].len, c) == 0)
		{
			/* The sent certificate itself, when the bundle holds it (a self-signed server). */
			if ((key = x509_name_key(c->subject_raw, &len)) != NULL)
			{
				add_issuers(a, b, key, len, 0);
				free(key);
			}
			if ((key = x509_name_key(c->issuer_raw, &len)) != NULL)
			{
				add_issuers(a, b, key, len, 0);
				free(key);
			}
			x509_free(c);
		}
		free(c);
	}
}

static X509 *
decode(const ossl *o, const uint8_t *der, size_t len)
{
	const unsigned char *p = der;

	return o->d2i_X509(NULL, &p, (long) len);
}

/*
 * The OpenSSL security level a TLS client gets here (openssl.cnf), read once.
 * Connections on several threads may ask at once: the value is an atomic (two
 * threads that both find it unset both compute the same number).
 */
static int
client_security_level(const ossl *o)
{
	static int	level = -1;
	int			l;

	ANNOTATE_BENIGN_RACE_SIZED(&level, sizeof(level), "atomic");
	l = __atomic_load_n(&level, __ATOMIC_RELAXED);
	if (l < 0)
	{
		SSL_CTX    *ctx = o->SSL_CTX_new ? o->SSL_CTX_new(o->TLS_client_method()) : NULL;

		l = ctx ? o->SSL_CTX_get_security_level(ctx) : 1;
		if (ctx)
			o->SSL_CTX_free(ctx);
		__atomic_store_n(&level, l, __ATOMIC_RELAXED);
	}
	return l;
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

/* The subject and issuer of the sent certificate at `depth` (or the last one). */
static void
describe_sent(const peer_chain *chain, int depth, char **subject, char **issuer)
{
	x509_cert  *c = malloc(sizeof(*c));

	*subject = *issuer = NULL;
	if (depth < 0 || depth >= chain->n)
		depth = chain->n - 1;
	if (c != NULL && x509_parse(chain->cert[depth].der, chain->cert[depth].len, c) == 0)
	{
		*subject = c->subject ? strdup(c->subject) : NULL;
		*issuer = c->issuer ? strdup(c->issuer) : NULL;
		x509_free(c);
	}
	free(c);
}

static char *
chain_detail(const bundle *b, const peer_chain *chain, reason r, int err, int depth,
			 const ossl *o)
{
	char	   *subject,
			   *issuer,
			   *out = NULL;
	int			len = 0;

	describe_sent(chain, r == REASON_UNTRUSTED_CA ? chain->n - 1 : depth, &subject, &issuer);
	switch (r)
	{
		case REASON_UNTRUSTED_CA:
			len = asprintf(&out, "the server's chain ends at issuer \"%s\", which %s does not "
						   "hold (%d certificate%s); add that CA to the bundle",
						   issuer ? issuer : "?", b->path, b->n, b->n == 1 ? "" : "s");
			break;
		case REASON_EXPIRED:
			len = asprintf(&out, "certificate \"%s\" has expired", subject ? subject : "?");
			break;
		case REASON_NOT_YET_VALID:
			len = asprintf(&out, "certificate \"%s\" is not valid yet", subject ? subject : "?");
			break;
		default:
			len = asprintf(&out, "certificate \"%s\": %s", subject ? subject : "?",
						   o->X509_verify_cert_error_string(err));
			break;
	}
	free(subject);
	free(issuer);
	return len < 0 ? NULL : out;
}

/* The sent certificate whose DER is exactly `der`, or -1. */
static int
sent_index(const peer_chain *chain, const uint8_t *der, size_t len)
{
	for (int i = 0; i < chain->n; i++)
		if (chain->cert[i].len == len && memcmp(chain->cert[i].der, der, len) == 0)
			return i;
	return -1;
}

/*
 * OpenSSL 3.0 spends about 1.5 million instructions decoding one certificate
 * (its public key goes through the provider decoders), more than everything
 * else pqtls does for a connection. So each distinct certificate is decoded at
 * most once: the server's certificates come from `live` when the caller has
 * the objects its own handshake decoded (same OpenSSL, same DER), and a bundle
 * certificate that the server also sent, byte for byte, is that same object.
 */
static reason
judge_chain_live(const ossl *o, const bundle *b, const peer_chain *chain, X509 *const *live,
				 char **detail)
{
	anchors		a;
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	OPENSSL_STACK *untrusted = NULL;
	X509	   *sent[MAX_CHAIN] = {NULL};
	bool		borrowed[MAX_CHAIN] = {false};
	reason		r = REASON_HANDSHAKE_FAILED;
	int			err = X509_V_ERR_UNSPECIFIED,
				depth = 0;

	*detail = NULL;
	select_anchors(&a, b, chain);
	store = o->X509_STORE_new();
	ctx = o->X509_STORE_CTX_new();
	untrusted = o->OPENSSL_sk_new_null();
	for (int i = 0; i < chain->n && i < MAX_CHAIN; i++)
	{
		borrowed[i] = live != NULL && live[i] != NULL;
		sent[i] = borrowed[i] ? live[i] : decode(o, chain->cert[i].der, chain->cert[i].len);
	}
	if (store == NULL || ctx == NULL || untrusted == NULL || sent[0] == NULL)
	{
		*detail = strdup("the server's certificate could not be decoded");
		goto done;
	}
	for (int i = 0; i < a.n; i++)
	{
		int			same = sent_index(chain, a.cert[i]->der, a.cert[i]->der_len);

		if (same >= 0 && sent[same] != NULL)
			o->X509_STORE_add_cert(store, sent[same]);	/* takes its own reference */
		else
		{
			X509	   *x = decode(o, a.cert[i]->der, a.cert[i]->der_len);

			if (x != NULL)
			{
				o->X509_STORE_add_cert(store, x);
				o->X509_free(x);
			}
		}
	}
	for (int i = 1; i < chain->n; i++)
		if (sent[i] != NULL)
			o->OPENSSL_sk_push(untrusted, sent[i]);
	if (!o->X509_STORE_CTX_init(ctx, store, sent[0], (STACK_OF(X509) *) untrusted))
		goto done;
	/* What ssl_verify_cert_chain() sets for a client checking a server. */
	o->X509_STORE_CTX_set_default(ctx, "ssl_server");
	o->X509_VERIFY_PARAM_set_auth_level(o->X509_STORE_CTX_get0_param(ctx),
										client_security_level(o));
	if (o->X509_verify_cert(ctx) == 1)
		err = X509_V_OK;
	else
	{
		err = o->X509_STORE_CTX_get_error(ctx);
		depth = o->X509_STORE_CTX_get_error_depth(ctx);
	}
	r = reason_of(err);
	if (r != REASON_OK)
		*detail = chain_detail(b, chain, r, err, depth, o);

done:
	if (ctx)
		o->X509_STORE_CTX_free(ctx);
	if (store)
		o->X509_STORE_free(store);
	if (untrusted)
		o->OPENSSL_sk_free(untrusted);	/* the stack only: sent[] owns its entries */
	for (int i = 0; i < chain->n && i < MAX_CHAIN; i++)
		if (sent[i] != NULL && !borrowed[i])
			o->X509_free(sent[i]);
	return r;
}

reason
judge_chain(const ossl *o, const bundle *b, const peer_chain *chain, char **detail)
{
	return judge_chain_live(o, b, chain, NULL, detail);
}

verdict *
judge_verify_full(const ossl *o, const bundle *b, const peer_chain *chain,
				  const char *host, method m)
{
	return judge_verify_full_live(o, b, chain, NULL, host, 0, m);
}

verdict *
judge_verify_full_live(const ossl *o, const bundle *b, const peer_chain *chain,
					   X509 *const *live, const char *host, int libpq_version, method m)
{
	char	   *detail = NULL;
	reason		r;
	verdict    *v;
	x509_cert  *leaf;

	/* verify-full with a file libpq cannot load fails before any certificate is looked at. */
	if (b == NULL || (detail = trustfile_problem(o, b)) != NULL)
	{
		v = verdict_new(b ? b->path : NULL, false, REASON_BUNDLE_UNUSABLE, m,
						detail ? detail : "no bundle");
		free(detail);
		return v;
	}
	if (chain->n == 0)
		return verdict_new(b->path, false, REASON_HANDSHAKE_FAILED, m,
						   "the server sent no certificate");
	if (o == NULL || o->X509_verify_cert == NULL)
		return verdict_new(b->path, false, REASON_HANDSHAKE_FAILED, m,
						   "OpenSSL could not be used to verify the chain");
	r = judge_chain_live(o, b, chain, live, &detail);
	if (r != REASON_OK)
	{
		v = verdict_new(b->path, false, r, m, detail);
		free(detail);
		return v;
	}

	/* libpq checks the name only after the chain verified (verify_peer_name...). */
	leaf = malloc(sizeof(*leaf));
	if (leaf == NULL || x509_parse(chain->cert[0].der, chain->cert[0].len, leaf) != 0)
	{
		free(leaf);
		return verdict_new(b->path, false, REASON_HANDSHAKE_FAILED, m,
						   "the server's certificate could not be read");
	}
	if (hostname_check_for(host, leaf, libpq_version, &detail) != HOST_MATCH)
		v = verdict_new(b->path, false, REASON_HOSTNAME_MISMATCH, m, detail);
	else
	{
		free(detail);
		detail = NULL;
		if (asprintf(&detail, "the chain of \"%s\" verifies against %s and the host name "
					 "\"%s\" matches", leaf->subject ? leaf->subject : "?", b->path,
					 host) < 0)
			detail = NULL;
		v = verdict_new(b->path, true, REASON_OK, m, detail);
	}
	free(detail);
	x509_free(leaf);
	free(leaf);
	return v;
}
