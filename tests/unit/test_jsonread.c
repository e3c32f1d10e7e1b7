/*
 * test_jsonread.c: the strict JSON reader (include/pqtls/jsonread.h).
 *
 * Fixed cases for what must parse and what must not (RFC 8259, plus the
 * reader's own rules: paired surrogates, valid UTF-8, a depth limit), the
 * unescaping to UTF-8, lookups by path, every truncation of a real record
 * (each parsed from a buffer of exactly its length, so that ASan in
 * `make asan` catches a read past the end), and a differential check of
 * thousands of mutated documents against Python's json module: the same
 * verdict, and for valid ones the same value.
 */
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "pqtls/json.h"
#include "pqtls/jsonread.h"

/* A record as libpqtls.so writes it (dry-run, a failed verify-ca connection). */
static const char real_record[] =
	"{\"ts\":\"2026-11-28T15:54:11.901Z\",\"pid\":30288,\"exe\":\"/usr/lib/postgresql/15/bin/psql\",\"api\""
	":\"PQconnectdbParams\",\"mode\":\"dry-run\",\"host\":\"127.0.0.1\",\"hostaddr\":\"127.0.0.1\",\"port\":\"42"
	"303\",\"dbname\":\"pqtls_db\",\"user\":\"pqtls_user\",\"application_name\":null,\"transport\":\"tcp\",\"ss"
	"lmode\":\"verify-ca\",\"sslmode_source\":\"conninfo\",\"sslrootcert\":\"/etc/ssl/rds/wrong-ca.crt\",\""
	"sslrootcert_source\":\"conninfo\",\"rootcert_file\":\"/etc/ssl/rds/wrong-ca.crt\",\"rootcert_exist"
	"s\":true,\"verify\":\"ca\",\"outcome\":\"failed\",\"error\":\"connection to server at \\\"127.0.0.1\\\", p"
	"ort 42303 failed: SSL error: certificate verify failed\",\"tls\":null,\"failed_peer\":{\"subject"
	"\":\"CN=localhost\",\"issuer\":\"CN=pqtls test root CA\",\"not_after\":\"2029-03-02T15:54:09Z\",\"sha2"
	"56\":\"da2f326b3f3b6e48a3587c9d1b87900747bb5bd627ae8bf640e9f52ddb73fcac\",\"san\":[\"localhost\","
	"\"127.0.0.1\"]},\"dry_run\":{\"bundle\":\"/etc/ssl/rds/global-bundle.pem\",\"result\":\"pass\",\"reason"
	"\":\"ok\",\"method\":\"chain\",\"detail\":\"the chain of \\\"CN=localhost\\\" verifies against /etc/ssl/"
	"rds/global-bundle.pem and the host name \\\"127.0.0.1\\\" matches\"},\"after_rotation\":\"breaks\","
	"\"after_rotation_detail\":\"/etc/ssl/rds/wrong-ca.crt holds none of the new CAs\"}";

/* Parse s[0 .. n-1] from a heap copy of exactly n bytes (no terminator to lean on). */
static int
parse_exact(jsr_doc *d, const char *s, size_t n, char **copy)
{
	*copy = malloc(n ? n : 1);
	memcpy(*copy, s, n);
	return jsr_parse(d, *copy, n);
}

static int
parse_str(jsr_doc *d, const char *s)
{
	return jsr_parse(d, s, strlen(s));
}

/* The verdict on one text, the heap copy freed. */
static int
verdict(const char *s, size_t n)
{
	jsr_doc		d;
	char	   *copy;
	int			rc;

	jsr_init(&d);
	rc = parse_exact(&d, s, n, &copy);
	jsr_free(&d);
	free(copy);
	return rc;
}

#define CHECK_VALID(lit) CHECK_INT(verdict((lit), sizeof(lit) - 1), 0)
#define CHECK_ERROR(lit, err) CHECK_INT(verdict((lit), sizeof(lit) - 1), (err))
#define CHECK_INVALID(lit) CHECK(verdict((lit), sizeof(lit) - 1) < 0)

/* The unescaped string at path, malloc'ed (NULL when absent or not a string). */
static char *
string_at(const jsr_doc *d, const char *path, size_t *len)
{
	int			t = jsr_find(d, 0, path);
	size_t		n = jsr_string_len(d, t);
	char	   *buf;

	if (n == (size_t) -1)
		return NULL;
	buf = malloc(n + 1);
	CHECK_INT(jsr_string(d, t, buf, n + 1), n);
	if (len)
		*len = n;
	return buf;
}

#define CHECK_PATH_STR(doc, path, want) \
	do { \
		char *got_ = string_at((doc), (path), NULL); \
		CHECK_STR(got_, (want)); \
		free(got_); \
	} while (0)

