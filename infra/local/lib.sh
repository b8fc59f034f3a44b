# shellcheck shell=bash
# Shared helpers for the native local-infra scripts (kafka.sh, mosquitto.sh, up.sh, ...).
# Source it; it does not change shell options itself (callers run `set -euo pipefail`).
#
#   LETHE_ROOT       repo root (derived from this file's location)
#   LETHE_LOCAL_DIR  run dir: configs, data, logs/, pids/   (default <repo>/.local)
#   LETHE_CACHE      install cache shared across checkouts   (default ~/.cache/lethe)

LETHE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LETHE_LOCAL_DIR="${LETHE_LOCAL_DIR:-$LETHE_ROOT/.local}"
LETHE_CACHE="${LETHE_CACHE:-$HOME/.cache/lethe}"
LETHE_LOG_DIR="$LETHE_LOCAL_DIR/logs"
LETHE_PID_DIR="$LETHE_LOCAL_DIR/pids"
export LETHE_ROOT LETHE_LOCAL_DIR LETHE_CACHE

# Tag for messages; each script sets it (e.g. LETHE_TAG=kafka).
LETHE_TAG="${LETHE_TAG:-lethe}"

info() { echo "[$LETHE_TAG] $*" >&2; }
warn() { echo "[$LETHE_TAG] WARNING: $*" >&2; }
die() { echo "[$LETHE_TAG] ERROR: $*" >&2; exit 1; }

# Seconds since the epoch; `elapsed START` prints "Ns" since START.
now_s() { date +%s; }
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

ensure_run_dirs() { mkdir -p "$LETHE_LOG_DIR" "$LETHE_PID_DIR"; }

# pid_of PIDFILE MARKER: prints the pid recorded in PIDFILE if that process is alive
# AND its command line contains MARKER (guards against a stale file whose pid was reused).
# Returns 1 (printing nothing) otherwise.
pid_of() {
  local pidfile=$1 marker=$2 pid
  [ -f "$pidfile" ] || return 1
  pid=$(tr -dc '0-9' <"$pidfile")
  [ -n "$pid" ] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [ -r "/proc/$pid/cmdline" ]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker" || return 1
  fi
  echo "$pid"
}

# port_open HOST PORT: true if something accepts TCP connections there.
port_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# log_tail FILE [LINES]: print the end of a log, framed, to stderr (used on failures).
log_tail() {
  local f=$1 n=${2:-40}
  if [ -s "$f" ]; then
    echo "----- last $n lines of $f -----" >&2
    tail -n "$n" "$f" >&2
    echo "----- end of $f -----" >&2
  else
    echo "(no output in $f)" >&2
  fi
}

# wait_until TIMEOUT_S PID DESC CMD...: polls CMD every 0.5 s until it succeeds.
# Fails early if PID dies. Returns 0 on success, 1 on timeout, 2 if PID exited.
wait_until() {
  local timeout=$1 pid=$2 desc=$3; shift 3
  local deadline=$(( $(date +%s) + timeout ))
  while :; do
    if "$@"; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "[$LETHE_TAG] process $pid exited while waiting for $desc" >&2
      return 2
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "[$LETHE_TAG] timed out after ${timeout}s waiting for $desc" >&2
      return 1
    fi
    sleep 0.5
  done
}

# stop_pid PIDFILE MARKER NAME [GRACE_S]: SIGTERM, wait up to GRACE_S (default 20), then SIGKILL.
# Removes the pid file. No-op when not running.
stop_pid() {
  local pidfile=$1 marker=$2 name=$3 grace=${4:-20} pid start
  if ! pid=$(pid_of "$pidfile" "$marker"); then
    info "$name is not running"
    rm -f "$pidfile"
    return 0
  fi
  start=$(now_s)
  info "stopping $name (pid $pid, SIGTERM)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$(( $(date +%s) + grace ))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      warn "$name did not exit within ${grace}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.25
  done
  rm -f "$pidfile"
  info "$name stopped in $(elapsed "$start")"
}

