#!/usr/bin/env bash
# Lints the server's OpenAPI document with Redocly CLI (a third-party linter, rules in redocly.yaml)
# against a real Kestrel server on a free loopback port. Expects the Release build (scripts/test.sh
# makes it; pass another configuration as $1). Prints TAP; exits non-zero on any lint error.
set -euo pipefail
cd "$(dirname "$0")"
here=$(pwd)
root=$(cd ../.. && pwd)
configuration="${1:-Release}"
server_dll="$root/src/InfoBank.Server/bin/$configuration/net10.0/InfoBank.Server.dll"
[ -f "$server_dll" ] || { echo "build $configuration first (dotnet build InfoBank.sln -c $configuration)" >&2; exit 1; }

npm ci --no-audit --no-fund --loglevel=error >/dev/null

work=$(mktemp -d -t infobank-openapi.XXXXXX)
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

port=""
for candidate in $(seq 56200 56300); do
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then port=$candidate; break; fi
done
[ -n "$port" ] || { echo "no free loopback port" >&2; exit 1; }
url="http://127.0.0.1:$port/"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export ASPNETCORE_ENVIRONMENT=Production
export INFOBANK_DATA="$work"
export Database__Provider=Sqlite Database__ConnectionString="Data Source=$work/infobank.db"
export Signing__KeyDirectory="$work/keys" Demo__Seed=false Jobs__RunServer=false
export Identity__AllowInsecureHttp=true Identity__Issuer="$url"
export Logging__LogLevel__Default=Warning

(cd "$work" && exec dotnet "$server_dll" --urls "http://127.0.0.1:$port") >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 120); do
  if curl -fs "${url}health/live" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server" 2>/dev/null; then cat "$work/server.log" >&2; echo "the server did not start" >&2; exit 1; fi
  sleep 0.5
done

curl -fs "${url}openapi/v1.json" -o "$work/openapi.json"
echo "TAP version 13"
status=0
npx --no-install redocly lint "$work/openapi.json" --config "$here/redocly.yaml" --format=stylish --max-problems 500 >"$work/lint.txt" 2>&1 || status=$?
errors=$(grep -c ' error ' "$work/lint.txt" || true)
warnings=$(grep -c ' warning ' "$work/lint.txt" || true)
if [ "$status" -eq 0 ]; then
  echo "ok 1 - the OpenAPI document passes Redocly's lint ($warnings warning(s))"
  grep ' warning ' "$work/lint.txt" | sed 's/^/# /' || true
  echo "# pass 1"; echo "# fail 0"
else
  echo "not ok 1 - the OpenAPI document fails Redocly's lint: $errors error(s)"
  sed 's/^/# /' "$work/lint.txt"
  echo "# pass 0"; echo "# fail 1"
fi
exit "$status"