TEST(scalars_at_top_level)
{
	CHECK_VALID("0");
	CHECK_VALID("-0");
	CHECK_VALID("123");
	CHECK_VALID("-1.5e10");
	CHECK_VALID("1E-2");
	CHECK_VALID("1e+2");
	CHECK_VALID("0.25");
	CHECK_VALID("true");
	CHECK_VALID("false");
	CHECK_VALID("null");
	CHECK_VALID("\"\"");
	CHECK_VALID("\"a\"");
	CHECK_VALID(" \t\r\n{} \t\r\n");
	CHECK_VALID("[]");
	CHECK_VALID("{}");
	CHECK_VALID("[1,[2,[3,{}]],{\"a\":[]}]");
	CHECK_VALID("{\"\":\"\"}");
	CHECK_VALID("{ \"a\" : 1 , \"b\" : [ true , false , null ] }");
}

TEST(invalid_documents)
{
	CHECK_ERROR("", JSR_E_EMPTY);
	CHECK_ERROR("   \n", JSR_E_EMPTY);
	CHECK_ERROR("{", JSR_E_END);
	CHECK_ERROR("[1,", JSR_E_END);
	CHECK_ERROR("{\"a\"", JSR_E_END);
	CHECK_ERROR("{\"a\":", JSR_E_END);
	CHECK_ERROR("\"abc", JSR_E_END);
	CHECK_ERROR("tru", JSR_E_END);
	CHECK_ERROR("nul", JSR_E_END);
	CHECK_ERROR("{} x", JSR_E_TRAILING);
	CHECK_ERROR("1 2", JSR_E_TRAILING);
	CHECK_ERROR("{}{}", JSR_E_TRAILING);
	CHECK_ERROR("{,}", JSR_E_CHAR);
	CHECK_ERROR("[,]", JSR_E_CHAR);
	CHECK_ERROR("[1,]", JSR_E_CHAR);
	CHECK_ERROR("{\"a\":1,}", JSR_E_CHAR);
	CHECK_ERROR("{\"a\" 1}", JSR_E_CHAR);
	CHECK_ERROR("{a:1}", JSR_E_CHAR);
	CHECK_ERROR("{'a':1}", JSR_E_CHAR);
	CHECK_ERROR("[1 2]", JSR_E_CHAR);
	CHECK_ERROR("[1}", JSR_E_CHAR);
	CHECK_ERROR("{\"a\":1]", JSR_E_CHAR);
	CHECK_ERROR("{1:2}", JSR_E_CHAR);
	CHECK_ERROR("True", JSR_E_CHAR);
	CHECK_ERROR("nullx", JSR_E_CHAR);
	CHECK_ERROR("NaN", JSR_E_CHAR);
	CHECK_ERROR("Infinity", JSR_E_CHAR);
	CHECK_ERROR("undefined", JSR_E_CHAR);
	CHECK_ERROR("\xEF\xBB\xBF{}", JSR_E_CHAR);	/* a byte order mark */
	CHECK_ERROR("/* c */ {}", JSR_E_CHAR);
	CHECK_ERROR("{}\v", JSR_E_TRAILING);	/* \v is not JSON whitespace */
	CHECK_ERROR("\f{}", JSR_E_CHAR);
	/* A NUL byte is just a byte: the length decides, not a terminator. */
	CHECK_ERROR("{}\0", JSR_E_TRAILING);
	CHECK_ERROR("\0{}", JSR_E_CHAR);
}

TEST(numbers)
{
	CHECK_ERROR("01", JSR_E_NUMBER);
	CHECK_ERROR("-01", JSR_E_NUMBER);
	CHECK_ERROR("+1", JSR_E_CHAR);
	CHECK_ERROR(".5", JSR_E_CHAR);
	CHECK_ERROR("1.", JSR_E_END);
	CHECK_ERROR("[1.]", JSR_E_NUMBER);
	CHECK_ERROR("1.e5", JSR_E_NUMBER);
	CHECK_ERROR("1e", JSR_E_END);
	CHECK_ERROR("[1e]", JSR_E_NUMBER);
	CHECK_ERROR("[1e+]", JSR_E_NUMBER);
	CHECK_ERROR("-", JSR_E_END);
	CHECK_ERROR("[-]", JSR_E_NUMBER);
	CHECK_ERROR("--1", JSR_E_NUMBER);
	CHECK_ERROR("1.2.3", JSR_E_NUMBER);
	CHECK_ERROR("1e5e5", JSR_E_NUMBER);
	CHECK_ERROR("0x10", JSR_E_TRAILING);
	CHECK_ERROR("[0x10]", JSR_E_CHAR);
	CHECK_ERROR("- 1", JSR_E_NUMBER);
	CHECK_VALID("[-0.0e-0,1E+99,12345678901234567890123]");
}

