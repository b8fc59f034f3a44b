#!/usr/bin/env bash
# Builds, on the engine of infra/docker/dockerd.sh, a local stand-in for every third-party image
# docker-compose.yml (and the Dockerfile's NODE_IMAGE) names, under exactly that name and tag:
# no container registry is reachable here, so each is made from the software the native path
# already runs (docs/compose-stand-ins.md is the contract each one honours):
#
#   debian:bookworm-slim           mmdebstrap --variant=minbase bookworm | docker import
#   node:<v>-bookworm-slim         Node from the npm registry (infra/local/install-node.sh) + npm
#   eclipse-mosquitto:<v>          Debian's mosquitto
#   apache/kafka:<v>               Maven Central jars (infra/local/install-kafka.sh) + our own
#                                  launcher and tool wrappers, configured by
#                                  kafka.docker.KafkaDockerWrapper (in the jars)
#   influxdb:<v>                   influxd as built natively (infra/local/install-influxdb.sh),
#                                  our own entrypoint.sh; influx CLI from Go's proxy
#   prom/prometheus:<v>            Debian's prometheus
#   nginxinc/nginx-unprivileged:<v> Debian's nginx, unprivileged layout
#   grafana/grafana:<v>            none: Grafana is not packaged anywhere reachable (left out)
#
#   eval "$(bash infra/docker/dockerd.sh env)"   # the engine to build on
#   bash infra/docker/build-images.sh            # builds what is missing (cached: ~2 s)
#   bash infra/docker/build-images.sh --rebuild  # rebuilds every stand-in
#   bash infra/docker/build-images.sh --list     # prints "<image> <stand-in>" and exits
#
# Images already present are kept (the engine's data root is the cache). Every stand-in carries
# the label org.lethe.stand-in=<upstream doc>, so `docker image inspect` tells it from the real one.
# Cold, on 2 cores: base ~40 s, node ~30 s, kafka ~70 s (OpenJDK), influxdb ~60 s (incl. the
# Go builds), mosquitto/prometheus/nginx ~20 s each.
set -euo pipefail
LETHE_TAG=build-images
# shellcheck source=../local/lib.sh
. "$(cd "$(dirname "$0")/../local" && pwd)/lib.sh"

IMAGES_DIR="$LETHE_ROOT/infra/docker/images"
STAGE="$LETHE_CACHE/docker/stage"
COMPOSE_FILE="$LETHE_ROOT/docker-compose.yml"
NPM_VERSION="${LETHE_NPM_VERSION:-11.19.1}"   # npm 11: the major Node 24 bundles

rebuild=0 list_only=0
case "${1:-}" in
  "") ;;
  --rebuild) rebuild=1 ;;
  --list) list_only=1 ;;
  *) print_header_doc "$0"; exit 2 ;;
esac

command -v docker >/dev/null 2>&1 || die "no docker CLI: bash infra/docker/install-engine.sh"
[ -n "${DOCKER_HOST:-}" ] || die "DOCKER_HOST is not set: eval \"\$(bash infra/docker/dockerd.sh env)\" (after dockerd.sh start)"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || die "no engine answers at $DOCKER_HOST: bash infra/docker/dockerd.sh start"

# ---------------------------------------------------------------- which images
# Every image docker-compose.yml names (Compose itself resolves anchors and interpolation),
# plus the Dockerfile's NODE_IMAGE default, which Lethe's own image is built FROM.
compose_images() {
  docker compose -f "$COMPOSE_FILE" config --images | sort -u
  sed -n 's/^ARG NODE_IMAGE=//p' "$LETHE_ROOT/Dockerfile"
}

# stand_in IMAGE: prints the stand-in that provides IMAGE ("-" for none, "lethe" for ours).
stand_in() {
  case "$1" in
    lethe:*) echo lethe ;;
    debian:bookworm-slim) echo base ;;
    node:*-bookworm-slim) echo node ;;
    eclipse-mosquitto:*) echo mosquitto ;;
    apache/kafka:*) echo kafka ;;
    influxdb:2.*) echo influxdb ;;
    prom/prometheus:*) echo prometheus ;;
    nginxinc/nginx-unprivileged:*) echo nginx-unprivileged ;;
    grafana/grafana:*) echo - ;;
    *) echo "?" ;;
  esac
}

