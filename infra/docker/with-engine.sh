#!/usr/bin/env bash
# Runs a command with a Docker Engine of Lethe's own and the stand-in images built: installs the
# engine when missing (install-engine.sh), starts infra/docker/dockerd.sh (and stops it again at
# the end if this script started it), builds what images are missing (build-images.sh), exports
# DOCKER_HOST and runs the command. Anonymous volumes the command's containers leave (testcontainers
# without its Ryuk clean-up container, which no registry serves here) are pruned afterwards.
#
#   bash infra/docker/with-engine.sh pnpm vitest run --project integration   # = pnpm test:testcontainers
set -euo pipefail
LETHE_TAG=with-engine
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../local/lib.sh
. "$HERE/../local/lib.sh"

[ $# -gt 0 ] || { print_header_doc "$0"; exit 2; }

bash "$HERE/install-engine.sh"
started=0
bash "$HERE/dockerd.sh" status >/dev/null 2>&1 || started=1
bash "$HERE/dockerd.sh" start >/dev/null
finish() {
  local rc=$?
  docker volume prune --force >/dev/null 2>&1 || warn "could not prune the anonymous volumes"
  if [ "$started" = 1 ]; then bash "$HERE/dockerd.sh" stop || true; fi
  exit "$rc"
}
trap finish EXIT
eval "$(bash "$HERE/dockerd.sh" env)"
bash "$HERE/build-images.sh"
info "running: $*"
"$@"
