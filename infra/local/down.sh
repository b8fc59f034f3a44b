#!/usr/bin/env bash
# Stops the local native infra started by up.sh, in reverse order (influxdb, kafka, mosquitto).
# Data under $LETHE_LOCAL_DIR is kept.
#
#   infra/local/down.sh                    # all
#   infra/local/down.sh kafka              # only these
set -euo pipefail
LETHE_TAG=down
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

REVERSE=(influxdb kafka mosquitto)

case "${1:-}" in -h | --help) print_header_doc "$0" 2>&1; exit 0 ;; esac

parse_services "${REVERSE[*]}" "$@"

rc=0
for s in "${REVERSE[@]}"; do
  wants "$s" || continue
  if [ ! -f "$HERE/$s.sh" ]; then
    warn "$HERE/$s.sh does not exist; skipping $s"
    continue
  fi
  # keep going so one failing stop does not leave the others running
  bash "$HERE/$s.sh" stop || { warn "stopping $s failed"; rc=1; }
done
exit "$rc"
