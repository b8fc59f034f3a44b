#!/usr/bin/env bash
# Installs the Mosquitto MQTT broker and clients from Debian's packages, if missing.
# Idempotent: a no-op when mosquitto and mosquitto_passwd are already installed.
# The distribution's own system service (port 1883) is kept from starting / disabled:
# Lethe runs its own instance via infra/local/mosquitto.sh.
set -euo pipefail
LETHE_TAG=install-mosquitto
# shellcheck source=lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

# mosquitto lives in /usr/sbin, which a non-root PATH may lack.
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }

if have mosquitto && have mosquitto_passwd && have mosquitto_pub; then
  info "mosquitto already installed ($({ "$(command -v mosquitto || echo /usr/sbin/mosquitto)" -h 2>/dev/null || true; } | head -n1))"
  exit 0
fi

start=$(now_s)
info "installing mosquitto + mosquitto-clients from Debian packages"
apt_install mosquitto mosquitto mosquitto-clients
if port_open 127.0.0.1 1883; then
  warn "something is still listening on 127.0.0.1:1883 (a system mosquitto?); Lethe uses its own broker on ${LETHE_MQTT_PORT:-11883}"
fi

info "installed $({ /usr/sbin/mosquitto -h 2>/dev/null || true; } | head -n1) in $(elapsed "$start")"
