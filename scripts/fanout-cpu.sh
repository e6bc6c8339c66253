#!/usr/bin/env bash
# The gateway's CPU per delivery in the load harness's fan-out shape (1 sender, 1,000 recipients, 200-byte
# messages, 50 in flight), counted by the kernel rather than timed: `perf stat` follows the gateway process from
# the end of the harness's warm-up (rounds until the gateway's JIT is quiet) to its exit.
# Prints deliveries/s and latency (as the harness does), CPU ns per delivery, sendmsg calls and deliveries per call.
# Needs perf (Debian: apt-get install linux-perf) and permission to attach to the gateway (root, or
# kernel.perf_event_paranoid ≤ 1). Build first: dotnet build ChatWire.sln -c Release.
# usage: scripts/fanout-cpu.sh [GATEWAY_DLL] [MESSAGES]   (defaults: this tree's Release gateway, 12000)
# Alternate two builds (copy one's gateway/bin/Release/net10.0 aside) to compare them: runs move by ±5 %.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
gateway="${1:-$root/gateway/bin/Release/net10.0/ChatWire.Gateway.dll}"
messages="${2:-12000}"
harness="$root/bench/ChatWire.LoadHarness/bin/Release/net10.0/ChatWire.LoadHarness.dll"
command -v perf >/dev/null || { echo "perf not found: apt-get install linux-perf" >&2; exit 2; }
[ -f "$harness" ] || { echo "build first: dotnet build $root/ChatWire.sln -c Release" >&2; exit 2; }
log="$(mktemp)"; stats="$(mktemp)"; perf_err="$(mktemp)"
trap 'rm -f "$log" "$stats" "$perf_err"' EXIT
fail() { echo "fanout-cpu: $1" >&2; sed 's/^/  /' "$log" >&2; exit 1; }
(cd "$root" && dotnet "$harness" fanout --recipients 1000 --messages "$messages" --content-bytes 200 --gateway-dll "$gateway") >"$log" 2>&1 &
harness_pid=$!
until grep -q "; measuring" "$log"; do
  kill -0 "$harness_pid" 2>/dev/null || fail "the harness stopped before it finished warming up:"
  sleep 0.02
done
pid="$(grep -oP 'gateway pid \K[0-9]+' "$log" || true)"
[ -n "$pid" ] || fail "no gateway pid in the harness's output:"
perf stat -x, -e task-clock,syscalls:sys_enter_sendmsg -p "$pid" -o "$stats" >/dev/null 2>"$perf_err" &
perf_pid=$!
harness_status=0; wait "$harness_pid" || harness_status=$?
perf_status=0; wait "$perf_pid" || perf_status=$?
[ "$harness_status" -eq 0 ] || fail "the harness failed (exit $harness_status):"
cpu_ms="$(grep task-clock "$stats" | cut -d, -f1 || true)"
calls="$(grep sys_enter_sendmsg "$stats" | cut -d, -f1 || true)"
if ! [[ "$cpu_ms" =~ ^[0-9.]+$ && "$calls" =~ ^[0-9]+$ && "$calls" -gt 0 ]]; then
  echo "fanout-cpu: perf stat gave no counts (exit $perf_status; attaching needs root or kernel.perf_event_paranoid <= 1, and the syscalls tracepoints):" >&2
  cat "$perf_err" "$stats" >&2
  exit 1
fi
deliveries=$(( messages * 1000 ))
rate="$(grep -oP '[0-9]+ deliveries/s; latency p50 [0-9.,]+ ms, p99 [0-9.,]+ ms' "$log" || true)"
[ -n "$rate" ] || fail "no result line in the harness's output:"
awk -v r="$rate" -v c="$cpu_ms" -v n="$calls" -v d="$deliveries" 'BEGIN {
  printf "%s | gateway CPU %.0f ms for %d deliveries: %.0f ns each | %d sendmsg, %.1f deliveries each\n", r, c, d, c * 1e6 / d, n, d / n }'
