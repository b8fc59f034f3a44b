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

start=$(now_s)
info "installing nginx from Debian packages"
apt_install nginx nginx

bin=$(find_nginx) || die "apt-get installed nginx, but no nginx binary was found"
info "installed $("$bin" -v 2>&1 | head -n1) in $(elapsed "$start")"
echo "$bin"
