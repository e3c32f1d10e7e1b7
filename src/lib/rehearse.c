/*
 * rehearse.c: dry_run and after_rotation verdicts (see rehearse.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uthash.h>

#include "pqtls/bundle.h"
#include "pqtls/diag.h"
#include "pqtls/hostname.h"
#include "pqtls/judge.h"
#include "pqtls/probe.h"
#include "pqtls/rehearse.h"
#include "pqtls/sysroots.h"
#include "pqtls/trustfile.h"

/* ---- the side-handshake cache ------------------------------------------- */

typedef struct probe_entry
{
	char	   *key;			/* host, hostaddr, port, bundle, negotiation, version */
	verdict    *verdict;
	time_t		expires;
	UT_hash_handle hh;
} probe_entry;

static probe_entry *probes;
static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static unsigned long probe_count;

static void
lock_probes(void)
{
	pthread_mutex_lock(&probe_lock);
}

static void
unlock_probes(void)
{
	pthread_mutex_unlock(&probe_lock);
}

static void
register_atfork(void)
{
	pthread_atfork(lock_probes, unlock_probes, unlock_probes);
}

unsigned long
rehearse_probe_count(void)
{
	return __atomic_load_n(&probe_count, __ATOMIC_RELAXED);
}

static verdict *
verdict_copy(const verdict *v)
{
	return v ? verdict_new(v->bundle, v->pass, v->reason, v->method, v->detail) : NULL;
}

static verdict *
cached_probe(const char *key)
{
	probe_entry *e;
	verdict    *v = NULL;

	lock_probes();
	HASH_FIND_STR(probes, key, e);
	if (e != NULL && e->expires > time(NULL))
		v = verdict_copy(e->verdict);
	unlock_probes();
	return v;
}

static void
remember_probe(const char *key, const verdict *v, long ttl)
{
	probe_entry *e,
			   *old;

	if (ttl <= 0 || v == NULL || (e = calloc(1, sizeof(*e))) == NULL)
		return;
	e->key = strdup(key);
	e->verdict = verdict_copy(v);
	e->expires = time(NULL) + ttl;
	if (e->key == NULL || e->verdict == NULL)
	{
		free(e->key);
		verdict_free(e->verdict);
		free(e);
		return;
	}
	lock_probes();
	HASH_FIND_STR(probes, key, old);
	if (old != NULL)
		HASH_DEL(probes, old);
	HASH_ADD_KEYPTR(hh, probes, e->key, strlen(e->key), e);
	unlock_probes();
	if (old != NULL)
	{
		free(old->key);
		verdict_free(old->verdict);
		free(old);
	}
}

/*
 * Where the program's own connection left no chain to judge (plaintext, or a
 * failure before any certificate arrived), ask the server directly. The
 * verdict is reused for the same host, port and bundle for PQTLS_CACHE_TTL.
 */
static verdict *
probe_verdict(attempt *a, const effective *e, const bundle *b)
{
	const ossl *o = pq_ossl(a->pq);
	probe_result pr;
	verdict    *v;
	char	   *key = NULL;
	/* The program's own negotiation: direct TLS, SNI and ALPN as its libpq does them. */
	probe_opts	opts = probe_opts_for(e->libpq_version, e->versioned[VS_SSLSNI].value,
									  e->versioned[VS_SSLNEGOTIATION].value);

	probe_opts_protocols(&opts, e->versioned[VS_SSL_MIN_PROTOCOL_VERSION].present ?
						 e->versioned[VS_SSL_MIN_PROTOCOL_VERSION].value : NULL,
						 e->versioned[VS_SSL_MAX_PROTOCOL_VERSION].value);
	/* The version too: its host-name rules judge the probe's chain (two copies, two rules). */
	if (asprintf(&key, "%s\n%s\n%s\n%s\n%d%d%d %d %d\n%d", e->host ? e->host : "",
				 e->hostaddr ? e->hostaddr : "", e->port ? e->port : "", b->path,
				 opts.direct, opts.alpn, opts.sni, opts.min_proto, opts.max_proto,
				 a->pq->version) < 0)
		return NULL;
	v = cached_probe(key);
	if (v != NULL)
	{
		free(key);
		return v;
	}
	__atomic_fetch_add(&probe_count, 1, __ATOMIC_RELAXED);
	if (probe_tls(o, e->host, e->hostaddr, e->port, a->set->probe_timeout_ms, &opts,
				  &pr) == REASON_OK ||
		pr.chain.n > 0)
		v = judge_verify_full_live(o, b, &pr.chain, NULL, e->host, a->pq->version,
								   METHOD_PROBE);
	else
		v = verdict_new(b->path, false, pr.reason, METHOD_PROBE, pr.detail);
	probe_result_free(&pr);
	remember_probe(key, v, a->set->cache_ttl);
	free(key);
	return v;
}

