#!/bin/sh
# nginx-unprivileged's entry point, without its /docker-entrypoint.d scripts (none is used here).
set -e
exec "$@"
