/*
 * truststore.c: certificates out of PEM, DER, Java KeyStore and PKCS#12 files
 * (see truststore.h): which format a file is, PEM and DER, reading files, and
 * the certificate list.  The Java KeyStore reader is truststore_jks.c, the
 * PKCS#12 one (OpenSSL's) truststore_pkcs12.c.
 *
 * Only `pqtls bundle` reads trust files this way.  What is hand-written here and
 * why: PEM blocks are split by pem.c, the library's own splitter, so that the
 * command sees the certificates the library would index (pem.c says more);
 * JKS has no C library at all (truststore_jks.c); PKCS#12 is OpenSSL's.  The
 * certificates themselves are read with OpenSSL (src/cli/certfacts.c).
 */
#include "pqtls/truststore.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pqtls/pem.h"
#include "pqtls/truststore_parts.h"

/* Trust files larger than this are refused rather than read into memory. */
#define TS_MAX_BYTES (64 * 1024 * 1024)

void
ts_set_error(char **error, const char *fmt,...)
{
	char		msg[1024];
	va_list		ap;

	if (error == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	free(*error);
	*error = strdup(msg);
}

const char *
truststore_format_name(enum truststore_format f)
{
	switch (f)
	{
		case TS_FORMAT_PEM:
			return "PEM";
		case TS_FORMAT_DER:
			return "DER";
		case TS_FORMAT_JKS:
			return "JKS";
		case TS_FORMAT_JCEKS:
			return "JCEKS";
		case TS_FORMAT_PKCS12:
			return "PKCS#12";
	}
	return "unknown";
}

void
cert_list_free(cert_list *l)
{
	if (l == NULL)
		return;
	for (int i = 0; i < l->n; i++)
	{
		free(l->certs[i].der);
		free(l->certs[i].alias);
	}
	free(l->certs);
	memset(l, 0, sizeof(*l));
}

/* Append a certificate; der is taken over (freed on failure). NULL when out of memory. */
truststore_cert *
ts_list_add(cert_list *l, uint8_t *der, size_t der_len)
{
	truststore_cert *c;

	if (der == NULL)
		return NULL;
	if (l->n == l->cap)
	{
		int			ncap = l->cap ? l->cap * 2 : 16;
		truststore_cert *grown;

		if (l->cap > INT_MAX / 4)
		{
			free(der);
			return NULL;
		}
		grown = realloc(l->certs, (size_t) ncap * sizeof(*grown));
		if (grown == NULL)
		{
			free(der);
			return NULL;
		}
		l->certs = grown;
		l->cap = ncap;
	}
	c = &l->certs[l->n++];
	memset(c, 0, sizeof(*c));
	c->der = der;
	c->der_len = der_len;
	return c;
}

uint8_t *
ts_memdup(const uint8_t *p, size_t n)
{
	uint8_t    *d = malloc(n ? n : 1);

	if (d != NULL && n > 0)
		memcpy(d, p, n);
	return d;
}

/* ---------------------------------------------------------------------
 * Detection
 * --------------------------------------------------------------------- */

static int
parse_pem(const uint8_t *data, size_t len, cert_list *out, char **error)
{
	size_t		pos = 0;
	int			r;
	uint8_t    *der;
	size_t		der_len;

	out->format = TS_FORMAT_PEM;
	while ((r = pem_next_cert((const char *) data, len, &pos, &der, &der_len)) != 0)
	{
		if (r < 0)
		{
			out->skipped++;
			continue;
		}
		if (ts_list_add(out, der, der_len) == NULL)
		{
			ts_set_error(error, "out of memory reading the PEM file");
			cert_list_free(out);
			return -1;
		}
	}
	if (out->n == 0)
	{
		if (out->skipped)
			ts_set_error(error, "PEM holds no certificate that can be read (%d malformed "
					  "certificate block%s)", out->skipped, out->skipped == 1 ? "" : "s");
		else
			ts_set_error(error, "PEM holds no certificate");
		cert_list_free(out);
		return -1;
	}
	return 0;
}

int
truststore_parse(const uint8_t *data, size_t len, const char *password,
				 cert_list *out, char **error)
{
	memset(out, 0, sizeof(*out));
	if (data == NULL || len == 0)
	{
		ts_set_error(error, "empty file: not a certificate store");
		return -1;
	}
	if (len >= 4 && ((data[0] == 0xFE && data[1] == 0xED && data[2] == 0xFE && data[3] == 0xED) ||
					 (data[0] == 0xCE && data[1] == 0xCE && data[2] == 0xCE && data[3] == 0xCE)))
		return truststore_parse_jks(data, len, password, out, error);
	if (der_is_single_cert(data, len))
	{
		out->format = TS_FORMAT_DER;
		if (ts_list_add(out, ts_memdup(data, len), len) == NULL)
		{
			ts_set_error(error, "out of memory");
			return -1;
		}
		return 0;
	}
	if (ts_looks_like_pkcs12(data, len))
	{
#ifdef PQTLS_CLI
		return ts_parse_pkcs12(data, len, password, out, error);
#else
		ts_set_error(error, "PKCS#12 is read by the pqtls command line only");
		return -1;
#endif
	}
	if (memmem(data, len, "-----BEGIN ", 11) != NULL)
		return parse_pem(data, len, out, error);
	ts_set_error(error, "not a certificate store pqtls can read "
			  "(PEM, DER certificate, JKS, JCEKS or PKCS#12)");
	return -1;
}

/* ---------------------------------------------------------------------
 * Files
 * --------------------------------------------------------------------- */

static uint8_t *
read_fd(int fd, size_t *len, int *err)
{
	size_t		cap = 64 * 1024,
				got = 0;
	uint8_t    *data = malloc(cap);

	*err = 0;
	if (data == NULL)
	{
		*err = ENOMEM;
		return NULL;
	}
	for (;;)
	{
		ssize_t		n;

		if (got == cap)
		{
			uint8_t    *grown;

			if (cap >= TS_MAX_BYTES)
			{
				*err = EFBIG;
				free(data);
				return NULL;
			}
			cap = cap * 2 > TS_MAX_BYTES ? TS_MAX_BYTES : cap * 2;
			grown = realloc(data, cap);
			if (grown == NULL)
			{
				*err = ENOMEM;
				free(data);
				return NULL;
			}
			data = grown;
		}
		n = read(fd, data + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
		{
			*err = errno;
			free(data);
			return NULL;
		}
		if (n == 0)
			break;
		got += (size_t) n;
	}
	*len = got;
	return data;
}

int
truststore_read(const char *path, const char *password, cert_list *out, char **error)
{
	bool		is_stdin = strcmp(path, "-") == 0;
	const char *name = is_stdin ? "standard input" : path;
	int			fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	uint8_t    *data;
	size_t		len = 0;
	int			err = 0;
	char	   *why = NULL;
	int			rc;

	memset(out, 0, sizeof(*out));
	if (fd < 0)
	{
		ts_set_error(error, "cannot read %s: %s", name, strerror(errno));
		return -1;
	}
	data = read_fd(fd, &len, &err);
	if (!is_stdin)
		close(fd);
	if (data == NULL)
	{
		if (err == EFBIG)
			ts_set_error(error, "%s is larger than %d MiB", name, TS_MAX_BYTES >> 20);
		else
			ts_set_error(error, "cannot read %s: %s", name, strerror(err));
		return -1;
	}
	rc = truststore_parse(data, len, password, out, &why);
	free(data);
	if (rc != 0)
	{
		ts_set_error(error, "%s: %s", name, why ? why : "cannot be read");
		free(why);
		return -1;
	}
	free(why);
	return 0;
}