TEST(integers)
{
	jsr_doc		d;
	long long	v = 7;

	jsr_init(&d);
	CHECK_INT(parse_str(&d, "[0,-0,42,-42,9223372036854775807,-9223372036854775808,"
						"9223372036854775808,-9223372036854775809,1.0,1e3,\"5\",true]"), 0);
	CHECK(jsr_get_int(&d, 1, &v) && v == 0);
	CHECK(jsr_get_int(&d, 2, &v) && v == 0);
	CHECK(jsr_get_int(&d, 3, &v) && v == 42);
	CHECK(jsr_get_int(&d, 4, &v) && v == -42);
	CHECK(jsr_get_int(&d, 5, &v) && v == INT64_MAX);
	CHECK(jsr_get_int(&d, 6, &v) && v == INT64_MIN);
	v = 7;
	CHECK(!jsr_get_int(&d, 7, &v));
	CHECK(!jsr_get_int(&d, 8, &v));
	CHECK(!jsr_get_int(&d, 9, &v));
	CHECK(!jsr_get_int(&d, 10, &v));
	CHECK(!jsr_get_int(&d, 11, &v));
	CHECK(!jsr_get_int(&d, 12, &v));
	CHECK(!jsr_get_int(&d, 13, &v));	/* no such token */
	CHECK(!jsr_get_int(&d, -1, &v));
	CHECK_INT(v, 7);
	jsr_free(&d);
}

TEST(types_and_bools)
{
	jsr_doc		d;
	bool		b = false;

	jsr_init(&d);
	CHECK_INT(parse_str(&d, "{\"t\":true,\"f\":false,\"n\":null,\"x\":1.5,\"s\":\"\",\"a\":[],\"o\":{}}"), 0);
	CHECK(jsr_is_object(&d, 0));
	CHECK_INT(d.tok[0].count, 7);
	CHECK(jsr_get_bool(&d, jsr_find(&d, 0, "t"), &b) && b);
	CHECK(jsr_get_bool(&d, jsr_find(&d, 0, "f"), &b) && !b);
	CHECK(!jsr_get_bool(&d, jsr_find(&d, 0, "n"), &b));
	CHECK(jsr_is_bool(&d, jsr_find(&d, 0, "t")));
	CHECK(jsr_is_null(&d, jsr_find(&d, 0, "n")));
	CHECK(jsr_is_number(&d, jsr_find(&d, 0, "x")));
	CHECK(jsr_is_string(&d, jsr_find(&d, 0, "s")));
	CHECK(jsr_is_array(&d, jsr_find(&d, 0, "a")));
	CHECK(jsr_is_object(&d, jsr_find(&d, 0, "o")));
	CHECK_INT(jsr_type_of(&d, jsr_find(&d, 0, "missing")), JSR_NONE);
	CHECK(!jsr_is_null(&d, -1));
	CHECK(!jsr_is_string(&d, 99));
	{
		size_t		n;
		const char *raw = jsr_raw(&d, jsr_find(&d, 0, "x"), &n);

		CHECK(raw != NULL && n == 3 && memcmp(raw, "1.5", 3) == 0);
		CHECK(jsr_raw(&d, -1, &n) == NULL && n == 0);
	}
	jsr_free(&d);
}

TEST(tokens_and_iteration)
{
	jsr_doc		d;
	int			k,
				seen = 0;

	jsr_init(&d);
	CHECK_INT(parse_str(&d, "{\"a\":[1,{\"x\":2},3],\"b\":{\"c\":{\"d\":null}},\"e\":\"f\"}"), 0);
	/* a, [, 1, {, x, 2, 3, b, {, c, {, d, null, e, f, and the root */
	CHECK_INT(d.ntok, 16);
	CHECK_INT(d.tok[0].next, 16);
	CHECK_INT(d.tok[0].count, 3);
	for (k = jsr_first(&d, 0); k >= 0; k = jsr_next(&d, 0, k))
	{
		if (seen == 0)
			CHECK(jsr_string_eq(&d, k, "a", 1) && jsr_is_array(&d, k + 1));
		if (seen == 1)
			CHECK(jsr_string_eq(&d, k, "b", 1) && jsr_is_object(&d, k + 1));
		if (seen == 2)
			CHECK(jsr_string_eq(&d, k, "e", 1) && jsr_is_string(&d, k + 1));
		seen++;
	}
	CHECK_INT(seen, 3);

	/* The array's elements, skipping the object inside it whole. */
	{
		int			arr = jsr_find(&d, 0, "a");
		long long	v;

		CHECK_INT(d.tok[arr].count, 3);
		k = jsr_first(&d, arr);
		CHECK(jsr_get_int(&d, k, &v) && v == 1);
		k = jsr_next(&d, arr, k);
		CHECK(jsr_is_object(&d, k));
		CHECK_INT(jsr_type_of(&d, jsr_find(&d, k, "x")), JSR_NUMBER);
		k = jsr_next(&d, arr, k);
		CHECK(jsr_get_int(&d, k, &v) && v == 3);
		CHECK_INT(jsr_next(&d, arr, k), -1);
	}
	CHECK_INT(jsr_first(&d, jsr_find(&d, 0, "e")), -1);	/* not a container */
	CHECK_INT(jsr_first(&d, -1), -1);
	CHECK_INT(jsr_next(&d, 0, -5), -1);
	CHECK_INT(jsr_next(&d, 0, 1000), -1);

	CHECK(jsr_parse(&d, "[]", 2) == 0);
	CHECK_INT(jsr_first(&d, 0), -1);
	CHECK(jsr_parse(&d, "{}", 2) == 0);
	CHECK_INT(jsr_first(&d, 0), -1);
	jsr_free(&d);
}

