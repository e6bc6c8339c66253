#!/usr/bin/env bash
# Scans the TLS listener of a freshly started gateway with testssl (Debian's testssl.sh package, installed when
# missing) and checks what it found against docs/security.md, "Transport and sessions":
#   - SSLv2, SSLv3, TLS 1.0 and TLS 1.1 not offered; TLS 1.2 and TLS 1.3 offered;
#   - no NULL, anonymous, export, low, 3DES/IDEA or CBC ("average") cipher offered, every TLS 1.2 suite ECDHE with
#     AES-GCM or ChaCha20-Poly1305, and the server's cipher order applies;
#   - the scan ran to its end: no fatal scan problem, the certificate, forward-secrecy and vulnerability sections
#     all reported, and the gateway still up afterwards;
#   - no finding of severity MEDIUM, HIGH or CRITICAL, except the two the development certificate causes and a
#     production certificate does not (it is self-signed: cert_chain_of_trust; it names no CRL or OCSP responder:
#     cert_revocation).
# The gateway runs on embedded defaults with its own temporary data directory (where it makes its development
# certificate) and free loopback ports, and is stopped with SIGTERM afterwards. Client simulations are left out
# (browsers offer only HTTP's ALPN values, which this listener refuses by design).
#
#   scripts/check-tls.sh [GATEWAY_DLL]      default: gateway/bin/Release/net10.0/ChatWire.Gateway.dll (build it first)
#   scripts/check-tls.sh --target HOST:PORT  scans a listener that is already running (a staging or production node)
#                                            instead, and makes no exception for the certificate
#
# Prints one line per check; exits 1 if one failed. The scan takes one to two minutes.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target=
if [ "${1:-}" = "--target" ]; then
  target=${2:?"usage: scripts/check-tls.sh --target HOST:PORT"}
  dll=
else
  dll=${1:-"$root/gateway/bin/Release/net10.0/ChatWire.Gateway.dll"}
fi

if [ -z "$target" ] && [ ! -f "$dll" ]; then
  echo "FAIL no gateway at $dll (build it first: dotnet build ChatWire.sln -c Release)"
  exit 1
fi

