#!/bin/sh
# The node:24 image's entry-point contract: `docker run node:24 app.js` or `-e '…'` runs node with
# those arguments, no arguments start node itself, and a command the image knows (`sh`, `pnpm`,
# an executable file) runs as given.
set -e
[ "$#" -gt 0 ] || exec node
case "$1" in
  -*) exec node "$@" ;;
esac
# A known command, unless it is a plain (non-executable) file such as a script for node.
if command -v "$1" >/dev/null 2>&1 && ! { [ -f "$1" ] && [ ! -x "$1" ]; }; then
  exec "$@"
fi
exec node "$@"
