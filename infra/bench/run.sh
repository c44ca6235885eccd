#!/usr/bin/env bash
# Benchmarks (programs that print figures and ratios, never timed tests): API latency through the
# router on both stores (token cache on and off), the local host's peak memory under load and its
# warm throughput (wrk: an unrouted 404 against the authenticated list), each function's binary
# size, and the streamed AI routes' time to first byte against a fake Gemini. Cold starts are
# infra/bench/cold-start.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/darasa/target}"
source infra/scripts/dynamodb-local.sh
ddb_install
trap ddb_stop EXIT
ddb_start

functions=$(ls functions)
echo "== release build (the Lambda profile: opt-level z, LTO, one codegen unit, abort, stripped)"
# Two cargo calls: built together, darasa-local's `local` feature would be unified into the
# functions' darasa (the embedded store in every Lambda binary) and inflate their sizes.
cargo build --release --quiet $(for f in $functions; do printf -- '-p %s ' "$f"; done)
cargo build --release --quiet -p darasa-local
# The warm-throughput comparison uses wrk (Debian's package) when it can be installed.
if ! command -v wrk >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 || echo "(wrk not installed)"
fi
echo "== binary sizes"
for f in $functions darasa-local; do
  printf '%-20s %8d KiB\n' "$f" $(( $(stat -c %s "$CARGO_TARGET_DIR/release/$f") / 1024 ))
done
echo "== latency and memory"
DARASA_BENCH_LOCAL_BIN="$CARGO_TARGET_DIR/release/darasa-local" cargo bench --quiet -p darasa-tests --bench api_latency
echo "== AI streaming: time to first text part and total, through the router vs the fake upstream alone"
cargo bench --quiet -p darasa-tests --bench ai_stream
