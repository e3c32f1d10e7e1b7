/*
 * judge.h: would a server chain pass sslmode=verify-full against a bundle,
 * exactly as libpq would judge it?
 *
 * The chain is verified by OpenSSL the way libpq's SSL context does it: a trust
 * store holding only certificates from the bundle, the server's other
 * certificates as untrusted intermediates, no partial chains (a root must be in
 * the bundle), the "ssl_server" purpose and the security level OpenSSL applies
 * to a TLS client. Then the host name, by libpq's rules (hostname.h).
 */
#ifndef PQTLS_JUDGE_H
#define PQTLS_JUDGE_H

#include "pqtls/attempt.h"
#include "pqtls/bundle.h"
#include "pqtls/ossl.h"
#include "pqtls/rehearsal.h"

/*
 * Judge `chain` (leaf first) against bundle `b` for `host`. `m` is recorded as
 * the method. Never NULL unless out of memory.
 */
verdict    *judge_verify_full(const ossl *o, const bundle *b, const peer_chain *chain,
							  const char *host, method m);

/*
 * The same, by the host-name rules of the libpq whose PQlibVersion() is
 * libpq_version (0: the newest; hostname_check_for()), with `live` (may be
 * NULL, or hold NULLs): for each certificate of `chain`, the X509 object that
 * o's own handshake already decoded from those very bytes, borrowed for the
 * call, so it is not decoded again.
 */
verdict    *judge_verify_full_live(const ossl *o, const bundle *b, const peer_chain *chain,
								   X509 *const *live, const char *host, int libpq_version,
								   method m);

/* Is the chain trusted by b (no host name check)? reason and detail as above. */
reason		judge_chain(const ossl *o, const bundle *b, const peer_chain *chain,
						char **detail);

#endif
