#!/usr/bin/env bash
# Fuzzes the local host against its own OpenAPI document with Schemathesis: every check, the
# examples, coverage, fuzzing and stateful phases, a fixed seed. Called by infra/test.sh after
# the cargo tests (which build darasa-local); exits non-zero when Schemathesis finds anything.
#
# The host runs as a developer runs it (`darasa-local serve`, embedded store in a temp dir, no AI
# key, so the offline engine answers the AI routes), plus a fake Hume (fake_hume.py) so the voice
# routes answer for real instead of 503 "not configured". A real user is created through the
# signed webhook and a real dev token minted for them, with every paid feature.
set -euo pipefail
cd "$(dirname "$0")/../.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/darasa/target}"
SEED="${CONTRACT_SEED:-20261202}"
EXAMPLES="${CONTRACT_MAX_EXAMPLES:-40}"

cargo build --quiet -p darasa-local
host_bin="$CARGO_TARGET_DIR/debug/darasa-local"

work="$(mktemp -d)"
host_pid=""
hume_pid=""
stop() {
  # Only what this script started, by pid.
  if [ -n "$host_pid" ]; then kill "$host_pid" 2>/dev/null || true; wait "$host_pid" 2>/dev/null || true; fi
  if [ -n "$hume_pid" ]; then kill "$hume_pid" 2>/dev/null || true; wait "$hume_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap stop EXIT

python3 infra/contract/fake_hume.py "$work/hume.port" &
hume_pid=$!
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
for _ in $(seq 50); do [ -s "$work/hume.port" ] && break; sleep 0.1; done
[ -s "$work/hume.port" ] || { echo "fake Hume did not start"; exit 1; }

# Protection: the shield stays live (an attack-looking path, query or header is a documented
# 403 REQUEST_BLOCKED, and the fuzzer sends plenty); bots and the rate limits decide and log in
# dry-run but never refuse, because the fuzzer is by design an automated client sending
# thousands of requests a minute: live, they would answer 403/429 to nearly everything and
# the fuzz would test nothing else. Their headers (RateLimit, RateLimit-Policy) are still sent.
base="http://127.0.0.1:$port"
env -u AI_PROVIDER -u GEMINI_API_KEY -u OPENAI_API_KEY -u OPENAI_BASE_URL -u TABLE_NAME -u CLERK_ISSUER \
  -u CLERK_WEBHOOK_SIGNING_SECRET \
  PROTECT_SHIELD=live PROTECT_BOTS=dry-run PROTECT_RATE_LIMIT=dry-run \
  HUME_API_KEY=fake HUME_SECRET_KEY=fake HUME_BASE_URL="http://127.0.0.1:$(cat "$work/hume.port")" \
  RUST_LOG="${RUST_LOG:-error}" \
  "$host_bin" --data-dir "$work/data" serve --listen "127.0.0.1:$port" >"$work/host.log" 2>&1 &
host_pid=$!
for _ in $(seq 100); do curl -fsS -o /dev/null "$base/api/openapi.json" 2>/dev/null && break; sleep 0.1; done
curl -fsS -o /dev/null "$base/api/openapi.json" || { echo "the local host did not start:"; cat "$work/host.log"; exit 1; }

# The user Clerk would create, then their token (every paid feature, so plan limits do not
# hide the routes behind them).
"$host_bin" --data-dir "$work/data" webhook infra/events/clerk/user.created.json --url "$base" >/dev/null
token="$("$host_bin" --data-dir "$work/data" token --user user_2pQx7rLmVb3dKcN9TzWnYe4HsJf \
  --features unlimited_questions,unlimited_interviews,unlimited_resume_analysis --ttl 7200)"

# --generation-codec utf-8: JSON bodies are UTF-8 text, so no lone surrogates (which serde, as
# any strict JSON parser, refuses with a 400).
echo "== schemathesis (seed $SEED, $EXAMPLES examples per operation) against $base"
started=$SECONDS
fuzz() {
  st --config-file infra/contract/schemathesis.toml --no-color run "$base/api/openapi.json" \
    --header "Authorization: Bearer $token" \
    --phases examples,coverage,fuzzing,stateful \
    --checks all \
    --mode all \
    --seed "$SEED" \
    --max-examples "$EXAMPLES" \
    --workers 2 \
    --request-timeout 60 \
    --generation-database none \
    --generation-codec utf-8 2>&1 | tee "$work/schemathesis.log"
  return "${PIPESTATUS[0]}"
}
set +e
fuzz
status=$?
# Schemathesis's own crash (seen once: CPython 3.11's "AST constructor recursion depth mismatch"
# while Hypothesis read its own source) reports a "Runtime Error" and no failed check. That says
# nothing about the API, so it gets one more run; any failed check still fails at once.
if [ "$status" -ne 0 ] && grep -q "Runtime Error" "$work/schemathesis.log" \
  && ! grep -q "= FAILURES =" "$work/schemathesis.log"; then
  echo "schemathesis crashed on its own (no check failed): running it once more"
  fuzz
  status=$?
fi
set -e
echo "schemathesis: exit $status after $((SECONDS - started)) s"
if [ "$status" -ne 0 ]; then
  echo "-- the local host's log (last 50 lines):"
  tail -n 50 "$work/host.log"
fi
exit "$status"