/* ---- the chain-verdict cache --------------------------------------------- */

/*
 * A verdict on a chain depends only on the chain's bytes, the bundle's content,
 * the host name, the OpenSSL copy that judges, and the time (validity periods).
 * A process that connects to the same server again and again (a pool, a job
 * that reconnects, pgbench -C) gets the same chain each time, so the verdict is
 * kept: reused while the bundle file is unchanged, for at most PQTLS_CACHE_TTL
 * seconds, and never past the next moment a certificate of the chain or of the
 * bundle starts or stops being valid. Judging costs OpenSSL millions of
 * instructions; a reuse costs a hash of the chain.
 */
#define CHAIN_CACHE_MAX 256

typedef struct chain_entry
{
	uint8_t    *key;
	size_t		key_len;
	verdict    *verdict;
	time_t		expires;
	UT_hash_handle hh;
} chain_entry;

static chain_entry *chains;
static int	n_chains;

static void
key_put(uint8_t **p, const void *data, size_t len)
{
	memcpy(*p, &len, sizeof(len));
	*p += sizeof(len);
	if (len > 0)
		memcpy(*p, data, len);
	*p += len;
}

static uint8_t *
chain_key(const ossl *o, const bundle *b, const peer_chain *chain, const char *host,
		  size_t *len)
{
	const char *h = host ? host : "";
	size_t		n = sizeof(o) + 6 * sizeof(size_t) + strlen(b->path) + strlen(h) +
		sizeof(b->dev) + sizeof(b->ino) + sizeof(b->size) + sizeof(b->mtime);
	uint8_t    *key,
			   *p;

	for (int i = 0; i < chain->n; i++)
		n += sizeof(size_t) + chain->cert[i].len;
	if ((key = malloc(n)) == NULL)
		return NULL;
	p = key;
	memcpy(p, &o, sizeof(o));
	p += sizeof(o);
	key_put(&p, b->path, strlen(b->path));
	key_put(&p, h, strlen(h));
	key_put(&p, &b->dev, sizeof(b->dev));
	key_put(&p, &b->ino, sizeof(b->ino));
	key_put(&p, &b->size, sizeof(b->size));
	key_put(&p, &b->mtime, sizeof(b->mtime));
	for (int i = 0; i < chain->n; i++)
		key_put(&p, chain->cert[i].der, chain->cert[i].len);
	*len = (size_t) (p - key);
	return key;
}

/* The earlier of `until` and t, when t is still to come. */
static time_t
sooner(time_t until, time_t t, time_t now)
{
	return t > now && t < until ? t : until;
}

/* How long a verdict on this chain against b may be reused from now. */
static time_t
chain_expiry(const bundle *b, const peer_chain *chain, long ttl, time_t now)
{
	time_t		until = now + ttl;
	x509_cert  *c = malloc(sizeof(*c));

	for (int i = 0; i < b->n; i++)
	{
		until = sooner(until, b->certs[i].not_before, now);
		until = sooner(until, b->certs[i].not_after, now);
	}
	for (int i = 0; i < chain->n; i++)
	{
		if (c == NULL || x509_parse(chain->cert[i].der, chain->cert[i].len, c) != 0)
		{
			until = now;		/* cannot tell: do not keep it */
			continue;
		}
		until = sooner(until, c->not_before, now);
		until = sooner(until, c->not_after, now);
		x509_free(c);
	}
	free(c);
	return until;
}

static verdict *
cached_chain(const uint8_t *key, size_t len)
{
	chain_entry *e;
	verdict    *v = NULL;

	lock_probes();
	HASH_FIND(hh, chains, key, len, e);
	if (e != NULL && e->expires > time(NULL))
		v = verdict_copy(e->verdict);
	unlock_probes();
	return v;
}

