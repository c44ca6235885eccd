#!/usr/bin/env bash
# The functions as Lambda runs them, on your machine: DynamoDB Local on 127.0.0.1:8000 (installed
# like the tests' one) and `cargo lambda watch` on 127.0.0.1:9000, which builds each function on
# its first request, routes paths as the deployed API does (Cargo.toml's router) and rebuilds on
# change. Configured from infra/watch.env; extra arguments go to `cargo lambda watch`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/darasa/target}"

command -v cargo-lambda >/dev/null 2>&1 || { echo "cargo-lambda is missing: pip install cargo-lambda" >&2; exit 1; }
# shellcheck source=infra/scripts/dynamodb-local.sh
source infra/scripts/dynamodb-local.sh
ddb_install
DDB_PORT="${DDB_PORT:-8000}" ddb_start
trap ddb_stop EXIT
python3 infra/scripts/local-table.py "$DARASA_TEST_DYNAMODB_ENDPOINT" darasa-local
cargo lambda watch --env-file infra/watch.env --env-var "DYNAMODB_ENDPOINT=$DARASA_TEST_DYNAMODB_ENDPOINT" "$@"
