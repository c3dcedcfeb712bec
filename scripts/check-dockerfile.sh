#!/usr/bin/env bash
# Lints the Dockerfile where `docker build` cannot run (no Docker engine here, no hadolint in
# Debian or npm). Runs hadolint too when one is installed. Fails, naming each problem, when:
#
#   - the runtime stage's `apt-get install` list differs from the Debian packages that provide
#     the shared libraries the release binary links (its `readelf -d` NEEDED entries, resolved
#     with ldd and `dpkg -S`) or loads with dlopen (DLOPENED below): a missing one means the
#     image would not start (or, for libjose, would refuse every token), an extra lib*
#     package is dead weight (libc6 comes with the base image; ca-certificates is allowed);
#   - a listed package is unknown to apt (when apt has package lists);
#   - the shape is wrong: not two stages, a build stage other than Debian 12 or not running
#     scripts/install-deps.sh and the Meson release build, a runtime stage other than Debian 12
#     slim, apt without --no-install-recommends or without removing its lists, no non-root
#     USER, no EXPOSE, an ENTRYPOINT other than ["mlflowd"], ADD of a URL, a `latest` tag.
#
#   scripts/check-dockerfile.sh [BINARY]     # BINARY: build/release/mlflowd (make build)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$HERE/.."
DOCKERFILE="${DOCKERFILE:-$ROOT/Dockerfile}"
BIN="${1:-$ROOT/build/release/mlflowd}"
BASE_IMAGE_PACKAGES="libc6"          # in debian:12-slim already
ALLOWED_EXTRA="ca-certificates"      # not a linked library, needed for TLS to S3/Keycloak
# Libraries mlflowd loads with dlopen at first use rather than links (not in NEEDED); each
# soname must appear in the binary: src/auth/jose_lib.c's JOSE_SONAME.
DLOPENED="libjose.so.0"

problems=0
problem() { echo "check-dockerfile: $*" >&2; problems=$((problems + 1)); }

[ -f "$DOCKERFILE" ] || { echo "check-dockerfile: no $DOCKERFILE" >&2; exit 1; }
[ -x "$BIN" ] || { echo "check-dockerfile: no binary $BIN (run make build)" >&2; exit 1; }

# Logical lines: continuation backslashes joined, comments dropped.
logical="$(sed -e 's/^[[:space:]]*#.*$//' "$DOCKERFILE" | sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta')"

froms="$(grep -E '^FROM ' <<<"$logical" || true)"
[ "$(wc -l <<<"$froms")" -eq 2 ] || problem "expected exactly two stages (build, runtime), found: $froms"
build_from="$(head -1 <<<"$froms")"
runtime_from="$(tail -1 <<<"$froms")"
grep -Eq '^FROM (debian:12|debian:bookworm)( |$)' <<<"$build_from" ||
  problem "the build stage must be debian:12 (the machines the tests run on): $build_from"
grep -Eq ' AS build$' <<<"$build_from" || problem "the build stage must be named: FROM ... AS build"
grep -Eq '^FROM (debian:12-slim|debian:bookworm-slim)$' <<<"$runtime_from" ||
  problem "the runtime stage must be debian:12-slim: $runtime_from"
grep -q ':latest' <<<"$froms" && problem "pin base images; no :latest"

# Split the logical lines into the two stages.
build_stage="$(awk '/^FROM /{n++} n==1' <<<"$logical")"
runtime_stage="$(awk '/^FROM /{n++} n==2' <<<"$logical")"

grep -q 'scripts/install-deps.sh' <<<"$build_stage" ||
  problem "the build stage must install with scripts/install-deps.sh (the tests' own script)"
grep -Eq 'meson setup [^&]*--buildtype=release' <<<"$build_stage" ||
  problem "the build stage must run the Meson release build (meson setup ... --buildtype=release)"
grep -Eq '^COPY --from=build ' <<<"$runtime_stage" || problem "the runtime stage must COPY --from=build"
grep -Eq '^ADD +https?://' <<<"$logical" && problem "no ADD of URLs: fetch in a RUN with checks"

user="$(grep -E '^USER ' <<<"$runtime_stage" | tail -1 | awk '{print $2}')"
case "${user%%:*}" in
  "" ) problem "the runtime stage sets no USER (must not run as root)" ;;
  0 | root ) problem "USER $user is root" ;;
