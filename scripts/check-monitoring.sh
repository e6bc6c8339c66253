#!/usr/bin/env bash
# Checks the monitoring files in deploy/ (docs/operations.md, "Dashboards and alerts"):
#   - deploy/prometheus/alerts.yml with `promtool check rules`, and its unit tests
#     (deploy/prometheus/alerts.test.yml) with `promtool test rules`;
#   - deploy/grafana/chatwire.json is well-formed JSON.
# promtool comes from Debian's `prometheus` package, installed when missing (without starting its daemon:
# only promtool is used). Prints one line per check; exits 1 if one failed.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
failed=0

if ! command -v promtool >/dev/null 2>&1; then
  echo "installing prometheus (Debian package, for promtool)"
  sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  "${sudo[@]}" apt-get update -qq >/dev/null
  # RUNLEVEL=1 keeps invoke-rc.d from starting the Prometheus server the package ships.
  RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

if ! command -v promtool >/dev/null 2>&1; then
  echo "FAIL promtool: the prometheus package could not be installed"
  exit 1
fi

if out=$(promtool check rules "$root/deploy/prometheus/alerts.yml" 2>&1); then
  echo "ok   promtool check rules deploy/prometheus/alerts.yml"
else
  echo "FAIL promtool check rules deploy/prometheus/alerts.yml"
  echo "$out"
  failed=1
fi

if out=$(cd "$root/deploy/prometheus" && promtool test rules alerts.test.yml 2>&1); then
  echo "ok   promtool test rules deploy/prometheus/alerts.test.yml"
else
  echo "FAIL promtool test rules deploy/prometheus/alerts.test.yml"
  echo "$out"
  failed=1
fi

# Whichever of Python and Node.js is here (the test script installs Node.js for its npm tools).
check_json() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$1"
  else
    node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$1"
  fi
}

if out=$(check_json "$root/deploy/grafana/chatwire.json" 2>&1); then
  echo "ok   deploy/grafana/chatwire.json is JSON"
else
  echo "FAIL deploy/grafana/chatwire.json: $out"
  failed=1
fi

exit "$failed"
