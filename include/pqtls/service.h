/*
 * service.h: where a connection's setting came from when a service file is in
 * play, mirroring libpq's parseServiceInfo()/parseServiceFile() (fe-connect.c):
 * the service named by `service=` or PGSERVICE is looked up in PGSERVICEFILE or
 * ~/.pg_service.conf first and, only when not found there, in
 * $PGSYSCONFDIR/pg_service.conf (default sysconfdir of the libpq build).
 */
#ifndef PQTLS_SERVICE_H
#define PQTLS_SERVICE_H

/*
 * Does service `name` define `keyword`? Returns 1 and sets *value (malloc'ed)
 * when it does, 0 when it does not or the service is not found, -1 on error
 * (unreadable file, syntax error: libpq would fail the connection anyway).
 */
int			service_lookup(const char *name, const char *keyword, char **value);

#endif
