# Shared helpers for the deploy/local scripts. Sourced, not run.
# Everything lives under CDP_LOCAL_DIR (gitignored): cache/ (jars, compiled launcher), data/, logs/, run/ (pids).
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CDP_LOCAL_DIR="${CDP_LOCAL_DIR:-$REPO_ROOT/.local}"
# The jars and the compiled launcher are shared by every local stack (dev and test) so they resolve once.
CDP_CACHE_DIR="${CDP_CACHE_DIR:-$REPO_ROOT/.local/cache}"
DATA_DIR="$CDP_LOCAL_DIR/data"
LOG_DIR="$CDP_LOCAL_DIR/logs"
RUN_DIR="$CDP_LOCAL_DIR/run"
mkdir -p "$CDP_CACHE_DIR" "$DATA_DIR" "$LOG_DIR" "$RUN_DIR"

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# alive: the process exists and is not a zombie (a killed process whose parent has not reaped it yet)
pid_alive() {
  [ -f "$1" ] || return 1
  local pid state
  pid=$(cat "$1")
  kill -0 "$pid" 2>/dev/null || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo "?")
  [ "$state" != "Z" ]
}

wait_port() { # host port seconds what
  local i=0
  while ! port_open "$1" "$2"; do
    i=$((i + 1))
    [ "$i" -ge "$(( $3 * 5 ))" ] && return 1
    sleep 0.2
  done
}

stop_pid() { # pidfile name seconds
  local pidfile=$1 name=$2 secs=${3:-30}
  if ! pid_alive "$pidfile"; then rm -f "$pidfile"; log "$name: not running"; return 0; fi
  local pid; pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  local i=0
  while kill -0 "$pid" 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -ge "$(( secs * 5 ))" ]; then log "$name: still up after ${secs}s, killing"; kill -KILL "$pid" 2>/dev/null || true; break; fi
    sleep 0.2
  done
  rm -f "$pidfile"
  log "$name: stopped"
}

# Resolve a Maven pom's runtime classpath into a cache folder keyed by the pom's hash (so a version bump re-resolves).
resolve_classpath() { # pom dest
  local pom=$1 dest=$2 stamp
  stamp=$(sha256sum "$pom" | cut -c1-16)
  if [ -f "$dest/.resolved-$stamp" ]; then return 0; fi
  command -v mvn >/dev/null || die "mvn not found: install Maven (apt-get install maven)"
  command -v java >/dev/null || die "java not found: install a Java 17 JDK"
  log "resolving $(basename "$(dirname "$pom")") jars from Maven Central (first start only)"
  rm -rf "$dest"; mkdir -p "$dest"
  mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DoutputDirectory="$dest" -DincludeScope=runtime >&2 \
    || die "mvn could not resolve $pom"
  touch "$dest/.resolved-$stamp"
}