static void
remember_chain(uint8_t *key, size_t len, const verdict *v, time_t expires)
{
	chain_entry *e,
			   *old,
			   *tmp,
			   *drop = NULL;

	if (v == NULL || expires <= time(NULL) || (e = calloc(1, sizeof(*e))) == NULL)
	{
		free(key);
		return;
	}
	e->key = key;
	e->key_len = len;
	e->expires = expires;
	if ((e->verdict = verdict_copy(v)) == NULL)
	{
		free(key);
		free(e);
		return;
	}
	lock_probes();
	HASH_FIND(hh, chains, key, len, old);
	if (old != NULL)
	{
		HASH_DEL(chains, old);
		n_chains--;
		old->hh.next = NULL;
		drop = old;
	}
	else if (n_chains >= CHAIN_CACHE_MAX)
	{
		/* Bounded: a process that sees this many chains starts afresh. */
		drop = chains;
		HASH_ITER(hh, chains, old, tmp)
			HASH_DEL(chains, old);
		n_chains = 0;
	}
	HASH_ADD_KEYPTR(hh, chains, e->key, e->key_len, e);
	n_chains++;
	unlock_probes();
	while (drop != NULL)
	{
		old = drop;
		drop = old->hh.next;
		free(old->key);
		verdict_free(old->verdict);
		free(old);
	}
}

/*
 * The X509 objects of the program's live TLS connection, when they are the
 * chain being judged (same OpenSSL, same certificates): judge.c then need not
 * decode them again. False leaves the judge to decode the DER.
 */
static bool
live_chain(const attempt *a, const ossl *o, const peer_chain *chain, X509 **live)
{
	void	   *ssl;
	STACK_OF(X509) *sk;

	if (a->conn == NULL || o == NULL || a->pq->PQsslStruct == NULL ||
		o->SSL_get_peer_cert_chain == NULL || o->OPENSSL_sk_num == NULL ||
		o->OPENSSL_sk_value == NULL || o->i2d_X509 == NULL || chain->n > MAX_CHAIN)
		return false;
	if ((ssl = a->pq->PQsslStruct(a->conn, "OpenSSL")) == NULL ||
		(sk = o->SSL_get_peer_cert_chain(ssl)) == NULL ||
		o->OPENSSL_sk_num((const OPENSSL_STACK *) sk) != chain->n)
		return false;
	for (int i = 0; i < chain->n; i++)
	{
		live[i] = o->OPENSSL_sk_value((const OPENSSL_STACK *) sk, i);
		if (live[i] == NULL || o->i2d_X509(live[i], NULL) != (int) chain->cert[i].len)
			return false;
	}
	return true;
}

/* The verdict on the chain the program's own connection received. */
static verdict *
chain_verdict(attempt *a, const effective *e, const bundle *b, const peer_chain *chain)
{
	const ossl *o = pq_ossl(a->pq);
	X509	   *live[MAX_CHAIN] = {NULL};
	size_t		key_len = 0;
	uint8_t    *key = a->set->cache_ttl > 0 ? chain_key(o, b, chain, e->host, &key_len) : NULL;
	verdict    *v = key ? cached_chain(key, key_len) : NULL;
	time_t		now;

	if (v != NULL)
	{
		free(key);
		return v;
	}
	now = time(NULL);
	v = judge_verify_full_live(o, b, chain, live_chain(a, o, chain, live) ? live : NULL,
							   e->host, a->pq->version, METHOD_CHAIN);
	if (key != NULL)
		remember_chain(key, key_len, v, chain_expiry(b, chain, a->set->cache_ttl, now));
	return v;
}

/*
 * The file a PQTLS_* variable names, and in *problem why libpq could not use it
 * (NULL when it can): said once per process on stderr, naming the variable.
 */
static bundle *
setting_bundle(const char *variable, const char *path, const ossl *o, char **problem)
{
	bundle	   *b;

	*problem = NULL;
	if (path == NULL)
	{
		diag_once(variable, "%s is not set; the rehearsal has no bundle to judge against",
				  variable);
		return NULL;
	}
	b = bundle_get(path);
	*problem = trustfile_problem(o, b);
	if (*problem != NULL)
		diag_once(variable, "%s: %s", variable, *problem);
	return b;
}

static const peer_chain *
chain_of(const attempt *a, const record_data *d)
{
	return d->tls.chain.n > 0 ? &d->tls.chain : &a->captured;
}

