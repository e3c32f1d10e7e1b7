/*
 * hostname.h: does a server certificate name the host the program connected to,
 * by libpq's rules (pq_verify_peer_name_matches_certificate() in
 * fe-secure-common.c and fe-secure-openssl.c)?
 */
#ifndef PQTLS_HOSTNAME_H
#define PQTLS_HOSTNAME_H

#include <stdbool.h>
#include <stddef.h>

#include "pqtls/x509.h"

typedef enum host_match
{
	HOST_MATCH,
	HOST_MISMATCH,
	HOST_ERROR,					/* libpq fails before comparing (no host, embedded NUL, ...) */
} host_match;

/*
 * Judge `host` (the host string the program gave, never hostaddr) against the
 * leaf certificate. `detail` (may be NULL) receives a malloc'ed sentence naming
 * the host and the names the certificate holds, for a person to act on.
 */
host_match	hostname_check(const char *host, const x509_cert *leaf, char **detail);

/*
 * The same by the rules of the libpq whose PQlibVersion() is libpq_version
 * (0: the newest): before 15, iPAddress SANs are ignored and the CN is
 * consulted exactly when the certificate has no dNSName SAN.
 */
host_match	hostname_check_for(const char *host, const x509_cert *leaf, int libpq_version,
							   char **detail);

#endif
