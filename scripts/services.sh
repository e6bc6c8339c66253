#!/usr/bin/env bash
# Starts and stops the real backing services of the distributed mode on loopback, for the test suite
# and for scripts/cluster.sh: Redis, MariaDB as a primary with a replica replicating from it, and an
# S3-compatible object store (s3rver, from the npm registry, installed into .tools/) with one bucket.
#
#   scripts/services.sh start DIR   installs what is missing (Debian packages), starts everything on free
#                                   ports with its data under DIR, and writes DIR/env: shell assignments
#                                   (CHATWIRE_SERVICES_*) that say where each service listens
#   scripts/services.sh stop DIR    stops what DIR/env names (SIGTERM, by pid file, never by name)
#
# Options (environment):
#   CHATWIRE_SERVICES_SKIP_REDIS=1              do not start Redis
#   CHATWIRE_SERVICES_SKIP_S3=1                 do not start s3rver
#   CHATWIRE_SERVICES_MYSQL_ADDRESSES="A B"     bind the primary to loopback address A and the replica to B,
#                                               on one port: a MySqlConnector failover list
#                                               (Server=A,B;LoadBalance=FailOver) needs one port for all hosts
#
# The primary replicates semi-synchronously (AFTER_SYNC): a commit is acknowledged only once the replica
# has the transaction in its relay log, so a failover to the replica loses nothing acknowledged.
#
# Gateways connect as the user "chatwire" (the CHATWIRE_SERVICES_MYSQL_APP* strings): every privilege on the
# databases named chatwire* (chatwire, chatwire_history, …), none global and none on the system schema, so the
# replica's read_only refuses its writes until the replica is promoted, as docs/deploy.md asks of production.
# Root (over the socket, or from 127.x) is for administration.
#
# Nothing here touches a service that another program started: every server gets its own directory,
# port and pid file.
set -euo pipefail

command=${1:-}
dir=${2:-}
if [ -z "$command" ] || [ -z "$dir" ]; then
  echo "usage: scripts/services.sh start|stop DIR" >&2
  exit 2
fi

