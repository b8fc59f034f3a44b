#!/bin/bash
# Our entrypoint for the influxdb:2.x stand-in, following the documented contract of the official
# image (hub.docker.com/_/influxdb): data in /var/lib/influxdb2 (influxd.bolt, engine/), CLI
# configs in /etc/influxdb2, and on the first start with DOCKER_INFLUXDB_INIT_MODE=setup the
# initial user, org, bucket and operator token from DOCKER_INFLUXDB_INIT_* (or their *_FILE
# variants, which docker-compose.yml uses for secrets). Left out: MODE=upgrade (1.x migration),
# TLS during set-up, reading paths from a mounted config file (set INFLUXD_* variables instead).
set -euo pipefail

export INFLUXD_BOLT_PATH=${INFLUXD_BOLT_PATH:-/var/lib/influxdb2/influxd.bolt}
export INFLUXD_ENGINE_PATH=${INFLUXD_ENGINE_PATH:-/var/lib/influxdb2/engine}
export INFLUXD_HTTP_BIND_ADDRESS=${INFLUXD_HTTP_BIND_ADDRESS:-:8086}

# Flags alone mean "influxd with these flags"; any other command (influx, bash) runs as given.
if [ "${1:0:1}" = - ]; then set -- influxd "$@"; fi
if [ "${1:-}" != influxd ]; then exec "$@"; fi
shift

# Started as root: give the volumes to the influxdb user, then run this script again as it.
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$(dirname "$INFLUXD_BOLT_PATH")" "$INFLUXD_ENGINE_PATH"
  chown -R influxdb:influxdb "$(dirname "$INFLUXD_BOLT_PATH")" "$INFLUXD_ENGINE_PATH" /etc/influxdb2
  exec gosu influxdb "$0" influxd "$@"
fi

# value NAME: $NAME, or the content of the file $NAME_FILE names (Docker secrets).
value() {
  local file_var="${1}_FILE"
  if [ -n "${!file_var:-}" ]; then cat "${!file_var}"; else printf '%s' "${!1:-}"; fi
}

# Runs in a `||` context, where bash ignores `set -e`: every step says `|| return 1` itself.
setup_pid=
first_setup() {
  local user pass org bucket token retention host i f
  user=$(value DOCKER_INFLUXDB_INIT_USERNAME); pass=$(value DOCKER_INFLUXDB_INIT_PASSWORD)
  org=$(value DOCKER_INFLUXDB_INIT_ORG); bucket=$(value DOCKER_INFLUXDB_INIT_BUCKET)
  token=$(value DOCKER_INFLUXDB_INIT_ADMIN_TOKEN); retention=${DOCKER_INFLUXDB_INIT_RETENTION:-}
  for v in user pass org bucket; do
    [ -n "${!v}" ] || { echo "entrypoint: setup needs DOCKER_INFLUXDB_INIT_USERNAME, _PASSWORD, _ORG and _BUCKET" >&2; return 1; }
  done
  # A private port on loopback, so no client reaches the server before it is set up.
  host="http://127.0.0.1:${INFLUXD_INIT_PORT:-9999}"
  influxd --http-bind-address "127.0.0.1:${INFLUXD_INIT_PORT:-9999}" "$@" &
  setup_pid=$!
  for ((i = 0; ; i++)); do
    influx ping --host "$host" >/dev/null 2>&1 && break
    kill -0 "$setup_pid" 2>/dev/null && [ "$i" -lt "${INFLUXD_INIT_PING_ATTEMPTS:-600}" ] ||
      { echo "entrypoint: influxd did not come up for set-up" >&2; return 1; }
    sleep 1
  done
  influx setup --force --host "$host" --username "$user" --password "$pass" --org "$org" \
    --bucket "$bucket" ${token:+--token "$token"} ${retention:+--retention "$retention"} \
    --name "${DOCKER_INFLUXDB_INIT_CLI_CONFIG_NAME:-default}" || return 1
  # The CLI config set-up saved points at the private port; later `influx` commands in the
  # container (docker exec … influx query) must reach the real server.
  influx config set --config-name "${DOCKER_INFLUXDB_INIT_CLI_CONFIG_NAME:-default}" \
    --host-url "http://localhost:${INFLUXD_HTTP_BIND_ADDRESS##*:}" >/dev/null || return 1
  # Scripts mounted by the user, with the set-up's values at hand (as documented upstream).
  for f in /docker-entrypoint-initdb.d/*; do
    [ -f "$f" ] || continue
    case "$f" in
      *.sh) INFLUX_HOST=$host DOCKER_INFLUXDB_INIT_ORG=$org DOCKER_INFLUXDB_INIT_BUCKET=$bucket \
              DOCKER_INFLUXDB_INIT_ADMIN_TOKEN=$token bash "$f" || return 1 ;;
      *) echo "entrypoint: ignoring $f (only *.sh)" ;;
    esac
  done
  stop_setup_server
}
stop_setup_server() {
  [ -n "$setup_pid" ] || return 0
  kill "$setup_pid" 2>/dev/null; wait "$setup_pid" 2>/dev/null || true
  setup_pid=
}

if [ "${DOCKER_INFLUXDB_INIT_MODE:-}" = setup ] && [ ! -f "$INFLUXD_BOLT_PATH" ]; then
  # A half-done set-up must not look done on the next start: remove what it wrote.
  first_setup "$@" || { stop_setup_server; rm -rf "$INFLUXD_BOLT_PATH" "$INFLUXD_ENGINE_PATH"; exit 1; }
fi
exec influxd "$@"
