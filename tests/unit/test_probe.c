/*
 * test_probe.c: the side probe's handshake against a TLS server in this
 * process (a thread answering the SSLRequest with 'S', then TLS), and which
 * Server Name Indication it sends.
 *
 * libpq (initialize_SSL() in fe-secure-openssl.c, 14 and later) sends the
 * host as SNI unless it is made of digits and dots only or holds a ':': a
 * test of its own, not is_ip_address().  The probe first used
 * probe_is_ip_address() (inet_aton, inet_pton) and so differed for hosts such
 * as "0x7f.0.0.1" (sent by libpq) and "1.2.3.4.5" (not sent).
 */
#define PQTLS_CLI				/* ossl_static(): the common objects are built so */

#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "check.h"
#include "pqtls/probe.h"

typedef struct server
{
	int			listen_fd;
	char		port[16];
	SSL_CTX    *ctx;
	pthread_t	thread;
	char		sni[300];		/* what the client sent; "" for none */
	bool		got_sni;
} server;

static int
servername_cb(SSL *ssl, int *al, void *arg)
{
	server	   *s = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	(void) al;
	if (name != NULL)
	{
		snprintf(s->sni, sizeof(s->sni), "%s", name);
		s->got_sni = true;
	}
	return SSL_TLSEXT_ERR_OK;
}

static void *
serve_one(void *arg)
{
	server	   *s = arg;
	int			fd = accept(s->listen_fd, NULL, NULL);
	unsigned char req[8];
	SSL		   *ssl;

	if (fd < 0)
		return NULL;
	if (read(fd, req, sizeof(req)) == (ssize_t) sizeof(req) && write(fd, "S", 1) == 1)
	{
		ssl = SSL_new(s->ctx);
		SSL_set_fd(ssl, fd);
		if (SSL_accept(ssl) == 1)
			SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	close(fd);
	return NULL;
}

static void
server_start(server *s)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t	len = sizeof(a);
	EVP_PKEY   *key = EVP_EC_gen("P-256");
	X509	   *x = X509_new();

	memset(s, 0, sizeof(*s));
	signal(SIGPIPE, SIG_IGN);	/* the server's close_notify may find the probe gone */
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
							   (const unsigned char *) "probe test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, key);
	X509_sign(x, key, EVP_sha256());
	s->ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_use_certificate(s->ctx, x);
	SSL_CTX_use_PrivateKey(s->ctx, key);
	SSL_CTX_set_tlsext_servername_callback(s->ctx, servername_cb);
	SSL_CTX_set_tlsext_servername_arg(s->ctx, s);
	X509_free(x);
	EVP_PKEY_free(key);

	s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	bind(s->listen_fd, (struct sockaddr *) &a, sizeof(a));
	listen(s->listen_fd, 1);
	getsockname(s->listen_fd, (struct sockaddr *) &a, &len);
	snprintf(s->port, sizeof(s->port), "%d", ntohs(a.sin_port));
	pthread_create(&s->thread, NULL, serve_one, s);
}

static void
server_stop(server *s)
{
	pthread_join(s->thread, NULL);
	close(s->listen_fd);
	SSL_CTX_free(s->ctx);
}

/* Probe 127.0.0.1 naming `host`; the SNI the server saw, or NULL for none. */
static const char *
sni_for(server *s, const char *host, reason *why)
{
	probe_result r;

	server_start(s);
	*why = probe_tls(ossl_static(), host, "127.0.0.1", s->port, 5000, NULL, &r);
	probe_result_free(&r);
	server_stop(s);
	return s->got_sni ? s->sni : NULL;
}

TEST(probe_completes_the_handshake_and_reads_the_chain)
{
	server		s;
	probe_result r;

	server_start(&s);
	CHECK_INT(probe_tls(ossl_static(), "db.example.com", "127.0.0.1", s.port, 5000, NULL, &r), REASON_OK);
	CHECK_INT(r.chain.n, 1);
	CHECK(r.protocol[0] != '\0');
	CHECK_STR(r.address, "127.0.0.1");
	probe_result_free(&r);
	server_stop(&s);
}

TEST(sni_as_libpq_sends_it)
{
	static const struct
	{
		const char *host;
		const char *sni;		/* NULL: none */
	}			cases[] = {
		{"db.example.com", "db.example.com"},
		{"localhost", "localhost"},
		{"127.0.0.1", NULL},
		{"127.1", NULL},
		{"::1", NULL},
		{"2001:db8::10", NULL},
		/* Where libpq's rule and is_ip_address() part ways: */
		{"0x7f.0.0.1", "0x7f.0.0.1"},	/* inet_aton reads it, libpq sends it */
		{"1.2.3.4.5", NULL},	/* no address, but digits and dots */
		{"999.1.1.1", NULL},
		{"fe80::1%lo", NULL},	/* a ':' */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		server		s;
		reason		why;
		const char *got = sni_for(&s, cases[i].host, &why);

		CHECK_INT(why, REASON_OK);
		if ((got == NULL) != (cases[i].sni == NULL) || (got && strcmp(got, cases[i].sni) != 0))
		{
			fprintf(stderr, "host \"%s\": SNI %s%s%s, libpq sends %s%s%s\n", cases[i].host,
					got ? "\"" : "", got ? got : "none", got ? "\"" : "",
					cases[i].sni ? "\"" : "", cases[i].sni ? cases[i].sni : "none",
					cases[i].sni ? "\"" : "");
			check_failed = 1;
		}
	}
}

/* Which negotiation each libpq uses (initialize_SSL(), PQconnectPoll() of 13 to 18). */
TEST(options_follow_the_libpq_version)
{
	probe_opts	o;

	o = probe_opts_for(130023, NULL, NULL);		/* 13: no sslsni, no SNI at all */
	CHECK(!o.sni && !o.alpn && !o.direct);
	o = probe_opts_for(140023, "1", NULL);
	CHECK(o.sni && !o.alpn && !o.direct);
	o = probe_opts_for(160014, "0", NULL);
	CHECK(!o.sni && !o.alpn && !o.direct);
	o = probe_opts_for(160014, "1", "direct");	/* no such keyword before 17 */
	CHECK(o.sni && !o.alpn && !o.direct);
	o = probe_opts_for(170010, "1", "postgres");	/* 17 offers ALPN always */
	CHECK(o.sni && o.alpn && !o.direct);
	o = probe_opts_for(180004, "0", "direct");
	CHECK(!o.sni && o.alpn && o.direct);
	o = probe_opts_for(0, NULL, NULL);			/* unknown: as before 17 */
	CHECK(o.sni && !o.alpn && !o.direct);
}

TEST(reply_parser)
{
	CHECK_INT(probe_parse_ssl_reply((const unsigned char *) "S", 1), 1);
	CHECK_INT(probe_parse_ssl_reply((const unsigned char *) "N", 1), 0);
	CHECK_INT(probe_parse_ssl_reply((const unsigned char *) "E", 1), -1);
	CHECK_INT(probe_parse_ssl_reply(NULL, 0), -1);
}
