#!/usr/bin/env bash
# Checks that a release binary carries the hardening the release build asks for
# (meson.build: -fstack-protector-strong -D_FORTIFY_SOURCE=3, -z relro -z now;
# Makefile: -Db_pie=true). Reads the ELF with readelf only; builds nothing.
#
#   scripts/check-hardening.sh build/release/mlflowd
#
# Checks: PIE (ELF type DYN with a PT_INTERP), full RELRO (PT_GNU_RELRO and
# BIND_NOW / FLAGS_1 NOW), a non-executable stack (PT_GNU_STACK without E),
# the stack protector (__stack_chk_fail imported) and FORTIFY_SOURCE (at least
# one __*_chk function imported). Exit 0 when all hold, 1 otherwise.
set -euo pipefail
bin=${1:?usage: $0 BINARY}
[ -f "$bin" ] || { echo "check-hardening: $bin: no such file" >&2; exit 2; }
command -v readelf >/dev/null || { echo "check-hardening: readelf not found (binutils)" >&2; exit 2; }

header=$(readelf -h -W "$bin")
segments=$(readelf -l -W "$bin")
dynamic=$(readelf -d -W "$bin")
symbols=$(readelf --dyn-syms -W "$bin")
failed=0

check() { # name, then a command that succeeds when the property holds
  local name=$1
  shift
  if "$@"; then
    printf 'hardening: %-44s ok\n' "$name"
  else
    printf 'hardening: %-44s MISSING\n' "$name"
    failed=1
  fi
}

pie() { grep -Eq 'Type:[[:space:]]+DYN' <<<"$header" && grep -q 'INTERP' <<<"$segments"; }
relro() { grep -q 'GNU_RELRO' <<<"$segments"; }
bind_now() { grep -Eq '\(BIND_NOW\)|\(FLAGS\).*BIND_NOW|\(FLAGS_1\).*NOW' <<<"$dynamic"; }
nx_stack() { grep -E 'GNU_STACK' <<<"$segments" | grep -Eqv 'RWE'; }
stack_protector() { grep -Eq '[[:space:]]__stack_chk_fail(@|$)' <<<"$symbols"; }
fortify() { grep -Eq '[[:space:]]__[a-z0-9_]+_chk(@|$)' <<<"$symbols"; }

check "PIE (ET_DYN with an interpreter)" pie
check "RELRO segment (-z relro)" relro
check "immediate binding (-z now)" bind_now
check "non-executable stack" nx_stack
check "stack protector (__stack_chk_fail)" stack_protector
check "FORTIFY_SOURCE (__*_chk functions)" fortify
if [ "$failed" = 0 ]; then
  echo "hardening: $bin: all checks passed ($(grep -Eo '[[:space:]]__[a-z0-9_]+_chk(@|$)' <<<"$symbols" | sort -u | wc -l) fortified functions)"
fi
exit $failed
