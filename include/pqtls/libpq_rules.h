/*
 * libpq_rules.h: what each libpq version (13 to 18) refuses before it connects.
 *
 * libpq checks its TLS settings in connectOptions2() (fe-connect.c) before it
 * opens a socket; settings it refuses make every attempt fail, whatever the
 * server and its certificates. The rules differ by version (doc/versions.md);
 * the version is PQlibVersion() of the libpq copy that serves the call.
 */
#ifndef PQTLS_LIBPQ_RULES_H
#define PQTLS_LIBPQ_RULES_H

#include <stdbool.h>
#include <stddef.h>

/* The settings connectOptions2() judges, as libpq holds them (NULL: unset or absent). */
typedef struct libpq_settings
{
	int			version;		/* PQlibVersion(), e.g. 170010 */
	const char *sslmode;
	const char *sslrootcert;
	const char *sslnegotiation; /* 17+ */
	const char *sslcertmode;	/* 16+ */
	const char *ssl_min_protocol_version;	/* 13+ */
	const char *ssl_max_protocol_version;	/* 13+ */
	bool		client_cert_exists; /* sslcert, else ~/.postgresql/postgresql.crt */
} libpq_settings;

/*
 * True when that libpq refuses these settings before connecting, or when they
 * fail every time whatever the server does (sslcertmode=require without a
 * client certificate to send, or without TLS); `why` then
 * holds a sentence a person can act on. False: libpq goes on to connect.
 */
bool		libpq_refuses(const libpq_settings *s, char *why, size_t size);

/* Does this libpq have sslrootcert=system (16+)? */
bool		libpq_has_system_roots(int version);

/* "17.10" for 170010 (PQlibVersion() since 10: major * 10000 + minor). */
void		libpq_version_text(int version, char *out, size_t size);

#endif
