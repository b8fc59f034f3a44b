#!/usr/bin/env bash
# Installs Schemathesis (the schema-driven API fuzzer, from PyPI) into a virtualenv of its own
# and caches it, for test/demo/schemathesis.test.ts, which runs it against the api with
# docs/openapi.yaml:
#   ${LETHE_CACHE:-$HOME/.cache/lethe}/schemathesis/<version>/bin/schemathesis
#
# Only pip and PyPI: `python3 -m venv`, then `pip install schemathesis==<version>` inside it,
# so nothing lands in the system's or the user's Python. The version is pinned here, so every
# machine and CI fuzzes with the same checks.
#
#   bash infra/local/install-schemathesis.sh           # install if missing; prints the binary path
#   bash infra/local/install-schemathesis.sh --check   # never installs: path if cached, else exit 1
#
# Idempotent: a complete cached venv of this version is reused (a no-op).
# Cold install: ~15 s here (about 30 wheels, 94 MB in the venv). Needs python3 >= 3.9 with venv.
# Prints the binary path on stdout at the end (progress goes to stderr).
set -euo pipefail
LETHE_TAG=install-schemathesis
# shellcheck source=lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

SCHEMATHESIS_VERSION="4.32.5"
PYTHON_MIN="3.9"

CACHE_ROOT="$LETHE_CACHE/schemathesis"
DEST="$CACHE_ROOT/$SCHEMATHESIS_VERSION"
BIN="$DEST/bin/schemathesis"
STAMP="$DEST/.lethe-installed"

is_cached() {
  [ -x "$BIN" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$SCHEMATHESIS_VERSION" ]
}

install_args "schemathesis $SCHEMATHESIS_VERSION" "install it (~15 s, once) with: bash infra/local/install-schemathesis.sh" "$@"

exit_if_cached "schemathesis $SCHEMATHESIS_VERSION"

# ---------------------------------------------------------------- prerequisites
PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON is not on PATH; install Python >= $PYTHON_MIN (apt-get install python3 python3-venv) and retry"
py_ver=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$(printf '%s\n' "$PYTHON_MIN" "$py_ver" | sort -V | head -1)" != "$PYTHON_MIN" ]; then
  die "$PYTHON is $py_ver; schemathesis $SCHEMATHESIS_VERSION needs Python >= $PYTHON_MIN"
fi
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || die "$PYTHON has no venv/ensurepip module; install it (apt-get install python3-venv) and retry"

# ---------------------------------------------------------------- lock (concurrent callers)
install_lock "$CACHE_ROOT/.install-$SCHEMATHESIS_VERSION.lock" "schemathesis $SCHEMATHESIS_VERSION"

start=$(now_s)
# A venv is not relocatable (its scripts name its path), so it is made in place; the stamp file,
# written last, tells a complete install from a failed or interrupted one, which is made anew.
rm -rf "$DEST"
INSTALL_LOG="$CACHE_ROOT/install-$SCHEMATHESIS_VERSION.log"
info "creating a virtualenv with $PYTHON $py_ver in $DEST"
"$PYTHON" -m venv "$DEST" >"$INSTALL_LOG" 2>&1 || { log_tail "$INSTALL_LOG" 20; die "$PYTHON -m venv failed"; }
info "pip install schemathesis==$SCHEMATHESIS_VERSION from PyPI"
if ! "$DEST/bin/python" -m pip install --no-input --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" >>"$INSTALL_LOG" 2>&1; then
  log_tail "$INSTALL_LOG" 30
  rm -rf "$DEST"
  die "pip install schemathesis==$SCHEMATHESIS_VERSION failed (is PyPI reachable? log: $INSTALL_LOG)"
fi
"$BIN" --version >>"$INSTALL_LOG" 2>&1 || { rm -rf "$DEST"; die "the installed schemathesis does not run (log: $INSTALL_LOG)"; }
echo "$SCHEMATHESIS_VERSION" >"$STAMP"
info "installed $("$BIN" --version 2>&1 | head -n1) in $(elapsed "$start")"
echo "$BIN"
