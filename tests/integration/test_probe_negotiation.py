"""The side probe speaks the program's negotiation (src/common/probe.c): direct TLS with
ALPN `postgresql` and no SSLRequest for sslnegotiation=direct (libpq 17+), ALPN in every
handshake from 17, SNI as libpq sends it (sslsni, 14+; none from 13).

A relay in front of a real server of the libpq's own major reads how each connection
starts: an SSLRequest or a TLS ClientHello at once, and in the ClientHello the SNI and
ALPN offered. The program's own connection (the helper under pqtls, dry-run) is read and
then cut, so it fails before any certificate arrives; pqtls then judges by a side probe,
which the relay lets through to the server. The probe must start exactly as the program
did, and succeed (method probe, pass) where the server takes that negotiation.

These run for every version of $PQTLS_LIBPQ_VERSIONS (make test-matrix: all six).
"""

import socket
import struct
import threading

import pytest

from harness import run_preloaded

SSL_REQUEST = bytes([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])


def _recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("closed after %d of %d bytes" % (len(data), n))
        data += chunk
    return data


def parse_client_hello(record):
    """(sni or None, [alpn protocols] or None) of one TLS record holding a ClientHello."""
    assert record[0] == 0x16, record[:5]
    body = record[5:]
    assert body[0] == 1, "not a ClientHello"
    p = 4 + 2 + 32                                  # header, version, random
    p += 1 + body[p]                                # session id
    p += 2 + struct.unpack(">H", body[p:p + 2])[0]  # cipher suites
    p += 1 + body[p]                                # compression methods
    end = p + 2 + struct.unpack(">H", body[p:p + 2])[0]
    p += 2
    sni = alpn = None
    while p < end:
        kind, size = struct.unpack(">HH", body[p:p + 4])
        data = body[p + 4:p + 4 + size]
        p += 4 + size
        if kind == 0:                               # server_name: list, type 0, name
            sni = data[5:5 + struct.unpack(">H", data[3:5])[0]].decode()
        elif kind == 16:                            # ALPN: list of length-prefixed names
            alpn, q = [], 2
            while q < len(data):
                alpn.append(data[q + 1:q + 1 + data[q]].decode())
                q += 1 + data[q]
    return sni, alpn


