#!/usr/bin/env bash
# `make infra-check`: the CDK app's CI checks, with no AWS credentials and no Rust build.
#   npm ci (when the lockfile changed) -> tsc --noEmit -> unit tests (cdk-nag runs inside)
#   -> cdk synth (AwsSolutions + HIPAA Security packs: any unacknowledged error fails it)
#   -> cfn-lint (errors fail) -> checkov (skips: .checkov.yaml and Metadata.checkov.skip)
# Needs node >= 20 with npm, and python3 (the checkers go into infra/.venv).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n-- infra: %s\n' "$*"; }
hash_of() { sha256sum "$@" | sha256sum | cut -d' ' -f1; }

# No credentials, no endpoint: synth must not need an AWS account (make test exports
# moto's dummy credentials and AWS_ENDPOINT_URL for the Rust tests).
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL
export AWS_EC2_METADATA_DISABLED=true CDK_DISABLE_CLI_TELEMETRY=true
# Skip asset bundling: no `cargo lambda build` during tests or synth (bin/vigil.ts).
export VIGIL_SKIP_BUNDLING=1

command -v npm >/dev/null || { echo "infra: npm not found (Node.js >= 20 is needed)" >&2; exit 1; }

step "npm ci"
stamp=node_modules/.vigil-lock.sha256
want="$(hash_of package-lock.json)"
if [[ ! -f $stamp || "$(cat "$stamp")" != "$want" ]]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
else
  echo "node_modules matches package-lock.json"
fi

step "type check"
npx tsc --noEmit

step "unit tests (aws-cdk-lib/assertions; cdk-nag runs during their synth)"
npm test --silent

step "cdk synth (no credentials, bundling skipped; cdk-nag AwsSolutions + HIPAA Security)"
rm -rf cdk.out
npx cdk synth --quiet --no-notices
template=cdk.out/Vigil.template.json
acks="$(python3 - "$template" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
print(sum(len(r.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])) for r in t["Resources"].values()))
PY
)"
echo "cdk-nag: no unacknowledged errors; ${acks} acknowledged findings, each with its reason (Metadata.cdk_nag in $template)"

step "template checkers (infra/.venv from requirements.txt)"
venv=.venv
want="$(hash_of requirements.txt)"
if [[ ! -x $venv/bin/checkov || ! -f $venv/.requirements.sha256 || "$(cat $venv/.requirements.sha256)" != "$want" ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r requirements.txt
  echo "$want" > "$venv/.requirements.sha256"
fi

step "cfn-lint (errors fail; warnings shown)"
"$venv/bin/cfn-lint" --non-zero-exit-code error "$template"
echo "cfn-lint: no errors"

step "checkov"
"$venv/bin/checkov" -f "$template" --config-file .checkov.yaml
