#!/usr/bin/env bash
# scripts/perf.sh ENGINE(sqlite|postgres) OUTDIR: the README Performance steps, 20 s each, on
# 127.0.0.1:8080 (debug profiles on :6060): builds the binaries, starts a fresh node, runs the
# token load, mints a customer token in chromium (e2e/mint-token.mjs), lifts the demo app's quota
# and runs the transactions and balances loads, taking CPU profiles of a token and a transactions
# run. Then it stops the node and runs the same three loads against the floor (`bankbridge-load
# floor` on 127.0.0.1:8091: the protocol's checks alone, no framework or database; the golden page of
# 50 transactions and the golden balances as bodies), the machine's own limit in the same run. Needs
# jq, sqlite3 or psql (PostgreSQL database "perf" is dropped and created), node and the e2e packages
# (./scripts/test.sh installs them).
set -euo pipefail
ENGINE=$1; OUT=$2
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
rm -rf /tmp/perf-$ENGINE; mkdir -p /tmp/perf-$ENGINE
cd "$(dirname "$0")/.."
go build -o /tmp/perfbin/ ./cmd/bankbridge ./cmd/bankbridge-load
DBARGS=()
if [ "$ENGINE" = postgres ]; then
  psql -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS perf" -q postgres
  psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE perf" -q postgres
  DBARGS=(--database-url 'postgres://postgres@127.0.0.1:5432/perf?sslmode=disable')
fi
/tmp/perfbin/bankbridge serve --data-dir /tmp/perf-$ENGINE --addr 127.0.0.1:8080 --issuer http://localhost:8080 \
   --debug-addr 127.0.0.1:6060 --log-level warn --log-format json "${DBARGS[@]}" > "$OUT/node.log" 2>&1 &
NODE=$!
trap 'kill $NODE 2>/dev/null || true' EXIT
for i in $(seq 1 100); do curl -sf http://127.0.0.1:8080/readyz >/dev/null && break; sleep 0.3; done
# The demo app (the node logs at warn, so it is read from the database).
if [ "$ENGINE" = postgres ]; then APP=$(psql -h 127.0.0.1 -U postgres -d perf -tAc "SELECT id FROM apps ORDER BY created_at LIMIT 1");
else APP=$(sqlite3 /tmp/perf-$ENGINE/bankbridge.db "SELECT id FROM apps ORDER BY created_at LIMIT 1"); fi
echo "app=$APP" | tee "$OUT/app.txt"
KEY=/tmp/perf-$ENGINE/demo-app-key.json
/tmp/perfbin/bankbridge-load token --issuer http://localhost:8080 --client-id "$APP" --key "$KEY" --concurrency 16 --duration 20s > "$OUT/token.txt" 2>&1
curl -s 'http://127.0.0.1:6060/debug/pprof/profile?seconds=15' -o "$OUT/token-cpu.pb.gz" &
/tmp/perfbin/bankbridge-load token --issuer http://localhost:8080 --client-id "$APP" --key "$KEY" --concurrency 16 --duration 16s > "$OUT/token-profiled.txt" 2>&1
wait %2 2>/dev/null || true
Q="INSERT INTO plan_assignments (scope, subject_id, limit_overrides, updated_by, updated_at) VALUES ('app', '$APP', '{\"accounts\":{\"rate\":1000000,\"burst\":1000000}}', 'load-test', CURRENT_TIMESTAMP)"
if [ "$ENGINE" = postgres ]; then psql -h 127.0.0.1 -U postgres -d perf -qc "$Q"; else sqlite3 /tmp/perf-$ENGINE/bankbridge.db "$Q"; fi
sleep 6
ISSUER=http://localhost:8080 CLIENT_ID=$APP CLIENT_JWK="$(cat $KEY)" REDIRECT_URI=http://localhost:3000/callback USERNAME=alice PASSWORD=sandbox-password-1 \
  node e2e/mint-token.mjs > "$OUT/mint.json"
