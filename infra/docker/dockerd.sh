#!/usr/bin/env bash
# A Docker Engine of Lethe's own, for `pnpm test:compose` and for trying `docker compose up`
# on a machine without a system Docker: its own containerd and dockerd, own sockets, own data
# root (images survive restarts, so built images are cached), own pid files and logs. It never
# talks to, stops or reuses a system Docker: it refuses to start while another dockerd runs
# (two engines would fight over the same iptables chains and the docker0 bridge).
#
#   bash infra/docker/dockerd.sh start    # starts (or finds running); prints the DOCKER_HOST
#   bash infra/docker/dockerd.sh env      # prints `export DOCKER_HOST=… DOCKER_CONFIG=…` to eval
#   bash infra/docker/dockerd.sh status
#   bash infra/docker/dockerd.sh stop     # stops its containers (dockerd's shutdown), then both
#
# Paths (LETHE_LOCAL_DIR and LETHE_CACHE as in infra/local/lib.sh):
#   $LETHE_LOCAL_DIR/docker/docker.sock     the engine's API socket (DOCKER_HOST)
#   $LETHE_LOCAL_DIR/docker/{exec,containerd}  run state;  logs/ and pids/ as for the native servers
#   $LETHE_CACHE/docker/data                data root (images, volumes, build cache)
#   $LETHE_CACHE/docker/cli                 DOCKER_CONFIG: `docker compose` is the Compose that
#                                           infra/local/install-compose.sh builds
# One engine per data root: a lock held by the running daemons (an inherited file descriptor)
# keeps a second checkout from starting another on the same data root.
# Needs root (dockerd does). Start: ~3 s.
set -euo pipefail
LETHE_TAG=dockerd
# shellcheck source=../local/lib.sh
. "$(cd "$(dirname "$0")/../local" && pwd)/lib.sh"

RUN_DIR="$LETHE_LOCAL_DIR/docker"
SOCK="$RUN_DIR/docker.sock"
CTR_SOCK="$RUN_DIR/containerd/containerd.sock"
DATA="$LETHE_CACHE/docker/data"
CLI_CONFIG="$LETHE_CACHE/docker/cli"
LOCK="$LETHE_CACHE/docker/engine.lock"
DOCKERD_PID="$LETHE_PID_DIR/dockerd.pid"
CTR_PID="$LETHE_PID_DIR/containerd.pid"
DOCKERD_LOG="$LETHE_LOG_DIR/dockerd.log"
CTR_LOG="$LETHE_LOG_DIR/containerd.log"
DOCKER_HOST_URL="unix://$SOCK"

