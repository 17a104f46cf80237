#!/usr/bin/env bash
# The race detector over the packages whose tests run goroutines against shared
# state (throttle counters, quota limiters, DPoP replay, PAR redemption,
# webhook leases, the mail sender, the password semaphore). CI runs it after
# the tests (see .ci/run); it needs cgo (gcc).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== go test -race (concurrent packages)"
CGO_ENABLED=1 go test -race -count=1 -p 2 -timeout 30m "$@" \
  ./internal/throttle ./internal/secrets ./internal/mail ./internal/db \
  ./apis/quota ./oauth/dpop ./oauth/keys ./oauth ./webhooks
