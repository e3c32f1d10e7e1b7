"""pgserver: a real, throwaway PostgreSQL server with TLS for the pqtls test suite.

    server = PgServer()          # nothing happens yet
    server.start()               # certificates, initdb, pg_ctl start, role and database
    server.conninfo(sslmode="verify-full", sslrootcert=server.ca_file, host="localhost",
                    hostaddr="127.0.0.1")
    server.stop()                # pg_ctl stop -m immediate, temp dir removed

Everything lives in one mkdtemp directory under /tmp (mode 0755, owned by the postgres
user when running as root, since the server refuses to run as root). The certificates are
made with the openssl command line at test time: a root CA ("pqtls test root CA") that signs
the server certificate (CN localhost, SAN DNS:localhost and IP:127.0.0.1), and a second,
unrelated CA ("wrong CA"). make_ca/make_cert issue more for later tests.

The server is stopped whatever happens: stop() runs from atexit, from the pytest finalizer,
on SIGTERM/SIGHUP (turned into KeyboardInterrupt so pytest unwinds), and a small watchdog
process stops it and removes the directory if the Python process dies without cleaning up.

Every password the suite uses is in SECRETS: records and messages must never contain any.
"""

import atexit
import datetime
import glob
import hashlib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

# The password of the role the clients log in as (pqtls_user).
USER_PASSWORD = "pw-Secr3t-XYZZY-1"
# The password of the superuser (postgres) over TCP; the unix socket trusts.
SUPERUSER_PASSWORD = "su-Secr3t-PLUGH-2"
# A wrong password, for tests of failed authentication.
WRONG_PASSWORD = "wrong-Secr3t-FROTZ-3"
# A value for sslpassword (the passphrase of a client key), for leak tests.
SSLPASSWORD = "kp-Secr3t-GRUE-4"

# Every secret the suite uses; outputs and records are scanned for these.
SECRETS = [USER_PASSWORD, SUPERUSER_PASSWORD, WRONG_PASSWORD, SSLPASSWORD]

USER = "pqtls_user"
DBNAME = "pqtls_db"
SUPERUSER = "postgres"

CA_CN = "pqtls test root CA"
WRONG_CA_CN = "pqtls wrong CA"

_CLEAN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C", "LC_ALL": "C", "TZ": "UTC"}

_live = set()
_live_lock = threading.Lock()


def find_bindir():
    """The bin directory of the newest PostgreSQL server installed."""
    candidates = []
    for d in glob.glob("/usr/lib/postgresql/*/bin"):
        m = re.search(r"/postgresql/(\d+)/bin$", d)
        if m and os.access(os.path.join(d, "initdb"), os.X_OK):
            candidates.append((int(m.group(1)), d))
    if candidates:
        return max(candidates)[1]
    try:
        d = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                           check=True).stdout.strip()
        if os.access(os.path.join(d, "initdb"), os.X_OK):
            return d
    except (OSError, subprocess.CalledProcessError):
        pass
    raise RuntimeError("no PostgreSQL server found (looked for /usr/lib/postgresql/*/bin/initdb "
                       "and pg_config --bindir): run `make deps` as root")


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pem_blocks(text, kind="CERTIFICATE"):
    """The PEM blocks of one kind in text, each with its BEGIN and END lines."""
    return re.findall(r"-----BEGIN %s-----\r?\n.*?-----END %s-----" % (kind, kind), text,
                      re.S)


def leaf_der(path):
    """The DER of the first certificate in a PEM file."""
    with open(path) as f:
        blocks = pem_blocks(f.read())
    if not blocks:
        raise ValueError("%s holds no certificate" % path)
    return ssl.PEM_cert_to_DER_cert(blocks[0] + "\n")


def write_bundle(path, *certs):
    """Concatenate the PEM certificates of certs (Cert objects or paths) into path."""
    parts = []
    for c in certs:
        with open(os.fspath(c)) as f:
            parts.append(f.read().rstrip("\n") + "\n")
    with open(path, "w") as f:
        f.write("".join(parts))
    os.chmod(path, 0o644)
    return path


def _asn1_time(value):
    """A datetime, a timedelta from now, or a string already in openssl's format."""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime.timedelta):
        value = datetime.datetime.now(datetime.timezone.utc) + value
    if value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc)
    return value.strftime("%Y%m%d%H%M%SZ")


def _check(cmd, what, **kw):
    kw.setdefault("stdin", subprocess.DEVNULL)
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError("%s failed (exit %d): %s\n%s%s" % (what, r.returncode, " ".join(cmd),
                                                              r.stdout, r.stderr))
    return r


