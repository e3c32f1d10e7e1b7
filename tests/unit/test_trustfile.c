/*
 * test_trustfile.c: trustfile_problem() against OpenSSL's own load.
 *
 * For every kind of trust file the issue names (one damaged block, DER, text
 * between blocks, CRLF, intermediate only, empty, no certificate) and for many
 * more (other line lengths, a marker inside a line, keys and trusted
 * certificates mixed in, random damage), the answer pqtls gives is the answer
 * of SSL_CTX_load_verify_locations(ctx, file, NULL), the call libpq makes on
 * its root file; and a file pqtls judges without asking OpenSSL (the plain
 * form) is always one that OpenSSL loads.
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

/* The common objects the unit tests link are the command line's: ossl_static(). */
#define PQTLS_CLI 1
#include "check.h"
#include "pqtls/bundle.h"
#include "pqtls/ossl.h"
#include "pqtls/trustfile.h"

static char dir[] = "/tmp/pqtls-trustfile-XXXXXX";
static int	files;

static char *
read_fixture(const char *name, size_t *len)
{
	char		path[1024];
	FILE	   *f;
	char	   *data;
	long		size;

	snprintf(path, sizeof(path), "%s/%s", PQTLS_TEST_FIXTURES, name);
	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc((size_t) size + 1);
	if (fread(data, 1, (size_t) size, f) != (size_t) size)
		size = 0;
	fclose(f);
	data[size] = '\0';
	*len = (size_t) size;
	return data;
}

static void
remove_dir(void)
{
	char		cmd[128];

	if (getenv("PQTLS_TEST_KEEP"))
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

/* A new file (a new name each time: no answer of an earlier file can stand). */
static char *
write_file(const void *data, size_t len)
{
	char	   *path = NULL;
	FILE	   *f;

	if (dir[strlen(dir) - 1] == 'X')
	{
		if (mkdtemp(dir) == NULL)
			return NULL;
		atexit(remove_dir);
	}
	if (asprintf(&path, "%s/t%d.pem", dir, files++) < 0)
		return NULL;
	f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len)
		CHECK(!"cannot write a test file");
	if (f)
		fclose(f);
	return path;
}

/* What libpq's call says of the file: 1 loaded, 0 refused. */
static int
openssl_loads(const char *path)
{
	SSL_CTX    *ctx = SSL_CTX_new(TLS_client_method());
	int			ok = SSL_CTX_load_verify_locations(ctx, path, NULL) == 1;

	ERR_clear_error();
	SSL_CTX_free(ctx);
	return ok;
}

typedef struct judged
{
	int			usable;			/* trustfile_problem() == NULL */
	int			fast;			/* decided without asking OpenSSL */
	int			own_usable;		/* the rule without an OpenSSL */
	char	   *why;
} judged;

static judged
judge(const char *path)
{
	bundle	   *b = bundle_load(path);
	unsigned long before = trustfile_loads();
	char	   *own;
	judged		j;

	j.why = trustfile_problem(ossl_static(), b);
	j.usable = j.why == NULL;
	j.fast = trustfile_loads() == before;
	own = trustfile_problem(NULL, b);
	j.own_usable = own == NULL;
	free(own);
	bundle_release(b);
	return j;
}

/* The first n certificates of the 2025 RDS bundle, as published (plain PEM). */
static char *
rds_certs(int n, size_t *len)
{
	size_t		all;
	char	   *text = read_fixture("global-bundle-2025-g1.pem", &all);
	char	   *p = text;

	if (text == NULL)
		return NULL;
	for (int i = 0; i < n && p != NULL; i++)
	{
		p = strstr(p, "-----END CERTIFICATE-----");
		if (p)
			p += strlen("-----END CERTIFICATE-----");
	}
	if (p == NULL)
		return NULL;
	*p++ = '\n';
	*p = '\0';
	*len = (size_t) (p - text);
	return text;
}

/* s with every occurrence of `from` replaced by `to`. */
static char *
replace_all(const char *s, const char *from, const char *to, size_t *len)
{
	size_t		nf = strlen(from),
				nt = strlen(to),
				o = 0;
	char	   *out = malloc(strlen(s) * (nt > nf ? nt : 1) / (nf ? nf : 1) + strlen(s) + 1);

	while (*s)
	{
		if (strncmp(s, from, nf) == 0)
		{
			memcpy(out + o, to, nt);
			o += nt;
			s += nf;
		}
		else
			out[o++] = *s++;
	}
	out[o] = '\0';
	*len = o;
	return out;
}

/* Base64 body lines rewrapped to `width` characters. */
static char *
rewrap(const char *s, int width, size_t *len)
{
	char	   *out = malloc(strlen(s) * 2 + 1);
	size_t		o = 0;
	int			col = 0;
	bool		inside = false;

	while (*s)
	{
		const char *nl = strchr(s, '\n');
		size_t		n = nl ? (size_t) (nl - s) : strlen(s);

		if (n > 5 && strncmp(s, "-----", 5) == 0)
		{
			if (inside && col > 0)
				out[o++] = '\n';
			inside = strncmp(s, "-----BEGIN", 10) == 0;
			memcpy(out + o, s, n);
			o += n;
			out[o++] = '\n';
			col = 0;
		}
		else
			for (size_t i = 0; i < n; i++)
			{
				out[o++] = s[i];
				if (++col == width)
				{
					out[o++] = '\n';
					col = 0;
				}
			}
		s += n + (nl != NULL);
	}
	out[o] = '\0';
	*len = o;
	return out;
}

