#!/usr/bin/env bash
# Real S3 server for tests: OpenStack Swift with its s3api middleware (see "Object storage" in DESIGN.md).
# No MinIO server is installable here; Swift s3api passes every `minio` client operation we use.
#
#   scripts/s3-test-server.sh start [DIR]   install if missing, start in the background, print the env to use
#   scripts/s3-test-server.sh stop  [DIR]   stop the daemons started from DIR
#
# DIR (default /tmp/modelpress-swift) holds configs, data, logs and pid files; each cold start wipes its data.
set -euo pipefail

CMD="${1:-}"
DIR="${2:-/tmp/modelpress-swift}"
DIR="${DIR%/}"
[[ -n $DIR ]] || { echo "s3-test-server: DIR must not be /" >&2; exit 2; }
PROXY_URL="http://127.0.0.1:8080"
ENV_LINE="S3_ENDPOINT=$PROXY_URL S3_ACCESS_KEY=test:tester S3_SECRET_KEY=testing S3_REGION=us-east-1"
# Swift always reads its hash settings and storage policies from this path.
SWIFT_CONF=/etc/swift/swift.conf
PACKAGES=(swift swift-proxy swift-object swift-container swift-account memcached)

log() { echo "s3-test-server: $*" >&2; }

fail() {
  log "$1; logs in $DIR/log"
  tail -n 20 "$DIR"/log/*.log >&2 || true
  stop_daemons
  exit 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The proxy's /healthcheck does not look at the storage servers, so check their ports too.
healthy() {
  curl -fsS -m 2 "$PROXY_URL/healthcheck" >/dev/null 2>&1 && port_open 6200 && port_open 6201 && port_open 6202
}

install_packages() {
  [[ -x /usr/bin/swift-proxy-server && -x /usr/bin/swift-object-server && -x /usr/bin/memcached ]] && return 0
  local sudo=()
  [[ $(id -u) -ne 0 ]] && sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  log "installing ${PACKAGES[*]} (apt)"
  if ! "${sudo[@]}" apt-get install -y --no-install-recommends "${PACKAGES[@]}" >"$DIR/apt.log" 2>&1; then
    log "apt-get install failed; running apt-get update and retrying"
    "${sudo[@]}" apt-get update >>"$DIR/apt.log" 2>&1
    "${sudo[@]}" apt-get install -y --no-install-recommends "${PACKAGES[@]}" >>"$DIR/apt.log" 2>&1 \
      || { tail -20 "$DIR/apt.log" >&2; exit 1; }
  fi
}

build_ring() {
  local etc="$1" kind="$2" port="$3"
  # Ring: 2^10 partitions, 1 replica, one device on loopback.
  cd "$etc" \
    && /usr/bin/swift-ring-builder "$kind.builder" create 10 1 1 \
    && /usr/bin/swift-ring-builder "$kind.builder" add "r1z1-127.0.0.1:$port/d1" 1 \
    && /usr/bin/swift-ring-builder "$kind.builder" rebalance
}

write_configs() {
  local etc="$DIR/etc" srv="$DIR/srv"
  # Fresh data every start; the rings in etc/ hold no data and are kept (building them costs seconds).
  rm -rf "$srv"
  mkdir -p "$etc" "$srv/d1" "$DIR/run" "$DIR/log"

  if [[ ! -f $SWIFT_CONF ]]; then
    mkdir -p "$(dirname "$SWIFT_CONF")"
    cat >"$SWIFT_CONF" <<'EOF'
[swift-hash]
swift_hash_path_prefix = modelpress-test
swift_hash_path_suffix = modelpress-test

[storage-policy:0]
name = Policy-0
default = yes
EOF
  fi

  local common="[DEFAULT]
swift_dir = $etc
devices = $srv
mount_check = false
user = $(id -un)
workers = 0
bind_ip = 127.0.0.1"

  local kind port pid builds=()
  for kind in object:6200 container:6201 account:6202; do
    port="${kind#*:}"
    kind="${kind%%:*}"
    cat >"$etc/$kind-server.conf" <<EOF
$common
bind_port = $port

[pipeline:main]
pipeline = $kind-server

[app:$kind-server]
use = egg:swift#$kind
EOF
    if [[ ! -f $etc/$kind.ring.gz ]]; then
      rm -f "$etc/$kind.builder"
      build_ring "$etc" "$kind" "$port" >>"$DIR/log/rings.log" 2>&1 &
      builds+=($!)
    fi
  done
  for pid in "${builds[@]}"; do wait "$pid" || fail "building the rings failed"; done

  cat >"$etc/proxy-server.conf" <<EOF
$common
bind_port = 8080

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo versioned_writes symlink proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:s3api]
use = egg:swift#s3api
location = us-east-1

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:11211

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:bulk]
use = egg:swift#bulk

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo

[filter:versioned_writes]
use = egg:swift#versioned_writes

[filter:symlink]
use = egg:swift#symlink
EOF
}

# Starts a daemon detached from this shell, logging to DIR/log/NAME.log, pid in DIR/run/NAME.pid.
spawn() {
  local name="$1"
  shift
  setsid "$@" >>"$DIR/log/$name.log" 2>&1 </dev/null &
  echo $! >"$DIR/run/$name.pid"
}

start() {
  if healthy; then
    log "already running at $PROXY_URL"
    echo "$ENV_LINE"
    return 0
  fi
  mkdir -p "$DIR"
  install_packages
  stop_daemons
  write_configs

  if port_open 11211; then
    # Someone else's memcached: drop cached account/container info that the wiped data contradicts.
    (exec 3<>/dev/tcp/127.0.0.1/11211 && printf 'flush_all\r\n' >&3 && read -r -t 2 _ <&3) || true
  else
    spawn memcached /usr/bin/memcached -u "$(id -un)" -l 127.0.0.1 -p 11211
  fi
  local server
  for server in object container account proxy; do
    # Swift's own scripts: python3 on PATH may be a shim that cannot import swift.
    spawn "$server" "/usr/bin/swift-$server-server" "$DIR/etc/$server-server.conf" --verbose
  done

  local deadline=$((SECONDS + 60)) pidfile
  until healthy; do
    for pidfile in "$DIR"/run/*.pid; do
      kill -0 "$(cat "$pidfile")" 2>/dev/null || fail "$(basename "$pidfile" .pid) exited during start-up"
    done
    ((SECONDS < deadline)) || fail "not healthy after 60 s"
    sleep 0.2
  done
  log "running at $PROXY_URL (logs in $DIR/log)"
  echo "$ENV_LINE"
}

stop_daemons() {
  local pidfile pid pids=()
  for pidfile in "$DIR"/run/*.pid; do
    [[ -f $pidfile ]] || continue
    pid="$(cat "$pidfile")"
    # Each daemon leads its own session (setsid), so this ends it and any children it forked.
    kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
    pids+=("$pid")
    rm -f "$pidfile"
  done
  # Wait (up to 10 s) until they are gone so a following start can bind the same ports.
  local deadline=$((SECONDS + 10))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  done
}

case "$CMD" in
  start) start ;;
  stop) stop_daemons; log "stopped" ;;
  *)
    echo "usage: $0 start|stop [DIR]" >&2
    exit 2
    ;;
esac