packages=()
command -v testssl >/dev/null 2>&1 || packages+=(testssl.sh)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
if [ ${#packages[@]} -gt 0 ]; then
  echo "installing ${packages[*]} (Debian packages)"
  sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  "${sudo[@]}" apt-get update -qq >/dev/null
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
if ! command -v testssl >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  echo "FAIL testssl: the testssl.sh or nodejs package could not be installed"
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/chatwire-tls.XXXXXX")
gateway_pid=
finish() {
  if [ -n "$gateway_pid" ]; then
    kill -TERM "$gateway_pid" 2>/dev/null
    for _ in $(seq 1 100); do
      kill -0 "$gateway_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$gateway_pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap finish EXIT

# free_port: a free loopback port below the ephemeral range.
# shellcheck source=scripts/free-port.sh
. "$root/scripts/free-port.sh"

if [ -z "$target" ]; then
  # Five distinct ones: free_port checks each alone.
  ports=()
  while [ ${#ports[@]} -lt 5 ]; do
    candidate=$(free_port) || { echo "FAIL no free loopback port"; exit 1; }
    [[ " ${ports[*]} " == *" $candidate "* ]] || ports+=("$candidate")
  done
  read -r tcp tls noise http management <<<"${ports[*]}"
  CHATWIRE_Gateway__TcpEndpoint="127.0.0.1:$tcp" \
    CHATWIRE_Gateway__TlsEndpoint="127.0.0.1:$tls" \
    CHATWIRE_Gateway__NoiseEndpoint="127.0.0.1:$noise" \
    CHATWIRE_Gateway__HttpEndpoint="127.0.0.1:$http" \
    CHATWIRE_Gateway__ManagementEndpoint="127.0.0.1:$management" \
    CHATWIRE_Gateway__DataDirectory="$work/data" \
    CHATWIRE_Logging__LogLevel__Default=Warning \
    CHATWIRE_Gateway__ConnectionsPerMinutePerIp=0 \
    dotnet "$dll" >"$work/gateway.log" 2>&1 &
  gateway_pid=$!

  # Ready once its TLS listener accepts connections (testssl makes some hundreds: the per-address connection rate
  # is off above).
  listening=0
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$tls") 2>/dev/null; then
      listening=1
      break
    fi
    if ! kill -0 "$gateway_pid" 2>/dev/null; then
      echo "FAIL the gateway exited before listening:"
      cat "$work/gateway.log"
      exit 1
    fi
    sleep 0.1
  done
  if [ "$listening" -ne 1 ]; then
    echo "FAIL the gateway's TLS listener (127.0.0.1:$tls) did not accept connections within 30 s:"
    cat "$work/gateway.log"
    exit 1
  fi
  target="127.0.0.1:$tls"
fi

# -p protocols, -s cipher categories, -f forward secrecy, -P the server's cipher order, -S the certificate and
# server defaults, -U vulnerabilities (Heartbleed, CCS, ROBOT, renegotiation, CRIME, BREACH, POODLE, SWEET32,
# FREAK, DROWN, LOGJAM, BEAST, LUCKY13, RC4, ...).
(cd "$work" && testssl --quiet --color 0 --warnings off --ip one -p -s -f -P -S -U \
  --jsonfile "$work/testssl.json" "$target" >"$work/testssl.txt" 2>&1)
if [ ! -s "$work/testssl.json" ]; then
  echo "FAIL testssl wrote no findings:"
  cat "$work/testssl.txt"
  exit 1
fi

scanned_alive=1
if [ -n "$gateway_pid" ] && ! kill -0 "$gateway_pid" 2>/dev/null; then
  scanned_alive=0
fi

node - "$work/testssl.json" "$dll" "$scanned_alive" <<'EOF'
const findings = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8"));
const byId = new Map(findings.map(f => [f.id, f]));
let failed = false;
const check = (ok, text) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${text}`);
  failed ||= !ok;
};
const finding = id => byId.get(id)?.finding ?? "(no finding)";

for (const id of ["SSLv2", "SSLv3", "TLS1", "TLS1_1"]) {
  check(/^not offered/.test(finding(id)), `${id}: ${finding(id)}`);
}
for (const id of ["TLS1_2", "TLS1_3"]) {
  check(/^offered/.test(finding(id)), `${id}: ${finding(id)}`);
}
for (const id of ["cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT", "cipherlist_LOW", "cipherlist_3DES_IDEA", "cipherlist_AVERAGE"]) {
  check(/^not offered/.test(finding(id)), `${id}: ${finding(id)}`);
}
const tls12 = finding("cipherorder_TLSv1_2").split(/\s+/).filter(Boolean);
const notAead = tls12.filter(suite => !/^ECDHE-.*(GCM|CHACHA20)/.test(suite));
check(tls12.length > 0 && notAead.length === 0, `TLS 1.2 suites, ECDHE with AES-GCM or ChaCha20-Poly1305 only: ${tls12.join(" ") || "(no finding)"}`);
check(/^server/.test(finding("cipher_order")), `cipher_order: ${finding("cipher_order")}`);

// The scan ran to its end: testssl writes its JSON even when it gives up half-way (a scanProblem, severity FATAL).
const fatal = findings.filter(f => f.severity === "FATAL" || f.id === "scanProblem");
check(fatal.length === 0, `no scan problem${fatal.map(f => `: ${f.id} ${f.finding}`).join("")}`);
for (const id of ["cert_chain_of_trust", "PFS", "heartbleed", "ROBOT"]) {
  check(byId.has(id), `${id} reported: ${finding(id)}`);
}
check(process.argv[4] === "1", "the gateway is still up after the scan");
for (const f of findings.filter(f => f.severity === "WARN")) {
  console.log(`note ${f.id}: ${f.finding} (testssl could not decide)`);
}

// The development certificate's, when the scanned gateway was started here: a production certificate from a CA
// names its chain and its revocation service. A listener given with --target gets no exception.
const developmentCertificate = new Set(process.argv[3] ? ["cert_chain_of_trust", "cert_revocation"] : []);
const serious = findings.filter(f => ["MEDIUM", "HIGH", "CRITICAL"].includes(f.severity));
for (const f of serious) {
  const allowed = developmentCertificate.has(f.id);
  console.log(`${allowed ? "ok  " : "FAIL"} ${f.severity} ${f.id}: ${f.finding}${allowed ? " (the development certificate's)" : ""}`);
  failed ||= !allowed;
}
const clean = findings.filter(f => ["OK", "INFO", "LOW"].includes(f.severity)).length;
console.log(`ok   ${clean} other findings of severity OK, INFO or LOW, ${serious.length} above`);
process.exit(failed ? 1 : 0);
EOF
status=$?
if [ "$status" -ne 0 ]; then
  echo "testssl's report:"
  cat "$work/testssl.txt"
fi
exit "$status"
