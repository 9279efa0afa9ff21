#!/usr/bin/env bash
# `make down`: stops everything `make up` started (services first, so they finish in-flight work).
set -euo pipefail
cd "$(dirname "$0")/.."
if docker info >/dev/null 2>&1 && [ -n "$(docker compose ps -q 2>/dev/null)" ]; then
  docker compose down
fi
deploy/local/services.sh stop
deploy/local/store.sh stop
deploy/local/kafka.sh stop