TOK=$(jq -r '.steps[0].access_token' "$OUT/mint.json"); ACC=$(jq -r '.steps[0].account_id' "$OUT/mint.json")
jq '.steps[0].dpop_jwk' "$OUT/mint.json" > "$OUT/dpop.json"
for what in transactions balances; do
  /tmp/perfbin/bankbridge-load resource --token "$TOK" --dpop-key "$OUT/dpop.json" --concurrency 16 --duration 20s \
    --url http://localhost:8080/open-banking/v3.1/aisp/accounts/$ACC/$what > "$OUT/$what.txt" 2>&1
done
ISSUER=http://localhost:8080 CLIENT_ID=$APP CLIENT_JWK="$(cat $KEY)" REDIRECT_URI=http://localhost:3000/callback USERNAME=alice PASSWORD=sandbox-password-1 \
  node e2e/mint-token.mjs > "$OUT/mint2.json"
TOK=$(jq -r '.steps[0].access_token' "$OUT/mint2.json")
jq '.steps[0].dpop_jwk' "$OUT/mint2.json" > "$OUT/dpop2.json"
curl -s 'http://127.0.0.1:6060/debug/pprof/profile?seconds=15' -o "$OUT/tx-cpu.pb.gz" &
/tmp/perfbin/bankbridge-load resource --token "$TOK" --dpop-key "$OUT/dpop2.json" --concurrency 16 --duration 16s \
    --url http://localhost:8080/open-banking/v3.1/aisp/accounts/$ACC/transactions > "$OUT/transactions-profiled.txt" 2>&1
wait %2 2>/dev/null || true
kill $NODE 2>/dev/null || true; wait $NODE 2>/dev/null || true
# The floor, with the same tool and the same key.
jq -c . apis/testdata/golden/transactions_page1.json > /tmp/perf-$ENGINE/floor-transactions.json
jq -c . apis/testdata/golden/balances.json > /tmp/perf-$ENGINE/floor-balances.json
floor() { # floor BODY: serve the floor with BODY until killed
  /tmp/perfbin/bankbridge-load floor --addr 127.0.0.1:8091 --client-key "$KEY" --client-id "$APP" --body "$1" \
    --dpop-key "$OUT/dpop.json" --token-out /tmp/perf-$ENGINE/floor-token > "$OUT/floor.log" 2>&1 &
  FLOOR=$!
  for i in $(seq 1 50); do [ -s /tmp/perf-$ENGINE/floor-token ] && curl -s -o /dev/null http://127.0.0.1:8091/ && break; sleep 0.1; done
}
rm -f /tmp/perf-$ENGINE/floor-token; floor /tmp/perf-$ENGINE/floor-transactions.json
/tmp/perfbin/bankbridge-load token --issuer http://localhost:8091 --client-id "$APP" --key "$KEY" --concurrency 16 --duration 20s > "$OUT/floor-token.txt" 2>&1
/tmp/perfbin/bankbridge-load resource --token "$(cat /tmp/perf-$ENGINE/floor-token)" --dpop-key "$OUT/dpop.json" --concurrency 16 --duration 20s \
    --url http://localhost:8091/accounts/$ACC/transactions > "$OUT/floor-transactions.txt" 2>&1
kill $FLOOR; wait $FLOOR 2>/dev/null || true
rm -f /tmp/perf-$ENGINE/floor-token; floor /tmp/perf-$ENGINE/floor-balances.json
/tmp/perfbin/bankbridge-load resource --token "$(cat /tmp/perf-$ENGINE/floor-token)" --dpop-key "$OUT/dpop.json" --concurrency 16 --duration 20s \
    --url http://localhost:8091/accounts/$ACC/balances > "$OUT/floor-balances.txt" 2>&1
kill $FLOOR; wait $FLOOR 2>/dev/null || true
tail -n 5 "$OUT"/token.txt "$OUT"/transactions.txt "$OUT"/balances.txt "$OUT"/floor-*.txt
