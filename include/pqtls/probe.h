/*
 * probe.h: a side TLS handshake with a PostgreSQL server, as libpq starts one:
 * TCP, the SSLRequest (or none, for direct TLS), then TLS with the SNI and ALPN
 * that libpq would send. No startup
 * packet and no authentication: the server sees a client that went away.
 * The whole probe is bounded by a time limit.
 */
#ifndef PQTLS_PROBE_H
#define PQTLS_PROBE_H

#include "pqtls/attempt.h"
#include "pqtls/ossl.h"
#include "pqtls/rehearsal.h"

typedef struct probe_result
{
	reason		reason;			/* ok, unreachable, timeout, no-tls, handshake-failed */
	char	   *detail;			/* set when reason is not ok */
	char		address[64];	/* the address answered (or tried last) */
	char		protocol[32];
	char		cipher[96];
	peer_chain	chain;
} probe_result;

/*
 * How the program's libpq starts TLS, which the probe speaks the same way:
 * - direct: sslnegotiation=direct (17+): a TLS ClientHello at once, no
 *   SSLRequest, and the server must select ALPN "postgresql";
 * - alpn: libpq 17+ offers ALPN "postgresql" in every handshake;
 * - sni: libpq 14+ with sslsni=1 names the host (unless it looks like an
 *   address); libpq 13 never does.
 */
typedef struct probe_opts
{
	bool		direct;
	bool		alpn;
	bool		sni;
	int			min_proto;		/* OpenSSL's TLS1_2_VERSION...; 0: no bound */
	int			max_proto;
} probe_opts;

/*
 * The options of a libpq of version `libpq_version` (PQlibVersion(); 0 when
 * unknown: as 14 to 16) holding `sslsni` and `sslnegotiation` (NULL where that
 * libpq has no such keyword).
 */
probe_opts	probe_opts_for(int libpq_version, const char *sslsni, const char *sslnegotiation);

/*
 * The TLS version bounds of ssl_min_protocol_version and ssl_max_protocol_version
 * (libpq 13+) as libpq sets them on its context (initialize_SSL(): an empty or
 * absent value sets no bound; NULL min keeps probe_opts_for()'s TLSv1.2, the
 * compiled-in default).
 */
void		probe_opts_protocols(probe_opts *o, const char *min, const char *max);

/*
 * Probe `host` (the name libpq was given; used for SNI unless it is an IP
 * address) at `hostaddr` when given, else at the addresses `host` resolves to,
 * port `port`, negotiating as `opts` says. Returns r->reason.
 */
reason		probe_tls(const ossl *o, const char *host, const char *hostaddr,
					  const char *port, long timeout_ms, const probe_opts *opts,
					  probe_result *r);
void		probe_result_free(probe_result *r);

/*
 * Does the server answer the SSLRequest with 'S'? The reply parser, exposed
 * for the fuzzer: returns 1 for 'S', 0 for 'N', -1 for anything else.
 */
int			probe_parse_ssl_reply(const unsigned char *buf, size_t len);

/*
 * Is s an IP address the way libpq's is_ip_address() sees it (inet_aton or
 * inet_pton)?  (Not the SNI rule: libpq has another test for that, probe.c.)
 */
bool		probe_is_ip_address(const char *s);

#endif
