#!/usr/bin/env bash
# Apache Kafka 4.x, single KRaft node (broker + controller), from Maven Central jars, run with Java 17.
# Usage: deploy/local/kafka.sh start|stop|status   (idempotent)
# Env: CDP_KAFKA_PORT (9092), CDP_KAFKA_CONTROLLER_PORT (9093), CDP_LOCAL_DIR, KAFKA_HEAP_OPTS.
source "$(dirname "$0")/lib.sh"
PORT="${CDP_KAFKA_PORT:-9092}"
CPORT="${CDP_KAFKA_CONTROLLER_PORT:-9093}"
LIB="$CDP_CACHE_DIR/kafka/lib"
KDATA="$DATA_DIR/kafka"
CONF="$CDP_LOCAL_DIR/kafka.properties"
PIDFILE="$RUN_DIR/kafka.pid"

write_config() {
  cat > "$CONF" <<CFG
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KDATA
num.partitions=6
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Topics are created by deploy/topics with their partition counts; a typo must fail, not invent a topic.
auto.create.topics.enable=false
message.max.bytes=2097152
CFG
}

start() {
  if pid_alive "$PIDFILE" && port_open 127.0.0.1 "$PORT"; then log "kafka: already running on 127.0.0.1:$PORT"; return 0; fi
  if port_open 127.0.0.1 "$PORT"; then die "kafka: port $PORT is taken by another process"; fi
  resolve_classpath "$REPO_ROOT/deploy/local/kafka/pom.xml" "$LIB"
  write_config
  local cp="$LIB/*"
  if [ ! -f "$KDATA/meta.properties" ]; then
    local cluster_id
    cluster_id=$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)
    log "kafka: formatting KRaft storage (cluster $cluster_id)"
    java -cp "$cp" -Dlog4j2.configurationFile="$REPO_ROOT/deploy/local/kafka/log4j2.properties" \
      kafka.tools.StorageTool format -t "$cluster_id" -c "$CONF" >>"$LOG_DIR/kafka.log" 2>&1 \
      || die "kafka: storage format failed, see $LOG_DIR/kafka.log"
  fi
  log "kafka: starting on 127.0.0.1:$PORT"
  # setsid: the broker outlives this script and is not hit by the caller's Ctrl-C.
  setsid java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g} -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$REPO_ROOT/deploy/local/kafka/log4j2.properties" \
    -cp "$cp" kafka.Kafka "$CONF" >>"$LOG_DIR/kafka.log" 2>&1 < /dev/null &
  echo $! > "$PIDFILE"
  wait_port 127.0.0.1 "$PORT" 90 || { tail -n 30 "$LOG_DIR/kafka.log" >&2; die "kafka: did not open port $PORT in 90s"; }
  log "kafka: up (pid $(cat "$PIDFILE")), logs $LOG_DIR/kafka.log"
}

status() {
  if pid_alive "$PIDFILE" && port_open 127.0.0.1 "$PORT"; then echo "kafka: running pid $(cat "$PIDFILE") on 127.0.0.1:$PORT"; else echo "kafka: stopped"; return 3; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop_pid "$PIDFILE" kafka 60 ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