TEST(paths)
{
	jsr_doc		d;

	jsr_init(&d);
	CHECK_INT(jsr_parse(&d, real_record, strlen(real_record)), 0);
	CHECK_PATH_STR(&d, "exe", "/usr/lib/postgresql/15/bin/psql");
	CHECK_PATH_STR(&d, "dry_run.result", "pass");
	CHECK_PATH_STR(&d, "failed_peer.issuer", "CN=pqtls test root CA");
	CHECK_PATH_STR(&d, "error", "connection to server at \"127.0.0.1\", port 42303 failed: "
				   "SSL error: certificate verify failed");
	CHECK(jsr_is_null(&d, jsr_find(&d, 0, "tls")));
	CHECK_INT(jsr_find(&d, 0, "tls.peer.subject"), -1);	/* through null */
	CHECK_INT(jsr_find(&d, 0, "exe.x"), -1);	/* through a string */
	CHECK_INT(jsr_find(&d, 0, "dry_run.nothing"), -1);
	CHECK_INT(jsr_find(&d, 0, "dry_run."), -1);
	CHECK_INT(jsr_find(&d, 0, ".dry_run"), -1);
	CHECK_INT(jsr_find(&d, 0, ""), 0);
	CHECK_INT(jsr_find(&d, -1, "exe"), -1);
	CHECK(jsr_is_array(&d, jsr_find(&d, 0, "failed_peer.san")));
	{
		long long	pid = 0;
		bool		exists = false;

		CHECK(jsr_get_int(&d, jsr_find(&d, 0, "pid"), &pid) && pid == 30288);
		CHECK(jsr_get_bool(&d, jsr_find(&d, 0, "rootcert_exists"), &exists) && exists);
	}
	/* A member of a nested object is not a member of the root. */
	CHECK_INT(jsr_find(&d, 0, "result"), -1);
	CHECK_INT(jsr_member(&d, 0, "dry", 3), -1);
	CHECK(jsr_member(&d, 0, "dry_run", 7) > 0);
	jsr_free(&d);
}

TEST(duplicate_keys_last_wins)
{
	jsr_doc		d;

	jsr_init(&d);
	CHECK_INT(parse_str(&d, "{\"a\":1,\"b\":{\"c\":\"first\"},\"a\":2,\"b\":{\"c\":\"second\"}}"), 0);
	{
		long long	v = 0;

		CHECK(jsr_get_int(&d, jsr_find(&d, 0, "a"), &v) && v == 2);
	}
	CHECK_PATH_STR(&d, "b.c", "second");
	jsr_free(&d);
}

