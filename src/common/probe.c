/*
 * probe.c: the side handshake of dry-run and `pqtls probe` (see probe.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pqtls/probe.h"
#include "pqtls/tlsinfo.h"

/* The SSLRequest: length 8, then the code 1234 5679 (protocol.h NEGOTIATE_SSL_CODE). */
static const unsigned char ssl_request[8] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int
remaining(long deadline)
{
	long		left = deadline - now_ms();

	return left > 0 ? (int) left : 0;
}

/* Wait for fd to be ready; 1 ready, 0 timed out, -1 error. */
static int
wait_fd(int fd, short events, long deadline)
{
	for (;;)
	{
		struct pollfd p = {fd, events, 0};
		int			n = poll(&p, 1, remaining(deadline));

		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 ? -1 : n;
	}
}

static void
set_detail(probe_result *r, reason why, const char *fmt, const char *a, const char *b)
{
	char		msg[512];

	snprintf(msg, sizeof(msg), fmt, a ? a : "", b ? b : "");
	free(r->detail);
	r->detail = strdup(msg);
	r->reason = why;
}

/* One TCP connection, non-blocking, within the deadline; returns the fd or -1. */
static int
connect_one(const struct addrinfo *ai, long deadline, probe_result *r)
{
	int			fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
							ai->ai_protocol);
	int			err = 0;
	socklen_t	len = sizeof(err);

	if (fd < 0)
		return -1;
	if (ai->ai_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *) ai->ai_addr)->sin_addr,
				  r->address, sizeof(r->address));
	else if (ai->ai_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *) ai->ai_addr)->sin6_addr,
				  r->address, sizeof(r->address));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS)
		err = errno;
	else
	{
		int			w = wait_fd(fd, POLLOUT, deadline);

		if (w == 0)
		{
			close(fd);
			set_detail(r, REASON_TIMEOUT, "no TCP connection to %s within the time limit",
					   r->address, NULL);
			return -1;
		}
		if (w < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
	}
	if (err == 0)
		return fd;
	close(fd);
	set_detail(r, REASON_UNREACHABLE, "cannot connect to %s: %s", r->address, strerror(err));
	return -1;
}

static int
connect_any(const char *host, const char *hostaddr, const char *port, long deadline,
			probe_result *r)
{
	struct addrinfo hints,
			   *list = NULL;
	int			fd = -1,
				rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_family = AF_UNSPEC;
	if (hostaddr != NULL && hostaddr[0] != '\0')
	{
		hints.ai_flags = AI_NUMERICHOST;
		host = hostaddr;
	}
	rc = getaddrinfo(host, port && port[0] ? port : "5432", &hints, &list);
	if (rc != 0)
	{
		set_detail(r, REASON_UNREACHABLE, "cannot resolve \"%s\": %s", host, gai_strerror(rc));
		return -1;
	}
	for (struct addrinfo *ai = list; ai != NULL && fd < 0 && remaining(deadline) > 0;
		 ai = ai->ai_next)
		fd = connect_one(ai, deadline, r);
	freeaddrinfo(list);
	if (fd < 0 && r->reason == REASON_OK)
		set_detail(r, REASON_TIMEOUT, "no TCP connection to \"%s\" within the time limit",
				   host, NULL);
	return fd;
}

int
probe_parse_ssl_reply(const unsigned char *buf, size_t len)
{
	if (len < 1)
		return -1;
	if (buf[0] == 'S')
		return 1;
	if (buf[0] == 'N')
		return 0;
	return -1;
}

/* SSLRequest and its one-byte answer. */
static int
negotiate(int fd, long deadline, probe_result *r)
{
	unsigned char reply;
	ssize_t		n;
	int			answer;

	if (send(fd, ssl_request, sizeof(ssl_request), MSG_NOSIGNAL) != (ssize_t) sizeof(ssl_request))
	{
		set_detail(r, REASON_UNREACHABLE, "cannot send the SSLRequest to %s: %s", r->address,
				   strerror(errno));
		return -1;
	}
	if (wait_fd(fd, POLLIN, deadline) <= 0)
	{
		set_detail(r, REASON_TIMEOUT, "%s did not answer the SSLRequest within the time limit",
				   r->address, NULL);
		return -1;
	}
	do
		n = recv(fd, &reply, 1, 0);
	while (n < 0 && errno == EINTR);
	answer = n == 1 ? probe_parse_ssl_reply(&reply, 1) : -1;
	if (answer == 0)
		set_detail(r, REASON_NO_TLS, "%s answers the SSLRequest with 'N': the server does not "
				   "offer TLS", r->address, NULL);
	else if (answer < 0)
		set_detail(r, REASON_HANDSHAKE_FAILED, "%s did not answer the SSLRequest like a "
				   "PostgreSQL server%s", r->address, n == 0 ? " (it closed the connection)" : "");
	return answer == 1 ? 0 : -1;
}

