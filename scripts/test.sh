#!/usr/bin/env bash
# Restores, builds (warnings are errors), checks formatting, and runs every test project.
# Prints "tests: N passed, N failed" summed over all projects; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

results=$(mktemp -d -t infobank-tests.XXXXXX)
source scripts/lib/postgres.sh
trap 'pg_stop; rm -rf "$results"' EXIT

step() { echo; echo "== $*"; }

step "restore"
dotnet restore InfoBank.sln || { echo "tests: 0 passed, 1 failed"; exit 1; }

step "build (Release, warnings as errors)"
dotnet build InfoBank.sln --no-restore -c Release -v quiet -nologo || { echo "tests: 0 passed, 1 failed"; exit 1; }

step "format (dotnet format --verify-no-changes)"
format_failed=0
dotnet format InfoBank.sln --verify-no-changes --no-restore -v quiet || format_failed=1

step "PostgreSQL for the store tests"
# Store tests run on every configured database; SQLite always, PostgreSQL from a throwaway cluster
# (or INFOBANK_TEST_POSTGRES), SQL Server only when INFOBANK_TEST_SQLSERVER is set.
if pg_start; then export INFOBANK_REQUIRE_POSTGRES=1; fi

step "test"
# One results folder per project: trx names are timestamps and would collide within a second.
test_status=0
for project in tests/*/*.Tests.csproj; do
  name=$(basename "$project" .csproj)
  dotnet test "$project" --no-build -c Release --logger "trx;LogFileName=$name.trx" --results-directory "$results/$name" || test_status=$?
done

passed=0; failed=0; skipped=0

# A check that prints TAP (node's summary lines "# pass N", "# fail N"); its counts join the .NET tests'.
tap_check() {
  local name="$1" script="$2" log="$results/$1.tap" status=0 pass fail
  bash "$script" Release >"$log" 2>&1 || status=$?
  grep -E '^(ok|not ok) ' "$log" || true
  if [ "$status" -ne 0 ]; then cat "$log"; fi
  pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$log" | tail -n 1)
  fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$log" | tail -n 1)
  passed=$((passed + ${pass:-0})); failed=$((failed + ${fail:-0}))
  if [ "$status" -ne 0 ] && [ "${fail:-0}" -eq 0 ]; then failed=$((failed + 1)); echo "$name failed to run (exit $status)"; fi
}

step "OIDC end to end (openid-client, a third-party library, against a real Kestrel server)"
tap_check oidc-client tests/oidc-client/run.sh

step "OpenAPI lint (Redocly CLI, a third-party linter, on the document a real server serves)"
tap_check openapi-lint tests/openapi-lint/run.sh

for trx in "$results"/*/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  t=$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$counters")
  e=$(sed -n 's/.* executed="\([0-9]*\)".*/\1/p' <<<"$counters")
  s=$(( ${t:-0} - ${e:-0} ))  # skipped tests are counted in total but not executed
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
done

# A crashed test host or a failed check leaves no failing test in the counts: count it as one.
if [ "$test_status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; echo "the test run failed outside any single test (exit $test_status)"; fi
if [ "$format_failed" -ne 0 ]; then failed=$((failed + 1)); echo "formatting differs from .editorconfig: run 'dotnet format InfoBank.sln'"; fi

echo
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
