#!/usr/bin/env bash
# The one test command: installs what the tests need (idempotently), then runs formatting,
# lints, the template linter and every test against real local servers. `.ci/run` calls this.
set -euo pipefail
cd "$(dirname "$0")/.."

# A build cache outside the clone, reused between runs; correctness never depends on it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/darasa/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# shellcheck source=infra/scripts/dynamodb-local.sh
source infra/scripts/dynamodb-local.sh
ddb_install
if ! command -v cfn-lint >/dev/null 2>&1; then
  echo "installing cfn-lint"
  python3 -m pip install --quiet 'cfn-lint>=1,<2'
fi

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cfn-lint template.yaml"
cfn-lint template.yaml

trap ddb_stop EXIT
ddb_start
echo "== cargo test"
log="$(mktemp)"
set +e
cargo test --workspace --lib --bins --tests --quiet 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary (cargo prints one result line per binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
exit "$status"
