"""Hostile input: whatever a program passes to libpq, pqtls's records stay one valid
JSON object per line (the harness parses every line and fails on anything else), say
what libpq used, leak no password, and the program's result is exactly what it is
without pqtls.

Most cases run in batches through build/tests/pqbatch (many calls in one process, the
arguments read from a file, so that a megabyte and bytes argv cannot carry get
through); every batch is run without and with pqtls and the outputs compared. The
counts of what was tried are in HOSTILE_TRIED (filled in as the tests run) and printed
by the last test.

NULL and empty arguments to every entry point: build/tests/nullargs, compared line for
line with and without pqtls.
"""

import os
import random
import re
import urllib.parse

import pytest

from harness import (HELPERS_DIR, LIB_PATH, find_secrets, run_plain, run_preloaded,
                     sanitizer_runtimes)
from pgserver import SECRETS, free_port

PQBATCH = os.path.join(HELPERS_DIR, "pqbatch")
PQCALL = os.path.join(HELPERS_DIR, "pqcall")
NULLARGS = os.path.join(HELPERS_DIR, "nullargs")

PASSWORD = SECRETS[0]
MB = 1024 * 1024

_RUNS = []
HOSTILE_TRIED = {}


def tried(kind, n):
    HOSTILE_TRIED[kind] = HOSTILE_TRIED.get(kind, 0) + n


# ---------------------------------------------------------------- hostile values

def b(s):
    return s.encode("utf-8") if isinstance(s, str) else s


# Values as bytes: quotes, backslashes, line breaks, control characters, invalid and
# unusual UTF-8, syntax of the connection string itself, format strings, and size.
VALUES = [b(x) for x in [
    "plain", "it's", "'", "''", "\\", "a\\\\b", "a\\'b", "trailing\\", 'dq"x"', "\"", "{}",
    '{"json":1}', "new\nline", "\n", "cr\rlf\r\n", "tab\tx", "sp ace", " lead", "trail ",
    "".join(chr(c) for c in range(1, 32)) + "\x7f", "esc\x1b[31mred",
    "ünïcødé ✓ 𝄞", "\u2028\u2029\ufeff", "\u200b", "=", "a=b c=d", "host=evil port=1",
    "%s%n%x%p", "$(id)`id`", "?&#/@:", "%00%zz%", "..", "-c x", "*", "**",
    b"\xff\xfe", b"bad \xc3\x28 seq", b"overlong \xc0\xaf", b"surrogate \xed\xa0\x80",
    b"big \xf4\x90\x80\x80", b"cut \xe2\x82", b"\x80", b"latin1 \xe9t\xe9",
    "x" * 4000,
]]

# The fields a program may fill, with what the record shows of them (None: not
# recorded, only the JSON must hold; hostaddr is recorded as the address libpq
# connected to, which need not be the text given: glibc takes "*" for one).
FIELDS = {
    "host": "host", "hostaddr": None, "port": "port", "dbname": "dbname",
    "user": "user", "application_name": "application_name", "options": None,
    "sslrootcert": "sslrootcert", "sslmode": None, "sslcert": None, "sslkey": None,
    "passfile": None, "target_session_attrs": None, "connect_timeout": None,
    "fallback_application_name": None, "service": None, "password": None,
}


def kv_quote(v):
    """libpq key=value quoting (bytes)."""
    return b"'" + v.replace(b"\\", b"\\\\").replace(b"'", b"\\'") + b"'"


def readable(v):
    """What a JSON record can say of a value: the same text, with U+FFFD for what is
    not UTF-8 (None when the value is empty: libpq ignores it)."""
    return v.decode("utf-8", "replace") if v else None


def base_params(dead_port, over=None):
    """A connection that fails fast: a port nothing listens on, an address that needs no
    name resolution, and a password that must never show."""
    p = {b"host": b"127.0.0.1", b"port": str(dead_port).encode(), b"dbname": b"db",
         b"user": b"u", b"password": b(PASSWORD), b"connect_timeout": b"5"}
    for k, v in (over or {}).items():
        p[b(k)] = v
    return p


def hostile_value_for(field, v):
    """Keep the call fast: a host is made a socket directory (no DNS lookup of junk
    names); everything else as it is."""
    if field == "host" and v and b"," not in v:
        return b"/nonexistent-pqtls/" + v
    return v


# ---------------------------------------------------------------- running batches

