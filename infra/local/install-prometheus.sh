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

start=$(now_s)
info "installing prometheus from Debian packages"
# Only the server: the node exporter and web assets it recommends are not needed.
apt_install prometheus prometheus
if port_open 127.0.0.1 9090; then
  warn "something is listening on 127.0.0.1:9090 (a system prometheus?); Lethe's tests start their own on a free port"
fi

info "installed $(version) in $(elapsed "$start")"