# status_line PIDFILE MARKER NAME DETAIL: prints running/stopped; returns 0 if running, 3 if not.
status_line() {
  local pidfile=$1 marker=$2 name=$3 detail=$4 pid
  if pid=$(pid_of "$pidfile" "$marker"); then
    echo "$name: running (pid $pid) $detail"
    return 0
  fi
  echo "$name: stopped"
  return 3
}

# print_header_doc FILE: prints FILE's leading comment block (after the shebang), without '# '.
print_header_doc() {
  awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$1" >&2
}

# parse_services "<known services>" [args...]: sets WANT to the services named in args (all
# known ones when none are named); dies on an unknown name. `wants NAME` tests membership.
parse_services() {
  local known="$1" s
  shift
  WANT=("$@")
  [ ${#WANT[@]} -gt 0 ] || read -ra WANT <<<"$known"
  for s in "${WANT[@]}"; do
    case " $known " in *" $s "*) ;; *) die "unknown service '$s' (known: $known)" ;; esac
  done
}
wants() { case " ${WANT[*]} " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# apt_install SERVICE PACKAGE...: installs Debian packages without leaving the distribution's own
# system service running (Lethe starts its own instances on its own ports). SERVICE is the
# package's system service to keep stopped and disabled, or "" when it has none. Needs root or
# sudo; retries once after `apt-get update`; shows the apt log's tail on failure.
apt_install() {
  local service=$1; shift
  command -v apt-get >/dev/null 2>&1 ||
    die "$* not installed and apt-get is not available: install $* with your package manager"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "installing $* needs root (or sudo): run 'sudo apt-get install $*'"
    sudo=(sudo)
  fi
  # Keep the packages' postinst from starting system services (policy-rc.d 101 = "not allowed").
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [ -n "$service" ] && [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# temporary, created by lethe infra/local/lib.sh apt_install\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
    created_policy=1
  fi
  local aptlog rc=0
  aptlog=$(mktemp)
  local install=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@")
  if ! "${install[@]}" >"$aptlog" 2>&1; then
    info "apt-get install failed; running apt-get update and retrying"
    if ! "${sudo[@]}" apt-get update >>"$aptlog" 2>&1 || ! "${install[@]}" >>"$aptlog" 2>&1; then rc=1; fi
  fi
  [ "$created_policy" = 1 ] && "${sudo[@]}" rm -f "$policy"
  if [ "$rc" != 0 ]; then
    log_tail "$aptlog" 30
    rm -f "$aptlog"
    die "apt-get install $* failed"
  fi
  rm -f "$aptlog"
  [ -n "$service" ] || return 0
  # Belt and braces: the system service stopped and not started at boot.
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    "${sudo[@]}" systemctl disable --now "$service.service" >/dev/null 2>&1 || true
  elif [ -x "/etc/init.d/$service" ]; then
    "${sudo[@]}" "/etc/init.d/$service" stop >/dev/null 2>&1 || true
    if command -v update-rc.d >/dev/null 2>&1; then "${sudo[@]}" update-rc.d "$service" disable >/dev/null 2>&1 || true; fi
  fi
}

# For the install-*.sh scripts that build or install into the cache: each defines `is_cached`
# (true when BIN holds the pinned version) and BIN, and tags its messages with LETHE_TAG.

# exit_if_cached WHAT: when is_cached, says "WHAT cached", prints BIN on stdout and exits 0.
# shellcheck disable=SC2154  # BIN is the calling script's
exit_if_cached() {
  if is_cached; then
    info "$1 cached"
    echo "$BIN"
    exit 0
  fi
}

# install_args WHAT HOW [ARG]: the install scripts' command line. No argument installs; --check
# never does (prints BIN when cached, else dies saying that WHAT is missing and HOW to install
# it); -h/--help prints the script's header.
install_args() {
  local what=$1 how=$2
  case "${3:-}" in
    "") ;;
    --check)
      if is_cached; then echo "$BIN"; exit 0; fi
      die "$what is not installed at $BIN; $how"
      ;;
    -h | --help) print_header_doc "$0"; exit 0 ;;
    *) die "unknown argument '$3' (usage: $(basename "$0") [--check])" ;;
  esac
}

