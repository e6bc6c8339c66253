#!/usr/bin/env bash
# A local ChatWire cluster on one machine, in one command (docs/deploy.md):
#
#   scripts/cluster.sh up [--nodes N] [--base-port P]   builds the gateway (once, or when a source changed),
#                        starts Redis, MariaDB (a primary and a replica) and s3rver through scripts/services.sh,
#                        then N gateway nodes (default 3) on the distributed adapters: MySQL directory,
#                        MySQL messages, Redis bus. Node 1 listens on P, P+1, P+43, P+80, P+81 (TCP 7400,
#                        Noise 7401, TLS 7443, HTTP 7480, management 7481 by default), node k on the same
#                        plus 10·(k-1), up to 8 nodes; all nodes share one Noise key file.
#   scripts/cluster.sh status                           each node's pid and /health, and the services
#   scripts/cluster.sh down                             SIGTERM to every node (by pid file), then the
#                                                       services, then removes the state directory
#
# State (pid files, logs, data directories, the services' data) lives in .cluster/ at the repository
# root (CHATWIRE_CLUSTER_DIR overrides it). `up` on a running cluster says so and changes nothing.
# `--embedded` starts the services as usual but the nodes on the embedded adapters (each node its own
# SQLite and in-process bus, so N independent servers, not a cluster): only for checking this script's
# process handling on a build without the distributed adapters.
#
# Nothing here touches a process it did not start: nodes are stopped by their pid files, and only when
# that pid is still the gateway this script started (its environment names the node's data directory).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${CHATWIRE_CLUSTER_DIR:-$root/.cluster}"
dll="$root/gateway/bin/Release/net10.0/ChatWire.Gateway.dll"
health_timeout_s=90
stop_timeout_s=40

usage() {
  echo "usage: scripts/cluster.sh up [--nodes N] [--base-port P] [--embedded] | status | down" >&2
  exit 2
}

say() { printf 'cluster: %s\n' "$*"; }
fail() { printf 'cluster: %s\n' "$*" >&2; exit 1; }

command=${1:-}
[ -n "$command" ] || usage
shift
nodes=3
base_port=7400
embedded=0
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) [ $# -ge 2 ] || usage; nodes=$2; shift 2 ;;
    --nodes=*) nodes=${1#--nodes=}; shift ;;
    --base-port) [ $# -ge 2 ] || usage; base_port=$2; shift 2 ;;
    --base-port=*) base_port=${1#--base-port=}; shift ;;
    --embedded) embedded=1; shift ;;
    -h|--help) usage ;;
    *) echo "cluster: unknown argument '$1'" >&2; usage ;;
  esac
done
# At most 8: node 9's protocol port (base + 80) would be node 1's HTTP port.
[[ "$nodes" =~ ^[1-9]$ ]] && [ "$nodes" -le 8 ] || fail "--nodes must be a whole number from 1 to 8; got '$nodes'"
[[ "$base_port" =~ ^[1-9][0-9]*$ ]] && [ "$base_port" -ge 1024 ] && [ $((base_port + 10 * (nodes - 1) + 81)) -le 65535 ] \
  || fail "--base-port must leave room for every node's ports (1024–65454 less 10 per extra node); got '$base_port'"

# Ports of node k (1-based), from the base port saved at `up` (so status and down agree with it).
saved_base_port() { cat "$state/base-port" 2>/dev/null || echo "$base_port"; }
node_port() { # node kind
  local offset
  case "$2" in tcp) offset=0 ;; noise) offset=1 ;; tls) offset=43 ;; http) offset=80 ;; management) offset=81 ;; esac
  echo $(( $(saved_base_port) + 10 * ($1 - 1) + offset ))
}
node_dir() { echo "$state/nodes/$1"; }
node_count() { cat "$state/node-count" 2>/dev/null || echo 0; }

# The pid in node k's pid file, if that process is alive and is the gateway started for node k.
node_pid() {
  local dir pid
  dir=$(node_dir "$1")
  pid=$(cat "$dir/pid" 2>/dev/null || true)
  [ -n "$pid" ] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # A recycled pid belongs to someone else: only our gateway has this node's data directory in its environment.
  tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "CHATWIRE_Gateway__DataDirectory=$dir/data" || return 1
  echo "$pid"
}

