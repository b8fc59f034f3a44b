#!/usr/bin/env bash
# Installs a Docker Engine from Debian's own packages (docker.io: dockerd, containerd, runc) and
# mmdebstrap (builds the base image locally: no container registry is reachable here), when
# missing. Debian has no buildx plugin, so Compose builds with the engine's own BuildKit.
# The distribution's docker/containerd system services are kept stopped and disabled:
# infra/docker/dockerd.sh runs a dockerd of Lethe's own (own socket and data root).
#
#   bash infra/docker/install-engine.sh      # idempotent: a no-op when both are installed
#
# Cold: ~1 min (apt download and unpack of ~80 MB). Installed: ~0.05 s.
set -euo pipefail
LETHE_TAG=install-engine
# shellcheck source=../local/lib.sh
. "$(cd "$(dirname "$0")/../local" && pwd)/lib.sh"

# docker.io brings dockerd, containerd, runc and a CLI (a newer CLI already on PATH is used
# first); iptables is named so a minimal system does not miss the bridge networks' rules.
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io iptables)
command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
if [ ${#need[@]} -eq 0 ]; then
  info "docker engine ($(dockerd --version | cut -d, -f1)) and mmdebstrap installed"
  exit 0
fi
start=$(now_s)
info "installing ${need[*]} from Debian"
apt_install docker "${need[@]}"
# containerd is docker.io's dependency with its own system service; dockerd.sh starts its own.
if [ -x /etc/init.d/containerd ]; then /etc/init.d/containerd stop >/dev/null 2>&1 || true; fi
command -v dockerd >/dev/null 2>&1 || die "docker.io installed but dockerd is not on PATH"
command -v mmdebstrap >/dev/null 2>&1 || die "mmdebstrap installed but not on PATH"
info "installed in $(elapsed "$start"): $(dockerd --version)"