class Cert:
    """A certificate made for the tests: PEM files for the certificate and its key.

    os.fspath(cert) and str(cert) give the certificate's path, so a Cert can stand
    wherever a file name is expected (sslrootcert=..., PQTLS_BUNDLE=...).
    """

    def __init__(self, name, cert, key, subject, is_ca, issuer):
        self.name = name
        self.cert = cert          # path of the PEM certificate
        self.key = key            # path of the PEM private key (0600)
        self.subject = subject    # as given to openssl, e.g. "/CN=localhost"
        self.is_ca = is_ca
        self.issuer = issuer      # the issuing Cert, None when self-signed

    def __fspath__(self):
        return self.cert

    def __str__(self):
        return self.cert

    def __repr__(self):
        return "Cert(%r, subject=%r, ca=%r)" % (self.name, self.subject, self.is_ca)

    @property
    def pem(self):
        with open(self.cert) as f:
            return f.read()

    @property
    def der(self):
        return leaf_der(self.cert)

    @property
    def sha256(self):
        """Lower-case hex SHA-256 of the DER certificate."""
        return hashlib.sha256(self.der).hexdigest()

    def chain(self):
        """This certificate and its issuers up to (and including) the self-signed root."""
        out, c = [], self
        while c is not None:
            out.append(c)
            c = c.issuer
        return out