/*
 * Would the serving libpq refuse this connection's settings with sslmode and
 * sslrootcert replaced as dry-run and enforce replace them? What enforce keeps
 * (sslnegotiation, sslcertmode, the protocol versions) can still be refused.
 */
static bool
refused_when_forced(const effective *e, const char *bundle_path, char *why, size_t size)
{
	libpq_settings s;

	effective_rules(e, &s);
	s.sslmode = "verify-full";
	s.sslrootcert = bundle_path;
	return libpq_refuses(&s, why, size);
}

/* Would this connection pass sslmode=verify-full sslrootcert=$PQTLS_BUNDLE? */
/*
 * sslnegotiation=direct (libpq 17+) with a handshake whose server selected no
 * ALPN "postgresql": open_client_SSL() fails the connection right after
 * SSL_connect(), before the certificate counts (the forced verify-full one too).
 */
static bool
direct_without_alpn(const attempt *a, const effective *e)
{
	const char *neg = e->versioned[VS_SSLNEGOTIATION].value;

	return e->libpq_version >= 170000 && neg != NULL && strcmp(neg, "direct") == 0 &&
		a->handshake.ok && !a->handshake.alpn_postgresql;
}

static verdict *
dry_run(attempt *a, const record_data *d)
{
	const effective *e = &d->eff;
	char	   *problem;
	bundle	   *b = setting_bundle("PQTLS_BUNDLE", a->set->bundle, pq_ossl(a->pq), &problem);
	const peer_chain *chain = chain_of(a, d);
	verdict    *v;
	char		why[512];

	/* libpq given this file as sslrootcert (enforce) fails before any handshake. */
	if (b == NULL || problem != NULL)
		v = verdict_new(a->set->bundle, false, REASON_BUNDLE_UNUSABLE, METHOD_NONE,
						problem ? problem : "PQTLS_BUNDLE is not set");
	else if (refused_when_forced(e, b->path, why, sizeof(why)))
		v = verdict_new(b->path, false, REASON_HANDSHAKE_FAILED, METHOD_NONE, why);
	else if (strcmp(e->transport, "unix") == 0)
		v = verdict_new(b->path, true, REASON_OK, METHOD_NONE,
						"a Unix socket uses no TLS: sslmode does not apply");
	else if (chain->n > 0 && direct_without_alpn(a, e))
		v = verdict_new(b->path, false, REASON_HANDSHAKE_FAILED, METHOD_CHAIN,
						"the server completed direct TLS without selecting ALPN "
						"\"postgresql\": libpq refuses such a connection (direct SSL "
						"connection was established without ALPN protocol negotiation "
						"extension), whatever the certificate");
	else if (chain->n > 0)
		v = chain_verdict(a, e, b, chain);
	else
		v = probe_verdict(a, e, b);
	free(problem);
	bundle_release(b);
	return v;
}

/* ---- after_rotation ------------------------------------------------------ */

static bool
is_mode(const char *sslmode, const char *name)
{
	return sslmode != NULL && strcmp(sslmode, name) == 0;
}

static rotation *
rotation_with(rotation_kind k, const char *fmt, const char *a, const char *b)
{
	char		detail[1024];

	snprintf(detail, sizeof(detail), fmt, a ? a : "", b ? b : "");
	return rotation_new(k, detail);
}

/*
 * Would the host name still match? The rotation changes the CA, not the names,
 * so a verify-full connection whose host is not among the current certificate's
 * names fails after the rotation as it fails now.
 */
static bool
host_mismatch(const attempt *a, const record_data *d, char **detail)
{
	const peer_chain *chain = chain_of(a, d);
	x509_cert  *leaf;
	bool		mismatch = false;

	*detail = NULL;
	if (strcmp(d->eff.verify, "full") != 0 || chain->n == 0 || (leaf = malloc(sizeof(*leaf))) == NULL)
		return false;
	if (x509_parse(chain->cert[0].der, chain->cert[0].len, leaf) == 0)
	{
		mismatch = hostname_check_for(d->eff.host, leaf, a->pq->version, detail) != HOST_MATCH;
		x509_free(leaf);
	}
	free(leaf);
	return mismatch;
}

