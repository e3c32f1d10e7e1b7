/*
 * chain.c: a server's certificate chain copied out of OpenSSL as DER.
 *
 * Used on a live libpq connection (tlsinfo.c), inside a failing handshake
 * (capture.c: the SSL object, or the chain libpq's verify callback was shown) and
 * by the side handshake (probe.c): the bytes are encoded by the
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

/* Copy a STACK_OF(X509) of the OpenSSL `o` into c as DER (c is emptied first). */
void
chain_copy_stack(peer_chain *c, const ossl *o, const void *stack)
{
	const OPENSSL_STACK *sk = stack;
	int			n;

	peer_chain_free(c);
	if (o == NULL || sk == NULL || o->OPENSSL_sk_num == NULL || o->OPENSSL_sk_value == NULL ||
		o->i2d_X509 == NULL)
		return;
	n = o->OPENSSL_sk_num(sk);
	for (int i = 0; i < n && c->n < MAX_CHAIN; i++)
	{
		X509	   *x = o->OPENSSL_sk_value(sk, i);
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
tlsinfo_copy_chain(peer_chain *c, const ossl *o, const void *ssl)
{
	peer_chain_free(c);
	if (o == NULL || ssl == NULL || o->SSL_get_peer_cert_chain == NULL)
		return;
	chain_copy_stack(c, o, o->SSL_get_peer_cert_chain(ssl));
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