def write_items(path, items):
    with open(path, "wb") as f:
        for it in items:
            assert b"\0" not in it
            f.write(it + b"\0")


def batch(api, items, home, tmp, mode="observe", env=None, expand=False, name="batch",
          plain_env=None):
    """Run pqbatch over items without and with pqtls; compare; return the traced run."""
    path = os.path.join(tmp, name + ".bin")
    write_items(path, items)
    argv = [PQBATCH, api] + (["--expand"] if expand else []) + [path]
    env = dict(env or {})
    plain = run_plain(argv, home=home, timeout=120,
                      env_extra=plain_env if plain_env is not None else
                      {k: v for k, v in env.items() if not k.startswith("PQTLS_")})
    r = run_preloaded(argv, mode=mode, env_extra=env, home=home, timeout=120)
    _RUNS.append(r)
    assert r.returncode == plain.returncode == 0, r.describe()[:5000]
    assert r.stdout == plain.stdout, "outputs differ (%s):\n%s\n---- plain ----\n%s" % (
        name, r.stdout[:3000], plain.stdout[:3000])
    assert program_stderr(r.stderr) == plain.stderr, r.stderr[:3000]
    lines = [line for line in r.stdout.split("\n") if line.startswith("#")]
    assert len(r.records) == len(lines), "%d calls, %d records\n%s" % (
        len(lines), len(r.records), r.describe()[:5000])
    for line, rec in zip(lines, r.records):
        assert rec["api"] == api
        if "status=ok" in line:
            assert rec["outcome"] == "ok", (line, rec)
        elif "status=bad" in line:
            assert rec["outcome"] == "failed", (line, rec)
    r.lines = lines
    r.plain = plain
    return r


def pqtls_lines(stderr):
    return [line for line in stderr.split("\n") if line.startswith("pqtls: ")]


def program_stderr(stderr):
    return "\n".join(line for line in stderr.split("\n") if not line.startswith("pqtls: "))


_SANITIZER_CRASH = re.compile(r"AddressSanitizer:DEADLYSIGNAL\n=+\n==\d+==ERROR: .*?==\d+==ABORTING\n",
                              re.S)


def sanitizer_crashes(stderr):
    """stderr without the sanitizer's crash reports, and each report's SUMMARY line.
    Under `make asan` a child that libpq itself crashes (NULL arguments) dies through
    ASan's SEGV handler, whose report names the process id and every frame, pqtls's
    hook among them when preloaded: the two runs' stderr cannot be equal, but where
    each crash happened (the SUMMARY line: function and libpq offset) must be."""
    summaries = [re.search(r"SUMMARY: .*", m.group(0)).group(0)
                 for m in _SANITIZER_CRASH.finditer(stderr)]
    return _SANITIZER_CRASH.sub("", stderr), summaries


def params_items(params):
    return [k + b"=" + v for k, v in params.items()] + [b""]


# ---------------------------------------------------------------- every field, every form

