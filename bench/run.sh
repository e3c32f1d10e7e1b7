#!/usr/bin/env bash
# make bench: what pqtls costs a program, against the same work without it (issue 6).
#
#   bash bench/run.sh        (what `make bench` runs, after `make deps all`)
#
# Builds the helpers into $BUILD/bench, then bench/bench.py starts a throwaway
# server (tests/lib/pgserver.py), measures, prints the table and writes
# bench/results.md. Settings: see bench/bench.py (PQTLS_BENCH_*).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${BUILD:-${PQTLS_BUILD:-build}}
CC=${CC:-cc}
PG_INCLUDE=$(pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)

for f in "$BUILD/libpqtls.so" "$BUILD/pqtls"; do
    [ -f "$f" ] || { echo "bench: $f is missing: run \`make\` first" >&2; exit 2; }
done
mkdir -p "$BUILD/bench"

# A client that connects N times and runs nothing (callgrind's subject).
$CC -O2 -g -Wall -Wextra -Werror -I"$PG_INCLUDE" -o "$BUILD/bench/connect_once" \
    bench/connect_once.c -lpq

# Lockstep: timed libpq steps on command, for runs alternated step by step.
$CC -O2 -g -Wall -Wextra -Werror -I"$PG_INCLUDE" -o "$BUILD/bench/lockstep" \
    bench/lockstep.c -lpq

# Runs a program and writes its wall, CPU time and max RSS (wait4) to a file.
$CC -O2 -Wall -Wextra -Werror -o "$BUILD/bench/runstat" bench/runstat.c

# The library's own objects linked as the Makefile does, but without -Wl,-z,now:
# shows what binding every C library function at load time costs /bin/true.
$CC -shared -Wl,-z,defs -Wl,-Bsymbolic-functions -Wl,--as-needed -pthread \
    -o "$BUILD/bench/libpqtls-nonow.so" "$BUILD"/pic/lib/*.o "$BUILD"/pic/common/*.o

PQTLS_BUILD=$BUILD exec /usr/bin/python3 bench/bench.py "$@"
