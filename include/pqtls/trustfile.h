/*
 * trustfile.h: is a trust file one libpq can use?
 *
 * libpq hands its root file to OpenSSL (SSL_CTX_load_verify_locations in
 * initialize_SSL() of fe-secure-openssl.c, 13 to 18), and a file that OpenSSL
 * refuses makes every connection that reads it fail: one damaged block, a DER
 * file, a file without a certificate. The same holds for PQTLS_BUNDLE (enforce
 * gives it to libpq as sslrootcert) and, by the contract, PQTLS_NEW_CA.
 */
#ifndef PQTLS_TRUSTFILE_H
#define PQTLS_TRUSTFILE_H

#include "pqtls/bundle.h"
#include "pqtls/ossl.h"

/*
 * Why b's file cannot serve as a trust file for a libpq that uses the OpenSSL
 * `o` (NULL: the fast reader's own rule), as a sentence with OpenSSL's own
 * reason; NULL when it can. malloc'ed.
 *
 * A file in the plain form (pem_plain()) whose every block the index read and
 * x509_strict() vouches for is usable without asking: OpenSSL loads such a file
 * whatever its version, and
 * loading the 102-certificate RDS bundle costs OpenSSL 3.0 about 145 million
 * instructions. Any other file is loaded once by that OpenSSL, as libpq loads
 * it, and the answer is kept for the file's identity (path, device, inode,
 * size, mtime) and the OpenSSL copy.
 */
char	   *trustfile_problem(const ossl *o, const bundle *b);

/* How many times OpenSSL was asked (for tests and the bench). */
unsigned long trustfile_loads(void);

#endif