@pytest.mark.parametrize("form", ["kv", "params", "params-expand", "setdb", "uri"])
def test_every_field_every_value(pg, home, lib, tmpdir_path, form):
    """Each hostile value in each field, in each form of call: records valid, fields as
    libpq used them, program unaffected."""
    port = free_port()
    calls = []      # (field, value)
    items = []
    api = {"kv": "PQconnectdb", "params": "PQconnectdbParams",
           "params-expand": "PQconnectStartParams", "setdb": "PQsetdbLogin",
           "uri": "PQconnectdb"}[form]
    if form == "setdb":
        # host, port, options, tty, dbname, user, password
        slots = {"host": 0, "port": 1, "options": 2, "tty": 3, "dbname": 4, "user": 5,
                 "password": 6}
        for field, i in slots.items():
            for v in VALUES:
                args = [b"127.0.0.1", str(port).encode(), b"\x01", b"\x01", b"db", b"u",
                        b(PASSWORD)]
                args[i] = hostile_value_for(field, v) if v else v
                if field == "password" and v == b"*":
                    args[5] = b"u*"
                items += args
                calls.append((field, args[i]))
    elif form == "uri":
        for field in FIELDS:
            for v in VALUES:
                hv = hostile_value_for(field, v)
                q = urllib.parse.quote_from_bytes(hv, safe=b"")
                if field == "host":
                    uri = "postgresql://u:%s@%s:%d/db" % (PASSWORD, q, port)
                elif field == "port":
                    uri = "postgresql://u:%s@127.0.0.1:%s/db" % (PASSWORD, q)
                elif field == "dbname":
                    uri = "postgresql://u:%s@127.0.0.1:%d/%s" % (PASSWORD, port, q)
                elif field == "user":
                    uri = "postgresql://%s:%s@127.0.0.1:%d/db" % (q, PASSWORD, port)
                elif field == "password":
                    uri = "postgresql://u*:%s@127.0.0.1:%d/db" % (q, port)
                else:
                    uri = "postgresql://u:%s@127.0.0.1:%d/db?%s=%s" % (PASSWORD, port,
                                                                      field, q)
                items.append(uri.encode())
                calls.append((field, hv))
    else:
        for field in FIELDS:
            for v in VALUES:
                hv = hostile_value_for(field, v)
                over = {field: hv}
                if field == "password" and v == b"*":
                    over["user"] = b"u*"
                p = base_params(port, over)
                if form == "kv":
                    items.append(b" ".join(k + b"=" + kv_quote(x) for k, x in p.items()))
                elif form == "params":
                    items += params_items(p)
                else:
                    # the whole thing as a connection string in dbname, expanded (it
                    # overrides what comes before it)
                    inner = b" ".join(k + b"=" + kv_quote(x) for k, x in p.items())
                    items += [b"application_name=outer", b"dbname=" + inner, b""]
                calls.append((field, hv))
    r = batch(api, items, home, tmpdir_path, expand=form == "params-expand", name=form)
    tried("field x value (%s)" % form, len(calls))
    assert len(r.records) == len(calls)
    compared = 0
    for (field, v), rec, line in zip(calls, r.records, r.lines):
        key = FIELDS.get(field)
        if form == "uri" and "percent-encoded" in (rec.get("error") or ""):
            continue
        if key is None or not v or "invalid connection option" in line:
            continue
        if field in ("port", "hostaddr", "host") and (b"," in v or b" " in v):
            continue        # a list of them
        if field == "port" and not v.strip().isdigit():
            continue
        if form == "setdb" and field == "dbname" and (b"=" in v or v.startswith(b"postgres")):
            continue        # PQsetdbLogin expands a connection string in dbName
        want = readable(v)
        assert rec[key] == want, "field %s value %r: record says %r\n%s" % (
            field, v, rec[key], line)
        compared += 1
    print("%s: %d calls, %d recorded fields compared" % (form, len(calls), compared))
    assert compared >= (2 if form == "setdb" else 4) * len(VALUES), compared


def test_fields_round_trip_through_a_real_server(pg, home, lib, tmpdir_path):
    """Successful connections with hostile application_name values: the record holds
    exactly what libpq sent (a newline round-trips through JSON)."""
    items, names = [], []
    for v in [b(x) for x in [
            "it's", "\\", 'dq"x"', "new\nline", "cr\rlf\r\n", "esc\x1b[31mred",
            "".join(chr(c) for c in range(1, 32)) + "\x7f", "ünïcødé ✓ 𝄞",
            "\u2028\u2029\ufeff", "%s%n%x%p", b"\xff\xfe", b"bad \xc3\x28 seq",
            b"surrogate \xed\xa0\x80"]]:
        p = {b"host": pg.host.encode(), b"port": str(pg.port).encode(),
             b"dbname": pg.dbname.encode(), b"user": pg.user.encode(),
             b"password": pg.password.encode(), b"application_name": v}
        items += params_items(p)
        names.append(v)
    # a password that is all '*' and a message that holds '*'
    items += params_items({b"host": pg.host.encode(), b"port": str(pg.port).encode(),
                           b"dbname": b"db*", b"user": b"nobody*", b"password": b"*"})
    r = batch("PQconnectdbParams", items, home, tmpdir_path, name="real")
    tried("real-server application_name", len(names) + 1)
    for v, rec in zip(names, r.records):
        assert rec["outcome"] == "ok", rec
        assert rec["application_name"] == readable(v), (v, rec["application_name"])
    assert r.records[-1]["outcome"] == "failed"
    assert "nobody*" in r.records[-1]["error"]


# ---------------------------------------------------------------- size