esac
grep -Eq '^EXPOSE [0-9]' <<<"$runtime_stage" || problem "no EXPOSE in the runtime stage"
grep -Eq '^ENTRYPOINT \["mlflowd"\]$' <<<"$runtime_stage" ||
  problem 'the ENTRYPOINT must be ["mlflowd"] (exec form)'

install_lines="$(grep -Eo 'apt-get install [^&]*' <<<"$runtime_stage" || true)"
[ -n "$install_lines" ] || problem "the runtime stage installs no packages"
grep -q -- '--no-install-recommends' <<<"$install_lines" || problem "apt-get install without --no-install-recommends"
grep -q 'rm -rf /var/lib/apt/lists' <<<"$runtime_stage" || problem "apt lists are not removed (rm -rf /var/lib/apt/lists/*)"
listed="$(tr ' ' '\n' <<<"$install_lines" | grep -Ev '^(apt-get|install|-.*|)$' | sort -u)"

# The packages of the libraries the binary links (one dpkg -S for all: it is slow).
needed_libs="$(readelf -d "$BIN" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')"
declare -A link_path real_path
paths=()
for lib in $DLOPENED; do
  grep -qaF "$lib" "$BIN" || problem "$lib is listed as loaded with dlopen but the binary never names it"
done
needed_libs="$needed_libs $DLOPENED"
for lib in $needed_libs; do
  # "soname => path (addr)", or "path (addr)" for the dynamic loader itself; a dlopened
  # library from the loader's cache.
  path="$(ldd "$BIN" | awk -v l="$lib" '$1 == l {print $3} $1 ~ ("/" l "$") {print $1}')"
  # (no early exit in awk: ldconfig would die of SIGPIPE, and pipefail with it)
  [ -n "$path" ] || path="$(ldconfig -p | awk -v l="$lib" '$1 == l && !found {print $NF; found = 1}')"
  [ -n "$path" ] || { problem "$lib: not found by ldd"; continue; }
  link_path[$lib]="$path"
  real_path[$lib]="$(readlink -f "$path")"
  paths+=("$path" "${real_path[$lib]}")
done
owners="$(dpkg -S "${paths[@]}" 2>/dev/null || true)"
needed=""
for lib in $needed_libs; do
  [ -n "${link_path[$lib]:-}" ] || continue
  pkg="$(awk -v a="${link_path[$lib]}" -v b="${real_path[$lib]}" \
    '$NF == a || $NF == b {sub(/:.*/, "", $1); print $1; exit}' <<<"$owners")"
  [ -n "$pkg" ] || { problem "$lib: no Debian package owns it"; continue; }
  needed="$needed $pkg"
done
needed="$(tr ' ' '\n' <<<"$needed" | grep -v '^$' | sort -u)"

for pkg in $needed; do
  grep -qx "$pkg" <<<"$listed" && continue
  grep -qw "$pkg" <<<"$BASE_IMAGE_PACKAGES" && continue
  problem "$pkg provides a library mlflowd links but the runtime stage does not install it"
done
for pkg in $listed; do
  grep -qx "$pkg" <<<"$needed" && continue
  grep -qw "$pkg" <<<"$ALLOWED_EXTRA" && continue
  problem "$pkg is installed in the runtime stage but mlflowd links no library of it"
done

# Names apt knows (only meaningful when apt has package lists; one apt-cache call).
if apt-cache show libc6 >/dev/null 2>&1; then
  # shellcheck disable=SC2086
  known="$(apt-cache show --no-all-versions $listed 2>/dev/null | sed -n 's/^Package: //p' | sort -u)"
  for pkg in $listed; do
    grep -qx "$pkg" <<<"$known" || problem "$pkg: no such Debian package"
  done
else
  echo "check-dockerfile: apt has no package lists; package names not checked against apt"
fi

if command -v hadolint >/dev/null; then
  hadolint "$DOCKERFILE" || problem "hadolint found problems"
else
  echo "check-dockerfile: hadolint is not installed (not in Debian 12 or npm); checks above only"
fi

if [ "$problems" -gt 0 ]; then
  echo "check-dockerfile: $problems problem(s) in $DOCKERFILE" >&2
  exit 1
fi
echo "check-dockerfile: ok ($(wc -w <<<"$listed") runtime packages match the libraries of $(basename "$BIN"))"
