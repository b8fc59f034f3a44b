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

want=("$@")
[ ${#want[@]} -gt 0 ] || want=("${REVERSE[@]}")
for s in "${want[@]}"; do
  case " ${REVERSE[*]} " in *" $s "*) ;; *) die "unknown service '$s' (known: ${REVERSE[*]})" ;; esac
done

rc=0
for s in "${REVERSE[@]}"; do
  case " ${want[*]} " in *" $s "*) ;; *) continue ;; esac
  if [ ! -f "$HERE/$s.sh" ]; then
    warn "$HERE/$s.sh does not exist; skipping $s"
    continue
  fi
  # keep going so one failing stop does not leave the others running
  bash "$HERE/$s.sh" stop || { warn "stopping $s failed"; rc=1; }
done
exit "$rc"
