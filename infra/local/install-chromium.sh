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

start=$(now_s)
info "installing chromium from Debian packages"
apt_install "" chromium
[ -x "$CHROMIUM" ] || die "chromium was installed but $CHROMIUM is missing; set CHROMIUM_PATH to its binary"
info "installed $(version) in $(elapsed "$start")"
