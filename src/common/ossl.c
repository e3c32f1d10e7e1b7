/*
 * ossl.c: binding the OpenSSL function table (see ossl.h).
 */
#include <stddef.h>
#include <string.h>

#include "pqtls/nametab.h"
#include "pqtls/ossl.h"

/* Names in place, not pointers: no relocation at load (nametab.h). */
#define OSSL_NAME_MAX 40

typedef struct ossl_name
{
	char		name[OSSL_NAME_MAX];
	size_t		offset;
#ifdef PQTLS_CLI
	void	   *addr;			/* the command line links OpenSSL itself */
#endif
} ossl_name;

#ifdef PQTLS_CLI
#define F(fn) {#fn, offsetof(ossl, fn) + NAME_FITS(#fn, OSSL_NAME_MAX), (void *) fn}
#else
#define F(fn) {#fn, offsetof(ossl, fn) + NAME_FITS(#fn, OSSL_NAME_MAX)}
#endif

static const ossl_name names[] = {
	F(SSL_get_peer_cert_chain), F(i2d_X509), F(X509_free), F(OPENSSL_sk_num),
	F(OPENSSL_sk_value), F(CRYPTO_free),
	F(SSL_get_verify_mode), F(SSL_get_verify_callback), F(SSL_set_verify),
	F(X509_STORE_CTX_get0_untrusted),
	F(d2i_X509), F(X509_STORE_new), F(X509_STORE_free), F(X509_STORE_add_cert),
	F(X509_STORE_CTX_new), F(X509_STORE_CTX_free), F(X509_STORE_CTX_init),
	F(X509_STORE_CTX_set_default), F(X509_STORE_CTX_get0_param),
	F(X509_VERIFY_PARAM_set_auth_level), F(X509_verify_cert),
	F(X509_STORE_CTX_get_error), F(X509_STORE_CTX_get_error_depth),
	F(X509_verify_cert_error_string), F(OPENSSL_sk_new_null), F(OPENSSL_sk_push),
	F(OPENSSL_sk_free),
	F(TLS_client_method), F(SSL_CTX_new), F(SSL_CTX_free), F(SSL_CTX_ctrl),
	F(SSL_CTX_get_security_level), F(SSL_new), F(SSL_free), F(SSL_set_fd),
	F(SSL_ctrl), F(SSL_connect), F(SSL_get_error), F(SSL_get_version),
	F(SSL_get_current_cipher), F(SSL_CIPHER_get_name), F(ERR_get_error),
	F(ERR_error_string_n), F(ERR_clear_error), F(SSL_set_alpn_protos),
	F(SSL_get0_alpn_selected),
	F(SSL_CTX_load_verify_locations), F(ERR_reason_error_string), F(OpenSSL_version),
	F(X509_get_default_cert_file), F(X509_get_default_cert_file_env),
	F(X509_get_default_cert_dir), F(X509_get_default_cert_dir_env),
	F(X509_STORE_set_default_paths), F(X509_STORE_CTX_get1_certs), F(X509_get_subject_name),
	F(X509_get_X509_PUBKEY), F(i2d_X509_PUBKEY),
};

int
ossl_bind(ossl *o, ossl_lookup_fn lookup, void *handle)
{
	int			missing = 0;

	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
	{
		void	   *fn = lookup(handle, names[i].name);

		if (fn == NULL)
			missing++;
		memcpy((char *) o + names[i].offset, &fn, sizeof(fn));
	}
	return missing ? -1 : 0;
}

#ifdef PQTLS_CLI
static void *
linked_lookup(void *handle, const char *name)
{
	(void) handle;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(names[i].name, name) == 0)
			return names[i].addr;
	return NULL;
}

const ossl *
ossl_static(void)
{
	static ossl table;
	static int	bound;

	if (!bound)
	{
		ossl_bind(&table, linked_lookup, NULL);
		bound = 1;
	}
	return &table;
}
#endif
