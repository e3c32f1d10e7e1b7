/*
 * certjson.c: one certificate as the record shows it, and the other pieces the
 * interposer's records and the JVM agent's share (time, host list).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pqtls/certjson.h"
#include "pqtls/sha256.h"
#include "pqtls/x509.h"

static void
render_san(json_writer *w, const x509_cert *c)
{
	json_key(w, "san");
	json_begin_array(w);
	for (int i = 0; i < c->n_san; i++)
	{
		const x509_san *s = &c->san[i];
		char		ip[X509_IP_TEXT_LEN];

		if (s->type == SAN_DNS)
			json_stringn(w, (const char *) s->value, s->len);
		else if (x509_ip_text(s->value, s->len, ip))
			json_string(w, ip);
	}
	json_end_array(w);
}

/* subject, issuer, not_after, sha256 and san of one DER certificate. */
void
record_render_cert(json_writer *w, const uint8_t *der, size_t len)
{
	x509_cert  *c = malloc(sizeof(*c));
	char		hex[2 * SHA256_LEN + 1],
				when[21];

	json_begin_object(w);
	sha256_hex(der, len, hex);
	if (c != NULL && x509_parse(der, len, c) == 0)
	{
		json_kv_string(w, "subject", c->subject);
		json_kv_string(w, "issuer", c->issuer);
		x509_format_time(c->not_after, when);
		json_kv_string(w, "not_after", when);
		json_kv_string(w, "sha256", hex);
		render_san(w, c);
		x509_free(c);
	}
	else
		json_kv_string(w, "sha256", hex);
	free(c);
	json_end_object(w);
}


/*
 * Not with gmtime_r(): glibc serialises it on a process-wide lock (tzset_lock)
 * that fork() does not reset, so a child forked while another thread was
 * converting a time (in pqtls, libpq or OpenSSL's certificate checks) hung at
 * its first record. x509_format_time() is arithmetic.
 */
void
record_kv_now(json_writer *w)
{
	struct timespec ts;
	char		when[21],
				out[64];

	clock_gettime(CLOCK_REALTIME, &ts);
	x509_format_time(ts.tv_sec, when);
	snprintf(out, sizeof(out), "%.19s.%03ldZ", when, ts.tv_nsec / 1000000);
	json_kv_string(w, "ts", out);
}

void
record_kv_hosts(json_writer *w, const char *hosts)
{
	char	   *list = strdup(hosts),
			   *save = NULL;

	json_key(w, "hosts");
	json_begin_array(w);
	for (char *h = list ? strtok_r(list, ",", &save) : NULL; h; h = strtok_r(NULL, ",", &save))
		json_string(w, h);
	json_end_array(w);
	free(list);
}
