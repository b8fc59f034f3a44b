#!/usr/bin/env bash
# Installs Apache Kafka (broker + CLIs) as a plain jar classpath into the Lethe cache,
# resolved from Maven Central with infra/local/kafka/pom.xml. Idempotent: a fast no-op
# when the libs dir for the version is already complete.
#
#   infra/local/install-kafka.sh            # installs, prints nothing on stdout
#   infra/local/install-kafka.sh --libs     # ...and prints the libs dir on stdout
#
# Env: LETHE_KAFKA_VERSION (default 3.9.1; keep 3.9.x, kafkajs needs protocol versions
#      Kafka 4 removed), LETHE_CACHE (default ~/.cache/lethe).
set -euo pipefail
LETHE_TAG=install-kafka
# shellcheck source=lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

KAFKA_VERSION="${LETHE_KAFKA_VERSION:-3.9.1}"
POM="$LETHE_ROOT/infra/local/kafka/pom.xml"
LIBS="$LETHE_CACHE/kafka/$KAFKA_VERSION/libs"
M2="$LETHE_CACHE/m2"
MARKER="$LIBS/.complete"

print_libs() { if [ "${1:-}" = "--libs" ]; then echo "$LIBS"; fi; }

if [ -f "$MARKER" ] && [ -f "$LIBS/kafka_2.13-$KAFKA_VERSION.jar" ]; then
  info "kafka $KAFKA_VERSION already installed in $LIBS"
  print_libs "${1:-}"
  exit 0
fi

command -v java >/dev/null 2>&1 || [ -n "${JAVA_HOME:-}" ] ||
  die "java not found: Kafka $KAFKA_VERSION needs a JDK/JRE 11+ (e.g. apt-get install openjdk-17-jre-headless)"
command -v mvn >/dev/null 2>&1 ||
  die "mvn not found: it resolves Kafka from Maven Central (e.g. apt-get install maven)"
[ -f "$POM" ] || die "missing $POM"

start=$(now_s)
info "installing kafka $KAFKA_VERSION (Maven Central -> $LIBS; maven repo $M2)"
mkdir -p "$(dirname "$LIBS")" "$M2"
# Copy into a temp dir and rename, so an interrupted install never looks complete.
tmp="$(dirname "$LIBS")/.libs.tmp.$$"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
mvnlog="$(dirname "$LIBS")/mvn-install.log"
if ! mvn -B -q -f "$POM" \
    -Dmaven.repo.local="$M2" \
    -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies \
    -DincludeScope=runtime \
    -DoutputDirectory="$tmp" >"$mvnlog" 2>&1; then
  log_tail "$mvnlog" 40
  die "maven could not resolve kafka $KAFKA_VERSION (full log: $mvnlog)"
fi
[ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ] || die "resolution finished but kafka_2.13-$KAFKA_VERSION.jar is missing in $tmp"
date -u +%Y-%m-%dT%H:%M:%SZ >"$tmp/.complete"
rm -rf "$LIBS"
mv "$tmp" "$LIBS"
trap - EXIT
info "kafka $KAFKA_VERSION installed: $(find "$LIBS" -name '*.jar' | wc -l) jars, $(du -sh "$LIBS" | cut -f1) in $(elapsed "$start")"
print_libs "${1:-}"
