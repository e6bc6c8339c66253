#!/usr/bin/env bash
# Checks the monitoring files in deploy/ (docs/operations.md, "Dashboards and alerts"):
#   - deploy/prometheus/alerts.yml with `promtool check rules`, and its unit tests
#     (deploy/prometheus/alerts.test.yml) with `promtool test rules`;
#   - deploy/grafana/chatwire.json is well-formed JSON, and every query in it parses as PromQL (promtool).
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

# Every query of the dashboard is PromQL that Prometheus parses: each becomes a recording rule of a scratch
# rules file (Grafana's variables replaced by values of their kind) that `promtool check rules` reads. Node.js
# writes the file (scripts/services.sh, which the test script runs first, installs it when missing).
dashboard_rules() {
  node -e '
    const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const exprs = [];
    const walk = o => {
      if (Array.isArray(o)) { o.forEach(walk); return; }
      if (o && typeof o === "object") {
        for (const [k, v] of Object.entries(o)) { if (k === "expr" && typeof v === "string") exprs.push(v); else walk(v); }
      }
    };
    walk(d);
    const lines = ["groups:", "- name: dashboard", "  rules:"];
    exprs.forEach((e, i) => {
      e = e.replaceAll("$__rate_interval", "5m").replaceAll("$__interval", "1m").replace(/\$\{?\w+\}?/g, ".*");
      lines.push(`  - record: dashboard_expr_${i}`, `    expr: ${JSON.stringify(e)}`);
    });
    console.log(lines.join("\n"));' "$1"
}

scratch=$(mktemp --suffix=.yml)
if ! command -v node >/dev/null 2>&1; then
  echo "FAIL deploy/grafana/chatwire.json: node is needed to read its queries (scripts/services.sh installs Node.js)"
  failed=1
elif dashboard_rules "$root/deploy/grafana/chatwire.json" > "$scratch" 2>&1 && out=$(promtool check rules "$scratch" 2>&1); then
  echo "ok   deploy/grafana/chatwire.json: $(grep -c '^  - record:' "$scratch") queries parse as PromQL (promtool)"
else
  echo "FAIL deploy/grafana/chatwire.json: a query is not valid PromQL"
  echo "${out:-$(cat "$scratch")}"
  failed=1
fi
rm -f "$scratch"

exit "$failed"