health() { # node → the body of /health, or nothing
  curl -fsS --max-time 2 "http://127.0.0.1:$(node_port "$1" management)/health" 2>/dev/null || true
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

services_up() {
  [ -f "$state/services/env" ] || return 1
  # shellcheck disable=SC1091
  ( . "$state/services/env"
    redis-cli -u "redis://$CHATWIRE_SERVICES_REDIS" ping >/dev/null 2>&1 &&
    mariadb --no-defaults -h127.0.0.1 -P"$CHATWIRE_SERVICES_MYSQL_PORT" -uroot -e 'select 1' >/dev/null 2>&1 )
}

anything_running() {
  local k
  for k in $(seq 1 "$(node_count)"); do
    node_pid "$k" >/dev/null && return 0
  done
  services_up
}

log_tail() { # node
  local log
  log="$(node_dir "$1")/node.log"
  echo "---- last 40 lines of $log ----" >&2
  tail -n 40 "$log" >&2 2>/dev/null || true
  echo "----" >&2
}

is_stale() {
  [ -f "$dll" ] || return 0
  [ -n "$(find "$root/gateway" "$root/storage" "$root/routing" "$root/protocol" \
      \( -name bin -o -name obj \) -prune -o -type f -newer "$dll" -print -quit 2>/dev/null)" ] && return 0
  for shared in Directory.Build.props Directory.Packages.props global.json; do
    [ -f "$root/$shared" ] && [ "$root/$shared" -nt "$dll" ] && return 0
  done
  return 1
}

build() {
  if ! is_stale; then
    say "using the existing build ($dll)"
    return 0
  fi
  say "building the gateway (dotnet build gateway -c Release; waits for other builds on this machine)…"
  local log
  # One build at a time on this machine: the cores are shared.
  if ! log=$(DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 \
      flock /tmp/chatwire-build.lock dotnet build "$root/gateway" -c Release -nologo -v quiet 2>&1); then
    printf '%s\n' "$log" >&2
    fail "building the gateway failed"
  fi
  # A no-op build leaves the dll's time alone; touch it so an unrelated change is not rebuilt every time.
  touch "$dll"
}

start_node() { # node
  local k=$1 dir
  dir=$(node_dir "$k")
  mkdir -p "$dir/data"
  local env=(
    "CHATWIRE_Gateway__TcpEndpoint=127.0.0.1:$(node_port "$k" tcp)"
    "CHATWIRE_Gateway__TlsEndpoint=127.0.0.1:$(node_port "$k" tls)"
    "CHATWIRE_Gateway__NoiseEndpoint=127.0.0.1:$(node_port "$k" noise)"
    # One Noise key for the whole cluster: clients pin one key per service, whichever node they reach.
    "CHATWIRE_Gateway__NoiseKeyPath=$state/noise-key.json"
    "CHATWIRE_Gateway__HttpEndpoint=127.0.0.1:$(node_port "$k" http)"
    "CHATWIRE_Gateway__ManagementEndpoint=127.0.0.1:$(node_port "$k" management)"
    "CHATWIRE_Gateway__DataDirectory=$dir/data"
  )
  if [ "$embedded" -eq 0 ]; then
    env+=(
      "CHATWIRE_Storage__Directory=mysql"
      "CHATWIRE_Storage__Messages=mysql"
      "CHATWIRE_Storage__MySql__ConnectionString=$mysql_primary"
      "CHATWIRE_Storage__MySql__ReplicaConnectionString=$mysql_replica"
      "CHATWIRE_Routing__Bus=redis"
      "CHATWIRE_Routing__Redis__Configuration=$redis"
    )
    # Attachments in the shared S3-compatible store: the local blob store is one node's files.
    if [ -n "${CHATWIRE_SERVICES_S3:-}" ]; then
      env+=(
        "CHATWIRE_Storage__Blobs=s3"
        "CHATWIRE_Storage__S3__ServiceUrl=$CHATWIRE_SERVICES_S3"
        "CHATWIRE_Storage__S3__Bucket=$CHATWIRE_SERVICES_S3_BUCKET"
        "CHATWIRE_Storage__S3__AccessKey=S3RVER"
        "CHATWIRE_Storage__S3__SecretKey=S3RVER"
        "CHATWIRE_Storage__S3__ForcePathStyle=true"
      )
    fi
  fi
  # Its own session (setsid): a Ctrl+C in this terminal does not reach it; `down` stops it with SIGTERM.
  # The working directory is the node's, so nothing relative lands in the repository.
  ( cd "$dir" && exec env "${env[@]}" setsid dotnet "$dll" ) </dev/null >"$dir/node.log" 2>&1 &
  echo $! >"$dir/pid"
}

# Waits for node k's /health to say "ok"; fails at once if the process ended.
wait_healthy() { # node
  local k=$1 pid deadline
  pid=$(cat "$(node_dir "$k")/pid")
  deadline=$((SECONDS + health_timeout_s))
  while [ $SECONDS -lt $deadline ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      local rc=""
      wait "$pid" 2>/dev/null && rc=0 || rc=$?
      echo "cluster: node $k (pid $pid) exited with code $rc before it was healthy" >&2
      log_tail "$k"
      return 1
    fi
    if health "$k" | grep -q '"status":"ok"'; then
      return 0
    fi
    sleep 0.5
  done
  echo "cluster: node $k (pid $pid) did not answer /health on 127.0.0.1:$(node_port "$k" management) within ${health_timeout_s} s" >&2
  log_tail "$k"
  return 1
}

stop_node() { # node
  local k=$1 pid
  pid=$(node_pid "$k") || { rm -f "$(node_dir "$k")/pid"; return 0; }
  # SIGTERM: the gateway drains (GO_AWAY, at most Gateway:DrainTimeoutMs + 5 s), then commits what is queued.
  kill -TERM "$pid" 2>/dev/null || return 0
  local deadline=$((SECONDS + stop_timeout_s))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      echo "cluster: node $k (pid $pid) still running ${stop_timeout_s} s after SIGTERM; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  say "node $k stopped (pid $pid)"
  rm -f "$(node_dir "$k")/pid"
}

stop_all() {
  local k
  for k in $(seq 1 "$(node_count)"); do
    stop_node "$k"
  done
  if [ -d "$state/services" ]; then
    "$root/scripts/services.sh" stop "$state/services" || true
    say "services stopped"
  fi
}

print_nodes() {
  local k pid
  for k in $(seq 1 "$(node_count)"); do
    if pid=$(node_pid "$k"); then
      printf 'node %d  pid %-7s protocol chatwire://127.0.0.1:%d  Noise chatwire+noise://127.0.0.1:%d  TLS chatwire+tls://127.0.0.1:%d  HTTP http://127.0.0.1:%d  health http://127.0.0.1:%d/health\n' \
        "$k" "$pid" "$(node_port "$k" tcp)" "$(node_port "$k" noise)" "$(node_port "$k" tls)" "$(node_port "$k" http)" "$(node_port "$k" management)"
    else
      printf 'node %d  not running (log: %s/node.log)\n' "$k" "$(node_dir "$k")"
    fi
  done
}

print_usage_hints() {
  local every="every node serves every user"
  [ -f "$state/embedded" ] && every="--embedded: each node has its own users"
  cat <<EOF

Point the CLI at any node by its HTTP address (a profile remembers it); $every:
  echo 'plum orchard 42' | ./chatwire --profile alice signup --server http://127.0.0.1:$(node_port 1 http) --user alice --password-stdin
EOF
  if [ "$(node_count)" -ge 2 ]; then
    echo "  echo 'violet canyon 7' | ./chatwire --profile bob signup --server http://127.0.0.1:$(node_port 2 http) --user bob --password-stdin"
  fi
  cat <<EOF
Status: scripts/cluster.sh status    Stop (SIGTERM to the nodes, then the services; removes $state): scripts/cluster.sh down
EOF
}

up() {
  mkdir -p "$state"
  if anything_running; then
    say "already up ($state); 'scripts/cluster.sh down' stops it first"
    print_nodes
    print_usage_hints
    return 0
  fi
  if [ -e "$state/node-count" ] || [ -d "$state/services" ]; then
    say "removing the state of a cluster that is no longer running ($state)"
    stop_all >/dev/null 2>&1 || true
    rm -rf "$state"
    mkdir -p "$state"
  fi
  echo "$base_port" >"$state/base-port"

  # Every node's ports must be free before anything starts (other gateways may run on this machine).
  local k kind busy=()
  for k in $(seq 1 "$nodes"); do
    for kind in tcp noise tls http management; do
      port_in_use "$(node_port "$k" "$kind")" && busy+=("$(node_port "$k" "$kind") (node $k $kind)")
    done
  done
  if [ ${#busy[@]} -gt 0 ]; then
    rm -rf "$state"
    fail "ports already in use: ${busy[*]}. Stop what listens there or choose other ports with --base-port (e.g. --base-port 17400)."
  fi

  build

  say "starting Redis, MariaDB (primary and replica) and s3rver in $state/services…"
  if ! "$root/scripts/services.sh" start "$state/services"; then
    "$root/scripts/services.sh" stop "$state/services" || true
    fail "the backing services did not start (scripts/services.sh; logs under $state/services)"
  fi
  # shellcheck disable=SC1091
  . "$state/services/env"
  mysql_primary="$CHATWIRE_SERVICES_MYSQL_APP;Database=chatwire"     # the nodes' user: no global privilege
  mysql_replica="$CHATWIRE_SERVICES_MYSQL_APP_REPLICA;Database=chatwire"
  redis="$CHATWIRE_SERVICES_REDIS"
  if [ "$embedded" -eq 1 ]; then
    touch "$state/embedded"
    say "--embedded: the nodes ignore these services, each on its own SQLite and in-process bus (not a cluster; for testing this script)"
  fi

  echo "$nodes" >"$state/node-count"
  # Node 1 first, alone: it creates and migrates the database; the others then find it migrated.
  say "starting node 1…"
  start_node 1
  if ! wait_healthy 1; then
    stop_all >/dev/null 2>&1 || true
    fail "node 1 did not come up; everything started was stopped. Logs stay under $state (removed by 'scripts/cluster.sh down')."
  fi
  if [ "$nodes" -ge 2 ]; then
    say "starting nodes 2–$nodes…"
    for k in $(seq 2 "$nodes"); do
      start_node "$k"
    done
    for k in $(seq 2 "$nodes"); do
      if ! wait_healthy "$k"; then
        stop_all >/dev/null 2>&1 || true
        fail "node $k did not come up; everything started was stopped. Logs stay under $state (removed by 'scripts/cluster.sh down')."
      fi
    done
  fi

  if [ "$embedded" -eq 0 ]; then
    say "up: $nodes nodes on MySQL (directory and messages, primary 127.0.0.1:$CHATWIRE_SERVICES_MYSQL_PORT, replica 127.0.0.1:$CHATWIRE_SERVICES_MYSQL_REPLICA_PORT) and the Redis bus ($redis)"
  else
    say "up: $nodes nodes on the embedded adapters"
  fi
  print_nodes
  print_usage_hints
}

status() {
  if [ ! -e "$state/node-count" ] && [ ! -d "$state/services" ]; then
    say "not up (no state in $state)"
    return 3
  fi
  local k pid body problems=0
  for k in $(seq 1 "$(node_count)"); do
    if pid=$(node_pid "$k"); then
      body=$(health "$k")
      printf 'node %d  pid %-7s %-28s health %s\n' "$k" "$pid" "http://127.0.0.1:$(node_port "$k" http)" "${body:-(no answer on 127.0.0.1:$(node_port "$k" management))}"
      grep -q '"status":"ok"' <<<"$body" || problems=1
    else
      printf 'node %d  not running (log: %s/node.log)\n' "$k" "$(node_dir "$k")"
      problems=1
    fi
  done
  if [ -f "$state/services/env" ]; then
    # shellcheck disable=SC1091
    . "$state/services/env"
    local redis_state primary_state replica_state
    redis_state=$(redis-cli -u "redis://$CHATWIRE_SERVICES_REDIS" ping 2>/dev/null || true)
    printf 'redis    %-22s %s\n' "$CHATWIRE_SERVICES_REDIS" "${redis_state:-not answering}"
    [ "$redis_state" = PONG ] || problems=1
    if mariadb --no-defaults -h127.0.0.1 -P"$CHATWIRE_SERVICES_MYSQL_PORT" -uroot -e 'select 1' >/dev/null 2>&1; then
      primary_state="up"
    else
      primary_state="not answering"; problems=1
    fi
    printf 'mariadb  %-22s primary, %s\n' "127.0.0.1:$CHATWIRE_SERVICES_MYSQL_PORT" "$primary_state"
    replica_state=$(mariadb --no-defaults -h127.0.0.1 -P"$CHATWIRE_SERVICES_MYSQL_REPLICA_PORT" -uroot -e 'SHOW SLAVE STATUS\G' 2>/dev/null \
      | awk -F': ' '/Slave_IO_Running|Slave_SQL_Running:|Seconds_Behind_Master/ { gsub(/^ +/, "", $1); printf "%s%s=%s", sep, $1, $2; sep=", " }' || true)
    printf 'mariadb  %-22s replica, %s\n' "127.0.0.1:$CHATWIRE_SERVICES_MYSQL_REPLICA_PORT" "${replica_state:-not answering}"
    grep -q 'Slave_SQL_Running=Yes' <<<"$replica_state" || problems=1
  elif [ -d "$state/services" ]; then
    echo "services: no address file ($state/services/env)"
    problems=1
  fi
  return "$problems"
}

down() {
  if [ ! -d "$state" ]; then
    say "not up (no state in $state)"
    return 0
  fi
  stop_all
  rm -rf "$state"
  say "down; removed $state"
}

case "$command" in
  up) up ;;
  status) status ;;
  down) down ;;
  *) usage ;;
esac
