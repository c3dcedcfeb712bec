#!/usr/bin/env bash
# The OIDC test issuers of the SSO integration tests (sso-and-deploy.md §6.4): oidc-provider 9
# and jose 6, installed from tests/tools-oidc/package-lock.json into tests/tools-oidc/node_modules
# (never globally; npm ci --ignore-scripts). Quick when nothing changed.
#
#   scripts/oidc-test-tools.sh install
#
# The tests start the issuers themselves on 127.0.0.1 (tests/integration/sso_helpers.py):
# tests/tools-oidc/fake-issuer.mjs (Keycloak-shaped, mints hostile tokens) and
# tests/tools-oidc/oidc-provider.mjs (a real OpenID provider for the native login).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
TOOLS="$HERE/../tests/tools-oidc"

case "${1:-}" in
  install)
    command -v node >/dev/null && command -v npm >/dev/null || "$HERE/install-deps.sh"
    if [ ! -d "$TOOLS/node_modules/oidc-provider" ] ||
       [ "$TOOLS/package-lock.json" -nt "$TOOLS/node_modules/.package-lock.json" ]; then
      (cd "$TOOLS" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
    fi
    ;;
  *) echo "usage: $0 install" >&2; exit 2 ;;
esac
