#!/usr/bin/env bash
# Starts the Berth host agent in the foreground with embedded defaults: state under ./state, instance disks under
# /var/lib/berth/instances (instances_path), API on 127.0.0.1:8774, token in ./state/token.
# Options: host-agent/README.md. BERTH_CONFIG=FILE passes --config FILE; arguments are passed to the agent.
set -euo pipefail
cd "$(dirname "$0")/.."
JAVA_HOME=${JAVA_HOME:-$(scripts/java-home.sh)}
agent_jar=host-agent/target/berth-agent.jar
if [ ! -f "$agent_jar" ]; then
  echo "berth: $agent_jar is not built (make build, or make run builds it)" >&2
  exit 1
fi
if [ -n "${BERTH_CONFIG:-}" ] && [ "$#" -eq 0 ]; then
  set -- --config "$BERTH_CONFIG"
fi
# BERTH_PLACEMENT_DIR=DIR: start (or reuse) a Placement there first, on 127.0.0.1:${BERTH_PLACEMENT_PORT:-8778};
# the config sets `placement: {enabled: true}` to report to it. Without it nothing about Placement runs.
if [ -n "${BERTH_PLACEMENT_DIR:-}" ]; then
  scripts/placement.sh start "$BERTH_PLACEMENT_DIR" "${BERTH_PLACEMENT_PORT:-8778}"
fi
exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED \
  -Dberth.images.dir="${BERTH_IMAGES_DIR:-/var/cache/berth/images}" -jar "$agent_jar" "$@"
