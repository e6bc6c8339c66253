#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers that read bytes a peer chose: AFL++ (Debian's afl++) drives
# tests/ChatWire.Fuzz, whose libraries SharpFuzz instruments so the fuzzer sees which branches each input takes.
# Targets (tests/ChatWire.Fuzz/FuzzTargets.cs):
#   frames      the protocol's length-prefixed MessagePack frames, every opcode, cut into segments as sockets cut them
#   noise       the first message of a Noise handshake, as the Noise listener reads it (XX and IK)
#   envelope    an end-to-end envelope's layout, as a receiving client parses it
#   attachment  an attachment descriptor, as a receiving client decodes it
# Each target lets only its documented "bad input" exception through; anything else is a crash, which the
# script replays at the end with its stack trace. Exit status 1 when any target found one.
# usage: scripts/fuzz.sh [TARGET|all] [SECONDS_PER_TARGET] [OUT_DIR]   (defaults: all, 600, .fuzz)
# Installs afl++ (apt, as root or through sudo) and SharpFuzz.CommandLine (NuGet, into .tools/) when missing.
# It publishes and instruments its own copy of the libraries under OUT_DIR: the build tree is not touched.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
which_targets="${1:-all}"
seconds="${2:-600}"
out="$(mkdir -p "${3:-$root/.fuzz}" && cd "${3:-$root/.fuzz}" && pwd)"
sharpfuzz_version=2.3.0
sharpfuzz="$root/.tools/sharpfuzz/sharpfuzz"
all_targets=(frames noise envelope attachment)
log() { printf 'fuzz: %s\n' "$*"; }

case "$which_targets" in
  all) targets=("${all_targets[@]}") ;;
  frames|noise|envelope|attachment) targets=("$which_targets") ;;
  *) echo "usage: scripts/fuzz.sh [frames|noise|envelope|attachment|all] [SECONDS_PER_TARGET] [OUT_DIR]" >&2; exit 2 ;;
esac

if ! command -v afl-fuzz >/dev/null 2>&1; then
  log "installing afl++ (Debian package)"
  sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  "${sudo[@]}" apt-get update -qq >/dev/null
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++ >/dev/null
fi
if [ ! -x "$sharpfuzz" ]; then
  log "installing SharpFuzz.CommandLine $sharpfuzz_version (NuGet) into .tools/"
  dotnet tool install SharpFuzz.CommandLine --version "$sharpfuzz_version" --tool-path "$root/.tools/sharpfuzz" >/dev/null
fi

bin="$out/bin"
rm -rf "$bin"
log "publishing tests/ChatWire.Fuzz into $bin"
# The lock keeps this build from running beside another one (the test suite's, a benchmark's) on a small machine.
flock /tmp/chatwire-build.lock dotnet publish "$root/tests/ChatWire.Fuzz" -c Release -o "$bin" -nologo -v quiet >/dev/null
# Instrumented code writes to AFL's coverage map on every branch and runs only under afl-fuzz: seeds and replays
# use the copy that is not instrumented.
plain="$out/plain"
rm -rf "$plain"
cp -r "$bin" "$plain"
for library in ChatWire.Protocol.dll ChatWire.Crypto.dll; do
  "$sharpfuzz" "$bin/$library" >/dev/null
done

shopt -s nullglob
vectors=("$root"/tests/ChatWire.Crypto.Tests/ChatWireVectors/*.json)
shopt -u nullglob
[ ${#vectors[@]} -gt 0 ] || { echo "fuzz: no end-to-end test vectors under tests/ChatWire.Crypto.Tests/ChatWireVectors" >&2; exit 2; }
found=0
summary=()
for target in "${targets[@]}"; do
  seeds="$out/seeds/$target"
  findings="$out/findings/$target"
  rm -rf "$seeds" "$findings"
  mkdir -p "$out/findings"
  dotnet "$plain/ChatWire.Fuzz.dll" "$target" --seeds "$seeds" "${vectors[@]}"
  log "$target: afl-fuzz for $seconds s"
  # The binary afl-fuzz runs is dotnet, which AFL did not instrument (SharpFuzz did, in the libraries); no core
  # dumps to collect and no CPU governor to check on a shared machine.
  AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 \
    afl-fuzz -V "$seconds" -t 5000 -m none -i "$seeds" -o "$findings" -- dotnet "$bin/ChatWire.Fuzz.dll" "$target" \
    >"$out/$target.log" 2>&1 || { log "$target: afl-fuzz failed; the end of $out/$target.log:"; tail -20 "$out/$target.log"; exit 1; }
  stats="$findings/default/fuzzer_stats"
  stat() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
  crashes=$(find "$findings/default/crashes" -type f -name 'id:*' | wc -l)
  hangs=$(find "$findings/default/hangs" -type f -name 'id:*' | wc -l)
  summary+=("$(printf '%-10s %12s execs %8s/s %6s paths %8s edges covered %4s crashes %4s hangs' \
    "$target" "$(stat execs_done)" "$(stat execs_per_sec)" "$(stat corpus_count)" "$(stat bitmap_cvg)" "$crashes" "$hangs")")
  if [ "$crashes" -gt 0 ]; then
    found=1
    log "$target: $crashes crashing inputs; replayed:"
    dotnet "$plain/ChatWire.Fuzz.dll" "$target" --replay "$findings"/default/crashes/id:* || true
  fi
done

log "results ($(date -u '+%Y-%m-%d %H:%M UTC'), $seconds s per target, findings in $out/findings):"
printf '  %s\n' "${summary[@]}"
exit "$found"
