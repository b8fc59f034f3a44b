#!/usr/bin/env bash
# Builds a native InfluxDB 2.x server (influxd) from the Go module proxy and caches the binary:
#   ${LETHE_CACHE:-$HOME/.cache/lethe}/influxdb/<version>/influxd
#
# There is no Docker and no release-tarball download here, only package registries, so:
#   1. the influxdb module source comes from the Go module proxy (go mod download);
#   2. Flux's cgo library (libflux, Rust) is compiled by InfluxData's pkg-config wrapper
#      (github.com/influxdata/pkg-config), which go build invokes as $PKG_CONFIG for "flux"
#      and which runs `cargo build --release` on the flux module source (crates from crates.io);
#   3. go build ./cmd/influxd without the `assets` tag (no UI; the API works without it).
#
# Rust quirks handled here:
#   - flux pins Rust 1.72 in rust-toolchain.toml -> RUSTUP_TOOLCHAIN=stable overrides it;
#   - libflux has #![deny(warnings)], which newer rustc turns into hard errors -> a tiny
#     RUSTC_WRAPPER adds --cap-lints=warn (RUSTFLAGS alone misses host/build-script crates).
#
# Idempotent: a cached binary that answers `influxd version` is reused (exit 0 quickly).
# Cold build: ~4 min on 2 cores (measured, empty Go build cache), plus module/crate downloads
# on a fresh machine. Prints the binary path on stdout at the end (progress goes to stderr).
set -euo pipefail
LETHE_TAG=install-influxdb
# shellcheck source=lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

INFLUXDB_VERSION="2.7.12"
MODULE="github.com/influxdata/influxdb/v2"
BUILD_TAGS="sqlite_foreign_keys,sqlite_json"   # upstream COMMON_TAGS, minus `assets` (UI)

CACHE_ROOT="$LETHE_CACHE/influxdb"
DEST="$CACHE_ROOT/$INFLUXDB_VERSION"
BIN="$DEST/influxd"

is_cached() {
  [ -x "$BIN" ] && "$BIN" version 2>/dev/null | grep -q "v$INFLUXDB_VERSION"
}

exit_if_cached "influxd $INFLUXDB_VERSION"

# ---------------------------------------------------------------- prerequisites
command -v go >/dev/null 2>&1 || die "go is not on PATH. Install Go >= 1.23 (https://go.dev/dl or the Go module proxy toolchain) and retry."
command -v cargo >/dev/null 2>&1 || die "cargo is not on PATH. Install Rust via rustup (stable toolchain, >= 1.72) and retry; try: source \$HOME/.cargo/env"
command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || die "no C compiler (cc/gcc) found; install one (apt-get install -y build-essential)."
command -v pkg-config >/dev/null 2>&1 || die "the system pkg-config is missing (InfluxData's wrapper delegates to it); install it: apt-get install -y pkg-config"

export RUSTUP_TOOLCHAIN="${RUSTUP_TOOLCHAIN:-stable}"
rustc_ver="$(rustc --version 2>/dev/null | awk '{print $2}')" \
  || die "rustc for toolchain '$RUSTUP_TOOLCHAIN' does not run; install it: rustup toolchain install $RUSTUP_TOOLCHAIN"
[ -n "$rustc_ver" ] || die "rustc for toolchain '$RUSTUP_TOOLCHAIN' does not run; install it: rustup toolchain install $RUSTUP_TOOLCHAIN"
if [ "$(printf '%s\n' "1.72.0" "$rustc_ver" | sort -V | head -1)" != "1.72.0" ]; then
  die "rustc $rustc_ver is too old for libflux (needs >= 1.72); use rustup's stable toolchain"
fi
info "using $(go version | awk '{print $3}'), rustc $rustc_ver ($RUSTUP_TOOLCHAIN), $(nproc 2>/dev/null || echo '?') cores"

# ---------------------------------------------------------------- lock (concurrent callers)
install_lock "$CACHE_ROOT/.install-$INFLUXDB_VERSION.lock" "influxd $INFLUXDB_VERSION"

T0=$(now_s)
export CGO_ENABLED=1

# ---------------------------------------------------------------- 1. source
go_module_source "$MODULE" "$INFLUXDB_VERSION"

# ---------------------------------------------------------------- 2. pkg-config wrapper
PKGCFG_VERSION="$(cd "$SRC" && go list -m -f '{{.Version}}' github.com/influxdata/pkg-config)"
FLUX_VERSION="$(cd "$SRC" && go list -m -f '{{.Version}}' github.com/influxdata/flux)"
phase "installing github.com/influxdata/pkg-config@$PKGCFG_VERSION (builds libflux for flux $FLUX_VERSION)"
mkdir -p "$WORK/bin"
GOBIN="$WORK/bin" go install "github.com/influxdata/pkg-config@$PKGCFG_VERSION" >>"$BUILD_LOG" 2>&1 \
  || { tail -20 "$BUILD_LOG" >&2; die "go install github.com/influxdata/pkg-config failed (log: $BUILD_LOG)"; }

# rustc wrapper: cap lints at "warn" so libflux's #![deny(warnings)] survives newer rustc lints.
cat >"$WORK/bin/rustc-cap-lints" <<'EOF'
#!/bin/sh
cap=1; crate=0
for a in "$@"; do
  case "$a" in --cap-lints*) cap=0 ;; --crate-name) crate=1 ;; esac
done
if [ "$cap" = 1 ] && [ "$crate" = 1 ]; then exec "$@" --cap-lints=warn; fi
exec "$@"
EOF
chmod +x "$WORK/bin/rustc-cap-lints"

# ---------------------------------------------------------------- 3. fetch crates (so failures are clear)
FLUX_DIR="$(cd "$WORK" && go mod download -json "github.com/influxdata/flux@$FLUX_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
phase "fetching libflux crates from crates.io (cargo fetch)"
(cd "$FLUX_DIR/libflux" && CARGO_TARGET_DIR="$WORK/cargo-fetch-target" cargo fetch) >>"$BUILD_LOG" 2>&1 \
  || { tail -20 "$BUILD_LOG" >&2; die "cargo fetch for libflux failed (is crates.io reachable?) (log: $BUILD_LOG)"; }

# ---------------------------------------------------------------- 4. build
phase "building influxd (go build ./cmd/influxd; libflux via cargo) -- several minutes (~4 min cold on 2 cores)"
BUILD_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
(
  cd "$SRC"
  # go build runs $PKG_CONFIG for libflux's `#cgo pkg-config: flux`; the wrapper builds
  # libflux with cargo into $GOCACHE/pkgconfig and hands anything else to the system pkg-config.
  export PKG_CONFIG="$WORK/bin/pkg-config"
  export PKG_CONFIG_LOG="$DEST/pkg-config.log"
  export RUSTC_WRAPPER="$WORK/bin/rustc-cap-lints"
  exec go build -v -tags "$BUILD_TAGS" \
    -ldflags "-s -w -X main.version=v$INFLUXDB_VERSION -X main.commit=modproxy -X main.date=$BUILD_DATE" \
    -o "$BIN.tmp" ./cmd/influxd
) >>"$BUILD_LOG" 2>&1 &
cargo_note() { if pgrep -x cargo >/dev/null 2>&1; then echo " (cargo is compiling libflux)"; fi; }
wait_build $! "go build of influxd failed (full log: $BUILD_LOG, pkg-config log: $DEST/pkg-config.log)" cargo_note

install_built "influxd $INFLUXDB_VERSION"
