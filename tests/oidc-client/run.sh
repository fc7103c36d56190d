#!/usr/bin/env bash
# Runs oidc.test.mjs (openid-client, a third-party OIDC library) against a real Kestrel server on a
# free loopback port, with a fresh SQLite database. Expects the Release build (scripts/test.sh makes
# it; pass another configuration as $1). Prints node's TAP output; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")"
here=$(pwd)
source ../lib/kestrel.sh
kestrel_prepare "${1:-Release}" 56080 56180

npm ci --no-audit --no-fund --loglevel=error >/dev/null

field() { sed -n "s/^$1: *//p"; }

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

kestrel_start

status=0
node --test --test-reporter=tap "$here/oidc.test.mjs" || status=$?
if [ "$status" -ne 0 ]; then echo "--- server log ---" >&2; tail -n 50 "$work/server.log" >&2; fi
exit "$status"
