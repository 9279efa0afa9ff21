#!/usr/bin/env bash
# `make up`: Kafka and the document store (compose when a Docker engine answers, else deploy/local), the topics,
# the four services and the gateway as separate processes; waits until each is ready and says where things are.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
if docker info >/dev/null 2>&1; then
  echo "Docker engine found: starting the stack with docker compose"
  docker compose up -d --build --wait
  mode=compose
else
  echo "No Docker engine: starting real Kafka and the document store natively (deploy/local)"
  deploy/local/kafka.sh start
  deploy/local/store.sh start
  .venv/bin/cdp-topics --bootstrap "127.0.0.1:${CDP_KAFKA_PORT:-9092}"
  # two gateway processes share port 8000 (SO_REUSEPORT): ingestion and reads use both cores
  CDP_REPLICAS_GATEWAY="${CDP_REPLICAS_GATEWAY:-2}" deploy/local/services.sh start
  mode=local
fi
cat <<MSG

CDP is up ($mode) in $(( $(date +%s) - started ))s.
  Gateway         http://127.0.0.1:8000       OpenAPI: http://127.0.0.1:8000/docs
  Contacts        http://127.0.0.1:8001       AsyncAPI: http://127.0.0.1:8001/asyncapi.json
  Identity        http://127.0.0.1:8002       AsyncAPI: http://127.0.0.1:8002/asyncapi.json
  Consent         http://127.0.0.1:8003       AsyncAPI: http://127.0.0.1:8003/asyncapi.json
  Analytics       http://127.0.0.1:8004       AsyncAPI: http://127.0.0.1:8004/asyncapi.json
  Kafka           127.0.0.1:9092              Document store: mongodb://127.0.0.1:27017
  Logs            .local/logs/                Stop everything: make down
  Sign in         POST /v1/auth/token  username=admin  password=local-only-change-me  (local only;
                  set CRM_BOOTSTRAP_ADMIN_PASSWORD and CRM_SECRET_KEY anywhere else)
MSG
