/*
 * tlsinfo.h: what TLS a live connection uses, read through libpq and the
 * OpenSSL copy that libpq itself uses.
 */
#ifndef PQTLS_TLSINFO_H
#define PQTLS_TLSINFO_H

#include <stdbool.h>

#include "pqtls/attempt.h"

typedef struct tls_info
{
	bool		in_use;
	char		protocol[32];
	char		cipher[96];
	peer_chain	chain;			/* leaf first; may be empty */
} tls_info;

/*
 * Fill t from conn. The peer chain is taken from `captured` (the copy
 * capture.c made during the handshake) when it holds one, else read as DER.
 */
void		tlsinfo_from_conn(tls_info *t, pq_api *pq, PGconn *conn, const peer_chain *captured);

/* A connection whose SSL object is gone: t from its handshake, when that succeeded. */
void		tlsinfo_from_handshake(tls_info *t, const handshake_info *h, const peer_chain *captured);

/* Copy a chain (deep). */
void		peer_chain_copy(peer_chain *dst, const peer_chain *src);

/* Copy the chain of a live SSL object (the OpenSSL of `o`) into c. */
struct ossl;
void		tlsinfo_copy_chain(peer_chain *c, const struct ossl *o, const void *ssl);

/* Copy a STACK_OF(X509) (e.g. a verify context's untrusted chain) into c. */
void		chain_copy_stack(peer_chain *c, const struct ossl *o, const void *stack);

void		tlsinfo_free(tls_info *t);

#endif
