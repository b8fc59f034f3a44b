#!/usr/bin/env bash
# Lethe in one command on a fresh machine: installs Node 24 and pnpm into ~/.cache/lethe when
# missing (infra/local/install-node.sh, from the npm registry), the dependencies when missing,
# then runs `pnpm demo` — the whole pipeline in one process, no Docker, no servers. It prints
# what to open; Ctrl-C stops it. Arguments and variables (PORT, SCENARIO, RATE, …) pass through.
#
#   bash demo.sh                 # then open http://127.0.0.1:8080/register and /city
#   PORT=9090 bash demo.sh
#
# The tests, likewise in one command: bash .ci/run
set -euo pipefail
cd "$(dirname "$0")"
eval "$(bash infra/local/install-node.sh --env)"
# Installed when missing or older than the lockfile (a stamp, as pnpm leaves .modules.yaml alone when nothing changed).
if [ ! -f node_modules/.lethe-installed ] || [ pnpm-lock.yaml -nt node_modules/.lethe-installed ]; then
  echo "[demo] installing the dependencies (pnpm install --frozen-lockfile)" >&2
  pnpm install --frozen-lockfile >&2
  touch node_modules/.lethe-installed
fi
exec pnpm --silent demo "$@"