typedef struct kind
{
	const char *name;
	char	   *data;
	size_t		len;
	int			usable;			/* what libpq's OpenSSL does: the expectation */
	int			issue_kind;		/* one the issue names: the own rule must agree too */
} kind;

static void
check_kind(const kind *k)
{
	char	   *path = write_file(k->data, k->len);
	int			real = openssl_loads(path);
	judged		j = judge(path);

	if (real != k->usable || j.usable != real || (j.fast && !real) ||
		(k->issue_kind && j.own_usable != real))
		fprintf(stderr, "kind %s: OpenSSL %s, expected %s; pqtls %s%s, own rule %s (%s)\n",
				k->name, real ? "loads" : "refuses", k->usable ? "loads" : "refuses",
				j.usable ? "usable" : "unusable", j.fast ? " (fast)" : "",
				j.own_usable ? "usable" : "unusable", j.why ? j.why : "-");
	CHECK_INT(real, k->usable);
	CHECK_INT(j.usable, real);
	CHECK(!j.fast || real);
	if (k->issue_kind)
		CHECK_INT(j.own_usable, real);
	if (!real)
		CHECK(j.why != NULL && strstr(j.why, "SSL_CTX_load_verify_locations") != NULL);
	free(j.why);
	free(path);
}

TEST(kinds_agree_with_openssl)
{
	size_t		n3,
				n1,
				n;
	char	   *three = rds_certs(3, &n3);
	char	   *one = rds_certs(1, &n1);
	char	   *tmp;
	kind		k[32];
	int			nk = 0;
	X509	   *x;
	unsigned char *der = NULL;
	int			der_len;
	char	   *body;

	CHECK(three != NULL && one != NULL);
	if (three == NULL || one == NULL)
		return;
#define KIND(nm, d, l, u, ik) (k[nk++] = (kind) {nm, d, l, u, ik})
	KIND("plain", strdup(three), n3, 1, 1);
	KIND("crlf", replace_all(three, "\n", "\r\n", &n), n, 1, 1);
	KIND("text between blocks",
		 replace_all(three, "-----END CERTIFICATE-----\n",
					 "-----END CERTIFICATE-----\nsubject=CN = something\n# comment\n\n", &n),
		 n, 1, 1);
	KIND("empty", strdup(""), 0, 0, 1);
	KIND("text only", strdup("<html>404 Not Found</html>\n"), 27, 0, 1);
	/* One damaged block: a character outside base64 in the second certificate. */
	tmp = strdup(three);
	body = strstr(strstr(tmp, "-----END") + 1, "-----BEGIN CERTIFICATE-----\n") + 40;
	*body = '!';
	KIND("damaged block (bad character)", tmp, n3, 0, 1);
	/* One damaged block: three lines of the second certificate lost. */
	tmp = strdup(three);
	body = strstr(strstr(tmp, "-----END") + 1, "-----BEGIN CERTIFICATE-----\n") + 28 + 65 * 3;
	memmove(body, body + 65 * 3, strlen(body + 65 * 3) + 1);
	KIND("damaged block (lines lost)", tmp, strlen(tmp), 0, 1);
	/* DER: the first certificate, as bytes. */
	{
		BIO		   *bio = BIO_new_mem_buf(one, (int) n1);

		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
		der_len = i2d_X509(x, &der);
		KIND("der", memcpy(malloc(der_len), der, der_len), (size_t) der_len, 0, 1);
		OPENSSL_free(der);
		X509_free(x);
	}
	KIND("76-character lines", rewrap(three, 76, &n), n, 1, 0);
	KIND("trailing blanks", replace_all(three, "\n", "  \n", &n), n, 1, 0);
	KIND("marker inside a line", replace_all(one, "-----BEGIN", "x -----BEGIN", &n), n, 0, 0);
	KIND("no final newline", strndup(three, n3 - 1), n3 - 1, 1, 0);
	KIND("trusted certificate label", replace_all(one, "CERTIFICATE-----", "TRUSTED CERTIFICATE-----", &n), n, 1, 0);
	KIND("unknown label beside", replace_all(three, "-----END CERTIFICATE-----\n",
											 "-----END CERTIFICATE-----\n-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n", &n),
		 n, 1, 0);
	KIND("unterminated last block", strndup(three, n3 - 27), n3 - 27, 0, 0);
	for (int i = 0; i < nk; i++)
	{
		check_kind(&k[i]);
		free(k[i].data);
	}
	free(three);
	free(one);
}

