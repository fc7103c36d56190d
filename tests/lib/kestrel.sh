# Sourced by the third-party checks (tests/oidc-client, tests/openapi-lint): a real Kestrel server
# from the Release build on a free loopback port, with its own throwaway data directory, stopped on exit.
#   kestrel_prepare <configuration> <first-port> <last-port>   sets work, port, url, server_dll, cli_dll and the environment
#   kestrel_start                                              starts the server and waits until it is live
#   cli <args…>                                                runs the CLI on the same data directory

kestrel_prepare() {
  local configuration="$1" first="$2" last="$3" root candidate
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  server_dll="$root/src/InfoBank.Server/bin/$configuration/net10.0/InfoBank.Server.dll"
  cli_dll="$root/src/InfoBank.Cli/bin/$configuration/net10.0/infobank.dll"
  [ -f "$server_dll" ] && [ -f "$cli_dll" ] || { echo "build $configuration first (dotnet build InfoBank.sln -c $configuration)" >&2; return 1; }
  work=$(mktemp -d -t infobank-check.XXXXXX)
  server=""
  trap kestrel_cleanup EXIT
  port=""
  for candidate in $(seq "$first" "$last"); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then port=$candidate; break; fi
  done
  [ -n "$port" ] || { echo "no free loopback port" >&2; return 1; }
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
}

kestrel_cleanup() {
  if [ -n "${server:-}" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}

cli() { (cd "$work" && dotnet "$cli_dll" "$@"); }

kestrel_start() {
  (cd "$work" && exec dotnet "$server_dll" --urls "http://127.0.0.1:$port") >"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 120); do
    if curl -fs "${url}health/ready" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$server" 2>/dev/null; then cat "$work/server.log" >&2; echo "the server did not start" >&2; return 1; fi
    sleep 0.5
  done
  echo "the server did not become ready" >&2
  return 1
}