def test_one_megabyte(pg, home, lib, tmpdir_path):
    """A megabyte in each field, a megabyte of garbage, a megabyte URI, a thousand
    hosts: same results, whole records."""
    port = free_port()
    big = b"A" * MB
    items, arrays = [], []
    for field in ("dbname", "user", "application_name", "options", "sslrootcert",
                  "host", "password", "service"):
        hv = b"/" + big if field == "host" else big
        p = base_params(port, {field: hv})
        items.append(b" ".join(k + b"=" + kv_quote(x) for k, x in p.items()))
        arrays += params_items(p)
    rnd = random.Random(1)
    alphabet = b" ='\\\n\tabc=\xff\x01\"%@:/?&"
    junk = bytes(alphabet[x % len(alphabet)] for x in rnd.randbytes(MB))
    items.append(junk)
    # a one-letter password and a megabyte message full of it (libpq quotes the whole
    # host name): scrubbing must stay linear
    items.append(b"host=" + b"a" * MB + b" password=a")
    items.append(b"host=" + b"*" * MB + b" password=*")
    items.append(b"postgresql://u:" + b(PASSWORD) + b"@127.0.0.1:%d/" % port + b"%41" * (MB // 3))
    items.append(b"postgresql://[::1/" + b"x" * MB + b"?password=" + b(PASSWORD))
    hosts = b",".join([b"127.0.0.1"] * 1000)
    items.append(b"host=" + hosts + b" port=%d password=" % port + b(PASSWORD))
    # Under `make asan` the sanitizer's strstr() wrapper measures the whole haystack at
    # every call, which makes any loop of strstr() over a long text quadratic (the
    # scrubbing of a one-letter password in a megabyte message: > 100 s, against 0.2 s
    # with glibc's own two-way strstr). The time bound below is about pqtls, so that
    # wrapper is switched off for these runs (glibc's strstr is still checked by the
    # bounds of what it returns).
    linear = {"ASAN_OPTIONS": "detect_leaks=0:intercept_strstr=0"} \
        if sanitizer_runtimes(LIB_PATH) else {}
    r = batch("PQconnectdb", items, home, tmpdir_path, name="mb-kv", env=linear)
    r2 = batch("PQconnectdbParams", arrays, home, tmpdir_path, name="mb-params", env=linear)
    tried("1 MB inputs", len(items) + len(arrays) // 8)
    assert r.duration < r.plain.duration + 3, (r.duration, r.plain.duration)
    assert r2.duration < r2.plain.duration + 3, (r2.duration, r2.plain.duration)
    assert r.records[0]["dbname"] == big.decode()
    assert r2.records[1]["user"] == big.decode()
    assert len(r.records[-1]["hosts"]) == 1000
    # a megabyte on a real connection: the server refuses the startup packet
    p = {b"host": pg.host.encode(), b"port": str(pg.port).encode(), b"dbname": pg.dbname.encode(),
         b"user": pg.user.encode(), b"password": pg.password.encode(),
         b"application_name": b"B" * 20000}
    batch("PQconnectdbParams", params_items(p), home, tmpdir_path, name="mb-real")


# ---------------------------------------------------------------- malformed strings

MALFORMED = [b(x) for x in [
    "", " ", "=", "==", "'", "''", "\\", "host", "host=", "host='", "host='x", "host=x'",
    "host=\\", "host='\\'", "=x", "x==y", "host==x", "'host'=x", "host=a=b", "host x",
    "host=127.0.0.1 nosuch=1", "host=127.0.0.1 port", "dbname=\n", "\n\n\n", "\t=\t",
    "host=127.0.0.1 password=" + PASSWORD + " junk",
    "host=127.0.0.1 password='" + PASSWORD,
    "host=127.0.0.1 password=" + PASSWORD + " 'unterminated",
    "password=" + PASSWORD + " sslmode=nonsense",
    "password=" + PASSWORD + " port=notaport",
    "password=" + PASSWORD + " port=99999999999",
    "password=" + PASSWORD + " connect_timeout=abc",
    "password=" + PASSWORD + " target_session_attrs=bogus",
    "password=" + PASSWORD + " host=a,b,c port=1,2",
    "password=" + PASSWORD + " host=,,, port=,,,",
    "password=" + PASSWORD + " hostaddr=999.1.1.1",
    "password=" + PASSWORD + " hostaddr=::zz",
    "password=" + PASSWORD + " requiressl=yes",
    "password=" + PASSWORD + " service=no-such-service-pqtls",
    "postgresql://", "postgres://", "postgresql:///", "postgresql://@", "postgresql://:@",
    "postgresql://[", "postgresql://[]", "postgresql://[::1", "postgresql://h:/",
    "postgresql://h:port/db", "postgresql://h/db?", "postgresql://h/db?=", "postgresql://h/db?a",
    "postgresql://h/db?a=b=c", "postgresql://h/db?nosuch=1", "postgresql://h/db?%zz=1",
    "postgresql://h/db?application_name=%", "postgresql://h/db?application_name=%4",
    "postgresql://h/db?application_name=%00", "postgresql://h/db?application_name=%ff%fe",
    "postgresql://h/%00", "postgresql://%00@h/db", "postgresql://u:%00@h/db",
    "postgresql://u:" + PASSWORD + "@[::1",
    "postgresql://u:" + PASSWORD + "@[]/db",
    "postgresql://u:" + PASSWORD + "@h:x/db",
    "postgresql://u:" + PASSWORD + "%zz@h/db",
    "postgresql://u:" + PASSWORD + "@h/db?password=" + PASSWORD + "%zz",
    "postgresql://u:" + PASSWORD + "@h/db?pass%77ord=" + PASSWORD + "%zz",
    "postgresql://[::1/db?password=" + PASSWORD,
    "postgresql://[::1/db?p%61ssword=" + PASSWORD,
    "postgresql://u:" + PASSWORD + "@[::1/db?" + "&".join(
        "password=%d" % i for i in range(20)),
    "postgresql://h/db?" + "&".join("password=%d" % i for i in range(20)) +
    "&password=" + PASSWORD + "%zz",
    "postgresql://u:*@[::1", "postgresql://u:**@[::1", "postgresql://u:***@[::1/db?x=*",
    "postgresql://u:%2A@[::1",
    b"host=\xff\xfe password=" + b(PASSWORD) + b" \xc3",
    b"\xff=\xfe", b"postgresql://\xff:\xfe@[::1",
]]


def random_strings(n, seed):
    """Connection strings assembled from the pieces libpq's parser cares about (no
    passwords: a random quote can move one out of the password position)."""
    rnd = random.Random(seed)
    pieces = [b" ", b"=", b"'", b"\\", b"\n", b"\t", b"host", b"dbname", b"port",
              b"user", b"application_name", b"sslmode", b"options", b"x", b"1", b"''",
              b"\xff", b"\xc3", b"\x01", b"\x7f", b"\xe2\x82\xac", b"postgresql://", b"@",
              b":", b"/", b"?", b"&", b"%", b"%41", b"%zz", b"[", b"]", b",", b"::1",
              b"127.0.0.1", b"service", b"*", b'"']
    out = []
    for _ in range(n):
        s = b"".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 24)))
        out.append(s)
    return out


