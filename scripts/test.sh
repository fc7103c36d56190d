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

step "OIDC end to end (openid-client, a third-party library, against a real Kestrel server)"
oidc_log="$results/oidc-client.tap"
oidc_status=0
bash tests/oidc-client/run.sh Release >"$oidc_log" 2>&1 || oidc_status=$?
grep -E '^(ok|not ok) ' "$oidc_log" || true
if [ "$oidc_status" -ne 0 ]; then cat "$oidc_log"; fi

step "OpenAPI lint (Redocly CLI, a third-party linter, on the document a real server serves)"
lint_log="$results/openapi-lint.tap"
lint_status=0
bash tests/openapi-lint/run.sh Release >"$lint_log" 2>&1 || lint_status=$?
grep -E '^(ok|not ok) ' "$lint_log" || true
if [ "$lint_status" -ne 0 ]; then cat "$lint_log"; fi

passed=0; failed=0; skipped=0
# node's TAP summary lines ("# pass N", "# fail N") count with the .NET tests.
oidc_pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$oidc_log" | tail -n 1)
oidc_fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$oidc_log" | tail -n 1)
passed=$((passed + ${oidc_pass:-0})); failed=$((failed + ${oidc_fail:-0}))
if [ "$oidc_status" -ne 0 ] && [ "${oidc_fail:-0}" -eq 0 ]; then failed=$((failed + 1)); echo "the OIDC end-to-end check failed to run (exit $oidc_status)"; fi
lint_pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$lint_log" | tail -n 1)
lint_fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$lint_log" | tail -n 1)
passed=$((passed + ${lint_pass:-0})); failed=$((failed + ${lint_fail:-0}))
if [ "$lint_status" -ne 0 ] && [ "${lint_fail:-0}" -eq 0 ]; then failed=$((failed + 1)); echo "the OpenAPI lint failed to run (exit $lint_status)"; fi
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
