#!/usr/bin/env bash
# Installs the Prometheus server from Debian's package, if missing, for the e2e test that runs
# the pipeline-health and privacy dashboards' PromQL queries (test/support/prometheus.ts starts
# its own instance on a free loopback port with a temporary config and storage).
# Idempotent: a no-op when `prometheus` is already installed.
# The distribution's own system service (:9090) is kept from starting / disabled.
set -euo pipefail
LETHE_TAG=install-prometheus
# shellcheck source=lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/bin/$1" ]; }
version() { { "$(command -v prometheus || echo /usr/bin/prometheus)" --version 2>&1 || true; } | head -n1; }

if have prometheus; then
  info "prometheus already installed ($(version))"
  exit 0
fi

command -v apt-get >/dev/null 2>&1 ||
  die "prometheus is not installed and apt-get is not available: install Prometheus 2.40+ with your package manager, or put its binary on PATH"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "installing prometheus needs root (or sudo)"
  SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive

start=$(now_s)
info "installing prometheus from Debian packages"

# Keep the package's postinst from starting the system Prometheus on :9090 (policy-rc.d 101 = "not allowed").
POLICY=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\n# temporary, created by lethe infra/local/install-prometheus.sh\nexit 101\n' |
    "${SUDO[@]}" tee "$POLICY" >/dev/null
  "${SUDO[@]}" chmod 755 "$POLICY"
  created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then "${SUDO[@]}" rm -f "$POLICY"; fi; }
trap cleanup EXIT

# Only the server: the node exporter and web assets it recommends are not needed.
pkgs=(prometheus)
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
  "${SUDO[@]}" systemctl disable --now prometheus.service >/dev/null 2>&1 || true
elif [ -x /etc/init.d/prometheus ]; then
  "${SUDO[@]}" /etc/init.d/prometheus stop >/dev/null 2>&1 || true
  command -v update-rc.d >/dev/null 2>&1 && { "${SUDO[@]}" update-rc.d prometheus disable >/dev/null 2>&1 || true; }
fi
if port_open 127.0.0.1 9090; then
  warn "something is listening on 127.0.0.1:9090 (a system prometheus?); Lethe's tests start their own on a free port"
fi

info "installed $(version) in $(elapsed "$start")"
