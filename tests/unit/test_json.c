/*
 * test_json.c: the buffer and the JSON writer.
 *
 * Fixed expectations for the escapes and for the replacement of bad UTF-8
 * (the examples of the Unicode standard, chapter 3, "U+FFFD substitution of
 * maximal subparts"), and a cross-check against an independent decoder:
 * Python's json.loads() of our output must equal Python's own
 * bytes.decode("utf-8", "replace"), which follows the same practice, for
 * every one- and two-byte input and many random longer ones.
 */
#include <limits.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "pqtls/json.h"

/* json_escape() of n bytes, as a malloc'ed string. */
static char *
escaped(const char *s, size_t n)
{
	pqtls_buf	b;

	buf_init(&b);
	json_escape(&b, s, n);
	if (b.oom)
	{
		buf_free(&b);
		return strdup("<oom>");
	}
	return b.data;
}

#define CHECK_ESC(in, want) \
	do { \
		char *got_ = escaped((in), sizeof(in) - 1); \
		CHECK_STR(got_, (want)); \
		free(got_); \
	} while (0)

TEST(buf_grows_and_terminates)
{
	pqtls_buf	b;
	char		big[5000];

	buf_init(&b);
	CHECK(b.data == NULL && b.len == 0 && !b.oom);
	buf_puts(&b, "abc");
	buf_putc(&b, '-');
	buf_append(&b, "xyz", 2);
	CHECK_STR(b.data, "abc-xy");
	CHECK_INT(b.len, 6);

	memset(big, 'q', sizeof(big));
	buf_append(&b, big, sizeof(big));
	CHECK_INT(b.len, 6 + sizeof(big));
	CHECK_INT(b.data[b.len], '\0');
	CHECK(b.cap > b.len);

	buf_reset(&b);
	CHECK_INT(b.len, 0);
	CHECK_STR(b.data, "");
	buf_free(&b);
	CHECK(b.data == NULL);
}

TEST(buf_printf_small_and_large)
{
	pqtls_buf	b;
	char		big[3000];

	buf_init(&b);
	buf_printf(&b, "%d-%s", 42, "x");
	CHECK_STR(b.data, "42-x");

	/* Larger than the room left: formats a second time into a bigger buffer. */
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_printf(&b, "[%s]", big);
	CHECK_INT(b.len, 4 + 2 + sizeof(big) - 1);
	CHECK(b.data[4] == '[' && b.data[b.len - 1] == ']' && b.data[b.len] == '\0');
	buf_printf(&b, "%s", "");
	CHECK_INT(b.len, 4 + 2 + sizeof(big) - 1);
	buf_free(&b);
}

TEST(buf_oom_is_sticky)
{
	pqtls_buf	b;

	buf_init(&b);
	buf_puts(&b, "keep");
	/* A size that cannot be allocated: takes the failure path without malloc. */
	buf_append(&b, "x", SIZE_MAX);
	CHECK(b.oom);
	CHECK_INT(b.len, 4);
	buf_puts(&b, "more");
	buf_putc(&b, 'c');
	buf_printf(&b, "%d", 7);
	CHECK_INT(b.len, 4);
	CHECK_STR(b.data, "keep");

	/* reset gives the next record a fresh chance */
	buf_reset(&b);
	buf_puts(&b, "ok");
	CHECK(!b.oom);
	CHECK_STR(b.data, "ok");
	buf_free(&b);
}

TEST(escape_specials)
{
	CHECK_ESC("", "\"\"");
	CHECK_ESC("plain / text", "\"plain / text\"");
	CHECK_ESC("q\"b\\", "\"q\\\"b\\\\\"");
	CHECK_ESC("\n\r\t\b\f", "\"\\n\\r\\t\\b\\f\"");
	CHECK_ESC("\x01\x1f\x7f\x0b", "\"\\u0001\\u001f\\u007f\\u000b\"");
	CHECK_ESC("a\0b", "\"a\\u0000b\"");
}

TEST(escape_every_control_character)
{
	for (int c = 0; c < 0x20; c++)
	{
		char		in[1] = {(char) c};
		char	   *got = escaped(in, 1);

		CHECK(got[0] == '"' && got[1] == '\\' && got[strlen(got) - 1] == '"');
		for (char *p = got; *p; p++)
			CHECK((unsigned char) *p >= 0x20);
		free(got);
	}
}

