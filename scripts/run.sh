#!/usr/bin/env bash
# Builds and starts InfoBank on http://127.0.0.1:5080 with the embedded SQLite database
# (src/InfoBank.Server/data/infobank.db) and, on first run, the Sapporo demo data.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export ASPNETCORE_ENVIRONMENT="${ASPNETCORE_ENVIRONMENT:-Development}"
export Demo__Seed=true
url="http://127.0.0.1:5080"
notes="src/InfoBank.Server/data/demo-credentials.txt"

dotnet build src/InfoBank.Server -v quiet -nologo
dotnet run --no-build --project src/InfoBank.Server --urls "$url" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null' INT TERM EXIT

for _ in $(seq 1 120); do
  if curl -fs "$url/health/ready" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server" 2>/dev/null; then echo "InfoBank failed to start" >&2; exit 1; fi
  sleep 0.5
done

cat <<INFO

InfoBank is listening on $url
  API reference:   $url/reference
  OpenAPI:         $url/openapi/v1.json
  Health:          $url/health/ready
  Sign-in:         $url/signin (people sign in through an app: /connect/authorize, PKCE S256)
  OIDC discovery:  $url/.well-known/openid-configuration
  Jobs dashboard:  $url/jobs (sign in as the operator)
INFO
if [ -f "$notes" ]; then
  echo "  Demo accounts (generated at first run, kept in $notes):"
  sed 's/^/    /' "$notes"
fi
echo
echo "Press Ctrl+C to stop."
wait "$server"
