/*
 * certjson.h: a certificate as a record shows it (subject, issuer, not_after,
 * sha256, san), for the interposer's records and the JVM agent's.
 */
#ifndef PQTLS_CERTJSON_H
#define PQTLS_CERTJSON_H

#include <stddef.h>
#include <stdint.h>

#include "pqtls/json.h"

/* One DER certificate as a JSON object (only sha256 when it does not parse). */
void		record_render_cert(json_writer *w, const uint8_t *der, size_t len);

#endif
