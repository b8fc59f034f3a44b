#!/bin/sh
# Ours: runs Kafka's kafka-console-consumer tool (org.apache.kafka.tools.consumer.ConsoleConsumer) from the jars, quietly (tools log4j).
exec java ${KAFKA_TOOL_HEAP_OPTS:--Xmx256m} -Dlog4j.configuration=file:/opt/kafka/config/tools-log4j.properties -cp '/opt/kafka/libs/*' org.apache.kafka.tools.consumer.ConsoleConsumer "$@"
