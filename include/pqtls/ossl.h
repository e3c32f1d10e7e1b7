/*
 * ossl.h: the OpenSSL functions pqtls calls, as a table of pointers.
 *
 * libpqtls.so has no link-time dependency on OpenSSL. In the interposer the table
 * is bound from the scope of the libpq copy in use, so pqtls speaks to the very
 * OpenSSL that libpq uses and never hands an SSL or X509 object from one copy to
 * another. The command line binds it to the OpenSSL it links (ossl_static()).
 */
#ifndef PQTLS_OSSL_H
#define PQTLS_OSSL_H

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/err.h>

typedef struct ossl
{
	/* Reading a live connection's peer chain. */
	STACK_OF(X509) *(*SSL_get_peer_cert_chain) (const SSL *s);
	int			(*i2d_X509) (X509 *x, unsigned char **out);
	void		(*X509_free) (X509 *x);
	int			(*OPENSSL_sk_num) (const OPENSSL_STACK *st);
	void	   *(*OPENSSL_sk_value) (const OPENSSL_STACK *st, int i);
	void		(*CRYPTO_free) (void *p, const char *file, int line);

	/*
	 * The chain of a handshake that fails verification (capture.c). OpenSSL
	 * 1.1.1 keeps no peer chain when the verify callback fails the handshake
	 * (tls_process_server_certificate() returns before storing it; 3.0 stores it
	 * first), so pqtls wraps libpq's verify callback for the handshake's duration.
	 * All four exist under these names in 1.1.0 and later.
	 */
	int			(*SSL_get_verify_mode) (const SSL *s);
	SSL_verify_cb (*SSL_get_verify_callback) (const SSL *s);
	void		(*SSL_set_verify) (SSL *s, int mode, SSL_verify_cb cb);
	STACK_OF(X509) *(*X509_STORE_CTX_get0_untrusted) (const X509_STORE_CTX *ctx);

	/* Verifying a chain the way libpq's SSL context does. */
	X509	   *(*d2i_X509) (X509 **x, const unsigned char **in, long len);
	X509_STORE *(*X509_STORE_new) (void);
	void		(*X509_STORE_free) (X509_STORE *st);
	int			(*X509_STORE_add_cert) (X509_STORE *st, X509 *x);
	X509_STORE_CTX *(*X509_STORE_CTX_new) (void);
	void		(*X509_STORE_CTX_free) (X509_STORE_CTX *ctx);
	int			(*X509_STORE_CTX_init) (X509_STORE_CTX *ctx, X509_STORE *st,
										X509 *leaf, STACK_OF(X509) *untrusted);
	int			(*X509_STORE_CTX_set_default) (X509_STORE_CTX *ctx, const char *name);
	X509_VERIFY_PARAM *(*X509_STORE_CTX_get0_param) (X509_STORE_CTX *ctx);
	void		(*X509_VERIFY_PARAM_set_auth_level) (X509_VERIFY_PARAM *p, int level);
	int			(*X509_verify_cert) (X509_STORE_CTX *ctx);
	int			(*X509_STORE_CTX_get_error) (const X509_STORE_CTX *ctx);
	int			(*X509_STORE_CTX_get_error_depth) (const X509_STORE_CTX *ctx);
	const char *(*X509_verify_cert_error_string) (long n);
	OPENSSL_STACK *(*OPENSSL_sk_new_null) (void);
	int			(*OPENSSL_sk_push) (OPENSSL_STACK *st, const void *data);
	void		(*OPENSSL_sk_free) (OPENSSL_STACK *st);

	/* The side handshake of dry-run and `pqtls probe`. */
	const SSL_METHOD *(*TLS_client_method) (void);
	SSL_CTX    *(*SSL_CTX_new) (const SSL_METHOD *m);
	void		(*SSL_CTX_free) (SSL_CTX *ctx);
	long		(*SSL_CTX_ctrl) (SSL_CTX *ctx, int cmd, long larg, void *parg);
	int			(*SSL_CTX_get_security_level) (const SSL_CTX *ctx);
	SSL		   *(*SSL_new) (SSL_CTX *ctx);
	void		(*SSL_free) (SSL *s);
	int			(*SSL_set_fd) (SSL *s, int fd);
	long		(*SSL_ctrl) (SSL *s, int cmd, long larg, void *parg);
	int			(*SSL_connect) (SSL *s);
	int			(*SSL_get_error) (const SSL *s, int ret);
	const char *(*SSL_get_version) (const SSL *s);
	const SSL_CIPHER *(*SSL_get_current_cipher) (const SSL *s);
	const char *(*SSL_CIPHER_get_name) (const SSL_CIPHER *c);
	unsigned long (*ERR_get_error) (void);
	void		(*ERR_error_string_n) (unsigned long e, char *buf, size_t len);
	void		(*ERR_clear_error) (void);
	/* ALPN as libpq 17+ offers and checks it (probe.c); 1.0.2 and later. */
	int			(*SSL_set_alpn_protos) (SSL *s, const unsigned char *protos, unsigned int len);
	void		(*SSL_get0_alpn_selected) (const SSL *s, const unsigned char **data,
										   unsigned int *len);

	/* Loading a trust file the way libpq loads its root file (trustfile.c). */
	int			(*SSL_CTX_load_verify_locations) (SSL_CTX *ctx, const char *file,
												  const char *path);
	const char *(*ERR_reason_error_string) (unsigned long e);
	const char *(*OpenSSL_version) (int type);

	/* sslrootcert=system (libpq 16+): the OpenSSL default store (sysroots.c). */
	const char *(*X509_get_default_cert_file) (void);
	const char *(*X509_get_default_cert_file_env) (void);
	const char *(*X509_get_default_cert_dir) (void);
	const char *(*X509_get_default_cert_dir_env) (void);
	int			(*X509_STORE_set_default_paths) (X509_STORE *st);
	STACK_OF(X509) *(*X509_STORE_CTX_get1_certs) (X509_STORE_CTX *ctx, X509_NAME *name);
	X509_NAME  *(*X509_get_subject_name) (const X509 *x);
	X509_PUBKEY *(*X509_get_X509_PUBKEY) (const X509 *x);
	int			(*i2d_X509_PUBKEY) (X509_PUBKEY *k, unsigned char **out);
} ossl;

/* Bind from a dlsym-like lookup; returns 0 when every function was found. */
typedef void *(*ossl_lookup_fn) (void *handle, const char *name);
int			ossl_bind(ossl *o, ossl_lookup_fn lookup, void *handle);

#ifdef PQTLS_CLI
/* The command line's own OpenSSL. */
const ossl *ossl_static(void);
#endif

#endif