@pytest.mark.parametrize("api", ["PQconnectdb", "PQping", "PQconnectStart"])
def test_malformed_strings(pg, home, lib, tmpdir_path, api):
    """Malformed key=value strings and URIs, by hand and at random, with libpq's defaults
    pointed at a dead port (PGPORT) so that whatever parses fails fast."""
    env = {"PGHOST": "127.0.0.1", "PGPORT": str(free_port()), "PGCONNECT_TIMEOUT": "5"}
    items = MALFORMED + random_strings(300 if api == "PQconnectdb" else 100,
                                       seed=hash(api) & 0xffff)
    batch(api, items, home, tmpdir_path, env=env, name="malformed-" + api)
    tried("malformed/random strings (%s)" % api, len(items))


def test_malformed_in_dry_run(pg, home, lib, tmpdir_path):
    """The same strings in dry-run: the rehearsal reads what libpq made of them."""
    env = {"PGHOST": "127.0.0.1", "PGPORT": str(free_port()), "PQTLS_BUNDLE": pg.ca_file,
           "PQTLS_PROBE_TIMEOUT_MS": "500"}
    items = MALFORMED + random_strings(100, seed=7)
    batch("PQconnectdb", items, home, tmpdir_path, env=env, mode="dry-run", name="dry")
    tried("malformed/random strings (dry-run)", len(items))


