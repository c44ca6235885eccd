#!/usr/bin/env bash
# The one test command: installs what the tests need (idempotently), then runs formatting,
# lints, the template linters, `sam build` of every function, and every test against
# real local servers. `.ci/run` calls this.
set -euo pipefail
cd "$(dirname "$0")/.."

# A build cache outside the clone, reused between runs; correctness never depends on it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/darasa/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# shellcheck source=infra/scripts/dynamodb-local.sh
source infra/scripts/dynamodb-local.sh
ddb_install
# What the README's "Deploying" section installs (aws-sam-cli brings cfn-lint).
if ! command -v cargo-lambda >/dev/null 2>&1 || ! command -v sam >/dev/null 2>&1; then
  echo "installing cargo-lambda and aws-sam-cli"
  python3 -m pip install --quiet cargo-lambda aws-sam-cli
fi
if ! command -v cfn-lint >/dev/null 2>&1; then
  echo "installing cfn-lint"
  python3 -m pip install --quiet 'cfn-lint>=1,<2'
fi
# Schemathesis, at the pinned version (infra/contract/run.sh fuzzes the local host with it).
schemathesis_pin="$(grep -m1 '^schemathesis==' infra/contract/requirements.txt)"
if [ "$(st --version 2>/dev/null | awk '{print "schemathesis==" $3}')" != "$schemathesis_pin" ]; then
  echo "installing $schemathesis_pin"
  python3 -m pip install --quiet -r infra/contract/requirements.txt
fi
# The template checks need no AWS account; SAM asks for a region and, once, about telemetry.
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export SAM_CLI_TELEMETRY=0

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cfn-lint template.yaml"
cfn-lint template.yaml
echo "== sam validate --lint"
sam validate --lint
# `sam build` itself, as a deploy runs it: cargo-lambda in each function's directory, Lambda's
# target, Zig's link against Lambda's glibc, each `bootstrap` copied out. Only the release
# profile's size work is skipped (no `opt-level = "z"`, no fat LTO: about 25 CPU-minutes on two
# cores from an empty cache), through cargo's profile variables and in a target directory of its
# own so a real release build in the shared one is never invalidated.
echo "== sam build"
sam_build="$(mktemp -d)"
CARGO_TARGET_DIR="$CARGO_TARGET_DIR/sam-check" CARGO_PROFILE_RELEASE_OPT_LEVEL=0 \
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
  sam build --build-dir "$sam_build/build" --cache-dir "$sam_build/cache" >"$sam_build/log" 2>&1 ||
  { cat "$sam_build/log"; exit 1; }
# Each function's binary exists, and none carries the local host's code (the embedded store, the
# OpenAPI document, aws-config's chains): cargo resolves each function package's features alone,
# so neither its dependency tree nor its binary (the crates' source paths in panic messages) may
# name them.
for manifest in functions/*/Cargo.toml; do
  name="$(basename "$(dirname "$manifest")")"
  id="$(echo "$name" | sed -E 's/(^|-)([a-z])/\U\2/g')Function"
  bootstrap="$sam_build/build/$id/bootstrap"
  [ -x "$bootstrap" ] || { echo "sam build made no $bootstrap"; exit 1; }
  local_only='^(redb|utoipa|aws-config) '
  if cargo tree -p "$name" -e normal --prefix none --quiet | grep -q -E "$local_only"; then
    echo "$name depends on local-only code:"; cargo tree -p "$name" -e normal -i redb -i utoipa -i aws-config; exit 1
  fi
  if grep -q -a -E '(redb|utoipa|aws-config)-[0-9]+\.[0-9]+\.[0-9]+/' "$bootstrap"; then
    echo "$name links local-only code (redb/utoipa/aws-config)"; exit 1
  fi
  echo "  $id: $(stat -c %s "$bootstrap") bytes"
done
rm -rf "$sam_build"

trap ddb_stop EXIT
ddb_start
echo "== cargo test"
log="$(mktemp)"
set +e
cargo test --workspace --lib --bins --tests --quiet 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# The contract: Schemathesis against the running local host, counted as one test.
echo "== contract: schemathesis against the local host"
infra/contract/run.sh
contract=$?
set -e
if [ "$contract" -eq 0 ]; then echo "test result: ok. 1 passed; 0 failed (schemathesis)" >>"$log"
else echo "test result: FAILED. 0 passed; 1 failed (schemathesis)" >>"$log"; fi
# One closing line over every test binary (cargo prints one result line per binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
if [ "$status" -ne 0 ]; then exit "$status"; fi
exit "$contract"
