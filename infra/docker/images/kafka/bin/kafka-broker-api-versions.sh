#!/bin/sh
# Ours: runs Kafka's kafka-broker-api-versions tool (kafka.admin.BrokerApiVersionsCommand) from the jars, quietly (tools log4j).
exec java ${KAFKA_TOOL_HEAP_OPTS:--Xmx256m} -Dlog4j.configuration=file:/opt/kafka/config/tools-log4j.properties -cp '/opt/kafka/libs/*' kafka.admin.BrokerApiVersionsCommand "$@"
