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
