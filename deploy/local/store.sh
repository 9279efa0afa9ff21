#!/usr/bin/env bash
# The MongoDB-wire-protocol document store for hosts without Docker: mongo-java-server with its H2 file backend,
# from Maven Central, run with Java 17 (FerretDB v1.24.1 is refused by the Go module proxy here; see
# docs/store-contract.md). Usage: deploy/local/store.sh start|stop|status   (idempotent)
# Env: CDP_STORE_PORT (27017), CDP_LOCAL_DIR, STORE_HEAP_OPTS (-Xms1g -Xmx6g),
# STORE_GC_OPTS (-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:G1HeapRegionSize=32m: G1 aims at 200 ms pauses by
# default, and the MVStore's write buffers of up to 64 MB fragmented its 2 MB regions into full collections;
# mixed collections leave regions more than 60% live and stop at 20% of the heap reclaimable, in 16 steps: after a
# million interactions they took 130-300 ms, 56-101 ms with these),
# STORE_CACHE_MB (1024: the MVStore page cache). See docs/store-contract.md.
source "$(dirname "$0")/lib.sh"
PORT="${CDP_STORE_PORT:-27017}"
LIB="$CDP_CACHE_DIR/store/lib"
CLASSES="$CDP_CACHE_DIR/store/classes"
SRC="$REPO_ROOT/deploy/local/store/DocumentStoreServer.java"
LIBRARY_SRC="$REPO_ROOT/deploy/local/store/de/bwaldvogel/mongo/backend/h2"
PIDFILE="$RUN_DIR/store.pid"

start() {
  if pid_alive "$PIDFILE" && port_open 127.0.0.1 "$PORT"; then log "store: already running on 127.0.0.1:$PORT"; return 0; fi
  if port_open 127.0.0.1 "$PORT"; then die "store: port $PORT is taken by another process"; fi
  resolve_classpath "$REPO_ROOT/deploy/local/store/pom.xml" "$LIB"
  if [ ! -f "$CLASSES/DocumentStoreServer.class" ] || [ "$SRC" -nt "$CLASSES/DocumentStoreServer.class" ] \
     || [ -n "$(find "$LIBRARY_SRC" -name '*.java' -newer "$CLASSES/DocumentStoreServer.class")" ]; then
    rm -rf "$CLASSES" && mkdir -p "$CLASSES"
    javac -cp "$LIB/*" -d "$CLASSES" "$SRC" "$LIBRARY_SRC"/*.java || die "store: javac failed"
  fi
  mkdir -p "$DATA_DIR/store"
  log "store: starting on 127.0.0.1:$PORT"
  # Netty's buffer checks (reference count and bounds at every byte written or read) took 11% of the store's CPU
  # samples in a profile of contacts ingestion, mostly in BSON encoding; they are debugging aids.
  # The store keeps its documents on the Java heap: with 2 GB, importing 100,000 contacts spent a quarter of its
  # time in young collections; 6 GB (of the 24 here) made the same import 27% faster (docs/store-contract.md).
  setsid java ${STORE_HEAP_OPTS:--Xms1g -Xmx6g} ${STORE_GC_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:G1HeapRegionSize=32m -XX:G1HeapWastePercent=20 -XX:G1MixedGCCountTarget=16 -XX:+UnlockExperimentalVMOptions -XX:G1MixedGCLiveThresholdPercent=60} \
    -Dcdp.store.cacheMb="${STORE_CACHE_MB:-1024}" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    -Dio.netty.buffer.checkAccessible=false -Dio.netty.buffer.checkBounds=false \
    -cp "$CLASSES:$LIB/*" DocumentStoreServer 127.0.0.1 "$PORT" "$DATA_DIR/store/cdp.mv.db" \
    >>"$LOG_DIR/store.log" 2>&1 < /dev/null &
  echo $! > "$PIDFILE"
  wait_port 127.0.0.1 "$PORT" 60 || { tail -n 30 "$LOG_DIR/store.log" >&2; die "store: did not open port $PORT in 60s"; }
  log "store: up (pid $(cat "$PIDFILE")), logs $LOG_DIR/store.log"
}

status() {
  if pid_alive "$PIDFILE" && port_open 127.0.0.1 "$PORT"; then echo "store: running pid $(cat "$PIDFILE") on 127.0.0.1:$PORT"; else echo "store: stopped"; return 3; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop_pid "$PIDFILE" store 30 ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