TEST(escapes_unescaped)
{
	jsr_doc		d;
	char	   *s;
	size_t		n = 0;

	jsr_init(&d);
	CHECK_INT(parse_str(&d, "{\"s\":\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t\","
						"\"u\":\"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\","
						"\"nul\":\"a\\u0000b\","
						"\"raw\":\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\x7F\"}"), 0);
	CHECK_PATH_STR(&d, "s", "q\" b\\ s/ \b\f\n\r\t");
	CHECK_PATH_STR(&d, "u", "A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
	CHECK_PATH_STR(&d, "raw", "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\x7F");
	CHECK(d.tok[jsr_find(&d, 0, "s")].escaped);
	CHECK(!d.tok[jsr_find(&d, 0, "raw")].escaped);

	s = string_at(&d, "nul", &n);
	CHECK_INT(n, 3);
	CHECK(s != NULL && memcmp(s, "a\0b", 4) == 0);
	free(s);

	/* The highest and lowest pairs, and the edges of the BMP around them. */
	CHECK_INT(parse_str(&d, "[\"\\uD800\\uDC00\",\"\\uDBFF\\uDFFF\",\"\\uD7FF\",\"\\uE000\",\"\\uFFFF\","
						"\"\\u007f\\u0080\\u07FF\\u0800\"]"), 0);
	{
		static const char *const want[] = {
			"\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF", "\xED\x9F\xBF", "\xEE\x80\x80", "\xEF\xBF\xBF",
			"\x7F\xC2\x80\xDF\xBF\xE0\xA0\x80",
		};
		int			i = 0;

		for (int k = jsr_first(&d, 0); k >= 0; k = jsr_next(&d, 0, k), i++)
		{
			char		buf[16];

			CHECK_INT(jsr_string(&d, k, buf, sizeof(buf)), strlen(want[i]));
			CHECK_STR(buf, want[i]);
		}
		CHECK_INT(i, 6);
	}
	jsr_free(&d);
}

TEST(bad_escapes_and_surrogates)
{
	CHECK_ERROR("\"\\x41\"", JSR_E_ESCAPE);
	CHECK_ERROR("\"\\U0041\"", JSR_E_ESCAPE);
	CHECK_ERROR("\"\\u12G4\"", JSR_E_ESCAPE);
	CHECK_ERROR("\"\\u12\"", JSR_E_ESCAPE);
	CHECK_ERROR("\"\\'\"", JSR_E_ESCAPE);
	CHECK_ERROR("\"\\ \"", JSR_E_ESCAPE);
	CHECK_ERROR("\"\\", JSR_E_END);
	CHECK_ERROR("\"\\u00", JSR_E_END);
	/* Lone or misordered surrogates cannot become UTF-8. */
	CHECK_ERROR("\"\\ud83d\"", JSR_E_SURROGATE);
	CHECK_ERROR("\"\\ude00\"", JSR_E_SURROGATE);
	CHECK_ERROR("\"\\ude00\\ud83d\"", JSR_E_SURROGATE);
	CHECK_ERROR("\"\\ud83dx\"", JSR_E_SURROGATE);
	CHECK_ERROR("\"\\ud83d\\n\"", JSR_E_SURROGATE);
	CHECK_ERROR("\"\\ud83d\\u0041\"", JSR_E_SURROGATE);
	CHECK_ERROR("\"\\ud83d\\ud83d\"", JSR_E_SURROGATE);
	CHECK_ERROR("\"\\ud83d\\uzzzz\"", JSR_E_ESCAPE);
	CHECK_ERROR("\"\\ud83d", JSR_E_END);
	CHECK_ERROR("\"\\ud83d\\", JSR_E_END);
	CHECK_ERROR("\"\\ud83d\\u", JSR_E_END);
	CHECK_ERROR("\"\\ud83d\\ude0", JSR_E_END);
}

TEST(utf8_and_controls)
{
	CHECK_ERROR("\"\x01\"", JSR_E_CONTROL);
	CHECK_ERROR("\"a\nb\"", JSR_E_CONTROL);
	CHECK_ERROR("\"\t\"", JSR_E_CONTROL);
	CHECK_ERROR("\"\x1F\"", JSR_E_CONTROL);
	CHECK_ERROR("\"\0\"", JSR_E_CONTROL);
	CHECK_VALID("\"\x7F\"");
	CHECK_ERROR("\"\x80\"", JSR_E_UTF8);			/* a lone continuation byte */
	CHECK_ERROR("\"\xC0\x80\"", JSR_E_UTF8);		/* overlong NUL */
	CHECK_ERROR("\"\xC1\xBF\"", JSR_E_UTF8);		/* overlong */
	CHECK_ERROR("\"\xE0\x80\xAF\"", JSR_E_UTF8);	/* overlong '/' */
	CHECK_ERROR("\"\xED\xA0\x80\"", JSR_E_UTF8);	/* an encoded surrogate */
	CHECK_ERROR("\"\xF4\x90\x80\x80\"", JSR_E_UTF8);	/* above U+10FFFF */
	CHECK_ERROR("\"\xF5\x80\x80\x80\"", JSR_E_UTF8);
	CHECK_ERROR("\"\xFF\"", JSR_E_UTF8);
	CHECK_ERROR("\"\xE2\x82\"", JSR_E_UTF8);		/* cut short */
	CHECK_ERROR("\"\xE2\x82", JSR_E_UTF8);
	CHECK_ERROR("\"\xC3", JSR_E_UTF8);
	CHECK_VALID("\"\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xF0\x90\x80\x80\xF4\x8F\xBF\xBF\"");
	/* Outside strings, any byte from 0x80 up is out of place. */
	CHECK_ERROR("[\xC3\xA9]", JSR_E_CHAR);
	/* Long strings go through the wide scanner: specials at every offset. */
	for (int at = 0; at < 40; at++)
	{
		char		s[64];

		memset(s, 'a', sizeof(s));
		s[0] = '"';
		s[41] = '"';
		s[1 + at] = '\x01';
		CHECK_INT(verdict(s, 42), JSR_E_CONTROL);
		s[1 + at] = '\x80';
		CHECK_INT(verdict(s, 42), JSR_E_UTF8);
		s[1 + at] = '\\';
		CHECK_INT(verdict(s, 42), at == 39 ? JSR_E_END : JSR_E_ESCAPE);
		s[1 + at] = '"';
		CHECK_INT(verdict(s, 42), JSR_E_TRAILING);
		s[1 + at] = '\x7F';
		CHECK_INT(verdict(s, 42), 0);
	}
}

TEST(error_positions)
{
	jsr_doc		d;

	jsr_init(&d);
	CHECK_INT(parse_str(&d, "{\"a\":tru}"), JSR_E_CHAR);
	CHECK_INT(d.error, JSR_E_CHAR);
	CHECK_INT(d.error_at, 5);
	CHECK_INT(jsr_type_of(&d, 0), JSR_NONE);	/* no tokens after an error */
	CHECK_INT(jsr_find(&d, 0, "a"), -1);
	CHECK_INT(parse_str(&d, "[1,2,\"\x01\"]"), JSR_E_CONTROL);
	CHECK_INT(d.error_at, 6);
	CHECK_INT(parse_str(&d, "{\"x\":1} ,"), JSR_E_TRAILING);
	CHECK_INT(d.error_at, 8);
	CHECK(strstr(jsr_strerror(JSR_E_END), "end") != NULL);
	CHECK(strlen(jsr_strerror(-999)) > 0);
	for (int e = JSR_E_NOMEM; e <= JSR_OK; e++)
		CHECK(jsr_strerror(e) != NULL && jsr_strerror(e)[0] != '\0');
	jsr_free(&d);
}

TEST(depth_limit)
{
	size_t		big = 200000;
	char	   *s = malloc(2 * big);
	jsr_doc		d;

	jsr_init(&d);
	for (size_t i = 0; i < JSR_MAX_DEPTH; i++)
	{
		s[i] = '[';
		s[2 * JSR_MAX_DEPTH - 1 - i] = ']';
	}
	CHECK_INT(jsr_parse(&d, s, 2 * JSR_MAX_DEPTH), 0);
	CHECK_INT(d.ntok, JSR_MAX_DEPTH);

	/* One more level is refused, and so is a deep attack, without recursion. */
	memset(s, '[', JSR_MAX_DEPTH + 1);
	memset(s + JSR_MAX_DEPTH + 1, ']', JSR_MAX_DEPTH + 1);
	CHECK_INT(jsr_parse(&d, s, 2 * (JSR_MAX_DEPTH + 1)), JSR_E_DEPTH);
	CHECK_INT(d.error_at, JSR_MAX_DEPTH);
	memset(s, '[', big);
	memset(s + big, ']', big);
	CHECK_INT(jsr_parse(&d, s, 2 * big), JSR_E_DEPTH);
	for (size_t i = 0; i < big / 5; i++)
		memcpy(s + i * 5, "{\"a\":", 5);
	CHECK_INT(jsr_parse(&d, s, big), JSR_E_DEPTH);

	/* Wide is fine: many tokens make the token array grow. */
	{
		size_t		n = 0,
					elements = big / 2 - 1;

		s[n++] = '[';
		for (size_t k = 0; k < elements; k++)
		{
			if (k > 0)
				s[n++] = ',';
			s[n++] = '0';
		}
		s[n++] = ']';
		CHECK_INT(jsr_parse(&d, s, n), 0);
		CHECK_INT(d.tok[0].count, elements);
		CHECK_INT(d.ntok, elements + 1);
	}
	CHECK(d.cap >= d.ntok);
	jsr_free(&d);
	free(s);
}

TEST(every_truncation_of_a_real_record)
{
	size_t		n = strlen(real_record);
	jsr_doc		d;
	char	   *copy;

	jsr_init(&d);
	CHECK_INT(parse_exact(&d, real_record, n, &copy), 0);
	free(copy);
	for (size_t len = 0; len < n; len++)
	{
		int			rc = parse_exact(&d, real_record, len, &copy);

		if (rc != (len == 0 ? JSR_E_EMPTY : JSR_E_END))
		{
			fprintf(stderr, "prefix of %zu bytes: %d (%s)\n", len, rc, jsr_strerror(rc));
			CHECK(0);
		}
		CHECK(d.error_at <= len);
		free(copy);
	}
	/* And every suffix (what a log line cut at its start looks like). */
	for (size_t off = 1; off < n; off++)
	{
		CHECK(parse_exact(&d, real_record + off, n - off, &copy) < 0);
		free(copy);
	}
	jsr_free(&d);
}

TEST(string_into_small_buffers)
{
	jsr_doc		d;
	char		buf[8];
	int			t;

	jsr_init(&d);
	CHECK_INT(parse_str(&d, "[\"abcdefghij\",\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\",5]"), 0);
	t = jsr_first(&d, 0);
	memset(buf, 'X', sizeof(buf));
	CHECK_INT(jsr_string(&d, t, buf, 4), 10);
	CHECK_STR(buf, "abc");
	CHECK_INT(buf[4], 'X');		/* nothing written past size */
	CHECK_INT(jsr_string(&d, t, buf, 1), 10);
	CHECK_STR(buf, "");
	CHECK_INT(jsr_string(&d, t, NULL, 0), 10);
	CHECK_INT(jsr_string_len(&d, t), 10);

	t = jsr_next(&d, 0, t);
	memset(buf, 'X', sizeof(buf));
	CHECK_INT(jsr_string(&d, t, buf, 6), 10);
	CHECK(memcmp(buf, "\xC3\xA9\xC3\xA9\xC3\0", 6) == 0);
	CHECK_INT(buf[6], 'X');

	t = jsr_next(&d, 0, t);
	CHECK_INT(jsr_string(&d, t, buf, sizeof(buf)), (size_t) -1);	/* a number */
	CHECK_STR(buf, "");
	CHECK(!jsr_string_eq(&d, t, "5", 1));
	jsr_free(&d);
}

TEST(escaped_keys_compare_unescaped)
{
	jsr_doc		d;

	jsr_init(&d);
	CHECK_INT(parse_str(&d, "{\"a\\u0062\":1,\"\\u00e9t\\u00e9\":{\"\\\"q\\\"\":true},\"x\\/y\":2}"), 0);
	CHECK(jsr_member(&d, 0, "ab", 2) > 0);
	CHECK(jsr_member(&d, 0, "a", 1) < 0);
	CHECK(jsr_member(&d, 0, "abc", 3) < 0);
	CHECK(jsr_member(&d, 0, "x/y", 3) > 0);
	CHECK(jsr_is_bool(&d, jsr_find(&d, 0, "\xC3\xA9t\xC3\xA9.\"q\"")));
	CHECK(jsr_string_eq(&d, 1, "ab", 2));
	CHECK(!jsr_string_eq(&d, 1, "ab\0", 3));
	CHECK(!jsr_string_eq(&d, 1, "a", 1));
	jsr_free(&d);
}

TEST(doc_is_reused)
{
	jsr_doc		d;
	uint32_t	cap;

	jsr_init(&d);
	CHECK_INT(jsr_parse(&d, real_record, strlen(real_record)), 0);
	cap = d.cap;
	CHECK(d.ntok > 50);
	CHECK_INT(parse_str(&d, "{\"exe\":\"x\"}"), 0);
	CHECK_INT(d.ntok, 3);
	CHECK_INT(d.cap, cap);		/* kept, not reallocated */
	CHECK_PATH_STR(&d, "exe", "x");
	CHECK_INT(jsr_find(&d, 0, "pid"), -1);
	CHECK_INT(parse_str(&d, "{"), JSR_E_END);
	CHECK_INT(parse_str(&d, "[true]"), 0);
	CHECK_INT(d.ntok, 2);
	jsr_free(&d);
	jsr_free(&d);				/* twice is harmless */
}

/* ---------------------------------------------- differential, with Python */

static uint32_t rng = 2463534242u;

static uint32_t
next_random(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

/* Our reading of a valid document, written back as JSON. */
static void
dump(const jsr_doc *d, int t, pqtls_buf *b)
{
	switch (jsr_type_of(d, t))
	{
		case JSR_OBJECT:
		case JSR_ARRAY:
			{
				bool		obj = jsr_is_object(d, t);
				const char *sep = "";

				buf_putc(b, obj ? '{' : '[');
				for (int k = jsr_first(d, t); k >= 0; k = jsr_next(d, t, k))
				{
					buf_puts(b, sep);
					dump(d, k, b);
					if (obj)
					{
						buf_putc(b, ':');
						dump(d, k + 1, b);
					}
					sep = ",";
				}
				buf_putc(b, obj ? '}' : ']');
				break;
			}
		case JSR_STRING:
			{
				size_t		n = jsr_string_len(d, t);
				char	   *s = malloc(n + 1);

				jsr_string(d, t, s, n + 1);
				json_escape(b, s, n);
				free(s);
				break;
			}
		default:
			{
				size_t		n;
				const char *raw = jsr_raw(d, t, &n);

				buf_append(b, raw, n);
			}
	}
}

static const char python_differential[] =
	"import json, sys\n"
	"def no_constant(c): raise ValueError(c)\n"
	"def load(text):\n"
	"    # Objects as lists of pairs: duplicate keys are all kept and compared.\n"
	"    return json.loads(text, parse_constant=no_constant,\n"
	"                      object_pairs_hook=lambda pairs: ('object', pairs))\n"
	"def check_strings(v):\n"
	"    # Lone surrogates, which Python accepts and we refuse, fail to encode.\n"
	"    if isinstance(v, str): v.encode('utf-8')\n"
	"    elif isinstance(v, tuple): [check_strings(k) or check_strings(x) for k, x in v[1]]\n"
	"    elif isinstance(v, list): [check_strings(x) for x in v]\n"
	"bad = 0\n"
	"for line in open(sys.argv[1], 'rb'):\n"
	"    h, ours, back = line.rstrip(b'\\n').split(b'\\t', 2)\n"
	"    raw = bytes.fromhex(h.decode())\n"
	"    try:\n"
	"        theirs = load(raw.decode('utf-8'))\n"
	"        check_strings(theirs)\n"
	"        valid = True\n"
	"    except (ValueError, UnicodeError, RecursionError):\n"
	"        valid = False\n"
	"    ok = valid == (ours == b'1')\n"
	"    if ok and valid:\n"
	"        ok = load(back.decode('utf-8')) == theirs\n"
	"    if not ok:\n"
	"        bad += 1\n"
	"        if bad <= 5: print('mismatch:', raw, ours, back, file=sys.stderr)\n"
	"sys.exit(min(bad, 100))\n";

static void
write_differential(FILE *f, jsr_doc *d, const unsigned char *s, size_t n)
{
	pqtls_buf	b;
	char	   *copy;
	int			rc = parse_exact(d, (const char *) s, n, &copy);

	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", s[i]);
	fprintf(f, "\t%d\t", rc == 0);
	buf_init(&b);
	if (rc == 0)
		dump(d, 0, &b);
	if (b.len)
		fwrite(b.data, 1, b.len, f);
	fputc('\n', f);
	buf_free(&b);
	free(copy);
}

TEST(differential_against_python)
{
	static const char *const seeds[] = {
		real_record,
		"{\"a\":[1,-2.5e3,true,false,null,{\"b\":\"c\\u00e9\\ud83d\\ude00\\n\"}],\"\":{}}",
		"[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\\u001f\\u007f\",0,-0,1E+2,[[[]]]]",
		"{\"s\":\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\",\"n\":12345678901234567890}",
		" { \"k\" : [ 1 , 2 ] , \"m\" : \"\\uD800\\uDC00\" } ",
	};
	static const unsigned char alphabet[] = {
		'"', '\\', 'u', 'd', '8', '3', 'D', 'c', 'e', '0', '1', '{', '}', '[', ']', ':', ',',
		' ', '\n', '-', '+', '.', 'E', 'n', 't', 'f', 'a', 0x00, 0x01, 0x1f, 0x7f, 0x80, 0xbf,
		0xc3, 0xa9, 0xe2, 0xed, 0xa0, 0xf0, 0x9f, 0xf4, 0xff,
	};
	char		path[] = "/tmp/pqtls-jsonread-XXXXXX";
	char		cmd[256];
	int			fd = mkstemp(path);
	FILE	   *f;
	jsr_doc		d;
	unsigned char buf[4096];
	int			status;

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	f = fdopen(fd, "w");
	jsr_init(&d);
	for (int i = 0; i < 30000; i++)
	{
		const char *seed = seeds[next_random() % (sizeof(seeds) / sizeof(seeds[0]))];
		size_t		n = strlen(seed);
		int			edits = 1 + (int) (next_random() % 3);

		memcpy(buf, seed, n);
		for (int e = 0; e < edits && n > 0; e++)
		{
			size_t		at = next_random() % n;
			unsigned char c = alphabet[next_random() % sizeof(alphabet)];

			switch (next_random() % 4)
			{
				case 0:			/* replace */
					buf[at] = c;
					break;
				case 1:			/* insert */
					if (n < sizeof(buf) - 1)
					{
						memmove(buf + at + 1, buf + at, n - at);
						buf[at] = c;
						n++;
					}
					break;
				case 2:			/* delete */
					memmove(buf + at, buf + at + 1, n - at - 1);
					n--;
					break;
				case 3:			/* cut */
					n = at;
					break;
			}
		}
		write_differential(f, &d, buf, n);
	}
	/* The seeds themselves, unmutated. */
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		write_differential(f, &d, (const unsigned char *) seeds[i], strlen(seeds[i]));
	jsr_free(&d);
	fclose(f);

	if (access("/usr/bin/python3", X_OK) != 0)
	{
		printf("note: no /usr/bin/python3, differential check skipped\n");
		unlink(path);
		return;
	}
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c \"$PQTLS_PYCHECK\" %s", path);
	setenv("PQTLS_PYCHECK", python_differential, 1);
	status = system(cmd);
	unsetenv("PQTLS_PYCHECK");
	unlink(path);
	CHECK(status != -1);
	CHECK_INT(WEXITSTATUS(status), 0);
}
