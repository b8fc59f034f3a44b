#!/usr/bin/env bash
# Installs Chromium from Debian's package, if missing, for the browser tests (test/browser/),
# which drive it headless with playwright-core. The browser comes from the distribution, never
# from a download of its own (`npx playwright install` is not used and would not work offline).
# Idempotent and fast: a no-op when /usr/bin/chromium (or $CHROMIUM_PATH) is there.
set -euo pipefail
LETHE_TAG=install-chromium
# shellcheck source=lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

CHROMIUM=${CHROMIUM_PATH:-/usr/bin/chromium}
version() { { "$CHROMIUM" --version 2>/dev/null || true; } | head -n1; }

if [ -x "$CHROMIUM" ]; then
  info "chromium already installed ($(version))"
  exit 0
fi

command -v apt-get >/dev/null 2>&1 ||
  die "chromium is not installed and apt-get is not available: install Chromium with your package manager and set CHROMIUM_PATH to its binary"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "installing chromium needs root (or sudo): run 'sudo apt-get install chromium'"
  SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive

start=$(now_s)
info "installing chromium from Debian packages"
aptlog=$(mktemp)
if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >"$aptlog" 2>&1; then
  info "apt-get install failed; running apt-get update and retrying"
  "${SUDO[@]}" apt-get update >>"$aptlog" 2>&1 || { log_tail "$aptlog" 30; die "apt-get update failed"; }
  if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >>"$aptlog" 2>&1; then
    log_tail "$aptlog" 30
    die "apt-get install chromium failed (see above)"
  fi
fi
rm -f "$aptlog"
[ -x "$CHROMIUM" ] || die "chromium was installed but $CHROMIUM is missing; set CHROMIUM_PATH to its binary"
info "installed $(version) in $(elapsed "$start")"