def test_keyword_arrays_malformed(pg, home, lib, tmpdir_path):
    """Keyword arrays with unknown, empty, repeated, hostile keywords and NULL values."""
    port = str(free_port()).encode()
    lists = [
        [b"nosuch=1"], [b"=x"], [b"="], [b"host"], [b"host=127.0.0.1", b"host=127.0.0.2"],
        [b"dbname=host=x port=" + port, b"port=" + port],
        [b"dbname=postgresql://u:" + b(PASSWORD) + b"@[::1"],
        [b"dbname=postgresql://u:*@[::1"],
        [b"dbname=host=127.0.0.1 password='" + b(PASSWORD)],
        [b"password=" + b(PASSWORD), b"dbname=postgresql://[::1"],
        [b"\xff=\xfe"], [b"host\n=x"], [b"port=" + port, b"sslmode=\n"],
        [b"port=" + port, b"host=127.0.0.1", b"dbname"],
        [b"port=" + port] + [b"application_name=%d" % i for i in range(500)],
        [b"port=" + port] + [b"password=%d" % i for i in range(50)],
    ]
    for expand in (False, True):
        items = []
        for lst in lists:
            # without expand_dbname a connection string in dbname is a database name,
            # shown as it is: no password of the suite goes there
            if expand or not any(x.startswith(b"dbname=") and b(PASSWORD) in x for x in lst):
                items += lst + [b""]
        batch("PQconnectdbParams", items, home, tmpdir_path, expand=expand,
              env={"PGHOST": "127.0.0.1", "PGPORT": port.decode()},
              name="arrays-%d" % expand)
        batch("PQpingParams", items, home, tmpdir_path, expand=expand,
              env={"PGHOST": "127.0.0.1", "PGPORT": port.decode()},
              name="ping-arrays-%d" % expand)
    tried("malformed keyword arrays", 4 * len(lists))


# ---------------------------------------------------------------- the environment

ENV_CASES = [
    {"PGAPPNAME": "env\nappname\x01\x7f"}, {"PGAPPNAME": "x" * 100000},
    {"PGHOST": "/nonexistent-pqtls/\n'\\"}, {"PGHOSTADDR": "not an address"},
    {"PGPORT": "12\n34"}, {"PGDATABASE": "db\"\\\n"}, {"PGUSER": "\xe9\x01"},
    {"PGOPTIONS": "-c '\n"}, {"PGSSLMODE": "verify-\n"}, {"PGSSLROOTCERT": "/no\nsuch\\'"},
    {"PGSERVICE": "no-such\n"}, {"PGSERVICEFILE": "/dev/null", "PGSERVICE": "x"},
    {"PGPASSWORD": PASSWORD, "PGAPPNAME": "\\'\n"}, {"PGCONNECT_TIMEOUT": "abc"},
    {"PGTARGETSESSIONATTRS": "\n"}, {"PGREQUIRESSL": "\x01"},
]


def test_hostile_environment(pg, home, lib, tmpdir_path):
    """libpq's PG* variables with hostile values (the program gives an empty string)."""
    port = str(free_port())
    for i, env in enumerate(ENV_CASES):
        e = {"PGHOST": "127.0.0.1", "PGPORT": port}
        e.update(env)
        batch("PQconnectdb", [b"", b"password=" + b(PASSWORD)], home, tmpdir_path, env=e,
              name="env-%d" % i)
    tried("hostile PG* environment", len(ENV_CASES))


SERVICE_FILES = [
    b"", b"[x]\n", b"[x\nhost=1\n", b"[x]\nnoequals\n", b"[x]\nnosuch=1\n",
    b"[x]\nhost=" + b"h" * MB + b"\n", b"[x]\n" + b"a" * (MB + 7),
    b"[x]\nsslmode=verify-full\nsslrootcert=/no\\such\n", b"[x]\nsslmode=\xff\n",
    b"\xff\xfe\x00\x01[x]\nhost=\x00\n", b"[x]\n[x]\n[x]\nport=1\n",
    b"[x]\nservice=x\n", b"[x]\npassword=" + b(PASSWORD) + b"\nhost=/no-such-dir\n",
]


def test_hostile_service_file(pg, home, lib, tmpdir_path):
    """Service files pqtls reads as libpq does: garbage, a megabyte line, NUL bytes."""
    for i, content in enumerate(SERVICE_FILES):
        path = os.path.join(tmpdir_path, "svc-%d.conf" % i)
        with open(path, "wb") as f:
            f.write(content)
        env = {"PGSERVICEFILE": path, "PGHOST": "127.0.0.1", "PGPORT": str(free_port())}
        batch("PQconnectdb", [b"service=x", b"service=x sslmode=require"], home, tmpdir_path,
              env=env, name="svc-%d" % i)
    tried("hostile service files", len(SERVICE_FILES))


