#!/usr/bin/env bash
# fuzz/run.sh BUILD_DIR [SECONDS]: a short run of every libFuzzer target built
# in BUILD_DIR (fuzz_*), each for SECONDS (default 6) on a copy of its corpus in
# fuzz/corpus/<target>/, so that the corpus in the repository never grows from
# a CI run.  Every file of the corpus runs first: the regress-* files kept
# there are the regression tests of what the fuzzers found.
#
# Prints one line per target ("fuzz_x509: 123456 executions, 0 crashes") and a
# total; exits 1 when any target crashed, leaked, timed out (-timeout=10) or
# ran out of memory (-rss_limit_mb=2048), after copying what reproduces it to
# BUILD_DIR/artifacts/ and showing the end of its log.
#
# FUZZ_JOBS targets run at once (default: the number of CPUs, at most 4).
# The number of executions is libFuzzer's own count (-print_final_stats).
set -u

build=${1:?usage: fuzz/run.sh BUILD_DIR [SECONDS]}
secs=${2:-6}
here=$(cd "$(dirname "$0")" && pwd)
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
[ "$jobs" -gt 4 ] && jobs=4
[ "$jobs" -lt 1 ] && jobs=1

work=$(mktemp -d "${TMPDIR:-/tmp}/pqtls-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

targets=()
for bin in "$build"/fuzz_*; do
	[ -f "$bin" ] && [ -x "$bin" ] && targets+=("$bin")
done
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz/run.sh: no fuzz_* target in $build (make fuzz first)" >&2
	exit 2
fi

run_one() {
	local bin=$1 name dir rc
	name=$(basename "$bin")
	dir=$work/$name
	mkdir -p "$dir/corpus" "$dir/artifacts"
	if [ -d "$here/corpus/$name" ]; then
		cp -R "$here/corpus/$name/." "$dir/corpus/"
	fi
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$dir/artifacts/" "$dir/corpus" >"$dir/log" 2>&1
	rc=$?
	echo "$rc" >"$dir/rc"
}

running=0
for bin in "${targets[@]}"; do
	run_one "$bin" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait

total=0
crashed=0
for bin in "${targets[@]}"; do
	name=$(basename "$bin")
	dir=$work/$name
	rc=$(cat "$dir/rc" 2>/dev/null || echo 1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$dir/log" | tail -1)
	if [ -z "$execs" ]; then
		# No final stats (killed by a crash): the last progress line counts.
		execs=$(grep -ao '^#[0-9]*' "$dir/log" | tail -1 | tr -d '#')
	fi
	execs=${execs:-0}
	artifacts=$(find "$dir/artifacts" -type f | wc -l)
	crashes=0
	if [ "$rc" -ne 0 ] || [ "$artifacts" -gt 0 ]; then
		crashes=$((artifacts > 0 ? artifacts : 1))
	fi
	echo "$name: $execs executions, $crashes crashes"
	total=$((total + execs))
	if [ "$crashes" -gt 0 ]; then
		crashed=$((crashed + crashes))
		mkdir -p "$build/artifacts"
		for a in "$dir"/artifacts/*; do
			[ -f "$a" ] || continue
			cp "$a" "$build/artifacts/$name-$(basename "$a")"
			echo "  reproduce: $bin $build/artifacts/$name-$(basename "$a")"
		done
		cp "$dir/log" "$build/artifacts/$name.log"
		echo "  --- end of $build/artifacts/$name.log ---"
		grep -av '^#\|^INFO\|^    #\|^stat::\|NEW_FUNC' "$dir/log" | tail -25 | sed 's/^/  /'
	fi
done
echo "total: $total executions in ${#targets[@]} targets (${secs} s each), $crashed crashes"
[ "$crashed" -eq 0 ]
