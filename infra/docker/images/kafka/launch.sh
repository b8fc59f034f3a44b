#!/usr/bin/env bash
# Our launcher for the apache/kafka stand-in, following the image's documented contract:
# every KAFKA_<NAME> variable becomes the broker property <name> (KAFKA_LOG_DIRS -> log.dirs),
# CLUSTER_ID names the KRaft cluster, /mnt/shared/config/server.properties (if mounted) is the
# base, and the broker runs in the foreground as appuser.
set -euo pipefail

# Every node of a KRaft cluster formats its storage with the same id (16 bytes, base64url).
export CLUSTER_ID=${CLUSTER_ID:-vjB86sAJRyqxmli847H1Yg}
# The wrapper writes server.properties from the KAFKA_* variables (or copies the defaults when
# there are none) into the final directory, then formats log.dirs with CLUSTER_ID. On a restart
# the data volume is already formatted: that error is expected, anything else is fatal.
if ! out=$(java -cp '/opt/kafka/libs/*' -Dlog4j.configuration=file:/etc/kafka/docker/tools-log4j.properties \
    kafka.docker.KafkaDockerWrapper setup \
    --default-configs-dir /etc/kafka/docker \
    --mounted-configs-dir /mnt/shared/config \
    --final-configs-dir /opt/kafka/config 2>&1); then
  grep -qi 'already formatted' <<<"$out" || { echo "$out" >&2; exit 1; }
fi
echo "$out"

# KAFKA_HEAP_OPTS is unquoted on purpose: it holds several JVM flags.
# shellcheck disable=SC2086
exec java ${KAFKA_HEAP_OPTS:--Xmx1g -Xms1g} -XX:+UseG1GC -Djava.awt.headless=true \
  -Dlog4j.configuration=file:/opt/kafka/config/log4j.properties \
  -cp '/opt/kafka/libs/*' kafka.Kafka /opt/kafka/config/server.properties
