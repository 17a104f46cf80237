#!/usr/bin/env bash
# The race detector over the packages whose tests run goroutines against shared
# state (throttle counters, quota limiters, DPoP replay, PAR redemption, the cache bus, limit approvals,
# webhook leases, the mail sender, the password semaphore, parallel review sign-offs, the screening index,
# risk case decisions, concurrent complaint submissions, two nodes winding a partnership down). CI runs it after
# the tests (see .ci/run); it needs cgo (gcc).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== go test -race (concurrent packages)"
# The multi-process crash tests (TestCrashLosesNothing, TestTwoDispatcherProcessesNeverOverlap)
# run without -race in the main suite: under the race detector's slowdown a
# lease can lapse and the at-least-once redelivery they rule out becomes legal.
CGO_ENABLED=1 go test -race -count=1 -p 2 -timeout 30m -skip 'TestCrashLosesNothing|TestTwoDispatcherProcessesNeverOverlap' "$@" \
  ./internal/throttle ./internal/secrets ./internal/mail ./internal/db ./internal/cachebus ./internal/reqmemo ./internal/telemetry ./internal/groupcommit \
  ./apis/quota ./oauth/dpop ./oauth/keys ./oauth/passkeys ./oauth/sca ./oauth/secondfactors ./oauth ./webhooks ./monitoring/reviews ./risk/screening ./risk/limits ./risk ./complaints ./partners/exit
