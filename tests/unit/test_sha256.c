/*
 * test_sha256.c: pqtls's SHA-256 against the FIPS 180-4 examples and against
 * OpenSSL on many lengths and ways of splitting the input.
 */
#include <stdint.h>

#include <openssl/evp.h>

#include "check.h"
#include "pqtls/sha256.h"

static void
hex(const uint8_t *md, char out[2 * SHA256_LEN + 1])
{
	for (int i = 0; i < SHA256_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void
openssl_sha256(const void *data, size_t n, uint8_t out[SHA256_LEN])
{
	unsigned int len = 0;

	if (EVP_Digest(data, n, out, &len, EVP_sha256(), NULL) != 1 || len != SHA256_LEN)
		memset(out, 0, SHA256_LEN);
}

/* Deterministic filler, so a failure can be reproduced. */
static void
fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
	{
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t) (seed >> 16);
	}
}

/* FIPS 180-4 / NIST CSRC example values. */
TEST(fips_abc)
{
	char		out[65];

	sha256_hex("abc", 3, out);
	CHECK_STR(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(fips_448_bits)
{
	const char *msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	char		out[65];

	CHECK_INT(strlen(msg) * 8, 448);
	sha256_hex(msg, strlen(msg), out);
	CHECK_STR(out, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(fips_million_a)
{
	sha256_ctx	c;
	uint8_t		md[SHA256_LEN];
	char		out[65];
	char		chunk[1000];

	memset(chunk, 'a', sizeof(chunk));
	sha256_init(&c);
	for (int i = 0; i < 1000; i++)
		sha256_update(&c, chunk, sizeof(chunk));
	sha256_final(&c, md);
	hex(md, out);
	CHECK_STR(out, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(empty)
{
	char		out[65];

	sha256_hex("", 0, out);
	CHECK_STR(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* Every length around the padding boundaries (55, 56, 63, 64, ...) and beyond. */
TEST(lengths_against_openssl)
{
	uint8_t		data[1100];
	uint8_t		mine[SHA256_LEN];
	uint8_t		theirs[SHA256_LEN];
	int			mismatches = 0;

	fill(data, sizeof(data), 42);
	for (size_t n = 0; n <= sizeof(data); n++)
	{
		sha256(data, n, mine);
		openssl_sha256(data, n, theirs);
		if (memcmp(mine, theirs, SHA256_LEN) != 0)
		{
			if (mismatches++ < 5)
				fprintf(stderr, "  length %zu differs\n", n);
		}
	}
	CHECK_INT(mismatches, 0);
}

/* The same digest however the input is cut into update() calls. */
TEST(split_updates)
{
	uint8_t		data[777];
	uint8_t		whole[SHA256_LEN];
	uint8_t		md[SHA256_LEN];
	int			mismatches = 0;

	fill(data, sizeof(data), 7);
	openssl_sha256(data, sizeof(data), whole);
	for (size_t step = 1; step <= 130; step++)
	{
		sha256_ctx	c;

		sha256_init(&c);
		for (size_t off = 0; off < sizeof(data); off += step)
		{
			size_t		n = sizeof(data) - off < step ? sizeof(data) - off : step;

			sha256_update(&c, data + off, n);
			sha256_update(&c, data, 0);	/* empty updates change nothing */
		}
		sha256_final(&c, md);
		if (memcmp(md, whole, SHA256_LEN) != 0)
			mismatches++;
	}
	CHECK_INT(mismatches, 0);
}

TEST(large_buffer)
{
	size_t		n = 3 * 1024 * 1024 + 17;
	uint8_t    *data = malloc(n);
	uint8_t		mine[SHA256_LEN];
	uint8_t		theirs[SHA256_LEN];

	CHECK(data != NULL);
	if (data == NULL)
		return;
	fill(data, n, 99);
	sha256(data, n, mine);
	openssl_sha256(data, n, theirs);
	CHECK(memcmp(mine, theirs, SHA256_LEN) == 0);
	free(data);
}

TEST(hex_is_lower_case_and_terminated)
{
	char		out[66];

	memset(out, 'X', sizeof(out));
	sha256_hex("abc", 3, out);
	CHECK_INT(strlen(out), 64);
	CHECK_INT(out[65], 'X');
	for (int i = 0; i < 64; i++)
		CHECK((out[i] >= '0' && out[i] <= '9') || (out[i] >= 'a' && out[i] <= 'f'));
}