class PgServer:
    """One throwaway PostgreSQL server. See the module docstring."""

    host = "127.0.0.1"
    user = USER
    password = USER_PASSWORD
    dbname = DBNAME
    superuser = SUPERUSER
    superuser_password = SUPERUSER_PASSWORD

    def __init__(self, key_type="rsa", bindir=None, version=None):
        """bindir: where initdb, pg_ctl and postgres are (default: the newest Debian
        server); version: its major (default: read from a /N/bin path). Programs the
        bindir lacks (psql: the embedded packages of tests/lib/embedded.py ship none)
        come from Debian's."""
        self.key_type = key_type
        self.bindir = bindir or find_bindir()
        m = re.search(r"/(\d+)/bin$", self.bindir)
        self.version = version if version is not None else (int(m.group(1)) if m else None)
        self.dir = None
        self.datadir = None
        self.port = None
        self.log_file = None
        self.pid = None
        self.ca = self.wrong_ca = self.server = self.original_server = None
        self._stopped = False
        self.start_seconds = None
        self._watchdog = None
        self._serial = 0
        self._pg_uid = self._pg_gid = None
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            self._pg_uid, self._pg_gid = pw.pw_uid, pw.pw_gid

    # ---------------------------------------------------------------- paths and names

    @property
    def socket_dir(self):
        return self.dir

    @property
    def ca_file(self):
        return self.ca.cert

    @property
    def wrong_ca_file(self):
        return self.wrong_ca.cert

    @property
    def server_cert(self):
        """The certificate file the server is configured with (its content follows
        set_server_cert)."""
        return os.path.join(self.dir, "server.crt")

    @property
    def server_key(self):
        return os.path.join(self.dir, "server.key")

    def bin(self, name):
        path = os.path.join(self.bindir, name)
        if not os.path.exists(path):
            path = os.path.join(find_bindir(), name)
        return path

    # ---------------------------------------------------------------- start and stop

    def start(self):
        with _live_lock:
            _live.add(self)
        _install_signal_handlers()
        try:
            self._start()
        except BaseException:
            log = self.log_tail()
            self.stop()
            if log:
                print("---- server log ----\n" + log)
            raise
        return self

    def _start(self):
        t0 = time.monotonic()
        self.dir = tempfile.mkdtemp(prefix="pqtls-pg-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self._chown(self.dir)
        self.datadir = os.path.join(self.dir, "data")
        self.log_file = os.path.join(self.dir, "postgres.log")
        os.makedirs(os.path.join(self.dir, "certs"))
        self._start_watchdog()

        # initdb runs while the keys are generated.
        pwfile = os.path.join(self.dir, "pwfile")
        with open(pwfile, "w") as f:
            f.write(SUPERUSER_PASSWORD + "\n")
        os.chmod(pwfile, 0o600)
        self._chown(pwfile)
        initdb = subprocess.Popen(
            self._as_pg([self.bin("initdb"), "-D", self.datadir, "-U", SUPERUSER,
                         "--pwfile=" + pwfile, "--auth-local=trust",
                         "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C",
                         "--no-sync"]
                        # initdb 13 lacks --no-instructions (added in 14)
                        + (["--no-instructions"] if (self.version or 99) >= 14 else [])),
            cwd=self.dir, env=_CLEAN_ENV, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            with ThreadPoolExecutor(3) as ex:
                fca = ex.submit(self.make_ca, CA_CN, name="ca")
                fwrong = ex.submit(self.make_ca, WRONG_CA_CN, name="wrong-ca")
                fkey = ex.submit(self._genkey, os.path.join(self.dir, "certs", "server.key"),
                                 self.key_type)
                self.ca, self.wrong_ca = fca.result(), fwrong.result()
                server_key = fkey.result()
            self.server = self.make_cert("localhost", sans=["DNS:localhost", "IP:127.0.0.1"],
                                         issuer=self.ca, name="server", key=server_key)
            self.original_server = self.server
            self._install_server_files(self.server.cert, self.server.key)
        finally:
            out, _ = initdb.communicate(timeout=120)
            os.unlink(pwfile)
        if initdb.returncode != 0:
            raise RuntimeError("initdb failed (exit %d):\n%s" % (initdb.returncode, out))

        with open(os.path.join(self.datadir, "pg_hba.conf"), "w") as f:
            f.write("# pqtls test server\n"
                    "local     all all              trust\n"
                    "hostssl   all all 127.0.0.1/32 scram-sha-256\n"
                    "hostnossl all all 127.0.0.1/32 scram-sha-256\n"
                    "hostssl   all all ::1/128 scram-sha-256\n"
                    "hostnossl all all ::1/128 scram-sha-256\n")

        for attempt in range(5):
            self.port = free_port()
            self._write_conf()
            r = subprocess.run(
                self._as_pg([self.bin("pg_ctl"), "-D", self.datadir, "-l", self.log_file,
                             "-w", "-t", "60", "start"]),
                cwd=self.dir, env=_CLEAN_ENV, stdin=subprocess.DEVNULL,
                capture_output=True, text=True)
            if r.returncode == 0:
                break
            log = self.log_tail()
            if "already in use" in log and attempt < 4:
                continue            # somebody took the port in between: try another
            raise RuntimeError("pg_ctl start failed (exit %d):\n%s%s\n---- log ----\n%s"
                               % (r.returncode, r.stdout, r.stderr, log))
        self.pid = self._read_pid()
        self.psql("CREATE ROLE %s LOGIN PASSWORD '%s';\n"
                  "CREATE DATABASE %s OWNER %s;\n" % (USER, USER_PASSWORD, DBNAME, USER))
        self.start_seconds = time.monotonic() - t0

    @property
    def listen(self):
        """127.0.0.1, and ::1 where the machine has IPv6 loopback (ipv6 is True then)."""
        return ["127.0.0.1", "::1"] if self.ipv6 else ["127.0.0.1"]

    @property
    def ipv6(self):
        if not hasattr(self, "_ipv6"):
            try:
                with socket.socket(socket.AF_INET6) as s:
                    s.bind(("::1", self.port))
                self._ipv6 = True
            except OSError:
                self._ipv6 = False
        return self._ipv6

    def _write_conf(self):
        conf = os.path.join(self.datadir, "postgresql.conf")
        with open(conf) as f:
            text = f.read()
        text = text.split("\n# ---- pqtls test settings ----\n")[0]
        q = lambda p: "'" + p.replace("'", "''") + "'"
        text += ("\n# ---- pqtls test settings ----\n"
                 "listen_addresses = '%s'\n"
                 "port = %d\n"
                 "unix_socket_directories = %s\n"
                 "unix_socket_permissions = 0777\n"
                 "ssl = on\n"
                 "ssl_cert_file = %s\n"
                 "ssl_key_file = %s\n"
                 "ssl_ca_file = %s\n"
                 "password_encryption = 'scram-sha-256'\n"
                 "max_connections = 200\n"
                 "shared_buffers = 16MB\n"
                 "fsync = off\n"
                 "synchronous_commit = off\n"
                 "full_page_writes = off\n"
                 "wal_level = minimal\n"
                 "max_wal_senders = 0\n"
                 "autovacuum = off\n"
                 "timezone = 'UTC'\n"
                 "log_timezone = 'UTC'\n"
                 "log_connections = on\n"
                 "log_line_prefix = '%%m [%%p] '\n"
                 % (",".join(self.listen), self.port, q(self.dir), q(self.server_cert),
                    q(self.server_key),
                    q(os.path.join(self.dir, "client-ca.crt"))))
        with open(conf, "w") as f:
            f.write(text)
        if not os.path.exists(os.path.join(self.dir, "client-ca.crt")):
            shutil.copyfile(self.ca.cert, os.path.join(self.dir, "client-ca.crt"))
            os.chmod(os.path.join(self.dir, "client-ca.crt"), 0o644)

    def _read_pid(self):
        try:
            with open(os.path.join(self.datadir, "postmaster.pid")) as f:
                return int(f.readline().strip())
        except (OSError, ValueError):
            return None

    def _start_watchdog(self):
        """A process that stops the server and removes the directory if this one dies
        without doing so (SIGKILL, a crash): it polls our pid once a second."""
        script = ('while kill -0 "$1" 2>/dev/null; do sleep 1; done; '
                  'if [ -f "$3/postmaster.pid" ]; then '
                  '  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$4" -D "$3" stop -m immediate; '
                  '  else "$4" -D "$3" stop -m immediate; fi; '
                  'fi; rm -rf "$2"')
        self._watchdog = subprocess.Popen(
            ["/bin/sh", "-c", script, "pqtls-pg-watchdog", str(os.getpid()), self.dir,
             os.path.join(self.dir, "data"), self.bin("pg_ctl")],
            cwd="/", env=_CLEAN_ENV, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)

    def stop(self):
        """Stop the server at once and remove its directory. Safe to call repeatedly."""
        if self._stopped:
            return
        self._stopped = True
        with _live_lock:
            _live.discard(self)
        try:
            pid = self._read_pid() if self.datadir else None
            pid = pid or self.pid
            if self.datadir and os.path.exists(os.path.join(self.datadir, "postmaster.pid")):
                try:
                    subprocess.run(
                        self._as_pg([self.bin("pg_ctl"), "-D", self.datadir, "-m", "immediate",
                                     "-w", "-t", "10", "stop"]),
                        cwd="/", env=_CLEAN_ENV, stdin=subprocess.DEVNULL,
                        capture_output=True, timeout=30)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            if pid and _alive(pid):
                _kill(pid, signal.SIGQUIT)
                deadline = time.monotonic() + 3
                while _alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.05)
                if _alive(pid):
                    _kill(pid, signal.SIGKILL)
        finally:
            if self._watchdog is not None:
                try:
                    os.killpg(self._watchdog.pid, signal.SIGKILL)
                except OSError:
                    pass
                try:
                    self._watchdog.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            if self.dir:
                shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def log_tail(self, lines=60):
        """The last lines of the server log ("" if there is none)."""
        try:
            with open(self.log_file, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except (OSError, TypeError):
            return ""

    # ---------------------------------------------------------------- using the server

    def conninfo(self, **kw):
        """A libpq key=value connection string to pqtls_db as pqtls_user over TCP
        (host=127.0.0.1 port=N dbname user password); keyword arguments override or
        add keys, and a value of None removes the key."""
        params = {"host": self.host, "port": str(self.port), "dbname": self.dbname,
                  "user": self.user, "password": self.password}
        for k, v in kw.items():
            if v is None:
                params.pop(k, None)
            else:
                params[k] = os.fspath(v) if isinstance(v, os.PathLike) else str(v)
        return " ".join("%s=%s" % (k, conninfo_quote(v)) for k, v in params.items())

    def psql(self, sql, dbname="postgres", check=True):
        """Run sql as the superuser over the unix socket (psql -X -A -t, ON_ERROR_STOP);
        returns the output without its final newline."""
        r = subprocess.run(
            [self.bin("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-h", self.dir, "-p", str(self.port), "-U", SUPERUSER, "-d", dbname, "-f", "-"],
            input=sql, capture_output=True, text=True, env=_CLEAN_ENV, cwd="/", timeout=60)
        if check and r.returncode != 0:
            raise RuntimeError("psql failed (exit %d) on %r:\n%s%s"
                               % (r.returncode, sql, r.stdout, r.stderr))
        return r.stdout[:-1] if r.stdout.endswith("\n") else r.stdout

    def probe_peer_der(self, timeout=5):
        """The DER certificate the server presents in a fresh TLS handshake (SSLRequest,
        no verification, no authentication)."""
        with socket.create_connection((self.host, self.port), timeout=timeout) as s:
            s.sendall(struct.pack("!ii", 8, 80877103))
            answer = s.recv(1)
            if answer != b"S":
                raise RuntimeError("server refused SSLRequest: %r" % answer)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            with ctx.wrap_socket(s, server_hostname="localhost") as t:
                return t.getpeercert(binary_form=True)

    def set_server_cert(self, cert, key=None, timeout=15):
        """Serve cert (a Cert, or a PEM path possibly holding a chain) with key
        (defaults to cert.key): copy the files in, SELECT pg_reload_conf(), and wait
        until a new handshake presents the new leaf."""
        if key is None:
            if not isinstance(cert, Cert):
                raise TypeError("set_server_cert needs key= when cert is a path")
            key = cert.key
        want = leaf_der(os.fspath(cert))
        self._install_server_files(os.fspath(cert), os.fspath(key))
        self.psql("SELECT pg_reload_conf();")
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                if self.probe_peer_der() == want:
                    break
            except (OSError, RuntimeError, ssl.SSLError) as e:
                last = e
            if time.monotonic() > deadline:
                raise RuntimeError("server did not present the new certificate within %ss "
                                   "(last error: %r)\n---- log ----\n%s"
                                   % (timeout, last, self.log_tail()))
            time.sleep(0.05)
        self.server = cert if isinstance(cert, Cert) else \
            Cert("custom", os.fspath(cert), os.fspath(key), None, False, None)

    def restore_server_cert(self):
        """Serve the original certificate again if another one was set."""
        if self.server is not self.original_server and not self._stopped:
            self.set_server_cert(self.original_server)

    def _install_server_files(self, cert, key):
        for src, dst, mode in ((cert, self.server_cert, 0o644), (key, self.server_key, 0o600)):
            tmp = dst + ".new"
            shutil.copyfile(src, tmp)
            os.chmod(tmp, mode)
            self._chown(tmp)
            os.replace(tmp, dst)

    # ---------------------------------------------------------------- certificates

    def make_ca(self, cn, issuer=None, **kw):
        """A CA certificate: self-signed unless issuer (a CA Cert) is given."""
        return self.make_cert(cn, issuer=issuer if issuer is not None else "self", ca=True,
                              **kw)

    def make_cert(self, cn, sans=None, issuer=None, ca=False, days=825, not_before=None,
                  not_after=None, key_type=None, name=None, key=None, subject=None):
        """Issue a certificate with openssl and return a Cert.

        cn        common name (ignored when subject, e.g. "/O=Example/CN=db", is given)
        sans      subjectAltName entries: "DNS:x", "IP:1.2.3.4", or bare names and
                  addresses; None for no SAN extension
        issuer    a CA Cert (default: this server's root CA); "self" for self-signed
        ca        a CA certificate (basicConstraints CA:TRUE, keyCertSign)
        days      validity from one hour ago, unless not_before/not_after are given
        not_before, not_after
                  datetime, timedelta from now, or openssl's YYYYMMDDHHMMSSZ
        key_type  "rsa" (2048), "rsa:N", "ec" (P-256); default the server's key_type
        key       an existing private key file to certify instead of a new one
        """
        with _live_lock:
            self._serial += 1
            serial = self._serial
        base = name or re.sub(r"[^A-Za-z0-9]+", "-", cn).strip("-").lower() or "cert"
        if name is None or os.path.exists(os.path.join(self.dir, "certs", base + ".crt")):
            base = "%s-%d" % (base, serial)
        certs = os.path.join(self.dir, "certs")
        crt_path = os.path.join(certs, base + ".crt")
        key_path = os.path.join(certs, base + ".key")
        if key is None:
            self._genkey(key_path, key_type or self.key_type)
        elif os.path.abspath(key) != key_path:
            shutil.copyfile(key, key_path)
            os.chmod(key_path, 0o600)
        subj = subject or "/CN=" + cn.replace("/", "\\/")
        selfsign = issuer == "self"
        if issuer is None:
            issuer = self.ca
        if not selfsign and (not isinstance(issuer, Cert) or not issuer.is_ca):
            raise ValueError("issuer must be a CA Cert or 'self', got %r" % (issuer,))

        work = tempfile.mkdtemp(dir=certs, prefix=".ca-")
        try:
            ext = ["subjectKeyIdentifier = hash"]
            ext.append("authorityKeyIdentifier = keyid" if selfsign
                       else "authorityKeyIdentifier = keyid:always")
            if ca:
                ext += ["basicConstraints = critical,CA:TRUE",
                        "keyUsage = critical,keyCertSign,cRLSign,digitalSignature"]
            else:
                ext += ["basicConstraints = critical,CA:FALSE",
                        "keyUsage = critical,digitalSignature,keyEncipherment",
                        "extendedKeyUsage = serverAuth,clientAuth"]
            alt = []
            if sans:
                ext.append("subjectAltName = @alt")
                n = {"DNS": 0, "IP": 0}
                for s in sans:
                    kind, _, val = s.partition(":") if re.match(r"^(DNS|IP):", s) else \
                        ("IP" if _is_ip(s) else "DNS", ":", s)
                    n[kind] += 1
                    alt.append("%s.%d = %s" % (kind, n[kind], val))
            with open(os.path.join(work, "openssl.cnf"), "w") as f:
                f.write("[ ca ]\ndefault_ca = d\n"
                        "[ d ]\ndatabase = %s/index.txt\nnew_certs_dir = %s\nserial = %s/serial\n"
                        "default_md = sha256\npolicy = pol\nunique_subject = no\n"
                        "email_in_dn = no\n"
                        "[ pol ]\ncommonName = optional\n"
                        "[ req ]\ndistinguished_name = dn\n[ dn ]\n"
                        "[ v3 ]\n%s\n[ alt ]\n%s\n"
                        % (work, work, work, "\n".join(ext), "\n".join(alt)))
            open(os.path.join(work, "index.txt"), "w").close()
            with open(os.path.join(work, "serial"), "w") as f:
                f.write("01" + secrets.token_hex(8) + "\n")
            cnf = os.path.join(work, "openssl.cnf")
            csr = os.path.join(work, "req.csr")
            _check(["openssl", "req", "-new", "-config", cnf, "-key", key_path, "-subj", subj,
                    "-out", csr], "openssl req")
            now = datetime.datetime.now(datetime.timezone.utc)
            start = _asn1_time(not_before if not_before is not None
                               else now - datetime.timedelta(hours=1))
            end = _asn1_time(not_after if not_after is not None
                             else now + datetime.timedelta(days=days))
            cmd = ["openssl", "ca", "-config", cnf, "-batch", "-notext", "-preserveDN",
                   "-extensions", "v3", "-in", csr, "-out", crt_path,
                   "-startdate", start, "-enddate", end]
            cmd += ["-selfsign", "-keyfile", key_path] if selfsign else \
                ["-cert", issuer.cert, "-keyfile", issuer.key]
            _check(cmd, "openssl ca")
        finally:
            shutil.rmtree(work, ignore_errors=True)
        os.chmod(crt_path, 0o644)
        return Cert(base, crt_path, key_path, subj, ca, None if selfsign else issuer)

    def bundle(self, *certs, name=None):
        """A PEM file in the server's directory holding certs, in order."""
        self._serial += 1
        path = os.path.join(self.dir, "certs", "%s-%d.pem" % (name or "bundle", self._serial))
        return write_bundle(path, *certs)

    @staticmethod
    def _genkey(path, key_type):
        if key_type == "ec":
            cmd = ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                   "ec_paramgen_curve:P-256"]
        elif key_type.startswith("rsa"):
            bits = key_type.partition(":")[2] or "2048"
            cmd = ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                   "rsa_keygen_bits:" + bits]
        else:
            raise ValueError("unknown key_type %r" % key_type)
        old = os.umask(0o077)
        try:
            _check(cmd + ["-out", path], "openssl genpkey")
        finally:
            os.umask(old)
        return path

    # ---------------------------------------------------------------- helpers

    def _as_pg(self, argv):
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--"] + argv
        return argv

    def _chown(self, path):
        if self._pg_uid is not None:
            os.chown(path, self._pg_uid, self._pg_gid)


def conninfo_quote(value):
    """Quote a value for a libpq key=value connection string when it needs it."""
    if value != "" and not re.search(r"[\s'\\]", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _is_ip(s):
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in s else socket.AF_INET, s)
        return True
    except OSError:
        return False


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _kill(pid, sig):
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def stop_all():
    """Stop every server still running (atexit, signals)."""
    with _live_lock:
        servers = list(_live)
    for s in servers:
        try:
            s.stop()
        except Exception:
            pass


atexit.register(stop_all)

_signals_installed = False


def _install_signal_handlers():
    """SIGTERM and SIGHUP become KeyboardInterrupt, so pytest unwinds and runs its
    finalizers (and atexit follows); only where nobody else handles them."""
    global _signals_installed
    if _signals_installed or threading.current_thread() is not threading.main_thread():
        return
    _signals_installed = True

    def handler(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) in (signal.SIG_DFL, None):
            signal.signal(sig, handler)
