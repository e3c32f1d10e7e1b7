/*
 * fuzz_probe_reply.c: what a server answers to the side probe's SSLRequest
 * (include/pqtls/probe.h), and the host strings the probe looks at.
 *
 * The input is the bytes a server sends after the SSLRequest.  The probe
 * reads one byte and hands it to probe_parse_ssl_reply(); here the parser
 * gets every prefix of the input (a server may send anything: an 'E' error
 * packet, a TLS record, nothing), and must answer 1 exactly for 'S', 0 for
 * 'N' and -1 otherwise, reading nothing beyond the length it is given.
 *
 * The same bytes, as a C string, are also a host name for
 * probe_is_ip_address(), which must agree with inet_aton() or
 * inet_pton(AF_INET6), the calls libpq's is_ip_address() makes.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pqtls/probe.h"

#define FAIL(...) do { fprintf(stderr, "fuzz_probe_reply: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *host;
	struct in_addr a4;
	struct in6_addr a6;
	bool		want;

	for (size_t n = 0; n <= size && n <= 64; n++)
	{
		/* A copy of exactly n bytes: ASan sees a read past it. */
		uint8_t    *copy = malloc(n ? n : 1);
		int			r,
					expect = n == 0 ? -1 : data[0] == 'S' ? 1 : data[0] == 'N' ? 0 : -1;

		memcpy(copy, data, n);
		r = probe_parse_ssl_reply(n ? copy : NULL, n);
		if (r != expect)
			FAIL("reply of %zu bytes starting %02x: %d, want %d", n, n ? data[0] : 0, r, expect);
		free(copy);
	}

	host = strndup((const char *) data, size);
	want = inet_aton(host, &a4) != 0 || inet_pton(AF_INET6, host, &a6) == 1;
	if (probe_is_ip_address(host) != want)
		FAIL("\"%s\": probe_is_ip_address() says %d", host, !want);
	if (probe_is_ip_address(NULL))
		FAIL("NULL is an address");
	free(host);
	return 0;
}
