#!/usr/bin/env bash
# Runs the idle-connection and fan-out shapes against ChatWire (the load harness) and against Redis
# pub/sub, a NATS server, Mosquitto (MQTT) and a minimal ASP.NET Core SignalR hub (bench/ChatWire.SignalRPeer),
# each started here on a free loopback port, on the same machine in the same run; ends with a table of
# ratios ChatWire ÷ peer (also written to OUT_DIR/ratios.md and ratios.json). The fan-out runs of ChatWire,
# Redis and NATS take turns (three rounds); Mosquitto and the SignalR hub, an order of magnitude slower, follow.
# The whole run holds /tmp/chatwire-build.lock, so builds and other measurements on this machine wait for it.
# usage: scripts/peers.sh [OUT_DIR]   (default: ./peers-out)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/peers-out}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
# -o: the lock is held by flock itself, not inherited by the servers and build nodes started below.
[ -n "${CHATWIRE_PEERS_LOCKED:-}" ] || CHATWIRE_PEERS_LOCKED=1 exec flock -o /tmp/chatwire-build.lock bash "$0" "$out"
rm -f "$out"/peer-*.json "$out"/chatwire-*.json "$out"/ratios.*

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
packages=()
command -v redis-server >/dev/null 2>&1 || packages+=(redis-server)
command -v nats-server >/dev/null 2>&1 || packages+=(nats-server)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || packages+=(mosquitto)
if [ ${#packages[@]} -gt 0 ]; then as_root apt-get update -q && as_root apt-get install -y -q "${packages[@]}"; fi

mosquitto_bin="$(command -v mosquitto || echo /usr/sbin/mosquitto)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

pids=()
cleanup() { for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
wait_port() { until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do sleep 0.2; done; }
stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
peers_dll="$root/bench/ChatWire.Peers/bin/Release/net10.0/ChatWire.Peers.dll"
# Idle: RSS at three counts after a warm-up of 5,000 connections opened and closed, for every side; the slope from
# the first count to the last and the largest step between two counts in a row (RSS grows in steps).
# 12,000 messages (12 million deliveries, several seconds a run) for ChatWire, Redis and NATS; the two slow peers
# (Mosquitto, the SignalR hub) get 2,000, which already takes them tens of seconds a run.
idle=(--counts 5000,10000,15000 --warmup 5000)
fast=("${idle[@]}" --recipients 1000 --messages 12000 --content-bytes 200)
shape=("${idle[@]}" --recipients 1000 --messages 2000 --content-bytes 200)

dotnet build "$root/ChatWire.sln" -c Release -v q -nologo >/dev/null

echo "== machine: nproc $(nproc), RAM $(free -g | awk '/Mem:/{print $2}') GiB, kernel $(uname -r), dotnet $(dotnet --version)" | tee "$out/machine.txt"
{ redis-server --version; nats-server --version; "$mosquitto_bin" -h | head -1; } | tee -a "$out/machine.txt" || true

echo "== ChatWire idle"
(cd "$root" && dotnet bench/ChatWire.LoadHarness/bin/Release/net10.0/ChatWire.LoadHarness.dll idle "${idle[@]}" --out "$out/chatwire-idle.json")

redis_port="$(free_port)"
redis_dir="$(mktemp -d)"
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$redis_dir" --maxclients 19000 >"$out/redis.log" 2>&1 &
pids+=($!)
redis_pid=$!
nats_port="$(free_port)"
nats-server -a 127.0.0.1 -p "$nats_port" >"$out/nats.log" 2>&1 &
pids+=($!)
nats_pid=$!
wait_port "$redis_port"; wait_port "$nats_port"
echo "== Redis idle"
dotnet "$peers_dll" redis "$redis_port" "$redis_pid" "${fast[@]}" --phase idle --out "$out/peer-redis-idle.json" | tee "$out/redis.txt"
echo "== NATS idle"
dotnet "$peers_dll" nats "$nats_port" "$nats_pid" "${fast[@]}" --phase idle --out "$out/peer-nats-idle.json" | tee "$out/nats.txt"

# The fan-out runs of ChatWire, Redis and NATS take turns, so that a slower minute of a shared machine falls on
# all three rather than on one side's three runs.
for run in 1 2 3; do
  echo "== fan-out run $run: ChatWire"
  (cd "$root" && dotnet bench/ChatWire.LoadHarness/bin/Release/net10.0/ChatWire.LoadHarness.dll fanout --recipients 1000 --messages 12000 --content-bytes 200 --out "$out/chatwire-fanout-$run.json")
  echo "== fan-out run $run: Redis"
  dotnet "$peers_dll" redis "$redis_port" "$redis_pid" "${fast[@]}" --phase fanout --runs 1 --out "$out/peer-redis-fanout-$run.json" | tee -a "$out/redis.txt"
  echo "== fan-out run $run: NATS"
  dotnet "$peers_dll" nats "$nats_port" "$nats_pid" "${fast[@]}" --phase fanout --runs 1 --out "$out/peer-nats-fanout-$run.json" | tee -a "$out/nats.txt"
done
stop "$redis_pid"
stop "$nats_pid"

echo "== Mosquitto"
mqtt_port="$(free_port)"
mqtt_dir="$(mktemp -d)"
# No persistence (like Redis and NATS here); max_queued_messages 0 lifts the default cap of 1,000 queued
# messages per client, above which Mosquitto drops QoS 0 messages for a subscriber that is behind.
cat >"$mqtt_dir/mosquitto.conf" <<CONF
listener $mqtt_port 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 0
connection_messages false
log_dest stderr
CONF
"$mosquitto_bin" -c "$mqtt_dir/mosquitto.conf" >"$out/mosquitto.log" 2>&1 &
pids+=($!)
mqtt_pid=$!
wait_port "$mqtt_port"
dotnet "$peers_dll" mqtt "$mqtt_port" "$mqtt_pid" "${shape[@]}" --out "$out/peer-mqtt.json" | tee "$out/mqtt.txt"
stop "$mqtt_pid"

echo "== ASP.NET Core SignalR hub"
signalr_port="$(free_port)"
dotnet "$root/bench/ChatWire.SignalRPeer/bin/Release/net10.0/ChatWire.SignalRPeer.dll" --urls "http://127.0.0.1:$signalr_port" >"$out/signalr.log" 2>&1 &
pids+=($!)
signalr_pid=$!
wait_port "$signalr_port"
dotnet "$peers_dll" signalr "$signalr_port" "$signalr_pid" "${shape[@]}" --out "$out/peer-signalr.json" | tee "$out/signalr.txt"
stop "$signalr_pid"

echo "== ChatWire ÷ peer (fan-out: each side's best of three by deliveries/s)"
dotnet "$peers_dll" ratios "$out"
