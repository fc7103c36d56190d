#!/usr/bin/env bash
# Runs oidc.test.mjs (openid-client, a third-party OIDC library) against a real Kestrel server on a
# free loopback port, with a fresh SQLite database. Expects the Release build (scripts/test.sh makes
# it; pass another configuration as $1). Prints node's TAP output; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")"
here=$(pwd)
root=$(cd ../.. && pwd)
configuration="${1:-Release}"
server_dll="$root/src/InfoBank.Server/bin/$configuration/net10.0/InfoBank.Server.dll"
cli_dll="$root/src/InfoBank.Cli/bin/$configuration/net10.0/infobank.dll"
[ -f "$server_dll" ] && [ -f "$cli_dll" ] || { echo "build $configuration first (dotnet build InfoBank.sln -c $configuration)" >&2; exit 1; }

npm ci --no-audit --no-fund --loglevel=error >/dev/null

work=$(mktemp -d -t infobank-oidc.XXXXXX)
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

port=""
for candidate in $(seq 56080 56180); do
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then port=$candidate; break; fi
done
[ -n "$port" ] || { echo "no free loopback port" >&2; exit 1; }
url="http://127.0.0.1:$port/"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export ASPNETCORE_ENVIRONMENT=Production
# Everything the server and the CLI keep on disk goes under the throwaway folder.
export INFOBANK_DATA="$work"
export Database__Provider=Sqlite Database__ConnectionString="Data Source=$work/infobank.db"
export Signing__KeyDirectory="$work/keys" Demo__Seed=false Jobs__RunServer=false
# Plain HTTP on loopback only; see Identity:AllowInsecureHttp in the README.
export Identity__AllowInsecureHttp=true
# Production refuses to start with the issuer taken from the Host header.
export Identity__Issuer="$url"
export Logging__LogLevel__Default=Warning

field() { sed -n "s/^$1: *//p"; }
cli() { (cd "$work" && dotnet "$cli_dll" "$@"); }

cli migrate >/dev/null
business=$(cli admin add-client --kind business --name "E2E fitness club")
export INFOBANK_BUSINESS_ID=$(field client_id <<<"$business")
export INFOBANK_BUSINESS_SECRET=$(field client_secret <<<"$business")
export INFOBANK_APP_ID="e2e-portal"
export INFOBANK_REDIRECT_URI="http://127.0.0.1:$port/signin/callback"
cli admin add-client --kind app --name "E2E portal" --client-id "$INFOBANK_APP_ID" --redirect-uri "$INFOBANK_REDIRECT_URI" >/dev/null
resident=$(cli admin add-user --role resident --username e2e.resident --display-name "E2E resident")
export INFOBANK_ACCOUNT_ID=$(field account_id <<<"$resident")
export INFOBANK_USERNAME=e2e.resident
export INFOBANK_PASSWORD=$(field password <<<"$resident")
export INFOBANK_URL="$url"

(cd "$work" && exec dotnet "$server_dll" --urls "http://127.0.0.1:$port") >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 120); do
  if curl -fs "${url}health/ready" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server" 2>/dev/null; then cat "$work/server.log" >&2; echo "the server did not start" >&2; exit 1; fi
  sleep 0.5
done

status=0
node --test --test-reporter=tap "$here/oidc.test.mjs" || status=$?
if [ "$status" -ne 0 ]; then echo "--- server log ---" >&2; tail -n 50 "$work/server.log" >&2; fi
exit "$status"
