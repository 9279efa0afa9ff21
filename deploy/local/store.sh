#!/usr/bin/env bash
# The MongoDB-wire-protocol document store for hosts without Docker. Usage: deploy/local/store.sh start|stop|status
# (idempotent). Env: CDP_STORE_PORT (27017), CDP_LOCAL_DIR, CDP_LOCAL_STORE (ferretdb | mongo-java-server).
#
# ferretdb (the default): FerretDB v1.24.1 with its SQLite backend, as the design names it, built with `go` from the
# Go module proxy (github.com/FerretDB/FerretDB@v1.24.1) with the fixes in deploy/local/ferretdb/patches applied
# (lookups by _id that never used the _id index, an update command that could wait for ever, conditional updates
# that were not atomic under concurrency, unordered updates stopped at the first duplicate key; see
# docs/store-contract.md). The binary is cached under
# $CDP_CACHE_DIR/ferretdb, keyed by the version and the patches: the first start builds it (a few minutes), later
# ones take a second. Metrics and pprof: http://127.0.0.1:$((CDP_STORE_PORT + 1000))/debug.
#
# mongo-java-server: the store used until the proxy served FerretDB v1 (it refused it before 2026-12):
# mongo-java-server with its H2 file backend and our changes in deploy/local/store/, from Maven Central, on Java 17.
# Env: STORE_HEAP_OPTS (-Xms1g -Xmx6g),
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
KIND="${CDP_LOCAL_STORE:-ferretdb}"
FERRETDB_VERSION="v1.24.1"
FERRETDB_PATCHES="$REPO_ROOT/deploy/local/ferretdb/patches"

# Build FerretDB once per version and patch set: the module from the Go module proxy, our patches, `go build`.
ferretdb_binary() {
  local stamp dir work src
  stamp=$(cat "$FERRETDB_PATCHES"/*.patch | sha256sum | cut -c1-12)
  dir="$CDP_CACHE_DIR/ferretdb/$FERRETDB_VERSION-$stamp"
  if [ -x "$dir/ferretdb" ]; then echo "$dir/ferretdb"; return 0; fi
  command -v go >/dev/null || die "go not found: install Go (https://go.dev/dl) to build FerretDB"
  log "store: building FerretDB $FERRETDB_VERSION from the Go module proxy (first start only)"
  export GOPATH="$CDP_CACHE_DIR/go" GOMODCACHE="$CDP_CACHE_DIR/go/pkg/mod" GOFLAGS=-mod=mod
  src=$(cd "$CDP_CACHE_DIR" && go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" \
        | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$src" ] && [ -d "$src" ] || die "store: go mod download github.com/FerretDB/FerretDB@$FERRETDB_VERSION failed"
  work=$(mktemp -d "$CDP_CACHE_DIR/ferretdb-build.XXXXXX")
  cp -r "$src/." "$work/" && chmod -R u+w "$work"
  for p in "$FERRETDB_PATCHES"/*.patch; do
    patch -s -p1 -d "$work" < "$p" || die "store: patch $(basename "$p") does not apply"
  done
  echo "$FERRETDB_VERSION" > "$work/build/version/version.txt"  # what `ferretdb --version` and buildInfo report
  mkdir -p "$dir"
  (cd "$work" && go build -trimpath -o "$dir/ferretdb.tmp" ./cmd/ferretdb) || die "store: go build of FerretDB failed"
  mv "$dir/ferretdb.tmp" "$dir/ferretdb"
  rm -rf "$work"
  echo "$dir/ferretdb"
}

start_ferretdb() {
  local bin
  bin=$(ferretdb_binary) && [ -n "$bin" ] || exit 1
  mkdir -p "$DATA_DIR/store/sqlite" "$DATA_DIR/store/state"
  log "store: starting FerretDB $FERRETDB_VERSION (SQLite) on 127.0.0.1:$PORT"
  setsid "$bin" --handler=sqlite --sqlite-url="file:$DATA_DIR/store/sqlite/" \
    --listen-addr="127.0.0.1:$PORT" --debug-addr="127.0.0.1:$((PORT + 1000))" \
    --state-dir="$DATA_DIR/store/state" --telemetry=disable --log-level=warn --log-format=json \
    >>"$LOG_DIR/store.log" 2>&1 < /dev/null &
  echo $! > "$PIDFILE"
  wait_port 127.0.0.1 "$PORT" 60 || { tail -n 30 "$LOG_DIR/store.log" >&2; die "store: did not open port $PORT in 60s"; }
  log "store: up (pid $(cat "$PIDFILE")), logs $LOG_DIR/store.log"
}

start() {
  if pid_alive "$PIDFILE" && port_open 127.0.0.1 "$PORT"; then log "store: already running on 127.0.0.1:$PORT"; return 0; fi
  if port_open 127.0.0.1 "$PORT"; then die "store: port $PORT is taken by another process"; fi
  case "$KIND" in
    ferretdb) start_ferretdb; return ;;
    mongo-java-server) ;;
    *) die "store: CDP_LOCAL_STORE must be ferretdb or mongo-java-server, not $KIND" ;;
  esac
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