# ---------------------------------------------------------------- NULL and empty

def _nullargs_env(port, extra=None):
    env = {"PGHOST": "127.0.0.1", "PGPORT": str(port), "PGUSER": "u", "PGDATABASE": "db",
           "PGPASSWORD": PASSWORD}
    env.update(extra or {})
    return env


@pytest.mark.parametrize("mode", ["observe", "dry-run"])
def test_null_and_empty_arguments(pg, home, lib, mode):
    """Every entry point with NULL and empty arguments, each in a child: what each
    returns (or the signal libpq itself dies of) is the same with and without pqtls."""
    env = _nullargs_env(free_port(), {"PQTLS_BUNDLE": pg.ca_file} if mode == "dry-run"
                        else None)
    plain = run_plain([NULLARGS], env_extra={k: v for k, v in env.items()
                                             if not k.startswith("PQTLS")}, home=home)
    r = run_preloaded([NULLARGS], mode=mode, env_extra=env, home=home)
    _RUNS.append(r)
    assert r.returncode == plain.returncode == 0, r.describe()
    assert r.stdout == plain.stdout, "%s\n---- plain ----\n%s" % (r.describe(), plain.stdout)
    stderr, crashes = sanitizer_crashes(r.stderr)
    plain_stderr, plain_crashes = sanitizer_crashes(plain.stderr)
    assert crashes == plain_crashes, r.describe()
    assert not [c for c in crashes if "libpqtls" in c or "src/lib/" in c], r.describe()
    assert pqtls_lines(stderr) == [] and stderr == plain_stderr, r.describe()
    lines = plain.stdout.splitlines()
    assert len(lines) >= 28, plain.stdout
    # one record per attempt that reached libpq and came back
    want = sum(1 for line in lines if "->" in line and not line.startswith(
        ("PQconnectPoll(NULL)", "PQfinish(NULL)", "PQreset(NULL)", "PQresetStart(NULL)",
         "PQresetPoll")))
    want += 1       # reset-bad: PQconnectdb, PQreset and PQresetStart; one line less
    assert len(r.records) == want, r.describe()
    for rec in r.records:
        assert rec["outcome"] in ("failed", "abandoned")
    tried("NULL/empty argument cases", len(lines))


def test_null_and_empty_arguments_real_server(pg, home, lib):
    """The cases that fall back on the environment, pointed at the real server."""
    names = ["connectdb-empty", "params-empty", "params-blank", "setdblogin-null",
             "setdblogin-empty", "start-empty", "startparams-empty", "ping-empty",
             "pingparams-empty"]
    env = {"PGHOST": pg.host, "PGPORT": str(pg.port), "PGUSER": pg.user,
           "PGDATABASE": pg.dbname, "PGPASSWORD": pg.password}
    plain = run_plain([NULLARGS] + names, env_extra=env, home=home)
    r = run_preloaded([NULLARGS] + names, env_extra=env, home=home)
    _RUNS.append(r)
    assert r.stdout == plain.stdout and r.returncode == plain.returncode == 0, r.describe()
    assert r.stdout.count("CONNECTION_OK") == 7 and r.stdout.count("-> 0") == 2, r.stdout
    assert len(r.records) == len(names)
    assert all(x["outcome"] == "ok" for x in r.records), r.describe()
    assert all(x["user"] == pg.user and x["port"] == str(pg.port) for x in r.records)


# ---------------------------------------------------------------- secrets, last

def test_zz_no_secret_in_anything_this_module_ran():
    """Every run above: no password from SECRETS in a record or a pqtls message.
    (The program's own output may echo what it was given; pqtls's may not.)"""
    if not _RUNS:
        pytest.skip("no run to scan (run the whole file)")
    for r in _RUNS:
        for where, text in (("records", r.log_text),
                            ("pqtls messages", "\n".join(pqtls_lines(r.stderr)))):
            found = find_secrets(text)
            assert not found, "secret %r in %s of %r" % (found, where, r.argv)
    total = sum(HOSTILE_TRIED.values())
    print("\nhostile inputs tried: %d" % total)
    for k, v in sorted(HOSTILE_TRIED.items()):
        print("  %-45s %d" % (k, v))