mapfile -t IMAGES < <(compose_images | sort -u)
[ ${#IMAGES[@]} -gt 0 ] || die "docker compose config --images listed nothing"
if [ "$list_only" = 1 ]; then
  for img in "${IMAGES[@]}"; do echo "$img $(stand_in "$img")"; done
  exit 0
fi

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# build TAG DIR UPSTREAM_DOC [BUILD_ARG...]: docker build of a prepared context. The classic
# builder: these Dockerfiles need nothing of BuildKit, and Debian ships no buildx.
build() {
  local tag=$1 ctx=$2 doc=$3; shift 3
  local args=() a start_s; start_s=$(now_s)
  for a in "$@"; do args+=(--build-arg "$a"); done
  info "building $tag (stand-in: $doc)"
  local log="$LETHE_LOG_DIR/build-$(echo "$tag" | tr '/:' '__').log"
  if ! DOCKER_BUILDKIT=0 docker build --force-rm --network host --label "org.lethe.stand-in=$doc" \
      "${args[@]}" -t "$tag" "$ctx" >"$log" 2>&1; then
    log_tail "$log" 40
    die "building $tag failed (log: $log)"
  fi
  info "built $tag in $(elapsed "$start_s") ($(docker image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
}

# fresh_context NAME: an empty staging dir seeded with infra/docker/images/NAME.
fresh_context() {
  local ctx="$STAGE/$1"
  rm -rf "$ctx"; mkdir -p "$ctx"
  cp -a "$IMAGES_DIR/$1/." "$ctx/"
  echo "$ctx"
}

build_base() {
  local tag=$1 start_s tar
  command -v mmdebstrap >/dev/null 2>&1 || die "mmdebstrap not installed: bash infra/docker/install-engine.sh"
  start_s=$(now_s)
  mkdir -p "$STAGE"
  tar="$STAGE/bookworm-minbase.tar"
  info "building $tag: mmdebstrap --variant=minbase bookworm (~40 s)"
  # Like the upstream slim image: no documentation, manual pages or translations.
  mmdebstrap --variant=minbase --quiet \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    bookworm "$tar" >"$LETHE_LOG_DIR/mmdebstrap.log" 2>&1 || { log_tail "$LETHE_LOG_DIR/mmdebstrap.log"; die "mmdebstrap failed"; }
  docker import --change 'CMD ["bash"]' --change 'LABEL org.lethe.stand-in=https://hub.docker.com/_/debian' \
    --message "Lethe stand-in: mmdebstrap --variant=minbase bookworm" "$tar" "$tag" >/dev/null
  rm -f "$tar"
  info "built $tag in $(elapsed "$start_s")"
}

build_node() {
  local tag=$1 version prefix ctx
  version=${tag#node:}; version=${version%-bookworm-slim}
  prefix=$(LETHE_NODE_VERSION="$version" bash "$LETHE_ROOT/infra/local/install-node.sh")
  prefix=$(dirname "$prefix")
  [ -x "$prefix/bin/node" ] || die "no node $version at $prefix"
  ctx=$(fresh_context node)
  mkdir -p "$ctx/node/bin"
  cp -a "$prefix/bin/node" "$ctx/node/bin/"
  cp -a "$prefix/include" "$prefix/share" "$ctx/node/"
  # npm from the npm registry, installed as a global package would be (lib/node_modules/npm).
  local npm_cache="$LETHE_CACHE/docker/npm/$NPM_VERSION"
  if [ ! -f "$npm_cache/lib/node_modules/npm/package.json" ]; then
    info "fetching npm@$NPM_VERSION from the npm registry"
    rm -rf "$npm_cache"; mkdir -p "$npm_cache"
    PATH="$prefix/bin:$PATH" npm install --silent --no-audit --no-fund -g --prefix "$npm_cache" "npm@$NPM_VERSION" >&2
  fi
  cp -a "$npm_cache/lib/node_modules/npm" "$ctx/npm"
  # The host's own added CAs (a TLS-inspecting egress proxy here): see images/node/Dockerfile.
  local extra_ca=
  mkdir -p "$ctx/local-ca"
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    cat /usr/local/share/ca-certificates/*.crt >"$ctx/local-ca/local-cas.pem"
    extra_ca=/usr/local/share/lethe-local-ca/local-cas.pem
    info "node: adding the host's local CAs ($(ls /usr/local/share/ca-certificates/*.crt | xargs -n1 basename | tr '\n' ' '))"
  fi
  build "$tag" "$ctx" "https://github.com/nodejs/docker-node (bookworm-slim)" "NODE_VERSION=$version" "EXTRA_CA_CERTS=$extra_ca"
}

build_kafka() {
  local tag=$1 version libs ctx
  version=${tag#apache/kafka:}
  libs=$(LETHE_KAFKA_VERSION="$version" bash "$LETHE_ROOT/infra/local/install-kafka.sh" --libs)
  unzip -Z1 "$libs/kafka_2.13-$version.jar" kafka/docker/KafkaDockerWrapper.class >/dev/null 2>&1 ||
    die "kafka_2.13-$version.jar has no kafka.docker.KafkaDockerWrapper (Kafka >= 3.7 has it)"
  ctx=$(fresh_context kafka)
  cp -a "$libs" "$ctx/libs"
  rm -f "$ctx/libs/.complete"
  build "$tag" "$ctx" "own launcher following the apache/kafka image contract"
}

# go_build OUT MODULE@VERSION PKG LDFLAGS: a pure-Go binary from the Go module proxy, cached.
go_build() {
  local out=$1 modver=$2 pkg=$3 ldflags=$4 work dir
  [ -x "$out" ] && return 0
  command -v go >/dev/null 2>&1 || die "go is not on PATH (needed once, to build $modver)"
  work=$(mktemp -d)
  dir=$(cd "$work" && go mod download -json "$modver" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') || true
  [ -n "$dir" ] && [ -d "$dir" ] || { rm -rf "$work"; die "go mod download $modver failed"; }
  cp -r "$dir" "$work/src"; chmod -R u+w "$work/src"
  mkdir -p "$(dirname "$out")"
  info "go build $modver ($pkg)"
  (cd "$work/src" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg") >&2 ||
    { rm -rf "$work"; die "go build of $modver failed"; }
  mv "$out.tmp" "$out"
  rm -rf "$work"
}

build_influxdb() {
  local tag=$1 version influxd cli_version ctx src
  version=${tag#influxdb:}
  influxd=$(bash "$LETHE_ROOT/infra/local/install-influxdb.sh")
  "$influxd" version | grep -q "v$version" || die "$tag: the native influxd is $("$influxd" version); install-influxdb.sh builds another version"
  # The influx CLI: upstream's image ships influx-cli 2.7.5, which the Go module proxy does not
  # serve ("not available"); it does serve the influx-cli commit influxd $version itself requires.
  src=$(go mod download -json "github.com/influxdata/influxdb/v2@v$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  cli_version=$(sed -n 's/^[[:space:]]*github.com\/influxdata\/influx-cli\/v2 \(v[^ ]*\).*/\1/p' "$src/go.mod" | head -1)
  [ -n "$cli_version" ] || die "no influx-cli requirement in influxdb v$version's go.mod"
  local cli="$LETHE_CACHE/docker/influx-cli/$cli_version/influx"
  go_build "$cli" "github.com/influxdata/influx-cli/v2@$cli_version" ./cmd/influx "-X main.version=${cli_version#v} -X main.commit=${cli_version##*-}"
  ctx=$(fresh_context influxdb)
  mkdir -p "$ctx/bin"
  cp -a "$influxd" "$cli" "$ctx/bin/"
  build "$tag" "$ctx" "own entrypoint following the influxdb image contract" "INFLUXDB_VERSION=$version"
}

ensure_run_dirs
T0=$(now_s)
# The base first: every other stand-in is built FROM it.
ordered=(debian:bookworm-slim)
for img in "${IMAGES[@]}"; do [ "$img" = debian:bookworm-slim ] || ordered+=("$img"); done
for img in "${ordered[@]}"; do
  kind=$(stand_in "$img")
  case "$kind" in
    lethe) continue ;;   # Lethe's own image: `docker compose build` builds it from the Dockerfile
    -) warn "$img: no stand-in (not packaged anywhere reachable here); services using it are left out"; continue ;;
    "?") die "$img: docker-compose.yml names an image with no stand-in; add one under infra/docker/images and docs/compose-stand-ins.md" ;;
  esac
  if have_image "$img" && [ "$rebuild" = 0 ]; then
    info "$img present (stand-in: $kind)"
    continue
  fi
  case "$kind" in
    base) build_base "$img" ;;
    node) build_node "$img" ;;
    kafka) build_kafka "$img" ;;
    influxdb) build_influxdb "$img" ;;
    mosquitto) build "$img" "$(fresh_context "$kind")" "https://github.com/eclipse-mosquitto/mosquitto/tree/master/docker/2.0" ;;
    prometheus) build "$img" "$(fresh_context "$kind")" "https://github.com/prometheus/prometheus/blob/main/Dockerfile" ;;
    nginx-unprivileged) build "$img" "$(fresh_context "$kind")" "https://github.com/nginx/docker-nginx-unprivileged" ;;
  esac
done
info "stand-ins ready in $(elapsed "$T0")"
