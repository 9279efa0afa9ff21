#!/usr/bin/env bash
# The four services and the gateway as separate processes, each from its own console script in .venv.
# Usage: deploy/local/services.sh start|stop|status [SERVICE...]
# Replicas: CDP_REPLICAS_IDENTITY=3 (likewise CONTACTS, CONSENT, ANALYTICS) starts three identity processes in one
# consumer group on ports 8002, 8012, 8022. CDP_REPLICAS_GATEWAY=2 starts two gateway processes sharing port 8000
# (SO_REUSEPORT: the kernel spreads connections over them). CDP_PORT_OFFSET shifts every port (test stacks use it).
# Env passed on: CRM_KAFKA_BOOTSTRAP, CRM_MONGODB_URI, CRM_ENVIRONMENT and any other CRM_* setting.
source "$(dirname "$0")/lib.sh"
OFFSET="${CDP_PORT_OFFSET:-0}"
VENV_BIN="${CDP_VENV_BIN:-$REPO_ROOT/.venv/bin}"
export CRM_KAFKA_BOOTSTRAP="${CRM_KAFKA_BOOTSTRAP:-127.0.0.1:${CDP_KAFKA_PORT:-9092}}"
export CRM_MONGODB_URI="${CRM_MONGODB_URI:-mongodb://127.0.0.1:${CDP_STORE_PORT:-27017}}"

base_port() {
  case $1 in
    gateway) echo $((8000 + OFFSET)) ;; contacts) echo $((8001 + OFFSET)) ;; identity) echo $((8002 + OFFSET)) ;;
    consent) echo $((8003 + OFFSET)) ;; analytics) echo $((8004 + OFFSET)) ;; *) die "unknown service $1" ;;
  esac
}
replicas() {
  local var="CDP_REPLICAS_$(echo "$1" | tr '[:lower:]' '[:upper:]')"
  echo "${!var:-1}"
}
ALL="contacts identity consent analytics gateway"

start_one() { # service replica
  local svc=$1 i=$2 port pidfile reuse=false
  port=$(( $(base_port "$svc") + 10 * i ))
  if [ "$svc" = gateway ]; then
    port=$(base_port gateway)
    if [ "$(replicas gateway)" -gt 1 ]; then reuse=true; fi
  fi
  pidfile="$RUN_DIR/$svc-$i.pid"
  if pid_alive "$pidfile"; then log "$svc[$i]: already running on :$port"; return 0; fi
  if [ "$reuse" = false ] && port_open 127.0.0.1 "$port"; then die "$svc[$i]: port $port is taken by another process"; fi
  [ -x "$VENV_BIN/cdp-$svc" ] || die "$VENV_BIN/cdp-$svc missing: run 'uv sync' (make up does)"
  CRM_HTTP_PORT=$port CRM_HTTP_REUSE_PORT=$reuse \
  CRM_CONTACTS_URL="http://127.0.0.1:$(base_port contacts)" CRM_IDENTITY_URL="http://127.0.0.1:$(base_port identity)" \
  CRM_CONSENT_URL="http://127.0.0.1:$(base_port consent)" CRM_ANALYTICS_URL="http://127.0.0.1:$(base_port analytics)" \
    setsid "$VENV_BIN/cdp-$svc" >>"$LOG_DIR/$svc-$i.log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
  echo "$port" > "$RUN_DIR/$svc-$i.port"
}

wait_ready() { # service replica seconds
  local svc=$1 i=$2 port n=0
  port=$(cat "$RUN_DIR/$svc-$i.port")
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/ready" 2>/dev/null; do
    pid_alive "$RUN_DIR/$svc-$i.pid" || { tail -n 20 "$LOG_DIR/$svc-$i.log" >&2; die "$svc[$i] exited during start-up"; }
    n=$((n + 1)); [ "$n" -ge $(( $3 * 5 )) ] && { tail -n 20 "$LOG_DIR/$svc-$i.log" >&2; die "$svc[$i] not ready in $3s"; }
    sleep 0.2
  done
  log "$svc[$i]: ready on http://127.0.0.1:$port (pid $(cat "$RUN_DIR/$svc-$i.pid"))"
}

targets() { if [ $# -gt 0 ]; then echo "$@"; else echo "$ALL"; fi; }

cmd=${1:-}; shift || true
case "$cmd" in
  start)
    for svc in $(targets "$@"); do for ((i = 0; i < $(replicas "$svc"); i++)); do start_one "$svc" "$i"; done; done
    for svc in $(targets "$@"); do for ((i = 0; i < $(replicas "$svc"); i++)); do wait_ready "$svc" "$i" 60; done; done
    ;;
  stop)
    for svc in $(targets "$@"); do
      for pidfile in "$RUN_DIR/$svc"-*.pid; do [ -e "$pidfile" ] && stop_pid "$pidfile" "$svc[$(basename "$pidfile" .pid | sed 's/.*-//')]" 30; done
      rm -f "$RUN_DIR/$svc"-*.port
    done
    ;;
  status)
    rc=0
    for svc in $(targets "$@"); do
      found=0
      for pidfile in "$RUN_DIR/$svc"-*.pid; do
        [ -e "$pidfile" ] || continue; found=1
        r=$(basename "$pidfile" .pid); port=$(cat "$RUN_DIR/$r.port" 2>/dev/null || echo "?")
        if pid_alive "$pidfile"; then echo "$r: running pid $(cat "$pidfile") on :$port"; else echo "$r: dead"; rc=3; fi
      done
      [ $found = 1 ] || { echo "$svc: stopped"; rc=3; }
    done
    exit $rc
    ;;
  *) echo "usage: $0 start|stop|status [SERVICE...]" >&2; exit 2 ;;
esac
