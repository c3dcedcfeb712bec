#!/bin/sh
# Builds the web UI and embeds it as C arrays (called by web/meson.build).
#   build-ui.sh OUT.c WORKDIR EMBED_PY
# 1. npm ci into web/node_modules when package-lock.json changed since the
#    last install (under flock: several build dirs may build at once);
# 2. node build.mjs WORKDIR (esbuild bundle, index.html, gzip variants);
# 3. scripts/embed.py WORKDIR/* -> OUT.c (symbols mfd_ui_*, see src/api/ui.c).
set -eu
out_c=$1
work=$2
embed_py=$3
web=$(cd "$(dirname "$0")" && pwd)

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "build-ui: node and npm are needed to build the web UI (scripts/install-deps.sh installs them)" >&2
  exit 1
fi

(
  flock 9
  stamp="$web/node_modules/.mfd-installed-lock"
  if ! cmp -s "$web/package-lock.json" "$stamp" 2>/dev/null; then
    echo "build-ui: npm ci in $web" >&2
    (cd "$web" && npm ci --no-audit --no-fund --loglevel=error >&2)
    cp "$web/package-lock.json" "$stamp"
  fi
) 9<"$web/package-lock.json"

mkdir -p "$work"
node "$web/build.mjs" "$work"
"$embed_py" "$out_c" \
  "mfd_ui_index_html=$work/index.html" \
  "mfd_ui_app_js=$work/app.js" \
  "mfd_ui_app_js_gz=$work/app.js.gz" \
  "mfd_ui_app_css=$work/app.css" \
  "mfd_ui_app_css_gz=$work/app.css.gz" \
  "mfd_ui_favicon_svg=$work/favicon.svg" \
  "mfd_ui_build_hash=$work/build-hash.txt"
