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
# Without Ryuk, a run that was killed leaves its stopped containers (and their volumes) behind.
leftover=$(docker ps -aq --filter label=org.testcontainers=true --filter status=exited --filter status=created)
if [ -n "$leftover" ]; then
  info "removing $(echo "$leftover" | wc -l) container(s) a killed test run left"
  # shellcheck disable=SC2086 # one id per word
  docker rm --force --volumes $leftover >/dev/null
fi
bash "$HERE/build-images.sh"
info "running: $*"
"$@"
