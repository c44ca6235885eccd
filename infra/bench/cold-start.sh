#!/usr/bin/env bash
# Cold-start benchmark (a program that prints figures, never a test): builds every function and
# the two baselines (infra/bench/baselines: a hello-world lambda_http binary and a naive DynamoDB
# function) with the release profile Lambda deploys, then starts each binary fresh against a
# loopback Lambda Runtime API with DynamoDB Local behind it, feeding it one of its own
# infra/events/ events, in RUNS rounds of one start per binary (default 15). Prints per binary the median/min/max of exec ->
# end of response, the median CPU time it had used by then, the ratio to each baseline, and the binary's size.
#
#   infra/bench/cold-start.sh            # RUNS=15
#   RUNS=31 infra/bench/cold-start.sh
#   SKIP_BUILD=1 infra/bench/cold-start.sh   # reuse the binaries built last time
#   WARM=200 (default): then each binary answers 200 more invocations warm, and its peak RSS is printed
#   ENV_JSON=my-env.json: the functions' variables from another file (e.g. a protection switched off)
#   EMULATOR_WARMUP=2000 (default): before anything is timed, one start of each binary answers that
#       many invocations, so DynamoDB Local's JIT has compiled its calls' code (0: one start each;
#       after 300 its C2 compiler still took a third of the machine's samples during the timed runs)
#   JWKS=infra/bench/jwks.json: the functions fetch Clerk's keys from the harness (as deployed,
#       from Clerk) instead of reading infra/env.json's PEM
#   SAM_BUILD_DIR=.aws-sam/build infra/bench/cold-start.sh   # the functions exactly as `sam build`
#       made them (cargo-lambda, Zig's link); only the baselines and the harness are built here
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/darasa/target}"
source infra/scripts/dynamodb-local.sh
ddb_install
trap ddb_stop EXIT
ddb_start

# function=event: each function answers one of its own routes.
pairs=(
  me=infra/events/me.json
  job-infos=infra/events/job-infos-list.json
  interviews=infra/events/interviews-list.json
  clerk-webhook=infra/events/clerk-user-created.json
  generate-question=infra/events/generate-question.json
  generate-feedback=infra/events/generate-feedback.json
  analyze-resume=infra/events/analyze-resume.json
)
packages=(-p baseline-hello -p darasa-bench)
if [ -z "${SAM_BUILD_DIR:-}" ]; then
  for pair in "${pairs[@]}"; do packages+=(-p "${pair%%=*}"); done
fi
if [ -z "${SKIP_BUILD:-}" ]; then
  # One cargo call for the functions, the hello baseline and the harness (never with darasa-local:
  # its `local` feature would be unified into the functions' darasa and put the embedded store in them).
  echo "== cargo build --release ${packages[*]}"
  cargo build --release --quiet "${packages[@]}"
  # Alone: its SDK HTTPS client (a feature of aws-config) would otherwise be unified into the
  # functions' build, which sends through reqwest instead.
  cargo build --release --quiet -p baseline-naive-dynamo
fi
bin="$CARGO_TARGET_DIR/release"
targets=("hello=$bin/baseline-hello=infra/events/me.json" "naive=$bin/baseline-naive-dynamo=infra/events/me.json")
for pair in "${pairs[@]}"; do
  name="${pair%%=*}"
  binary="$bin/$name"
  if [ -n "${SAM_BUILD_DIR:-}" ]; then
    # template.yaml's logical id: job-infos -> JobInfosFunction.
    binary="$SAM_BUILD_DIR/$(echo "$name" | sed -E 's/(^|-)([a-z])/\U\2/g')Function/bootstrap"
  fi
  targets+=("$name=$binary=${pair#*=}")
done
"$bin/cold-start" --runs "${RUNS:-15}" --warm "${WARM:-200}" --table darasa-bench --endpoint "$DARASA_TEST_DYNAMODB_ENDPOINT" \
  --env-json "${ENV_JSON:-infra/env.json}" --emulator-warmup "${EMULATOR_WARMUP:-2000}" \
  ${JWKS:+--jwks "$JWKS"} "${targets[@]}"