log() { printf 'services: %s\n' "$*" >&2; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# s3rver: an S3-compatible server in Node.js (pinned: docs/configuration.md says what it does and does not
# enforce). Its bucket is the one the S3 blob store tests use.
s3rver_version=3.7.1
s3rver="$root/.tools/s3rver/node_modules/.bin/s3rver"
s3_bucket=chatwire

# free_port: a free loopback port below the ephemeral range.
# shellcheck source=scripts/free-port.sh
. "$root/scripts/free-port.sh"

install_missing() {
  local packages=()
  command -v redis-server >/dev/null 2>&1 || packages+=(redis-server)
  command -v mariadbd >/dev/null 2>&1 || packages+=(mariadb-server)
  if [ -z "${CHATWIRE_SERVICES_SKIP_S3:-}" ] && [ ! -x "$s3rver" ]; then
    command -v node >/dev/null 2>&1 || packages+=(nodejs)
    command -v npm >/dev/null 2>&1 || packages+=(npm)
  fi
  if [ ${#packages[@]} -gt 0 ]; then
    log "installing ${packages[*]} (Debian packages)"
    local sudo=()
    [ "$(id -u)" -ne 0 ] && sudo=(sudo)
    "${sudo[@]}" apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${packages[@]}" >/dev/null
  fi
  if [ -z "${CHATWIRE_SERVICES_SKIP_S3:-}" ] && [ ! -x "$s3rver" ]; then
    log "installing s3rver $s3rver_version (npm registry) into .tools/"
    npm install --silent --no-audit --no-fund --prefix "$root/.tools/s3rver" "s3rver@$s3rver_version" >/dev/null
  fi
}

# The bucket answers (s3rver creates it before it listens; an unknown bucket is a 404).
s3_ready() {
  curl -sf -o /dev/null "http://127.0.0.1:$1/$s3_bucket"
}

wait_for() {
  local what=$1; shift
  for _ in $(seq 1 150); do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  log "$what did not become ready"
  return 1
}

mariadb_exec() {
  local name=$1; shift
  mariadb --no-defaults --socket="$dir/$name.sock" -uroot -e "$*"
}

start_mariadb() {
  local name=$1 address=$2 port=$3 server_id=$4; shift 4
  mariadbd --no-defaults --datadir="$dir/$name" --socket="$dir/$name.sock" --port="$port" \
    --bind-address="$address" --user="$(id -un)" --log-error="$dir/$name.err" --pid-file="$dir/$name.pid" \
    --server-id="$server_id" --max-connections=1000 --innodb-buffer-pool-size=128M \
    --innodb-flush-log-at-trx-commit=1 --skip-name-resolve "$@" >/dev/null 2>&1 &
  wait_for "MariaDB ($name)" mariadb_exec "$name" "select 1"
}

start() {
  install_missing
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)

  local redis_port="" mysql_port replica_port app_password=chatwire-secret
  if [ -z "${CHATWIRE_SERVICES_SKIP_REDIS:-}" ]; then
    redis_port=$(free_port)
    redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
      --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
    wait_for "Redis" redis-cli -p "$redis_port" ping
  fi

  local s3_port="" s3_url=""
  if [ -z "${CHATWIRE_SERVICES_SKIP_S3:-}" ]; then
    s3_port=$(free_port)
    mkdir -p "$dir/s3"
    "$s3rver" -d "$dir/s3" -p "$s3_port" --address 127.0.0.1 --configure-bucket "$s3_bucket" >"$dir/s3rver.log" 2>&1 &
    echo $! >"$dir/s3rver.pid"
    wait_for "s3rver" s3_ready "$s3_port"
    s3_url="http://127.0.0.1:$s3_port"
  fi

  local addresses primary_address replica_address
  read -r -a addresses <<<"${CHATWIRE_SERVICES_MYSQL_ADDRESSES:-127.0.0.1 127.0.0.1}"
  primary_address=${addresses[0]}
  replica_address=${addresses[1]:-$primary_address}

  # One data directory is initialised and copied for the replica: both start empty and identical. Root
  # may connect from any loopback address (a client's source address is the one it connects to).
  mariadb-install-db --no-defaults --datadir="$dir/primary" --auth-root-authentication-method=normal \
    --skip-test-db --user="$(id -un)" >"$dir/install.log" 2>&1
  cp -a "$dir/primary" "$dir/replica"
  mysql_port=$(free_port)
  start_mariadb primary "$primary_address" "$mysql_port" 1 --log-bin="$dir/primary-bin" --binlog-format=ROW \
    --rpl-semi-sync-master-enabled=ON --rpl-semi-sync-master-wait-point=AFTER_SYNC --rpl-semi-sync-master-timeout=5000 \
    --rpl-semi-sync-slave-enabled=ON
  if [ "$replica_address" = "$primary_address" ]; then
    replica_port=$(free_port)
    while [ "$replica_port" = "$mysql_port" ]; do replica_port=$(free_port); done
  else
    replica_port=$mysql_port
  fi
  start_mariadb replica "$replica_address" "$replica_port" 2 --read-only=1 --relay-log="$dir/replica-relay" \
    --log-bin="$dir/replica-bin" --binlog-format=ROW --log-slave-updates=1 \
    --rpl-semi-sync-slave-enabled=ON --rpl-semi-sync-master-wait-point=AFTER_SYNC --rpl-semi-sync-master-timeout=5000

  for name in primary replica; do
    mariadb_exec "$name" "CREATE USER IF NOT EXISTS 'root'@'127.%'; GRANT ALL ON *.* TO 'root'@'127.%' WITH GRANT OPTION;"
  done
  mariadb_exec primary "CREATE USER 'repl'@'127.%' IDENTIFIED BY 'replica-secret'; GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.%';"
  # Replicated to the replica with the rest of the primary's binary log.
  mariadb_exec primary "CREATE USER 'chatwire'@'127.%' IDENTIFIED BY '$app_password'; GRANT ALL PRIVILEGES ON \`chatwire%\`.* TO 'chatwire'@'127.%';"
  mariadb_exec replica "CHANGE MASTER TO MASTER_HOST='$primary_address', MASTER_PORT=$mysql_port, MASTER_USER='repl', MASTER_PASSWORD='replica-secret', MASTER_USE_GTID=slave_pos; START SLAVE;"
  wait_for "replication" bash -c "mariadb --no-defaults --socket='$dir/replica.sock' -uroot -e 'SHOW SLAVE STATUS\G' | grep -q 'Slave_SQL_Running: Yes'"
  wait_for "semi-synchronous replication" bash -c "mariadb --no-defaults --socket='$dir/primary.sock' -uroot -N -e \"SHOW STATUS LIKE 'Rpl_semi_sync_master_clients'\" | grep -q '[[:space:]]1$'"

  cat >"$dir/env" <<EOF
CHATWIRE_SERVICES_DIR='$dir'
CHATWIRE_SERVICES_REDIS='127.0.0.1:$redis_port'
CHATWIRE_SERVICES_REDIS_PID='$dir/redis.pid'
CHATWIRE_SERVICES_MYSQL='Server=$primary_address;Port=$mysql_port;User ID=root'
CHATWIRE_SERVICES_MYSQL_SOCKET='$dir/primary.sock'
CHATWIRE_SERVICES_MYSQL_FAILOVER='Server=$primary_address,$replica_address;Port=$mysql_port;User ID=root;LoadBalance=FailOver'
CHATWIRE_SERVICES_MYSQL_PORT='$mysql_port'
CHATWIRE_SERVICES_MYSQL_PID='$dir/primary.pid'
CHATWIRE_SERVICES_MYSQL_REPLICA='Server=$replica_address;Port=$replica_port;User ID=root'
CHATWIRE_SERVICES_MYSQL_REPLICA_SOCKET='$dir/replica.sock'
CHATWIRE_SERVICES_MYSQL_REPLICA_PORT='$replica_port'
CHATWIRE_SERVICES_MYSQL_REPLICA_PID='$dir/replica.pid'
CHATWIRE_SERVICES_MYSQL_APP='Server=$primary_address;Port=$mysql_port;User ID=chatwire;Password=$app_password'
CHATWIRE_SERVICES_MYSQL_APP_REPLICA='Server=$replica_address;Port=$replica_port;User ID=chatwire;Password=$app_password'
CHATWIRE_SERVICES_MYSQL_APP_FAILOVER='Server=$primary_address,$replica_address;Port=$mysql_port;User ID=chatwire;Password=$app_password;LoadBalance=FailOver'
CHATWIRE_SERVICES_S3='$s3_url'
CHATWIRE_SERVICES_S3_BUCKET='$s3_bucket'
CHATWIRE_SERVICES_S3_PID='$dir/s3rver.pid'
EOF
  log "Redis on 127.0.0.1:${redis_port:-(not started)}, MariaDB primary on $primary_address:$mysql_port, replica on $replica_address:$replica_port, s3rver on ${s3_url:-(not started)} ($dir)"
}

stop_pid_file() {
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file" 2>/dev/null || true)
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

stop() {
  [ -d "$dir" ] || return 0
  stop_pid_file "$dir/redis.pid"
  stop_pid_file "$dir/s3rver.pid"
  stop_pid_file "$dir/replica.pid"
  stop_pid_file "$dir/primary.pid"
}

case "$command" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: scripts/services.sh start|stop DIR" >&2; exit 2 ;;
esac
