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

case "${1:-}" in
  "") ;;
  --check)
    if is_cached; then echo "$BIN"; exit 0; fi
    die "docker-compose $COMPOSE_VERSION is not installed at $BIN; build it (~2 min, once) with: bash infra/local/install-compose.sh"
    ;;
  -h|--help) print_header_doc "$0"; exit 0 ;;
  *) die "unknown argument '$1' (usage: install-compose.sh [--check])" ;;
esac

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

mkdir -p "$DEST"
WORK="$(mktemp -d "$CACHE_ROOT/.build-$COMPOSE_VERSION.XXXXXX")"
BUILD_LOG="$DEST/build.log"
: >"$BUILD_LOG"
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

export GOFLAGS="-buildvcs=false"
export GO111MODULE=on
export CGO_ENABLED=0

# ---------------------------------------------------------------- 1. source
phase "downloading $MODULE@v$COMPOSE_VERSION from the Go module proxy"
src_dir="$(cd "$WORK" && go mod download -json "$MODULE@v$COMPOSE_VERSION" 2>>"$BUILD_LOG" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')" || src_dir=""
if [ -z "$src_dir" ] || [ ! -d "$src_dir" ]; then
  tail -5 "$BUILD_LOG" >&2
  die "go mod download $MODULE@v$COMPOSE_VERSION failed (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))"
fi
# Build it as the main module (honours its exclude directives and go.sum) from a writable copy.
cp -r "$src_dir" "$WORK/src"
chmod -R u+w "$WORK/src"
SRC="$WORK/src"

phase "downloading Go dependencies (go mod download)"
(cd "$SRC" && go mod download) >>"$BUILD_LOG" 2>&1 || { tail -20 "$BUILD_LOG" >&2; die "go mod download of compose's dependencies failed (log: $BUILD_LOG)"; }

# ---------------------------------------------------------------- 2. build
phase "building docker-compose (go build ./cmd) -- ~2 min cold on 2 cores"
(
  cd "$SRC"
  exec go build -v -trimpath \
    -ldflags "-s -w -X $MODULE/internal.Version=v$COMPOSE_VERSION" \
    -o "$DEST/docker-compose.tmp" ./cmd
) >>"$BUILD_LOG" 2>&1 &
build_pid=$!
while kill -0 "$build_pid" 2>/dev/null; do
  for _ in $(seq 1 30); do kill -0 "$build_pid" 2>/dev/null || break; sleep 1; done
  kill -0 "$build_pid" 2>/dev/null || break
  info "  ... still building: $(elapsed "$PHASE_START") elapsed; last: $(tail -1 "$BUILD_LOG" | cut -c1-90)"
done
if ! wait "$build_pid"; then
  echo "----- last 40 lines of $BUILD_LOG -----" >&2
  tail -40 "$BUILD_LOG" >&2
  die "go build of docker-compose failed (full log: $BUILD_LOG)"
fi

phase "verifying binary"
"$DEST/docker-compose.tmp" version >>"$BUILD_LOG" 2>&1 || die "built docker-compose does not run (log: $BUILD_LOG)"
mv -f "$DEST/docker-compose.tmp" "$BIN"
phase ""

info "docker-compose $COMPOSE_VERSION built in $(elapsed "$T0"): $("$BIN" version) ($(du -h "$BIN" | cut -f1))"
echo "$BIN"
