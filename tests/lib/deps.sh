#!/usr/bin/env bash
# deps.sh: make sure every Debian package the build and the tests need is installed.
#
#   bash tests/lib/deps.sh        (what `make deps` runs)
#
# All installed: silent, exit 0 (one dpkg-query call, well under a second).
# Some missing, running as root with apt-get: `apt-get update` once, then install them.
# Some missing otherwise: names them and the apt-get command to run, exit 1.
#
# Set PQTLS_DEPS_NO_UPDATE=1 to skip `apt-get update` (the caller just ran it).
# `locales` is not needed: the tests use LANG=C.UTF-8, built into glibc since 2.35.
set -euo pipefail

# One requirement a line: the package to install, then the regular expression of the
# installed package names that satisfy it (default: exactly that name). The PostgreSQL
# metapackages are satisfied by a versioned package (Debian 12: postgresql-15 and
# postgresql-client-15).
REQUIREMENTS='
build-essential
pkg-config
libpq-dev
libssl-dev
uthash-dev
postgresql            ^postgresql(-[0-9]+)?$
postgresql-client     ^postgresql-client(-[0-9]+)?$
openssl
python3
python3-pytest
python3-psycopg2
python3-psycopg
libdbd-pg-perl
php-cli
php-pgsql
ruby
ruby-pg
jq
valgrind
gdb
clang
libclang-rt-14-dev    ^libclang-rt-[0-9]+-dev$
default-jdk-headless
libpostgresql-jdbc-java
libhikaricp-java
libslf4j-java
chromium
prometheus
time
systemd
'

installed_packages() {
    dpkg-query -W -f='${db:Status-Status} ${Package}\n' 2>/dev/null |
        awk '$1 == "installed" { print $2 }'
}

missing_packages() {
    local installed name pattern
    installed=$(installed_packages)
    while read -r name pattern; do
        [ -n "$name" ] || continue
        pattern=${pattern:-^${name//+/\\+}\$}
        grep -Eq -- "$pattern" <<<"$installed" || printf '%s\n' "$name"
    done <<<"$REQUIREMENTS"
}

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps.sh: dpkg-query not found: this suite expects Debian 12 (bookworm)" >&2
    exit 1
fi

mapfile -t missing < <(missing_packages)
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "deps.sh: missing Debian packages: ${missing[*]}" >&2
    echo "deps.sh: install them as root with:" >&2
    echo "    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "deps.sh: installing ${missing[*]}" >&2
if [ "${PQTLS_DEPS_NO_UPDATE:-0}" != 1 ]; then
    apt-get update -q
fi
apt-get install -y -q --no-install-recommends "${missing[@]}"

mapfile -t still < <(missing_packages)
if [ "${#still[@]}" -ne 0 ]; then
    echo "deps.sh: still missing after apt-get install: ${still[*]}" >&2
    exit 1
fi
