#!/usr/bin/env bash
# The one test command (README "Quick start"; .ci/run calls exactly this).
# Installs what the suite needs that is missing, starts it, builds, runs every test, stops what it
# started, and prints a last line "N passed, N failed, N skipped". Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")"
root=$(pwd)
results="$root/.test-results"
rm -rf "$results"
mkdir -p "$results"

started_pids=()
cleanup() {
  for pid in "${started_pids[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

# The OpenAPI linter, installed from the npm registry into .tools/ on first use (pinned: its rules change).
redocly_version=2.77.0
redocly="$root/.tools/redocly/node_modules/.bin/redocly"
# And Stoplight Spectral with its OpenAPI ruleset, as a second opinion (warnings fail too).
spectral_version=6.16.3
owasp_ruleset_version=2.0.1
spectral="$root/.tools/spectral/node_modules/.bin/spectral"

# Services: the distributed adapters' tests talk to a real Redis and MariaDB (a primary and a replica),
# installed from Debian packages when missing and started here on free loopback ports in a temporary
# directory (scripts/services.sh), then stopped on exit.
services_dir=$(mktemp -d "${TMPDIR:-/tmp}/chatwire-services.XXXXXX")
stop_services() { "$root/scripts/services.sh" stop "$services_dir" || true; rm -rf "$services_dir"; }
trap 'cleanup; stop_services' EXIT
step "services (Redis, MariaDB primary and replica, s3rver)"
if ! "$root/scripts/services.sh" start "$services_dir"; then
  echo "the backing services could not be started (scripts/services.sh)"
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi
export CHATWIRE_SERVICES_DIR="$services_dir"
# Without a MongoDB server the contract suite's category is left out (its tests would fail loudly, not pass).
mongo_filter=()
if [ -z "${CHATWIRE_TEST_MONGO_URI:-}" ]; then
  mongo_filter=(--filter "Category!=MongoContract")
  echo "MongoDB: skipped. The MongoDB message store's contract suite runs only when CHATWIRE_TEST_MONGO_URI is set (no MongoDB server can be installed on this machine); its golden tests of the rendered commands run always."
fi

step "format (whitespace)"
if ! dotnet format whitespace ChatWire.sln --verify-no-changes; then
  echo "dotnet format found whitespace changes; run: dotnet format whitespace ChatWire.sln"
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi

step "build"
if ! dotnet build ChatWire.sln -c Release -nologo -v quiet; then
  echo "build failed"
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi

step "allocation budgets (bench/ChatWire.Benchmarks/allocation-budgets.json)"
alloc_passed=0; alloc_failed=0
alloc_out=$(dotnet run -c Release --no-build --project bench/ChatWire.Benchmarks -- --check-allocations 2>&1)
alloc_status=$?
# Its own summary line is reworded so the suite's total stays the only "N passed, N failed" line.
sed -E 's/^([0-9]+) passed, ([0-9]+) failed$/allocation budgets: \1 within, \2 over/' <<<"$alloc_out"
alloc_passed=$(grep -c '^PASS' <<<"$alloc_out" || true)
alloc_failed=$(grep -c '^FAIL' <<<"$alloc_out" || true)
if [ "$alloc_status" -ne 0 ] && [ "$alloc_failed" -eq 0 ]; then
  alloc_failed=1
fi

step "test"
# The HTTP suite writes the served OpenAPI document here for the lint below.
export CHATWIRE_OPENAPI_OUT="$results/openapi.json"
dotnet test ChatWire.sln -c Release --no-build -nologo "${mongo_filter[@]}" \
  --logger "trx" --logger "console;verbosity=minimal" --results-directory "$results"
status=$?

# An npm-installed linter of the served OpenAPI document: installed into .tools/NAME on first use, then run
# with the remaining arguments and the document; any failure to install or lint fails the step.
# Usage: openapi_lint NAME PACKAGE@VERSION BIN ARGS...   (prints nothing more than the linter does)
openapi_lint() {
  local name=$1 package=$2 bin=$3; shift 3
  if [ ! -x "$bin" ]; then
    npm install --silent --no-audit --no-fund --prefix "$root/.tools/$name" "$package" >/dev/null 2>&1 || true
  fi
  if [ ! -f "$CHATWIRE_OPENAPI_OUT" ]; then
    echo "no OpenAPI document was written by the tests ($CHATWIRE_OPENAPI_OUT)"
    return 1
  elif [ ! -x "$bin" ]; then
    echo "$package could not be installed from the npm registry"
    return 1
  fi
  local out rc
  out=$("$bin" "$@" "$CHATWIRE_OPENAPI_OUT" 2>&1)
  rc=$?
  # Node.js deprecation banners are noise here; the findings and the verdict stay.
  grep -v -E '^\s*($|[╔╚║])' <<<"$out" || true
  return "$rc"
}

step "OpenAPI lint (@redocly/cli $redocly_version, recommended rules)"
lint_failed=0
openapi_lint redocly "@redocly/cli@$redocly_version" "$redocly" lint --extends recommended --format stylish || lint_failed=1

step "OpenAPI lint (@stoplight/spectral-cli $spectral_version, spectral:oas, warnings fail)"
spectral_failed=0
echo 'extends: ["spectral:oas"]' >"$results/spectral.yaml"
openapi_lint spectral "@stoplight/spectral-cli@$spectral_version" "$spectral" lint --ruleset "$results/spectral.yaml" --fail-severity warn || spectral_failed=1

step "OpenAPI lint (@stoplight/spectral-owasp-ruleset $owasp_ruleset_version, OWASP API Security Top 10, errors fail)"
# The ruleset package goes beside spectral-cli, and the ruleset file (scripts/openapi-owasp.yaml: the rules, and the
# few places a rule does not apply, each with its reason) next to its node_modules, where spectral resolves it.
owasp_failed=0
owasp_package="$root/.tools/spectral/node_modules/@stoplight/spectral-owasp-ruleset"
if [ -x "$spectral" ] && [ ! -d "$owasp_package" ]; then
  npm install --silent --no-audit --no-fund --prefix "$root/.tools/spectral" "@stoplight/spectral-owasp-ruleset@$owasp_ruleset_version" >/dev/null 2>&1 || true
fi
if [ -d "$owasp_package" ]; then
  cp "$root/scripts/openapi-owasp.yaml" "$root/.tools/spectral/owasp.yaml"
  openapi_lint spectral "@stoplight/spectral-cli@$spectral_version" "$spectral" lint --ruleset "$root/.tools/spectral/owasp.yaml" --fail-severity error || owasp_failed=1
else
  echo "@stoplight/spectral-owasp-ruleset@$owasp_ruleset_version could not be installed from the npm registry"
  owasp_failed=1
fi

step "monitoring (promtool check rules and test rules, scripts/check-monitoring.sh)"
# promtool comes from Debian's prometheus package, which the script installs when missing.
monitoring_failed=0
"$root/scripts/check-monitoring.sh" || monitoring_failed=1

step "TLS scan (testssl of the TLS listener, scripts/check-tls.sh)"
# testssl comes from Debian's testssl.sh package, which the script installs when missing.
tls_failed=0
"$root/scripts/check-tls.sh" "$root/gateway/bin/Release/net10.0/ChatWire.Gateway.dll" || tls_failed=1

passed=$((alloc_passed + 1 - lint_failed + 1 - spectral_failed + 1 - owasp_failed + 1 - monitoring_failed + 1 - tls_failed))
failed=$((alloc_failed + lint_failed + spectral_failed + owasp_failed + monitoring_failed + tls_failed)); skipped=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  n=$(sed -n 's/.* notExecuted="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${n:-0}))
done

if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1
fi
if [ $((passed + failed)) -eq 0 ]; then
  echo "no test ran"
  failed=1
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
