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

# An empty shared object: what the loader charges for any LD_PRELOAD (/bin/true),
# built the default way and linked as libpqtls.so is (no start files: src/lib/dso.c).
echo 'int pqtls_bench_empty;' | $CC -x c - -shared -fPIC -o "$BUILD/bench/empty.so"
echo 'int pqtls_bench_empty;' | $CC -x c - -shared -fPIC -nostartfiles -Wl,-z,nodelete \
    -o "$BUILD/bench/empty-nostart.so"

# Where the library is linked with -Wl,-z,now: the same objects linked lazily, to
# show what binding every imported function at load costs /bin/true.
if readelf -d "$BUILD/libpqtls.so" 2>/dev/null | grep -q 'FLAGS.*NOW'; then
    $CC -shared -Wl,-z,defs -Wl,-Bsymbolic-functions -Wl,--as-needed -pthread \
        -o "$BUILD/bench/libpqtls-nonow.so" "$BUILD"/pic/lib/*.o "$BUILD"/pic/common/*.o
else
    rm -f "$BUILD/bench/libpqtls-nonow.so"
fi

PQTLS_BUILD=$BUILD /usr/bin/python3 bench/bench.py "$@"

# The JVM agent's start-up cost (bench/jvm_start.py), when the agent is built.
if [ -f "$BUILD/libpqtls-jvm.so" ]; then
    PQTLS_BUILD=$BUILD /usr/bin/python3 bench/jvm_start.py
else
    echo "bench: $BUILD/libpqtls-jvm.so is not built: JVM start not measured" >&2
fi