bool
probe_is_ip_address(const char *s)
{
	struct in_addr a4;
	struct in6_addr a6;

	return s != NULL && (inet_aton(s, &a4) || inet_pton(AF_INET6, s, &a6) == 1);
}

static void
ssl_error_detail(const ossl *o, probe_result *r)
{
	char		buf[256] = "";
	unsigned long e = o->ERR_get_error();

	if (e != 0)
		o->ERR_error_string_n(e, buf, sizeof(buf));
	o->ERR_clear_error();
	set_detail(r, REASON_HANDSHAKE_FAILED, "TLS handshake with %s failed: %s", r->address,
			   buf[0] ? buf : "the server closed the connection");
}

/*
 * Does libpq send `host` as SNI?  initialize_SSL() in fe-secure-openssl.c
 * (14 and later, when sslsni is "1") has a test of its own, not
 * is_ip_address(): no SNI for a host of digits and dots only, or one holding a
 * ':'.  So "0x7f.0.0.1" (an address to inet_aton) is sent, and "1.2.3.4.5" (no
 * address) is not.
 */
static bool
libpq_sends_sni(const char *host)
{
	return host != NULL && host[0] != '\0' && host[0] != '/' &&
		strspn(host, "0123456789.") != strlen(host) && strchr(host, ':') == NULL;
}

/*
 * libpq 13 has no sslsni and sends no SNI; 14 added sslsni (default "1") and
 * sends it when sslsni[0] == '1' (initialize_SSL()). 17 added ALPN, offered in
 * every handshake (initialize_SSL(): SSL_set_alpn_protos with
 * PG_ALPN_PROTOCOL_VECTOR), and sslnegotiation, whose "direct" skips the
 * SSLRequest (PQconnectPoll(), CONNECTION_MADE: ENC_SSL without
 * pqPacketSend of NEGOTIATE_SSL_CODE) and demands the server's ALPN answer
 * (open_client_SSL()).
 */
probe_opts
probe_opts_for(int libpq_version, const char *sslsni, const char *sslnegotiation)
{
	probe_opts	o;

	o.sni = (libpq_version == 0 || libpq_version >= 140000) &&
		(sslsni == NULL || sslsni[0] == '1');
	o.alpn = libpq_version >= 170000;
	o.direct = libpq_version >= 170000 && sslnegotiation != NULL &&
		strcmp(sslnegotiation, "direct") == 0;
	o.min_proto = TLS1_2_VERSION;
	o.max_proto = 0;
	return o;
}

/* ssl_protocol_version_to_openssl() of fe-secure-openssl.c: 0 for empty or unknown. */
static int
protocol_number(const char *v)
{
	static const struct
	{
		char		name[8];
		int			number;
	}			names[] = {
		{"TLSv1", TLS1_VERSION}, {"TLSv1.1", TLS1_1_VERSION}, {"TLSv1.2", TLS1_2_VERSION},
		{"TLSv1.3", TLS1_3_VERSION},
	};

	for (size_t i = 0; v != NULL && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(v, names[i].name) == 0)
			return names[i].number;
	return 0;
}

void
probe_opts_protocols(probe_opts *o, const char *min, const char *max)
{
	if (min != NULL)
		o->min_proto = protocol_number(min);
	o->max_proto = protocol_number(max);
}

/* PG_ALPN_PROTOCOL_VECTOR of libpq 17's pqcomm.h: one protocol, "postgresql". */
static const unsigned char alpn_postgresql[] = {
	10, 'p', 'o', 's', 't', 'g', 'r', 'e', 's', 'q', 'l'
};

/*
 * After a direct handshake libpq 17+ fails the connection unless the server
 * selected "postgresql" (open_client_SSL()); the probe does the same, with
 * libpq's words.
 */
