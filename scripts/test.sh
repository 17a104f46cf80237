#!/usr/bin/env bash
# The one test command (see README): installs what the end-to-end tests need on
# a fresh machine, then runs every Go test. Browser and independent-client tests
# skip with a message when their tools are missing, unless BANKBRIDGE_E2E=1
# (set by .ci/run), which makes a missing tool a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== end-to-end tools"
if command -v npm >/dev/null 2>&1; then
  (cd e2e && npm ci --no-audit --no-fund --loglevel=error)
  [ -f e2e/webhooks/package.json ] && (cd e2e/webhooks && npm ci --no-audit --no-fund --loglevel=error)
else
  echo "npm not found: independent-client and browser tests will skip"
fi
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium for browser tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium not found (install Debian's chromium package): browser tests will skip"
  fi
fi

echo "== go vet"
go vet ./...

echo "== go test"
# -p 2 matches the 2-core machines we run on; storage tests also run on
# PostgreSQL when BANKBRIDGE_TEST_POSTGRES is set.
go test -count=1 -p 2 -timeout 30m "$@" ./...
