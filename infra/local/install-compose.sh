#!/usr/bin/env bash
# Builds the Docker Compose v2 CLI (docker-compose) from the Go module proxy and caches it:
#   ${LETHE_CACHE:-$HOME/.cache/lethe}/compose/<version>/docker-compose
#
# Tests use it to validate docker-compose.yml with the real Compose implementation
# (`docker-compose config` loads, validates and interpolates the file without a Docker engine).
# There is no Docker and no release download here, only package registries, so:
#   1. the compose module source comes from the Go module proxy (go mod download);
#   2. go build ./cmd from a writable copy: `go install module@version` refuses compose, whose
#      go.mod has exclude directives, and building it as the main module honours them and go.sum;
#   3. CGO_ENABLED=0, -trimpath and the version ldflag, as upstream's Makefile/Dockerfile do.
#
#   bash infra/local/install-compose.sh           # build if missing; prints the binary path
#   bash infra/local/install-compose.sh --check   # never builds: path if cached, else exit 1
#
# Idempotent: a cached binary that reports this version is reused (exit 0 quickly).
# Cold build: ~1 min 45 s on 2 cores (measured: 105 s with empty Go module and build caches:
# ~5 s fetching 500 MB of modules from the proxy, 101 s go build; the build cache grows by
# ~900 MB). Cached: ~0.03 s. The binary is 65 MB.
# Prints the binary path on stdout at the end (progress goes to stderr).
set -euo pipefail
LETHE_TAG=install-compose
# shellcheck source=lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

COMPOSE_VERSION="2.40.3"
MODULE="github.com/docker/compose/v2"
GO_MIN="1.24.9"   # the `go` line of compose's go.mod

CACHE_ROOT="$LETHE_CACHE/compose"
DEST="$CACHE_ROOT/$COMPOSE_VERSION"
BIN="$DEST/docker-compose"

is_cached() {
  [ -x "$BIN" ] && "$BIN" version 2>/dev/null | grep -q "v$COMPOSE_VERSION"
}

install_args "docker-compose $COMPOSE_VERSION" "build it (~2 min, once) with: bash infra/local/install-compose.sh" "$@"

exit_if_cached "docker-compose $COMPOSE_VERSION"

# ---------------------------------------------------------------- prerequisites
command -v go >/dev/null 2>&1 || die "go is not on PATH. Install Go >= $GO_MIN (https://go.dev/dl) and retry."
go_ver="$(go env GOVERSION 2>/dev/null | sed 's/^go//')"
[ -n "$go_ver" ] || die "\`go env GOVERSION\` printed nothing; is the Go installation on PATH complete?"
if [ "$(printf '%s\n' "$GO_MIN" "$go_ver" | sort -V | head -1)" != "$GO_MIN" ]; then
  die "go $go_ver is older than $GO_MIN, which compose v$COMPOSE_VERSION needs; install a newer Go, or let the go command fetch that toolchain from the module proxy: export GOTOOLCHAIN=go$GO_MIN"
fi
info "using go $go_ver, $(nproc 2>/dev/null || echo '?') cores"

# ---------------------------------------------------------------- lock (concurrent callers)
install_lock "$CACHE_ROOT/.install-$COMPOSE_VERSION.lock" "docker-compose $COMPOSE_VERSION"

T0=$(now_s)
export CGO_ENABLED=0

# ---------------------------------------------------------------- 1. source
go_module_source "$MODULE" "$COMPOSE_VERSION"

# ---------------------------------------------------------------- 2. build
phase "building docker-compose (go build ./cmd) -- ~2 min cold on 2 cores"
(
  cd "$SRC"
  exec go build -v -trimpath \
    -ldflags "-s -w -X $MODULE/internal.Version=v$COMPOSE_VERSION" \
    -o "$BIN.tmp" ./cmd
) >>"$BUILD_LOG" 2>&1 &
wait_build $! "go build of docker-compose failed (full log: $BUILD_LOG)"

install_built "docker-compose $COMPOSE_VERSION"
