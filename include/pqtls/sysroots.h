/*
 * sysroots.h: sslrootcert=system (libpq 16 and later), the default store of the
 * OpenSSL that libpq uses, as that OpenSSL reads it.
 *
 * libpq calls SSL_CTX_set_default_verify_paths() (initialize_SSL() in
 * fe-secure-openssl.c): the file $SSL_CERT_FILE, else the OpenSSL's compiled-in
 * default file, and the directories $SSL_CERT_DIR, else its default directory.
 * Each OpenSSL copy has its own defaults, so every answer comes from the copy
 * the libpq in question loaded.
 */
#ifndef PQTLS_SYSROOTS_H
#define PQTLS_SYSROOTS_H

#include "pqtls/bundle.h"
#include "pqtls/ossl.h"

/* The file that OpenSSL reads (malloc'ed), or NULL when it cannot say. */
char	   *sysroots_file(const ossl *o);

/* The directory list that OpenSSL searches (malloc'ed), or NULL when it cannot say. */
char	   *sysroots_dir(const ossl *o);

/*
 * The first certificate of `wanted` that the default store holds (same subject,
 * same public key), looked up by that OpenSSL in its file and directories;
 * NULL when it holds none, or when it cannot be asked (*error then says why,
 * malloc'ed). The answer is kept for `ttl` seconds while the store's file and
 * directories and the file of `wanted` stay unchanged (0: ask every time).
 */
const bundle_cert *sysroots_holds_any(const ossl *o, const bundle *wanted, long ttl,
									  char **error);

#endif