class SniffingRelay:
    """127.0.0.1:port in front of `upstream`. Each connection's start is kept in
    `starts` as (negotiation, sni, alpn), negotiation "sslrequest" or "direct". The
    first connection is cut after its ClientHello (answering the SSLRequest with 'S'
    itself); later ones go through to the server, their bytes replayed."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.starts = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        n = 0
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            n += 1
            threading.Thread(target=self._serve, args=(client, n == 1), daemon=True).start()

    def _serve(self, client, cut):
        try:
            self._start(client, cut)
        except (OSError, EOFError, AssertionError) as e:
            self.starts.append(("error: %s" % e, None, None))
            client.close()

    def _start(self, client, cut):
        up = None if cut else socket.create_connection(self.upstream)
        first = _recv_exact(client, 5)
        if first == SSL_REQUEST[:5]:
            first += _recv_exact(client, 3)
            assert first == SSL_REQUEST, first
            negotiation = "sslrequest"
            if up is None:
                client.sendall(b"S")
            else:
                up.sendall(first)
                answer = _recv_exact(up, 1)
                client.sendall(answer)
                if answer != b"S":
                    self.starts.append((negotiation, None, None))
                    return self._pipe_both(client, up)
            header = _recv_exact(client, 5)
        else:
            negotiation, header = "direct", first
        record = header + _recv_exact(client, struct.unpack(">H", header[3:5])[0])
        self.starts.append((negotiation,) + parse_client_hello(record))
        if up is None:
            client.close()
            return
        up.sendall(record)
        self._pipe_both(client, up)

    def _pipe_both(self, a, b):
        for src, dst in ((a, b), (b, a)):
            threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.sock.close()


def _libpq_start(libpq, negotiation, host, sslsni="1"):
    """How libpq N starts TLS for these settings (fe-secure-openssl.c initialize_SSL,
    fe-connect.c PQconnectPoll): what the probe must match."""
    sni = host if libpq >= 14 and sslsni == "1" and not host.replace(".", "").isdigit() \
        else None
    return (negotiation, sni, ["postgresql"] if libpq >= 17 else None)


CASES = [
    # (sslnegotiation, host, sslsni)
    ("postgres", "localhost", "1"),
    ("postgres", "127.0.0.1", "1"),
    ("postgres", "localhost", "0"),
    ("direct", "localhost", "1"),
    ("direct", "localhost", "0"),
]


@pytest.mark.parametrize("negotiation,host,sslsni", CASES)
def test_probe_starts_as_the_program(libpq, libpqs, home, negotiation, host, sslsni):
    if negotiation == "direct" and libpq < 17:
        pytest.skip("sslnegotiation is a libpq 17 keyword")
    server = libpqs.server(libpq)
    relay = SniffingRelay(("127.0.0.1", server.port))
    try:
        kw = {"sslmode": "require", "host": host, "hostaddr": "127.0.0.1", "port": relay.port}
        if libpq >= 14:
            kw["sslsni"] = sslsni
        if libpq >= 17:
            kw["sslnegotiation"] = negotiation
        r = run_preloaded([libpqs.helper(libpq), "PQconnectdb", server.conninfo(**kw)],
                          home=home, mode="dry-run",
                          env_extra={"PQTLS_BUNDLE": server.ca_file, "PQTLS_CACHE_TTL": "0"})
    finally:
        relay.close()
    # the program's connection was cut before any certificate: it failed
    assert r.returncode == 1 and r.stdout.startswith("status=bad"), r.describe()
    want = _libpq_start(libpq, "direct" if negotiation == "direct" else "sslrequest", host,
                        sslsni)
    assert len(relay.starts) == 2, (relay.starts, r.describe())
    program, probe = relay.starts
    assert program == want, (program, want, r.describe())
    assert probe == program, (probe, program, r.describe())
    dr = r.record["dry_run"]
    # the server took the probe's negotiation and sent its chain. Host 127.0.0.1 is the
    # certificate's IP SAN, which libpq reads from 15 on (before: a mismatch)
    want = ("pass", "ok") if host != "127.0.0.1" or libpq >= 15 else \
        ("fail", "hostname-mismatch")
    assert (dr["result"], dr["reason"], dr["method"]) == want + ("probe",), r.describe()


class AlpnlessAdapter(SniffingRelay):
    """In front of a server that knows no ALPN (Debian's 15): a direct ClientHello goes
    to it after an SSLRequest of the adapter's own, so the TLS that comes back selects
    no ALPN. With cut_first, the first connection is cut after its ClientHello, as in
    SniffingRelay."""

    cut_first = True

    def _start(self, client, cut):
        header = _recv_exact(client, 5)
        assert header[0] == 0x16, header
        record = header + _recv_exact(client, struct.unpack(">H", header[3:5])[0])
        self.starts.append(("direct",) + parse_client_hello(record))
        if cut and self.cut_first:
            client.close()
            return
        up = socket.create_connection(self.upstream)
        up.sendall(SSL_REQUEST)
        assert _recv_exact(up, 1) == b"S"
        up.sendall(record)
        self._pipe_both(client, up)


@pytest.mark.parametrize("program_handshakes", [False, True])
def test_direct_needs_the_servers_alpn(libpq, libpqs, home, program_handshakes):
    """libpq 17+ refuses a direct TLS connection whose server selects no ALPN
    `postgresql` (open_client_SSL: "direct SSL connection was established without ALPN
    protocol negotiation extension"), whatever the certificate. The verdict says so,
    never a pass on the certificate alone: from the probe when the program's own
    connection was cut before TLS, from the program's handshake when it completed."""
    if libpq < 17:
        pytest.skip("sslnegotiation is a libpq 17 keyword")
    server15 = libpqs.server(15)
    relay = AlpnlessAdapter(("127.0.0.1", server15.port))
    relay.cut_first = not program_handshakes
    try:
        conninfo = server15.conninfo(sslmode="require", sslnegotiation="direct",
                                     host="localhost", hostaddr="127.0.0.1", port=relay.port)
        r = run_preloaded([libpqs.helper(libpq), "PQconnectdb", conninfo], home=home,
                          mode="dry-run", env_extra={"PQTLS_BUNDLE": server15.ca_file,
                                                     "PQTLS_CACHE_TTL": "0"})
    finally:
        relay.close()
    assert r.returncode == 1, r.describe()
    if program_handshakes:
        assert "without ALPN protocol negotiation extension" in r.stdout, r.describe()
    dr = r.record["dry_run"]
    assert (dr["result"], dr["reason"], dr["method"]) == \
        ("fail", "handshake-failed", "chain" if program_handshakes else "probe"), r.describe()
    assert "without ALPN protocol negotiation extension" in dr["detail"], r.describe()


def test_cli_probe_direct(libpq, libpqs, cli, home):
    """`pqtls probe --direct` starts as libpq 17's sslnegotiation=direct: a server of
    17 or later takes it (pass); an older server knows no direct TLS and the probe
    fails, where the SSLRequest probe (no option) passes against both."""
    server = libpqs.server(libpq)
    conninfo = server.conninfo(host="localhost", hostaddr="127.0.0.1", password=None)
    for direct in (False, True):
        argv = [cli, "probe", "--bundle", server.ca_file] + (["--direct"] if direct else []) \
            + [conninfo]
        r = run_preloaded(argv, home=home, preload=False, mode=None)
        if not direct or libpq >= 17:
            assert r.returncode == 0 and "verdict: pass (ok)" in r.stdout, r.describe()
        else:
            assert r.returncode == 1 and "verdict: fail (handshake-failed)" in r.stdout, \
                r.describe()