TEST(valid_utf8_passes_through)
{
	CHECK_ESC("\xC3\xA9t\xC3\xA9", "\"\xC3\xA9t\xC3\xA9\"");
	CHECK_ESC("\xE2\x82\xAC", "\"\xE2\x82\xAC\"");			/* U+20AC */
	CHECK_ESC("\xF0\x9D\x84\x9E", "\"\xF0\x9D\x84\x9E\"");	/* U+1D11E */
	CHECK_ESC("\xF4\x8F\xBF\xBF", "\"\xF4\x8F\xBF\xBF\"");	/* U+10FFFF */
	CHECK_ESC("\xEF\xBF\xBF", "\"\xEF\xBF\xBF\"");			/* U+FFFF */
	CHECK_ESC("\xEE\x80\x80", "\"\xEE\x80\x80\"");			/* U+E000 */
	CHECK_ESC("\xED\x9F\xBF", "\"\xED\x9F\xBF\"");			/* U+D7FF */
	CHECK_ESC("\xE2\x80\xA8", "\"\xE2\x80\xA8\"");			/* U+2028 is valid JSON */
}

#define R "\xEF\xBF\xBD"

TEST(invalid_utf8_replaced_by_maximal_subpart)
{
	/* The example of the Unicode standard, table 3-8. */
	CHECK_ESC("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64",
			  "\"a" R R R "b" R "c" R R "d\"");
	/* Overlongs: the lead byte alone is the maximal subpart. */
	CHECK_ESC("\xC0\x80", "\"" R R "\"");
	CHECK_ESC("\xC1\xBF", "\"" R R "\"");
	CHECK_ESC("\xE0\x80\xAF", "\"" R R R "\"");
	CHECK_ESC("\xF0\x8F\xBF\xBF", "\"" R R R R "\"");
	/* Surrogates. */
	CHECK_ESC("\xED\xA0\x80", "\"" R R R "\"");
	CHECK_ESC("\xED\xBF\xBF", "\"" R R R "\"");
	/* Beyond U+10FFFF and bytes that never occur. */
	CHECK_ESC("\xF4\x90\x80\x80", "\"" R R R R "\"");
	CHECK_ESC("\xF5\x80", "\"" R R "\"");
	CHECK_ESC("\xFE\xFF", "\"" R R "\"");
	/* Truncated sequences: one replacement for the whole valid prefix. */
	CHECK_ESC("\xE2\x82", "\"" R "\"");
	CHECK_ESC("\xE2\x82" "A", "\"" R "A\"");
	CHECK_ESC("\xF0\x9D\x84", "\"" R "\"");
	CHECK_ESC("\xF0\x9D\x84\"", "\"" R "\\\"\"");
	CHECK_ESC("\xC3", "\"" R "\"");
	CHECK_ESC("x\xC3\n", "\"x" R "\\n\"");
	/* A lone continuation byte. */
	CHECK_ESC("\x80", "\"" R "\"");
}

TEST(writer_nesting_and_commas)
{
	pqtls_buf	b;
	json_writer w;

	buf_init(&b);
	json_init(&w, &b);
	json_begin_object(&w);
	json_kv_string(&w, "a", "x");
	json_kv_int(&w, "n", -12);
	json_kv_bool(&w, "t", true);
	json_kv_string(&w, "nul", NULL);
	json_key(&w, "arr");
	json_begin_array(&w);
	json_int(&w, 1);
	json_string(&w, "two");
	json_begin_object(&w);
	json_end_object(&w);
	json_begin_array(&w);
	json_end_array(&w);
	json_null(&w);
	json_bool(&w, false);
	json_end_array(&w);
	json_key(&w, "obj");
	json_begin_object(&w);
	json_key(&w, "k\"ey");
	json_stringn(&w, "a\0b", 3);
	json_end_object(&w);
	json_end_object(&w);
	CHECK(!b.oom);
	CHECK_STR(b.data,
			  "{\"a\":\"x\",\"n\":-12,\"t\":true,\"nul\":null,"
			  "\"arr\":[1,\"two\",{},[],null,false],"
			  "\"obj\":{\"k\\\"ey\":\"a\\u0000b\"}}");
	CHECK_INT(w.depth, 0);
	buf_free(&b);
}

TEST(writer_integers)
{
	pqtls_buf	b;
	json_writer w;

	buf_init(&b);
	json_init(&w, &b);
	json_begin_array(&w);
	json_int(&w, 0);
	json_int(&w, -1);
	json_int(&w, 1234567890123LL);
	json_int(&w, LLONG_MAX);
	json_int(&w, LLONG_MIN);
	json_end_array(&w);
	CHECK_STR(b.data, "[0,-1,1234567890123,9223372036854775807,-9223372036854775808]");
	buf_free(&b);
}

