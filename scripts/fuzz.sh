#!/usr/bin/env bash
# Runs every libFuzzer target of tests/fuzz for SECONDS each (default 60),
# starting from the checked-in seed corpus. A second argument fixes the random
# seed: make test uses one, so that a CI run replays the same inputs and a
# finding shows up reproducibly rather than on one run in ten; make fuzz does
# not, so that each run explores further. A crash leaves its input in
# build/fuzz/crashes/<target>/ and fails the run: turn it into a regression
# test (a corpus file, or a unit/integration test) before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
SEED=${2:-0}
BUILD=build/fuzz
if [ ! -f $BUILD/build.ninja ]; then
  CC=clang meson setup $BUILD --buildtype=debug -Db_sanitize=address,undefined -Dfuzz=true -Db_lundef=false >/dev/null
fi
ninja -C $BUILD >/dev/null
status=0
for target in $(sed -n "s/^ *'\(fuzz_[a-z_]*\)',\$/\1/p" tests/fuzz/meson.build); do
  corpus=tests/fuzz/corpus/$target
  work=$BUILD/corpus/$target
  crashes=$BUILD/crashes/$target
  mkdir -p "$corpus" "$work" "$crashes"
  printf 'fuzz: %-28s %ss ... ' "$target" "$SECONDS_EACH"
  if $BUILD/tests/fuzz/$target "$work" "$corpus" -max_total_time="$SECONDS_EACH" -max_len=65536 \
       -artifact_prefix="$crashes/" -seed="$SEED" -print_final_stats=0 >"$BUILD/$target.log" 2>&1; then
    echo "ok ($(grep -o 'cov: [0-9]*' "$BUILD/$target.log" | tail -1))"
  else
    echo "CRASH (see $BUILD/$target.log and $crashes/)"
    tail -30 "$BUILD/$target.log"
    status=1
  fi
done
exit $status