static bool
alpn_accepted(const ossl *o, SSL *ssl, probe_result *r)
{
	const unsigned char *sel = NULL;
	unsigned int len = 0;

	if (o->SSL_get0_alpn_selected == NULL)
		return true;
	o->SSL_get0_alpn_selected(ssl, &sel, &len);
	if (sel == NULL)
		set_detail(r, REASON_HANDSHAKE_FAILED, "%s: direct SSL connection was established "
				   "without ALPN protocol negotiation extension%s", r->address, NULL);
	else if (len != sizeof(alpn_postgresql) - 1 || memcmp(sel, alpn_postgresql + 1, len) != 0)
		set_detail(r, REASON_HANDSHAKE_FAILED, "%s: SSL connection was established with "
				   "unexpected ALPN protocol%s", r->address, NULL);
	return sel != NULL && r->reason == REASON_OK;
}

static void
handshake(const ossl *o, int fd, const char *host, const probe_opts *opts, long deadline,
		  probe_result *r)
{
	SSL_CTX    *ctx = o->SSL_CTX_new(o->TLS_client_method());
	SSL		   *ssl = ctx ? o->SSL_new(ctx) : NULL;

	if (ssl == NULL)
	{
		set_detail(r, REASON_HANDSHAKE_FAILED, "OpenSSL could not start a TLS client%s%s", NULL,
				   NULL);
		goto done;
	}
	/*
	 * libpq's TLS version bounds (13+: TLS 1.2 at least unless set), on the SSL
	 * object: SSL_new() has already copied the context's. SNI unless the host
	 * looks like an address.
	 */
	if (opts->min_proto != 0)
		o->SSL_ctrl(ssl, SSL_CTRL_SET_MIN_PROTO_VERSION, opts->min_proto, NULL);
	if (opts->max_proto != 0)
		o->SSL_ctrl(ssl, SSL_CTRL_SET_MAX_PROTO_VERSION, opts->max_proto, NULL);
	if (opts->sni && libpq_sends_sni(host))
		o->SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, (void *) host);
	if ((opts->alpn || opts->direct) && o->SSL_set_alpn_protos != NULL)
		o->SSL_set_alpn_protos(ssl, alpn_postgresql, sizeof(alpn_postgresql));
	o->SSL_set_fd(ssl, fd);
	o->ERR_clear_error();
	for (;;)
	{
		int			rc = o->SSL_connect(ssl),
					err,
					w;

		if (rc == 1)
			break;
		err = o->SSL_get_error(ssl, rc);
		if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
		{
			/* A chain that arrived before the failure is still worth judging. */
			tlsinfo_copy_chain(&r->chain, o, ssl);
			ssl_error_detail(o, r);
			goto done;
		}
		w = wait_fd(fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
		if (w <= 0)
		{
			set_detail(r, REASON_TIMEOUT, "TLS handshake with %s did not finish within the "
					   "time limit%s", r->address, NULL);
			goto done;
		}
	}
	tlsinfo_copy_chain(&r->chain, o, ssl);
	if (opts->direct && !alpn_accepted(o, ssl, r))
	{
		/* libpq gives up before looking at the certificate: so does the verdict. */
		peer_chain_free(&r->chain);
		goto done;
	}
	snprintf(r->protocol, sizeof(r->protocol), "%s", o->SSL_get_version(ssl));
	snprintf(r->cipher, sizeof(r->cipher), "%s",
			 o->SSL_CIPHER_get_name(o->SSL_get_current_cipher(ssl)));
done:
	if (ssl)
		o->SSL_free(ssl);
	if (ctx)
		o->SSL_CTX_free(ctx);
}

reason
probe_tls(const ossl *o, const char *host, const char *hostaddr, const char *port,
		  long timeout_ms, const probe_opts *opts, probe_result *r)
{
	probe_opts	dflt = probe_opts_for(0, NULL, NULL);

	long		deadline = now_ms() + timeout_ms;
	int			fd;

	memset(r, 0, sizeof(*r));
	r->reason = REASON_OK;
	if (o == NULL || o->SSL_connect == NULL)
	{
		set_detail(r, REASON_HANDSHAKE_FAILED, "no OpenSSL to probe with%s%s", NULL, NULL);
		return r->reason;
	}
	fd = connect_any(host, hostaddr, port, deadline, r);
	if (fd < 0)
		return r->reason;
	if (opts == NULL)
		opts = &dflt;
	/* Direct TLS: the ClientHello is the first thing the server reads. */
	if (opts->direct || negotiate(fd, deadline, r) == 0)
		handshake(o, fd, host, opts, deadline, r);
	close(fd);
	return r->reason;
}

void
probe_result_free(probe_result *r)
{
	free(r->detail);
	r->detail = NULL;
	peer_chain_free(&r->chain);
}
