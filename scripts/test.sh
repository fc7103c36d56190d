#!/usr/bin/env bash
# Restores, builds (warnings are errors), checks formatting, and runs every test project.
# Prints "tests: N passed, N failed" summed over all projects; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

results=$(mktemp -d -t infobank-tests.XXXXXX)
trap 'rm -rf "$results"' EXIT

step() { echo; echo "== $*"; }

step "restore"
dotnet restore InfoBank.sln || { echo "tests: 0 passed, 1 failed"; exit 1; }

step "build (Release, warnings as errors)"
dotnet build InfoBank.sln --no-restore -c Release -v quiet -nologo || { echo "tests: 0 passed, 1 failed"; exit 1; }

step "format (dotnet format --verify-no-changes)"
format_failed=0
dotnet format InfoBank.sln --verify-no-changes --no-restore -v quiet || format_failed=1

step "test"
# One results folder per project: trx names are timestamps and would collide within a second.
test_status=0
for project in tests/*/*.Tests.csproj; do
  name=$(basename "$project" .csproj)
  dotnet test "$project" --no-build -c Release --logger "trx;LogFileName=$name.trx" --results-directory "$results/$name" || test_status=$?
done

passed=0; failed=0; skipped=0
for trx in "$results"/*/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  s=$(sed -n 's/.* notExecuted="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
done

# A crashed test host or a failed check leaves no failing test in the counts: count it as one.
if [ "$test_status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; echo "the test run failed outside any single test (exit $test_status)"; fi
if [ "$format_failed" -ne 0 ]; then failed=$((failed + 1)); echo "formatting differs from .editorconfig: run 'dotnet format InfoBank.sln'"; fi

echo
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
