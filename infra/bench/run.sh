#!/usr/bin/env bash
# Benchmarks (programs that print figures and ratios, never timed tests): API latency through the
# router on both stores, the local host's peak memory under load, each function's binary size, and
# the streamed AI routes' time to first byte against a fake Gemini.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/darasa/target}"
source infra/scripts/dynamodb-local.sh
ddb_install
trap ddb_stop EXIT
ddb_start

functions=$(ls functions)
echo "== release build (the Lambda profile: opt-level z, LTO, one codegen unit, abort, stripped)"
cargo build --release --quiet -p darasa-local $(for f in $functions; do printf -- '-p %s ' "$f"; done)
echo "== binary sizes"
for f in $functions darasa-local; do
  printf '%-20s %8d KiB\n' "$f" $(( $(stat -c %s "$CARGO_TARGET_DIR/release/$f") / 1024 ))
done
echo "== latency and memory"
DARASA_BENCH_LOCAL_BIN="$CARGO_TARGET_DIR/release/darasa-local" cargo bench --quiet -p darasa-tests --bench api_latency
echo "== AI streaming: time to first text part and total, through the router vs the fake upstream alone"
cargo bench --quiet -p darasa-tests --bench ai_stream
