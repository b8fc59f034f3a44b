#!/bin/sh
# Ours: the broker with the given server.properties, logging to the console (see launch.sh).
exec java ${KAFKA_HEAP_OPTS:--Xmx1g -Xms1g} -Dlog4j.configuration=file:/opt/kafka/config/log4j.properties -cp '/opt/kafka/libs/*' kafka.Kafka "$@"