/* The plain form costs OpenSSL nothing: the RDS bundles are judged without it. */
TEST(rds_bundles_take_the_fast_path)
{
	static const char *names[] = {"global-bundle-2025-g1.pem", "global-bundle-2023.pem"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
	{
		char		path[1024];
		judged		j;

		snprintf(path, sizeof(path), "%s/%s", PQTLS_TEST_FIXTURES, names[i]);
		j = judge(path);
		CHECK(j.usable && j.fast);
		CHECK(openssl_loads(path));
		free(j.why);
	}
}

/* OpenSSL is asked once per file: the second judgement is the kept answer. */
TEST(asked_once_per_file)
{
	char	   *path = write_file("not a certificate\n", 18);
	unsigned long before = trustfile_loads();
	judged		a = judge(path),
				b = judge(path);

	CHECK(!a.usable && !b.usable);
	CHECK_INT((int) (trustfile_loads() - before), 1);
	CHECK_STR(a.why, b.why);
	free(a.why);
	free(b.why);
	free(path);
}

/*
 * Random damage to the text of a small bundle, as editors, transfers and
 * pastes do it: characters that are not base64 (blanks, line ends, dashes,
 * padding, punctuation) put in, and characters lost. Wherever pqtls decides
 * alone, OpenSSL loads the file; and every answer is OpenSSL's.
 */
TEST(random_damage)
{
	size_t		n3,
				nplain;
	char	   *plain = rds_certs(3, &nplain);
	/* With text between the blocks, as `openssl x509 -text` leaves it. */
	char	   *three = plain ? replace_all(plain, "-----END CERTIFICATE-----\n",
											"-----END CERTIFICATE-----\n"
											"Certificate:\n    Data:\n        Version: 3 (0x2)\n"
											"        Serial Number: 74:e0:92:b8:0f:69:b0:1a\n"
											"    Signature Algorithm: sha256WithRSAEncryption\n"
											"        Issuer: C = US, O = \"Amazon Web Services, Inc.\", "
											"OU = Amazon RDS, ST = WA, CN = Amazon RDS Root CA\n"
											"        Subject: C = US, O = \"Amazon Web Services, Inc.\", "
											"OU = Amazon RDS, ST = WA, CN = Amazon RDS Root CA\n",
											&n3) : NULL;
	static const char alphabet[] = " \t\r\n-=!:.";
	unsigned int seed = 20261206;
	int			fast = 0,
				refused = 0;

	CHECK(three != NULL);
	if (three == NULL)
		return;
	for (int i = 0; i < 400; i++)
	{
		char	   *t = strdup(three);
		size_t		n = n3;
		char	   *path;
		int			real;
		judged		j;

		for (int m = 0; m < 1 + i % 3; m++)
		{
			size_t		at = rand_r(&seed) % n;

			if (rand_r(&seed) % 3 == 0)
				memmove(t + at, t + at + 1, n-- - at);	/* lost */
			else
				t[at] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		}
		path = write_file(t, n);
		real = openssl_loads(path);
		j = judge(path);
		if (j.usable != real || (j.fast && !real))
			fprintf(stderr, "mutation %d: OpenSSL %d, pqtls %d (fast %d): %s\n", i, real,
					j.usable, j.fast, path);
		CHECK_INT(j.usable, real);
		CHECK(!j.fast || real);
		fast += j.fast;
		refused += !real;
		free(j.why);
		free(path);
		free(t);
	}
	/* Both sides were exercised. */
	CHECK(fast > 5);
	CHECK(refused > 20);
	fprintf(stderr, "random damage: %d decided without OpenSSL, %d refused by OpenSSL\n",
			fast, refused);
	free(three);
	free(plain);
}

/*
 * Random damage inside the certificates: base64 characters replaced by other
 * base64 characters, so the layout stays plain and the blocks still decode,
 * but the DER changes (a tag, a length, a string, a key, a signature). Where
 * pqtls decides alone (x509_strict()), OpenSSL's decoder accepts the file too.
 */
TEST(random_der_damage)
{
	size_t		n3;
	char	   *three = rds_certs(3, &n3);
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned int seed = 1206;
	int			fast = 0,
				refused = 0;

	CHECK(three != NULL);
	if (three == NULL)
		return;
	for (int i = 0; i < 1500; i++)
	{
		char	   *t = strdup(three);
		char	   *path;
		int			real;
		judged		j;

		for (int m = 0; m < 1 + i % 2; m++)
		{
			size_t		at;

			do
				at = rand_r(&seed) % n3;
			while (strchr(b64, t[at]) == NULL || t[at] == '\0');
			t[at] = b64[rand_r(&seed) % (sizeof(b64) - 1)];
		}
		path = write_file(t, n3);
		real = openssl_loads(path);
		j = judge(path);
		if (j.usable != real || (j.fast && !real))
			fprintf(stderr, "DER mutation %d: OpenSSL %d, pqtls %d (fast %d): %s\n", i, real,
					j.usable, j.fast, path);
		CHECK_INT(j.usable, real);
		CHECK(!j.fast || real);
		fast += j.fast;
		refused += !real;
		free(j.why);
		free(path);
		free(t);
	}
	CHECK(fast > 100);
	CHECK(refused > 20);
	fprintf(stderr, "random DER damage: %d decided without OpenSSL, %d refused by OpenSSL\n",
			fast, refused);
	free(three);
}
