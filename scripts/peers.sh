#!/usr/bin/env bash
# Runs the idle-connection and fan-out shapes against ChatWire (the load harness) and against Redis
# pub/sub and a NATS server, each started here on a free loopback port, on the same machine in the same run.
# usage: scripts/peers.sh [OUT_DIR]   (default: ./peers-out)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/peers-out}"
mkdir -p "$out"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
packages=()
command -v redis-server >/dev/null 2>&1 || packages+=(redis-server)
command -v nats-server >/dev/null 2>&1 || packages+=(nats-server)
if [ ${#packages[@]} -gt 0 ]; then as_root apt-get update -q && as_root apt-get install -y -q "${packages[@]}"; fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

pids=()
cleanup() { for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

flock /tmp/chatwire-build.lock dotnet build "$root/ChatWire.sln" -c Release -v q -nologo >/dev/null

echo "== machine: nproc $(nproc), RAM $(free -g | awk '/Mem:/{print $2}') GiB, kernel $(uname -r), dotnet $(dotnet --version)"

echo "== ChatWire idle"
(cd "$root" && dotnet bench/ChatWire.LoadHarness/bin/Release/net10.0/ChatWire.LoadHarness.dll idle --counts 2000,6000 --out "$out/chatwire-idle.json")
for run in 1 2 3; do
  echo "== ChatWire fanout run $run"
  (cd "$root" && dotnet bench/ChatWire.LoadHarness/bin/Release/net10.0/ChatWire.LoadHarness.dll fanout --recipients 1000 --messages 2000 --content-bytes 200 --out "$out/chatwire-fanout-$run.json")
done

echo "== Redis"
redis_port="$(free_port)"
redis_dir="$(mktemp -d)"
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$redis_dir" --maxclients 19000 >"$out/redis.log" 2>&1 &
pids+=($!)
redis_pid=$!
sleep 1
dotnet "$root/bench/ChatWire.Peers/bin/Release/net10.0/ChatWire.Peers.dll" redis "$redis_port" "$redis_pid" \
  --counts 2000,6000 --recipients 1000 --messages 2000 --content-bytes 200 | tee "$out/redis.txt"

echo "== NATS"
nats_port="$(free_port)"
nats-server -a 127.0.0.1 -p "$nats_port" >"$out/nats.log" 2>&1 &
pids+=($!)
nats_pid=$!
sleep 1
dotnet "$root/bench/ChatWire.Peers/bin/Release/net10.0/ChatWire.Peers.dll" nats "$nats_port" "$nats_pid" \
  --counts 2000,6000 --recipients 1000 --messages 2000 --content-bytes 200 | tee "$out/nats.txt"