# The engine answers when `docker version` reaches the server through our socket.
answers() { DOCKER_HOST="$DOCKER_HOST_URL" docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# DOCKER_CONFIG with the Compose plugin, so `docker compose` is Compose 2.40.3 (Debian has
# neither the compose plugin nor buildx; Compose then builds through the engine's BuildKit).
cli_config() {
  local compose
  compose=$(bash "$LETHE_ROOT/infra/local/install-compose.sh") || die "no docker-compose (infra/local/install-compose.sh failed)"
  mkdir -p "$CLI_CONFIG/cli-plugins"
  ln -sfn "$compose" "$CLI_CONFIG/cli-plugins/docker-compose"
  [ -f "$CLI_CONFIG/config.json" ] || echo '{}' >"$CLI_CONFIG/config.json"
}

print_env() {
  echo "export DOCKER_HOST=\"$DOCKER_HOST_URL\" DOCKER_CONFIG=\"$CLI_CONFIG\""
}

start() {
  command -v dockerd >/dev/null 2>&1 || die "dockerd not installed: bash infra/docker/install-engine.sh"
  command -v docker >/dev/null 2>&1 || die "docker CLI not installed: bash infra/docker/install-engine.sh"
  [ "$(id -u)" -eq 0 ] || die "dockerd needs root"
  ensure_run_dirs
  if pid_of "$DOCKERD_PID" dockerd >/dev/null && answers; then
    info "dockerd already running (pid $(pid_of "$DOCKERD_PID" dockerd))"
    cli_config
    echo "$DOCKER_HOST_URL"
    return 0
  fi
  local other
  other=$(pgrep -x dockerd || true)
  [ -z "$other" ] || die "another dockerd runs (pid $other): not starting a second engine next to it. Use that one, or stop it first."
  mkdir -p "$RUN_DIR/containerd" "$RUN_DIR/exec" "$DATA" "$(dirname "$LOCK")"
  exec 9>"$LOCK"
  flock -n 9 || die "the data root $DATA is in use by another Lethe engine (lock $LOCK)"
  local start_s; start_s=$(now_s)
  release_stale_netns

  # containerd of our own (dockerd would otherwise use /run/containerd's system one if present).
  # The CRI plugin is for Kubernetes; dockerd's own managed containerd disables it too.
  cat >"$RUN_DIR/containerd/config.toml" <<TOML
version = 2
root = "$DATA/containerd"
state = "$RUN_DIR/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CTR_SOCK"
[ttrpc]
  address = "$CTR_SOCK.ttrpc"
[debug]
  address = ""
TOML
  rm -f "$CTR_SOCK" "$CTR_SOCK.ttrpc"
  # setsid: the daemons outlive this script; fd 9 (the lock) is inherited and held while they run.
  setsid containerd --config "$RUN_DIR/containerd/config.toml" >>"$CTR_LOG" 2>&1 < /dev/null &
  echo $! >"$CTR_PID"
  if ! wait_until 30 "$(cat "$CTR_PID")" "containerd's socket" test -S "$CTR_SOCK"; then
    log_tail "$CTR_LOG"; die "containerd did not start"
  fi

  rm -f "$SOCK"
  setsid dockerd \
    --host "$DOCKER_HOST_URL" \
    --containerd "$CTR_SOCK" \
    --data-root "$DATA" \
    --exec-root "$RUN_DIR/exec" \
    --pidfile "$RUN_DIR/dockerd.pid.internal" \
    --storage-driver overlay2 \
    --log-driver json-file --log-opt max-size=10m --log-opt max-file=3 \
    >>"$DOCKERD_LOG" 2>&1 < /dev/null &
  echo $! >"$DOCKERD_PID"
  if ! wait_until 60 "$(cat "$DOCKERD_PID")" "dockerd to answer on $SOCK" answers; then
    log_tail "$DOCKERD_LOG"; die "dockerd did not start"
  fi
  cli_config
  info "dockerd $(DOCKER_HOST="$DOCKER_HOST_URL" docker version --format '{{.Server.Version}}') up in $(elapsed "$start_s"): DOCKER_HOST=$DOCKER_HOST_URL (data root $DATA)"
  echo "$DOCKER_HOST_URL"
}

# Network namespaces left mounted by an engine that was killed rather than stopped (a CI run cut
# off at its time limit, from any checkout): each keeps its containers' veths on docker0 with the
# addresses the new engine hands out again, so a published port can reach the dead container's
# namespace instead of the new one ("connection refused", "port not bound"). No dockerd runs at
# this point (start refuses otherwise), so every Docker netns mount is stale; unmounting frees it.
release_stale_netns() {
  local ns released=0 stale
  # Collected before unmounting (/proc/mounts changes under a reader); a namespace can be mounted
  # more than once (mount propagation), so it is read again until none is left.
  for _ in 1 2 3; do
    stale=$(awk '$3 == "nsfs" && ($2 ~ /\/docker\/exec\/netns\// || $2 ~ /^(\/var)?\/run\/docker\/netns\//) { print $2 }' /proc/mounts)
    [ -n "$stale" ] || break
    for ns in $stale; do
      if umount "$ns" 2>/dev/null; then released=$((released + 1)); else warn "could not unmount the stale namespace $ns"; fi
    done
  done
  [ "$released" = 0 ] || info "released $released network namespace mount(s) left by an engine that did not stop"
}

stop() {
  # dockerd stops its containers on SIGTERM (each with its stop timeout, ≤ 30 s in compose).
  stop_pid "$DOCKERD_PID" dockerd dockerd 60
  stop_pid "$CTR_PID" containerd containerd 20
  rm -f "$SOCK" "$RUN_DIR/dockerd.pid.internal"
  # dockerd leaves its default network namespace mounted (nsfs) under the exec root; a file
  # that cannot be read breaks anyone who walks .local afterwards (P1's search of it).
  local ns
  for ns in "$RUN_DIR"/exec/netns/*; do
    if mountpoint -q "$ns" 2>/dev/null; then umount "$ns" 2>/dev/null || warn "could not unmount $ns"; fi
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) print_env ;;
  status)
    status_line "$DOCKERD_PID" dockerd dockerd "DOCKER_HOST=$DOCKER_HOST_URL" || exit 3
    status_line "$CTR_PID" containerd containerd "$CTR_SOCK" || exit 3
    ;;
  *) print_header_doc "$0"; exit 2 ;;
esac
