#!/usr/bin/env bash
# Installs nginx from Debian's packages, if missing. Lethe uses it only in tests: the compose
# stack puts the InfluxDB writer behind infra/influxdb-writer-proxy (an nginx config that
# passes POST /api/v2/write and nothing else), and test/integration/security-influxdb.test.ts
# runs that same config natively against the real InfluxDB.
# Idempotent: a no-op when nginx is already installed. The distribution's own system service
# (port 80) is kept from starting and disabled.
set -euo pipefail
LETHE_TAG=install-nginx
# shellcheck source=lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

# nginx lives in /usr/sbin, which a non-root PATH may lack.
find_nginx() { command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; }; }

if bin=$(find_nginx); then
  info "nginx already installed ($("$bin" -v 2>&1 | head -n1))"
  echo "$bin"
  exit 0
fi

command -v apt-get >/dev/null 2>&1 ||
  die "nginx is not installed and apt-get is not available: install nginx (1.22+) with your package manager"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "installing nginx needs root (or sudo)"
  SUDO=(sudo)
fi

start=$(now_s)
info "installing nginx from Debian packages"

# Keep the package's postinst from starting the system nginx on :80 (policy-rc.d 101 = "not allowed").
POLICY=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\n# temporary, created by lethe infra/local/install-nginx.sh\nexit 101\n' |
    "${SUDO[@]}" tee "$POLICY" >/dev/null
  "${SUDO[@]}" chmod 755 "$POLICY"
  created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then "${SUDO[@]}" rm -f "$POLICY"; fi; }
trap cleanup EXIT

aptlog=$(mktemp)
if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx >"$aptlog" 2>&1; then
  info "apt-get install failed; running apt-get update and retrying"
  "${SUDO[@]}" apt-get update >>"$aptlog" 2>&1 || { log_tail "$aptlog" 30; die "apt-get update failed"; }
  if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx >>"$aptlog" 2>&1; then
    log_tail "$aptlog" 30
    die "apt-get install nginx failed"
  fi
fi
rm -f "$aptlog"

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  "${SUDO[@]}" systemctl disable --now nginx.service >/dev/null 2>&1 || true
elif [ -x /etc/init.d/nginx ]; then
  "${SUDO[@]}" /etc/init.d/nginx stop >/dev/null 2>&1 || true
  command -v update-rc.d >/dev/null 2>&1 && { "${SUDO[@]}" update-rc.d nginx disable >/dev/null 2>&1 || true; }
fi

bin=$(find_nginx) || die "apt-get installed nginx, but no nginx binary was found"
info "installed $("$bin" -v 2>&1 | head -n1) in $(elapsed "$start")"
echo "$bin"
