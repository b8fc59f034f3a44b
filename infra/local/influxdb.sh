#!/usr/bin/env bash
# Local native InfluxDB 2.x for Lethe (no Docker): start | stop | status
#
#   infra/local/influxdb.sh start    # builds influxd if needed, starts it, onboards on first start
#   infra/local/influxdb.sh status   # exit 0 if running and /health passes
#   infra/local/influxdb.sh stop     # SIGTERM, SIGKILL after 15 s
#
# Listens on 127.0.0.1:${LETHE_INFLUX_PORT:-18086}; all state under ${LETHE_LOCAL_DIR:-<repo>/.local}:
#   influxdb/            bolt, sqlite and TSM engine data
#   logs/influxdb.log    server log
#   pids/influxdb.pid    pid file
#   secrets/influxdb.env INFLUX_URL, INFLUX_ORG, INFLUX_BUCKET, INFLUX_ADMIN_TOKEN (+ admin user/password), mode 600
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
LOCAL_DIR="${LETHE_LOCAL_DIR:-$ROOT/.local}"
PORT="${LETHE_INFLUX_PORT:-18086}"
URL="http://127.0.0.1:$PORT"

DATA_DIR="$LOCAL_DIR/influxdb"
LOG_FILE="$LOCAL_DIR/logs/influxdb.log"
PID_FILE="$LOCAL_DIR/pids/influxdb.pid"
SECRETS_FILE="$LOCAL_DIR/secrets/influxdb.env"

ORG="lethe"
BUCKET="aggregates"
RETENTION_SECONDS=$((30 * 24 * 3600))
ADMIN_USER="lethe-admin"
START_TIMEOUT=60
STOP_TIMEOUT=15

log() { echo "[influxdb] $*" >&2; }
die() { echo "[influxdb] ERROR: $*" >&2; exit 1; }

command -v curl >/dev/null 2>&1 || die "curl is required"

pid_of() {  # prints the pid if the pid file points at a live influxd process
  [ -f "$PID_FILE" ] || return 1
  local pid; pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q influxd || return 1
  echo "$pid"
}

healthy() {
  curl -fsS --max-time 2 "$URL/health" 2>/dev/null | grep -q '"status": *"pass"'
}

random_hex() {  # random_hex <bytes>
  if command -v openssl >/dev/null 2>&1; then openssl rand -hex "$1"
  else od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; fi
}

wait_healthy() {  # wait_healthy <pid>
  local pid="$1" i
  for ((i = 0; i < START_TIMEOUT * 2; i++)); do
    healthy && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "----- last 30 lines of $LOG_FILE -----" >&2; tail -n 30 "$LOG_FILE" >&2
      rm -f "$PID_FILE"
      die "influxd (pid $pid) exited during startup; see $LOG_FILE"
    fi
    sleep 0.5
  done
  echo "----- last 30 lines of $LOG_FILE -----" >&2; tail -n 30 "$LOG_FILE" >&2
  die "influxd (pid $pid) did not answer $URL/health within ${START_TIMEOUT}s; see $LOG_FILE (still running; '$0 stop' to stop it)"
}

