/*
 * chain.c: a server's certificate chain copied out of OpenSSL as DER.
 *
 * Used on a live libpq connection (tlsinfo.c), inside a failing handshake
 * (capture.c) and by the side handshake (probe.c): the bytes are encoded by the
 * OpenSSL copy that made the SSL object, so no object crosses copies.
 */
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


void
peer_chain_copy(peer_chain *dst, const peer_chain *src)
{
	peer_chain_free(dst);
	for (int i = 0; i < src->n; i++)
	{
		uint8_t    *der = malloc(src->cert[i].len);

		if (der == NULL)
			break;
		memcpy(der, src->cert[i].der, src->cert[i].len);
		dst->cert[dst->n].der = der;
		dst->cert[dst->n].len = src->cert[i].len;
		dst->n++;
	}
}
