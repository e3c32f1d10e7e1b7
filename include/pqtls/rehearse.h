/*
 * rehearse.h: the rotation rehearsal inside the interposer.
 *
 * dry-run and enforce judge every attempt against PQTLS_BUNDLE (the `dry_run`
 * field); PQTLS_NEW_CA adds `after_rotation`. Bundles are indexed once per
 * process (bundle.h); side handshakes are cached per host, port and bundle for
 * PQTLS_CACHE_TTL seconds.
 */
#ifndef PQTLS_REHEARSE_H
#define PQTLS_REHEARSE_H

#include "pqtls/attempt.h"
#include "pqtls/record.h"

/* Add the rehearsal's verdicts to a record about to be written. */
void		rehearse(attempt *a, record_data *d);

/* How many side handshakes this process has made (tests, bench). */
unsigned long rehearse_probe_count(void);

#endif