# install_lock LOCKFILE WHAT: one install of WHAT at a time, for concurrent callers (tests, CI,
# another checkout sharing the cache). Holds LOCKFILE on fd 9 until the script exits; a caller
# that finds it taken says so and waits, then exits as cached if the other one installed it.
# Without flock the install goes on unlocked.
install_lock() {
  local lockfile=$1 what=$2
  mkdir -p "$(dirname "$lockfile")"
  exec 9>"$lockfile"
  command -v flock >/dev/null 2>&1 || return 0
  if ! flock -n 9; then
    info "another install of $what is running; waiting for it..."
    flock 9
  fi
  exit_if_cached "$what"
}

# For the install scripts that build a Go module from the Go module proxy (docker-compose, influxd),
# with CACHE_ROOT and DEST the calling script's:
# go_module_source MODULE VERSION: makes WORK (a scratch folder under CACHE_ROOT, removed at exit)
# and BUILD_LOG (DEST/build.log), downloads MODULE@vVERSION and its dependencies from the proxy and
# sets SRC to a writable copy of it. go build then runs in SRC as the main module, honouring its
# go.sum and its replace and exclude directives (`go install module@version` refuses modules
# with such directives).
# shellcheck disable=SC2154  # CACHE_ROOT and DEST are the calling script's
go_module_source() {
  local module=$1 version=$2 dir
  mkdir -p "$DEST"
  WORK="$(mktemp -d "$CACHE_ROOT/.build-$version.XXXXXX")"
  # shellcheck disable=SC2064  # WORK is fixed now
  trap "rm -rf '$WORK'" EXIT
  BUILD_LOG="$DEST/build.log"
  : >"$BUILD_LOG"
  export GOFLAGS="-buildvcs=false" GO111MODULE=on
  phase "downloading $module@v$version from the Go module proxy"
  dir="$(cd "$WORK" && go mod download -json "$module@v$version" 2>>"$BUILD_LOG" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')" || dir=""
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then
    tail -5 "$BUILD_LOG" >&2
    die "go mod download $module@v$version failed (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))"
  fi
  cp -r "$dir" "$WORK/src"
  chmod -R u+w "$WORK/src"
  SRC="$WORK/src"
  phase "downloading Go dependencies (go mod download)"
  (cd "$SRC" && go mod download) >>"$BUILD_LOG" 2>&1 || { tail -20 "$BUILD_LOG" >&2; die "go mod download of $module's dependencies failed (log: $BUILD_LOG)"; }
}

# wait_build PID FAILURE [NOTE]: waits for a build running in the background, saying every 30 s
# how long it has taken and the build log's last line (and what the command NOTE prints); when
# the build fails, shows the log's end and dies with FAILURE.
wait_build() {
  local pid=$1 failure=$2 note=${3:-}
  while kill -0 "$pid" 2>/dev/null; do
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -0 "$pid" 2>/dev/null || break
    info "  ... still building: $(elapsed "$PHASE_START") elapsed$([ -z "$note" ] || "$note"); last: $(tail -1 "$BUILD_LOG" | cut -c1-90)"
  done
  if ! wait "$pid"; then
    log_tail "$BUILD_LOG" 40
    die "$failure"
  fi
}

# install_built WHAT: ends a build of BIN: checks that BIN.tmp runs (`version`), moves it to BIN,
# says that WHAT was built and how long it took since T0, and prints BIN on stdout.
# shellcheck disable=SC2154  # T0 is the calling script's
install_built() {
  phase "verifying binary"
  "$BIN.tmp" version >>"$BUILD_LOG" 2>&1 || die "built $1 does not run (log: $BUILD_LOG)"
  mv -f "$BIN.tmp" "$BIN"
  phase ""
  info "$1 built in $(elapsed "$T0"): $("$BIN" version) ($(du -h "$BIN" | cut -f1))"
  echo "$BIN"
}

# phase MESSAGE: ends the running phase of a build, logging how long it took, and starts the
# next (`phase ""` ends the last). PHASE_START is when the running phase began.
phase() {
  local now
  now=$(now_s)
  [ -z "${PHASE:-}" ] || info "  done: $PHASE ($((now - PHASE_START))s)"
  PHASE=$1
  PHASE_START=$now
  [ -z "$PHASE" ] || info "==> $PHASE"
}