/*
 * After the servers move to PQTLS_NEW_CA, by libpq's rules:
 * - a connection that checks no certificate is unaffected;
 * - allow tries plaintext first and TLS only when the server refuses it; prefer
 *   retries without TLS whenever TLS fails (a certificate it cannot verify, a
 *   root file it cannot load). Either one that has no TLS now keeps having
 *   none: the rotation does not change it;
 * - otherwise, with a root file that holds a new CA (same subject, same key)
 *   and a host name that still matches, it is ready;
 * - otherwise prefer falls back to plaintext (downgrades; or fails where the
 *   server demands TLS), and everything else fails (breaks), allow included:
 *   its TLS attempt, made because the server refused plaintext, has no
 *   plaintext left to fall back to.
 */
static rotation *
after_rotation(attempt *a, const record_data *d)
{
	const effective *e = &d->eff;
	const ossl *o = pq_ossl(a->pq);
	char	   *newca_problem,
			   *root_problem = NULL;
	bundle	   *newca = setting_bundle("PQTLS_NEW_CA", a->set->new_ca, o, &newca_problem),
			   *root = NULL;
	const bundle_cert *held = NULL;
	rotation   *r;
	char	   *why = NULL,
				refusal[512];
	bool		tls_now = d->tls.in_use;
	libpq_settings rules;

	if (newca == NULL || newca_problem != NULL)
	{
		free(newca_problem);
		bundle_release(newca);
		return NULL;
	}
	effective_rules(e, &rules);
	if (libpq_refuses(&rules, refusal, sizeof(refusal)))
		r = rotation_new(ROTATION_BREAKS, refusal);
	else if (strcmp(e->verify, "none") == 0)
		r = rotation_with(ROTATION_UNAFFECTED, strcmp(e->transport, "unix") == 0 ?
						  "a Unix socket uses no TLS%s%s" :
						  "checks no certificate (sslmode=%s, no root file)%s", e->sslmode, NULL);
	else if ((is_mode(e->sslmode, "allow") || is_mode(e->sslmode, "prefer")) && !tls_now &&
			 d->outcome == OUTCOME_OK)
		r = rotation_with(ROTATION_UNAFFECTED, "sslmode=%s connects without TLS already%s",
						  e->sslmode, a->captured.n > 0 ?
						  " (it gave up TLS for the certificate in failed_peer)" : "");
	else
	{
		/* libpq loads its root file whole (initialize_SSL): one bad block fails it all. */
		if (e->rootcert_system)
			held = sysroots_holds_any(o, newca, a->set->cache_ttl, &why);
		else if ((root = e->rootcert_file ? bundle_get(e->rootcert_file) : NULL) != NULL &&
				 (root_problem = trustfile_problem(o, root)) == NULL)
			held = bundle_holds_any(root, newca);
		if (held != NULL && !host_mismatch(a, d, &why))
			r = rotation_with(ROTATION_READY, "%s holds the new CA \"%s\"", e->rootcert_file,
							  held->subject);
		else if (held != NULL)
			r = rotation_with(is_mode(e->sslmode, "prefer") ? ROTATION_DOWNGRADES :
							  ROTATION_BREAKS, "%s%s", why, NULL);
		else if (e->rootcert_system)
			r = rotation_with(ROTATION_BREAKS, why ? "%s%s" :
							  "the OpenSSL default store (sslrootcert=system: %s and the "
							  "directories of SSL_CERT_DIR or its default) holds none of the "
							  "new CAs%s", why ? why : e->rootcert_file, NULL);
		else
			r = rotation_with(is_mode(e->sslmode, "prefer") ? ROTATION_DOWNGRADES :
							  ROTATION_BREAKS,
							  root == NULL || root_problem != NULL ?
							  "the root file %s cannot be used: %s" :
							  "%s holds none of the new CAs%s",
							  e->rootcert_file ? e->rootcert_file : "(none)",
							  root_problem ? root_problem : "");
	}
	free(why);
	free(root_problem);
	bundle_release(root);
	bundle_release(newca);
	return r;
}

void
rehearse(attempt *a, record_data *d)
{
	pthread_once(&atfork_once, register_atfork);
	if (!d->have_effective)
		return;
	if (a->set->mode != PQTLS_OBSERVE)
		d->dry_run = dry_run(a, d);
	if (a->set->new_ca != NULL)
		d->after_rotation = after_rotation(a, d);
}
