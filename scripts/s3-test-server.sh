#!/usr/bin/env bash
# The S3 test server: s3rver 3.7.1 (sso-and-deploy.md §6.3), an S3 look-alike in Node,
# installed from tests/tools/package-lock.json into tests/tools/node_modules (never globally).
#
#   scripts/s3-test-server.sh install   # npm ci --ignore-scripts, when the lock changed (quick otherwise)
#   scripts/s3-test-server.sh start     # starts it on 127.0.0.1, prints the MLFLOW_S3_ENDPOINT_URL
#   scripts/s3-test-server.sh stop      # stops it and deletes its data
#
# The integration tests start their own (fixture `s3_server` in tests/integration/conftest.py);
# `start` is for trying mlflowd by hand:
#   MLFLOW_S3_ENDPOINT_URL=$(scripts/s3-test-server.sh start) AWS_ACCESS_KEY_ID=S3RVER \
#   AWS_SECRET_ACCESS_KEY=S3RVER mlflowd server --artifacts-destination s3://mlflow/artifacts
# s3rver knows one key pair, S3RVER/S3RVER, and does not check SigV4 signatures (see §6.3;
# tests/unit/test_sigv4.c checks ours against AWS's published examples).
# Settings: MLFLOWD_S3_PORT (54568), MLFLOWD_S3_DIR (/tmp/mlflowd-s3-test-<port>).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
TOOLS="$HERE/../tests/tools"
PORT="${MLFLOWD_S3_PORT:-54568}"
DIR="${MLFLOWD_S3_DIR:-/tmp/mlflowd-s3-test-$PORT}"

install() {
  command -v node >/dev/null && command -v npm >/dev/null || "$HERE/install-deps.sh"
  # npm writes node_modules/.package-lock.json; a newer package-lock.json means reinstall.
  if [ ! -x "$TOOLS/node_modules/.bin/s3rver" ] ||
     [ "$TOOLS/package-lock.json" -nt "$TOOLS/node_modules/.package-lock.json" ]; then
    (cd "$TOOLS" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
  fi
}

start() {
  install
  if [ -f "$DIR/pid" ] && kill -0 "$(cat "$DIR/pid")" 2>/dev/null; then
    echo "http://127.0.0.1:$PORT"
    return
  fi
  rm -rf "$DIR"
  mkdir -p "$DIR/data"
  # s3rver makes continuation tokens with DES: OpenSSL 3 has it in the legacy provider only.
  nohup node --openssl-legacy-provider "$TOOLS/node_modules/.bin/s3rver" -d "$DIR/data" -a 127.0.0.1 -p "$PORT" \
    --configure-bucket mlflow -s >"$DIR/log" 2>&1 &
  echo $! >"$DIR/pid"
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
      echo "http://127.0.0.1:$PORT"
      return
    fi
    sleep 0.1
  done
  cat "$DIR/log" >&2
  exit 1
}

stop() {
  if [ -f "$DIR/pid" ]; then
    kill "$(cat "$DIR/pid")" 2>/dev/null || true
  fi
  rm -rf "$DIR"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