onboard() {
  local setup
  setup="$(curl -fsS --max-time 5 "$URL/api/v2/setup")" || die "GET $URL/api/v2/setup failed"
  if ! echo "$setup" | grep -q '"allowed": *true'; then
    if [ -f "$SECRETS_FILE" ]; then
      # keep INFLUX_URL in sync if the port changed
      if ! grep -qx "INFLUX_URL=$URL" "$SECRETS_FILE"; then
        sed -i "s|^INFLUX_URL=.*|INFLUX_URL=$URL|" "$SECRETS_FILE"
      fi
      return 0
    fi
    die "InfluxDB in $DATA_DIR is already onboarded but $SECRETS_FILE is missing; stop it and delete $DATA_DIR to re-onboard"
  fi

  log "first start: onboarding org '$ORG', bucket '$BUCKET' (30d retention), user '$ADMIN_USER'"
  local password token tmp body resp
  password="$(random_hex 16)"
  token="$(random_hex 32)"
  mkdir -p "$(dirname "$SECRETS_FILE")"
  chmod 700 "$(dirname "$SECRETS_FILE")" 2>/dev/null || true
  tmp="$(umask 077 && mktemp "$SECRETS_FILE.XXXXXX")"
  cat >"$tmp" <<EOF
INFLUX_URL=$URL
INFLUX_ORG=$ORG
INFLUX_BUCKET=$BUCKET
INFLUX_ADMIN_TOKEN=$token
INFLUX_ADMIN_USER=$ADMIN_USER
INFLUX_ADMIN_PASSWORD=$password
EOF
  body="$(printf '{"username":"%s","password":"%s","org":"%s","bucket":"%s","retentionPeriodSeconds":%d,"token":"%s"}' \
    "$ADMIN_USER" "$password" "$ORG" "$BUCKET" "$RETENTION_SECONDS" "$token")"
  if ! resp="$(curl -sS --max-time 15 -w '\n%{http_code}' -X POST "$URL/api/v2/setup" \
      -H 'Content-Type: application/json' --data-binary @- <<<"$body")"; then
    rm -f "$tmp"; die "POST $URL/api/v2/setup failed"
  fi
  if [ "$(tail -n1 <<<"$resp")" != "201" ]; then
    rm -f "$tmp"; die "onboarding failed: $(head -n -1 <<<"$resp")"
  fi
  chmod 600 "$tmp"
  mv -f "$tmp" "$SECRETS_FILE"
  log "onboarded; credentials in $SECRETS_FILE"
}

cmd_start() {
  local pid bin
  if pid="$(pid_of)"; then
    if healthy; then
      log "already running (pid $pid) on $URL"
      onboard
      return 0
    fi
    log "influxd (pid $pid) is running but not healthy yet; waiting"
    wait_healthy "$pid"; onboard
    log "running (pid $pid) on $URL"
    return 0
  fi
  rm -f "$PID_FILE"
  if healthy; then
    die "something else already answers on $URL (not started by this script); set LETHE_INFLUX_PORT"
  fi

  bin="$("$SCRIPT_DIR/install-influxdb.sh")" || die "could not install influxd (see messages above)"
  [ -x "$bin" ] || die "install-influxdb.sh did not produce an executable influxd ($bin)"

  mkdir -p "$DATA_DIR/engine" "$(dirname "$LOG_FILE")" "$(dirname "$PID_FILE")"
  echo "===== $(date -u +%Y-%m-%dT%H:%M:%SZ) starting $("$bin" version) on $URL =====" >>"$LOG_FILE"
  # cwd = data dir: influxd reads a config.{toml,yaml,json} from its working directory.
  local launcher=()
  command -v setsid >/dev/null 2>&1 && launcher=(setsid)
  (
    cd "$DATA_DIR"
    exec "${launcher[@]}" "$bin" \
      --http-bind-address "127.0.0.1:$PORT" \
      --bolt-path "$DATA_DIR/influxd.bolt" \
      --engine-path "$DATA_DIR/engine" \
      --sqlite-path "$DATA_DIR/influxd.sqlite" \
      --reporting-disabled \
      --ui-disabled \
      </dev/null >>"$LOG_FILE" 2>&1
  ) &
  pid=$!
  echo "$pid" >"$PID_FILE"
  log "started influxd (pid $pid), waiting for $URL/health (timeout ${START_TIMEOUT}s)"
  wait_healthy "$pid"
  onboard
  log "running (pid $pid) on $URL; data in $DATA_DIR, log $LOG_FILE"
}

cmd_stop() {
  local pid i
  if ! pid="$(pid_of)"; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping influxd (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 4; i++)); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$PID_FILE"; log "stopped"; return 0; }
    sleep 0.25
  done
  log "influxd did not exit within ${STOP_TIMEOUT}s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 20; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  rm -f "$PID_FILE"
  log "killed"
}

cmd_status() {
  local pid
  if pid="$(pid_of)"; then
    if healthy; then log "running (pid $pid) on $URL, healthy"; return 0; fi
    log "running (pid $pid) but $URL/health does not pass"; return 1
  fi
  log "not running"
  return 3
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
