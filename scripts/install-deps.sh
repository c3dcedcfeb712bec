#!/usr/bin/env bash
# Installs the Debian 12 packages mlflowd needs to build, run and test.
# Idempotent and quick when everything is already there.
set -euo pipefail

packages=(
  gcc make meson ninja-build pkg-config clang libclang-rt-14-dev
  libmicrohttpd-dev libjansson-dev libsqlite3-dev libssl-dev libcurl4-openssl-dev libpq-dev libjose-dev
  libxml2-dev
  python3 python3-pytest python3-requests sqlite3 curl
  postgresql-15 postgresql-client-15 python3-psycopg2
  chromium fonts-dejavu-core  # web UI e2e tests (tests/e2e): headless Chromium, a font for screenshots
)
[ "${1:-}" = "--test" ] && packages+=()
# make deploy-checks: yamllint, and Go with Sprig for tests/deploy/render (helm template).
[ "${1:-}" = "--deploy-checks" ] && packages+=(yamllint python3-yaml golang-go
  golang-github-masterminds-sprig-dev golang-k8s-sigs-yaml-dev)
# Node.js builds the web UI (web/build-ui.sh: npm ci, esbuild) and runs the S3 test server
# (scripts/s3-test-server.sh) and the e2e tests. A Node from elsewhere (NodeSource
# bundles npm) is used as it is; without one, Debian's nodejs and npm.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root (or install sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
