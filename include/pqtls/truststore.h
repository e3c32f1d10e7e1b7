/*
 * truststore.h: the certificates of a trust file, whatever its format.
 *
 * A client's trust file is a PEM bundle for libpq, but a Java program (JDBC)
 * keeps its trusted certificates in a Java KeyStore or a PKCS#12 file.  This
 * module turns any of them into a list of DER certificates, each with the
 * alias of the entry it came from, so `pqtls bundle` can check them all the
 * same way.
 *
 *   PEM      one or more CERTIFICATE blocks (other blocks are ignored)
 *   DER      exactly one certificate
 *   JKS      Java KeyStore (magic 0xFEEDFEED, versions 1 and 2), read here
 *            directly: trusted-certificate entries and the certificate chains
 *            of private-key entries are stored in clear, so no password is
 *            needed to list them; the key bytes are skipped.  The trailing
 *            SHA-1 integrity digest is checked only when a password is given.
 *   JCEKS    the same layout (magic 0xCECECECE); a secret-key entry, which
 *            Java stores as a serialized object, makes the file unreadable
 *   PKCS#12  through OpenSSL, so only in the command line (PQTLS_CLI): the
 *            password given, else "" and then "changeit" (keytool's default);
 *            the certificate of the private key (if any) and every other one
 *
 * The JKS reader checks every length against the bytes left: any input gives
 * either a list or an error, never a read out of bounds.
 */
#ifndef PQTLS_TRUSTSTORE_H
#define PQTLS_TRUSTSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum truststore_format
{
	TS_FORMAT_PEM,
	TS_FORMAT_DER,
	TS_FORMAT_JKS,
	TS_FORMAT_JCEKS,
	TS_FORMAT_PKCS12,
};

enum truststore_integrity
{
	TS_INTEGRITY_NONE,			/* the format has no integrity check (PEM, DER) */
	TS_INTEGRITY_UNCHECKED,		/* it has one, but no password was given (JKS) */
	TS_INTEGRITY_VERIFIED,		/* checked with the password given */
	TS_INTEGRITY_DEFAULT,		/* checked with a default password ("" or "changeit") */
	TS_INTEGRITY_ABSENT,		/* a PKCS#12 file without a MAC */
};

typedef struct truststore_cert
{
	uint8_t    *der;			/* malloc'ed; not checked to be a certificate */
	size_t		der_len;
	char	   *alias;			/* Java stores: the entry's alias (as stored); else NULL */
	int			entry;			/* 1-based entry number in a JKS/JCEKS store; else 0 */
	bool		key_entry;		/* from a private-key entry (its chain) or the PKCS#12 key's certificate */
	int			chain_pos;		/* in a private-key entry's chain: 1 is the entry's own certificate */
	int			chain_len;
} truststore_cert;

typedef struct cert_list
{
	truststore_cert *certs;
	int			n;
	int			cap;
	enum truststore_format format;
	int			version;		/* JKS/JCEKS format version; else 0 */
	int			entries;		/* JKS/JCEKS: entries in the store */
	int			key_entries;	/* JKS/JCEKS: private-key entries; PKCS#12: 1 with a key */
	int			skipped;		/* PEM certificate blocks that are malformed; JKS
								 * certificates of a type other than X.509 */
	enum truststore_integrity integrity;
} cert_list;

/*
 * Read the trust file at `path` ("-" is standard input), detecting its format
 * from its content.  password may be NULL.  Returns 0 with *out filled (at
 * least one certificate), or -1 with *error set to a malloc'ed sentence that
 * names the file (never the password); *out is then empty.
 */
int			truststore_read(const char *path, const char *password, cert_list *out,
							char **error);

/* The same for bytes already in memory; messages do not name a file. */
int			truststore_parse(const uint8_t *data, size_t len, const char *password,
							 cert_list *out, char **error);

/* Only the Java KeyStore reader (JKS or JCEKS magic required). */
int			truststore_parse_jks(const uint8_t *data, size_t len, const char *password,
								 cert_list *out, char **error);

void		cert_list_free(cert_list *l);

/* "PEM", "DER", "JKS", "JCEKS", "PKCS#12". */
const char *truststore_format_name(enum truststore_format f);

#endif
