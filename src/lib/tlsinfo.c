/*
 * tlsinfo.c: protocol, cipher and the server's chain of a libpq connection.
 *
 * The certificates leave OpenSSL as DER bytes, encoded by the libcrypto that
 * libpq uses, and are read by pqtls's own DER reader afterwards: no OpenSSL
 * object crosses from one copy of the library to another.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "pqtls/ossl.h"
#include "pqtls/tlsinfo.h"

void
peer_chain_free(peer_chain *c)
{
	for (int i = 0; i < c->n; i++)
		free(c->cert[i].der);
	c->n = 0;
}

void
tlsinfo_copy_chain(peer_chain *c, const ossl *o, const void *ssl)
{
	STACK_OF(X509) *chain;
	int			n;

	peer_chain_free(c);
	if (o == NULL || ssl == NULL || o->SSL_get_peer_cert_chain == NULL ||
		o->OPENSSL_sk_num == NULL || o->OPENSSL_sk_value == NULL || o->i2d_X509 == NULL)
		return;
	chain = o->SSL_get_peer_cert_chain(ssl);
	if (chain == NULL)
		return;
	n = o->OPENSSL_sk_num((const OPENSSL_STACK *) chain);
	for (int i = 0; i < n && c->n < MAX_CHAIN; i++)
	{
		X509	   *x = o->OPENSSL_sk_value((const OPENSSL_STACK *) chain, i);
		int			len = x ? o->i2d_X509(x, NULL) : -1;
		unsigned char *der,
				   *p;

		if (len <= 0 || (der = malloc(len)) == NULL)
			break;
		p = der;
		if (o->i2d_X509(x, &p) != len)
		{
			free(der);
			break;
		}
		c->cert[c->n].der = der;
		c->cert[c->n].len = len;
		c->n++;
	}
}

static void
copy_attr(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

void
tlsinfo_from_conn(tls_info *t, pq_api *pq, PGconn *conn)
{
	memset(t, 0, sizeof(*t));
	if (conn == NULL || pq->PQsslInUse == NULL || !pq->PQsslInUse(conn))
		return;
	t->in_use = true;
	if (pq->PQsslAttribute != NULL)
	{
		copy_attr(t->protocol, sizeof(t->protocol), pq->PQsslAttribute(conn, "protocol"));
		copy_attr(t->cipher, sizeof(t->cipher), pq->PQsslAttribute(conn, "cipher"));
	}
	if (pq->PQsslStruct != NULL)
		tlsinfo_copy_chain(&t->chain, pq_ossl(pq), pq->PQsslStruct(conn, "OpenSSL"));
}

void
tlsinfo_free(tls_info *t)
{
	peer_chain_free(&t->chain);
}
