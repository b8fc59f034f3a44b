#!/bin/sh
# The eclipse-mosquitto image's entry-point contract: started as root, hand /mosquitto (config,
# data, log volumes) to the mosquitto user, whom the broker then runs as; then run the command.
set -e
if [ "$(id -u)" = 0 ] && [ -d /mosquitto ]; then
  chown -R mosquitto:mosquitto /mosquitto || true
fi
exec "$@"
