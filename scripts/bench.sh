#!/usr/bin/env bash
# Runs the benchmarks in Release and prints a table of figures, each with its ratio to the raw
# Dapper+SQLite insert baseline measured in the same run. Options pass through to the harness:
#   scripts/bench.sh                  all throughput and latency benchmarks
#   scripts/bench.sh --only baseline  one benchmark by name (the baseline always runs too)
#   scripts/bench.sh --quick          fewer rows, for a smoke run
#   scripts/bench.sh --only deposit,audit-scaling   several, comma-separated
#   scripts/bench.sh --db postgres    also measure on PostgreSQL, side by side with SQLite: a throwaway
#                                     cluster with fsync and synchronous_commit ON is started (or the
#                                     server in INFOBANK_TEST_POSTGRES is used; its settings are printed)
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
source scripts/lib/postgres.sh
if [[ " $* " == *" --db postgres "* ]]; then
  pg_start durable || { echo "--db postgres: no PostgreSQL could be started" >&2; exit 1; }
  trap pg_stop EXIT
fi
dotnet run -c Release --project tests/InfoBank.Bench -- "$@"