TEST(writer_misuse_drops_the_record)
{
	pqtls_buf	b;
	json_writer w;

	/* Too deep. */
	buf_init(&b);
	json_init(&w, &b);
	for (int i = 0; i < JSON_MAX_DEPTH + 2; i++)
		json_begin_array(&w);
	CHECK(b.oom);
	buf_free(&b);

	/* The deepest allowed nesting works. */
	buf_init(&b);
	json_init(&w, &b);
	for (int i = 0; i < JSON_MAX_DEPTH - 1; i++)
		json_begin_array(&w);
	for (int i = 0; i < JSON_MAX_DEPTH - 1; i++)
		json_end_array(&w);
	CHECK(!b.oom);
	CHECK_INT(b.len, 2 * (JSON_MAX_DEPTH - 1));
	buf_free(&b);

	/* Closing what is not open. */
	buf_init(&b);
	json_init(&w, &b);
	json_begin_object(&w);
	json_end_object(&w);
	json_end_object(&w);
	CHECK(b.oom);
	buf_free(&b);

	/* A key without a value. */
	buf_init(&b);
	json_init(&w, &b);
	json_begin_object(&w);
	json_key(&w, "a");
	json_end_object(&w);
	CHECK(b.oom);
	buf_free(&b);
}

TEST(writer_after_oom_writes_nothing)
{
	pqtls_buf	b;
	json_writer w;
	size_t		len;

	buf_init(&b);
	json_init(&w, &b);
	json_begin_object(&w);
	json_kv_string(&w, "a", "b");
	len = b.len;
	buf_append(&b, "x", SIZE_MAX);
	CHECK(b.oom);
	json_kv_string(&w, "c", "d");
	json_kv_int(&w, "e", 1);
	json_end_object(&w);
	CHECK_INT(b.len, len);
	buf_free(&b);
}

/*
 * Write one line per input, "<hex of input>\t<our JSON string>", and have
 * Python check every line; returns the number of bad lines, or -1 if no
 * Python could be run.
 */
static const char python_check[] =
	"import json, sys\n"
	"bad = 0\n"
	"for line in open(sys.argv[1], 'rb'):\n"
	"    h, out = line.rstrip(b'\\n').split(b'\\t', 1)\n"
	"    try:\n"
	"        text = out.decode('utf-8')\n"
	"        ok = all(ord(c) >= 0x20 and c != '\\x7f' for c in text)\n"
	"        ok = ok and json.loads(text) == bytes.fromhex(h.decode()).decode('utf-8', 'replace')\n"
	"    except Exception:\n"
	"        ok = False\n"
	"    if not ok:\n"
	"        bad += 1\n"
	"        if bad <= 5: print('mismatch:', h.decode(), out, file=sys.stderr)\n"
	"sys.exit(min(bad, 100))\n";

static void
write_case(FILE *f, const unsigned char *s, size_t n)
{
	pqtls_buf	b;

	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", s[i]);
	fputc('\t', f);
	buf_init(&b);
	json_escape(&b, (const char *) s, n);
	fwrite(b.data, 1, b.len, f);
	fputc('\n', f);
	buf_free(&b);
}

TEST(cross_check_with_python)
{
	static const unsigned char alphabet[] = {
		0x00, 0x09, 0x1f, 0x20, 0x22, 0x41, 0x5c, 0x7f, 0x80, 0x8f, 0x90, 0x9f,
		0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef,
		0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff,
	};
	char		path[] = "/tmp/pqtls-json-XXXXXX";
	char		cmd[256];
	int			fd = mkstemp(path);
	FILE	   *f;
	uint32_t	seed = 12345;
	int			status;

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	f = fdopen(fd, "w");

	/* Every input of one and two bytes. */
	for (int a = 0; a < 256; a++)
	{
		unsigned char s[2] = {(unsigned char) a, 0};

		write_case(f, s, 1);
		for (int c = 0; c < 256; c++)
		{
			s[1] = (unsigned char) c;
			write_case(f, s, 2);
		}
	}
	/* Random longer ones, from bytes that sit on the edges of the UTF-8 ranges. */
	for (int i = 0; i < 40000; i++)
	{
		unsigned char s[10];
		size_t		n;

		seed = seed * 1103515245u + 12345u;
		n = 3 + (seed >> 16) % 8;
		for (size_t k = 0; k < n; k++)
		{
			seed = seed * 1103515245u + 12345u;
			s[k] = alphabet[(seed >> 16) % sizeof(alphabet)];
		}
		write_case(f, s, n);
	}
	fclose(f);

	if (access("/usr/bin/python3", X_OK) != 0)
	{
		printf("note: no /usr/bin/python3, cross-check skipped\n");
		unlink(path);
		return;
	}
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c \"$PQTLS_PYCHECK\" %s", path);
	setenv("PQTLS_PYCHECK", python_check, 1);
	status = system(cmd);
	unsetenv("PQTLS_PYCHECK");
	unlink(path);
	CHECK(status != -1);
	CHECK_INT(WEXITSTATUS(status), 0);
}
