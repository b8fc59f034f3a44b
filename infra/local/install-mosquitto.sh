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

command -v apt-get >/dev/null 2>&1 ||
  die "mosquitto is not installed and apt-get is not available: install mosquitto + mosquitto-clients (2.0+) with your package manager"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "installing mosquitto needs root (or sudo)"
  SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive

start=$(now_s)
info "installing mosquitto + mosquitto-clients from Debian packages"

# Keep the package's postinst from starting the system broker on :1883 (policy-rc.d 101 = "not allowed").
POLICY=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\n# temporary, created by lethe infra/local/install-mosquitto.sh\nexit 101\n' |
    "${SUDO[@]}" tee "$POLICY" >/dev/null
  "${SUDO[@]}" chmod 755 "$POLICY"
  created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then "${SUDO[@]}" rm -f "$POLICY"; fi; }
trap cleanup EXIT

pkgs=(mosquitto mosquitto-clients)
aptlog=$(mktemp)
if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}" >"$aptlog" 2>&1; then
  info "apt-get install failed; running apt-get update and retrying"
  "${SUDO[@]}" apt-get update >>"$aptlog" 2>&1 || { log_tail "$aptlog" 30; die "apt-get update failed"; }
  if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}" >>"$aptlog" 2>&1; then
    log_tail "$aptlog" 30
    die "apt-get install ${pkgs[*]} failed"
  fi
fi
rm -f "$aptlog"

# Belt and braces: make sure the system service is stopped and will not start at boot.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  "${SUDO[@]}" systemctl disable --now mosquitto.service >/dev/null 2>&1 || true
elif [ -x /etc/init.d/mosquitto ]; then
  "${SUDO[@]}" /etc/init.d/mosquitto stop >/dev/null 2>&1 || true
  command -v update-rc.d >/dev/null 2>&1 && { "${SUDO[@]}" update-rc.d mosquitto disable >/dev/null 2>&1 || true; }
fi
if port_open 127.0.0.1 1883; then
  warn "something is still listening on 127.0.0.1:1883 (a system mosquitto?); Lethe uses its own broker on ${LETHE_MQTT_PORT:-11883}"
fi

info "installed $({ /usr/sbin/mosquitto -h 2>/dev/null || true; } | head -n1) in $(elapsed "$start")"
