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

static void
copy_attr(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

void
tlsinfo_from_conn(tls_info *t, pq_api *pq, PGconn *conn, const peer_chain *captured)
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
	/* The handshake's own copy (capture.c), else read it from the live SSL. */
	if (captured != NULL && captured->n > 0)
		peer_chain_copy(&t->chain, captured);
	else if (pq->PQsslStruct != NULL)
		tlsinfo_copy_chain(&t->chain, pq_ossl(pq), pq->PQsslStruct(conn, "OpenSSL"));
}

void
tlsinfo_free(tls_info *t)
{
	peer_chain_free(&t->chain);
}

/*
 * A cancel connection of libpq 17 ends when the server closes it: PQcancelPoll()
 * reads the end of the stream with pqReadData(), which drops the connection and
 * frees its SSL object, and only then reports success (fe-cancel.c). What TLS it
 * used is what its handshake negotiated, kept by capture.c.
 */
void
tlsinfo_from_handshake(tls_info *t, const handshake_info *h, const peer_chain *captured)
{
	if (t->in_use || !h->ok)
		return;
	t->in_use = true;
	copy_attr(t->protocol, sizeof(t->protocol), h->protocol);
	copy_attr(t->cipher, sizeof(t->cipher), h->cipher);
	if (captured != NULL && captured->n > 0 && t->chain.n == 0)
		peer_chain_copy(&t->chain, captured);
}
