/*
 * certjson.h: the pieces of a record that the interposer's records and the JVM
 * agent's write alike: a certificate as a record shows it (subject, issuer,
 * not_after, sha256, san), the record's time and a host list.
 */
#ifndef PQTLS_CERTJSON_H
#define PQTLS_CERTJSON_H

#include <stddef.h>
#include <stdint.h>

#include "pqtls/json.h"

/* One DER certificate as a JSON object (only sha256 when it does not parse). */
void		record_render_cert(json_writer *w, const uint8_t *der, size_t len);

/* "ts": now, RFC 3339 UTC with milliseconds. */
void		record_kv_now(json_writer *w);

/* "hosts": a comma-separated host list as an array. */
void		record_kv_hosts(json_writer *w, const char *hosts);

#endif
