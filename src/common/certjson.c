/*
 * certjson.c: one certificate as the record shows it.
 */
#include <stdlib.h>

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

