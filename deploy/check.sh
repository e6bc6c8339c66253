#!/usr/bin/env bash
# Checks the deployment examples without running them (there is no docker or Kubernetes here):
#   - deploy/kubernetes/*.yaml against the Kubernetes API schemas of the kubernetes-models npm package
#     (types and required fields; installed pinned into .tools/ on first use),
#   - deploy/compose.yaml with `docker-compose config` (schema and interpolation), when installed,
#   - deploy/haproxy.cfg with `haproxy -c`, when installed (names it cannot resolve are only warnings),
#   - deploy/systemd/chatwire.service with `systemd-analyze verify`, when installed.
# Debian: apt-get install haproxy docker-compose. Prints one line per check; exits 1 if one failed.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools/k8s-validate"
failed=0

if [ ! -d "$tools/node_modules/kubernetes-models" ]; then
  npm install --silent --no-audit --no-fund --prefix "$tools" kubernetes-models@4.5.1 js-yaml@5.5.0 >/dev/null 2>&1 \
    || { echo "FAIL kubernetes: kubernetes-models could not be installed from the npm registry"; failed=1; }
fi
if [ -d "$tools/node_modules/kubernetes-models" ]; then
  NODE_PATH="$tools/node_modules" node - "$root"/deploy/kubernetes/*.yaml <<'JS' || failed=1
const fs = require('fs');
const yaml = require('js-yaml');
const models = {
  'v1/ConfigMap': () => require('kubernetes-models/v1').ConfigMap,
  'v1/Secret': () => require('kubernetes-models/v1').Secret,
  'v1/Service': () => require('kubernetes-models/v1').Service,
  'v1/Namespace': () => require('kubernetes-models/v1').Namespace,
  'apps/v1/Deployment': () => require('kubernetes-models/apps/v1').Deployment,
  'policy/v1/PodDisruptionBudget': () => require('kubernetes-models/policy/v1').PodDisruptionBudget,
};
let failed = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of yaml.loadAll(fs.readFileSync(file, 'utf8'))) {
    if (!doc) continue;
    const key = `${doc.apiVersion}/${doc.kind}`;
    const name = file.replace(/.*\/deploy\//, 'deploy/');
    if (!models[key]) { console.log(`SKIP ${name} ${key} (YAML parsed; no schema here)`); continue; }
    const Model = models[key]();
    try { new Model(doc).validate(); console.log(`OK   ${name} ${key} ${doc.metadata.name}`); }
    catch (e) { failed++; console.log(`FAIL ${name} ${key}: ${e.message}`); }
  }
}
process.exit(failed ? 1 : 0);
JS
fi

if command -v docker-compose >/dev/null 2>&1; then
  if out=$(cd "$root/deploy" && CHATWIRE_MYSQL_PASSWORD=check MARIADB_ROOT_PASSWORD=check MARIADB_REPLICATION_PASSWORD=check \
      docker-compose -f compose.yaml config -q 2>&1); then
    echo "OK   deploy/compose.yaml (docker-compose config)"
  else
    echo "FAIL deploy/compose.yaml: $out"; failed=1
  fi
else
  echo "SKIP deploy/compose.yaml (docker-compose is not installed)"
fi

if command -v haproxy >/dev/null 2>&1; then
  if out=$(haproxy -c -f "$root/deploy/haproxy.cfg" 2>&1); then
    echo "OK   deploy/haproxy.cfg (haproxy -c; the nodes' names resolve only inside compose)"
  else
    echo "FAIL deploy/haproxy.cfg: $out"; failed=1
  fi
else
  echo "SKIP deploy/haproxy.cfg (haproxy is not installed)"
fi

if command -v systemd-analyze >/dev/null 2>&1; then
  if out=$(systemd-analyze verify "$root/deploy/systemd/chatwire.service" 2>&1) && [ -z "$out" ]; then
    echo "OK   deploy/systemd/chatwire.service (systemd-analyze verify)"
  else
    echo "FAIL deploy/systemd/chatwire.service: $out"; failed=1
  fi
else
  echo "SKIP deploy/systemd/chatwire.service (systemd-analyze is not installed)"
fi
exit "$failed"
