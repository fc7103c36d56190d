#!/usr/bin/env bash
# Lints the server's OpenAPI document with Redocly CLI (a third-party linter, rules in redocly.yaml)
# against a real Kestrel server on a free loopback port. Expects the Release build (scripts/test.sh
# makes it; pass another configuration as $1). Prints TAP; exits non-zero on any lint error.
set -euo pipefail
cd "$(dirname "$0")"
here=$(pwd)
source ../lib/kestrel.sh
kestrel_prepare "${1:-Release}" 56200 56300

npm ci --no-audit --no-fund --loglevel=error >/dev/null
kestrel_start

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
