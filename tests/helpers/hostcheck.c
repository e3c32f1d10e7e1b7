/*
 * hostcheck: pqtls's verdict on a host name and a server certificate.
 *
 *   hostcheck HOST CERT.pem
 *
 * Reads the first certificate of CERT.pem (the leaf), judges HOST against it
 * with hostname_check() (src/common/hostname.c, libpq's verify-full rules) and
 * prints one line, "match: DETAIL", "mismatch: DETAIL" or "error: DETAIL".
 * Exit status 0 match, 1 mismatch, 2 error, 3 when the file cannot be used.
 * HOST may be "" (libpq's host when only hostaddr is given).
 *
 * tests/integration/test_hostname_judge.py sets this against libpq itself.
 *
 * The helper rule of the Makefile links -lpq only, so the few common modules
 * needed are compiled in here whole; none of them needs OpenSSL.
 */
#include "../../src/common/json.c"
#include "../../src/common/pem.c"
#include "../../src/common/x509.c"
#include "../../src/common/x509_name.c"
#include "../../src/common/x509_namekey.c"
#include "../../src/common/x509_time.c"
#include "../../src/common/hostname.c"

#include <stdio.h>
#include <stdlib.h>

static char *
read_file(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	char	   *data = NULL;
	size_t		cap = 0;
	size_t		n = 0;
	size_t		got;

	if (f == NULL)
		return NULL;
	for (;;)
	{
		if (n == cap)
		{
			char	   *p = realloc(data, cap ? cap * 2 : 65536);

			if (p == NULL)
			{
				free(data);
				fclose(f);
				return NULL;
			}
			data = p;
			cap = cap ? cap * 2 : 65536;
		}
		got = fread(data + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	*len = n;
	return data;
}

int
main(int argc, char **argv)
{
	char	   *text;
	size_t		len = 0;
	size_t		pos = 0;
	uint8_t    *der = NULL;
	size_t		der_len = 0;
	x509_cert  *leaf;
	char	   *detail = NULL;
	host_match	r;

	if (argc != 3)
	{
		fprintf(stderr, "usage: hostcheck HOST CERT.pem\n");
		return 3;
	}
	text = read_file(argv[2], &len);
	if (text == NULL)
	{
		perror(argv[2]);
		return 3;
	}
	if (pem_next_cert(text, len, &pos, &der, &der_len) != 1)
	{
		fprintf(stderr, "%s: no readable certificate\n", argv[2]);
		free(text);
		return 3;
	}
	free(text);
	leaf = malloc(sizeof(*leaf));	/* x509_cert is large (its SAN array) */
	if (leaf == NULL || x509_parse(der, der_len, leaf) != 0)
	{
		fprintf(stderr, "%s: the certificate could not be parsed\n", argv[2]);
		free(leaf);
		free(der);
		return 3;
	}
	r = hostname_check(argv[1], leaf, &detail);
	printf("%s: %s\n", r == HOST_MATCH ? "match" : r == HOST_MISMATCH ? "mismatch" : "error",
		   detail ? detail : "(no detail)");
	free(detail);
	x509_free(leaf);
	free(leaf);
	free(der);
	return r == HOST_MATCH ? 0 : r == HOST_MISMATCH ? 1 : 2;
}
