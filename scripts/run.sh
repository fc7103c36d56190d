#!/usr/bin/env bash
# Builds and starts InfoBank on http://127.0.0.1:5080 with the embedded SQLite database and, on
# first run, the Sapporo demo data. Everything it keeps on disk (database, keys, demo credentials)
# is in one data directory: $INFOBANK_DATA if set, else src/InfoBank.Server/data. It is exported,
# so the CLI started from this shell works on the same bank. INFOBANK_PORT picks another port.
set -euo pipefail
here=$(pwd)
cd "$(dirname "$0")/.."
root=$(pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export ASPNETCORE_ENVIRONMENT="${ASPNETCORE_ENVIRONMENT:-Development}"
export Demo__Seed=true
# Absolute, so it means the same to the server (started in its project folder) and to the CLI.
data="${INFOBANK_DATA:-$root/src/InfoBank.Server/data}"
case "$data" in /*) ;; *) data="$here/$data" ;; esac
export INFOBANK_DATA="$data"
port="${INFOBANK_PORT:-5080}"
url="http://127.0.0.1:$port"
notes="$INFOBANK_DATA/demo-credentials.txt"

# Whether something accepts connections on the port (bash's /dev/tcp: no extra tools needed).
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

# Whether process $1 holds the listening socket of the port: /proc on Linux, else lsof; with
# neither it cannot tell and says yes (the check before starting still stands).
listens_on_port() {
  if [ ! -r /proc/net/tcp ]; then
    command -v lsof >/dev/null 2>&1 || return 0
    lsof -nP -a -p "$1" -iTCP:"$port" -sTCP:LISTEN >/dev/null 2>&1
    return
  fi
  local hex inode
  hex=$(printf '%04X' "$port")
  for inode in $(awk -v port=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == port { print $10 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null); do
    if ls -l "/proc/$1/fd" 2>/dev/null | grep -q "socket:\[$inode\]"; then return 0; fi
  done
  return 1
}

refuse_taken_port() {
  echo "error: port $port on 127.0.0.1 is already in use by another process, so InfoBank cannot listen there." >&2
  echo "  Stop that process (on Linux 'ss -ltnp sport = :$port' names it), or run on another port:" >&2
  echo "  INFOBANK_PORT=$((port + 1)) scripts/run.sh" >&2
  exit 1
}

if port_taken; then refuse_taken_port; fi

dotnet build src/InfoBank.Server -v quiet -nologo
server_dll="src/InfoBank.Server/bin/Debug/net10.0/InfoBank.Server.dll"
[ -f "$server_dll" ] || { echo "error: the build did not produce $server_dll" >&2; exit 1; }

# The server itself, not `dotnet run`: its process id is the one that must end up listening, and
# Ctrl+C stops it rather than a launcher. The project folder is its content root, as with dotnet run.
(cd src/InfoBank.Server && exec dotnet "bin/Debug/net10.0/InfoBank.Server.dll" --urls "$url" --data "$INFOBANK_DATA") &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null' INT TERM EXIT

ready=""
for _ in $(seq 1 240); do
  if ! kill -0 "$server" 2>/dev/null; then
    if port_taken; then refuse_taken_port; fi
    echo "InfoBank failed to start (its messages are above)" >&2
    exit 1
  fi
  # An answer is not proof enough: it must come from the process started here. If another one
  # took the port meanwhile, ours fails to bind and exits, and the branch above reports it.
  if curl -fs "$url/health/ready" >/dev/null 2>&1 && listens_on_port "$server"; then ready=1; break; fi
  sleep 0.5
done
if [ -z "$ready" ]; then echo "InfoBank did not become ready on $url within 2 minutes" >&2; exit 1; fi

cat <<INFO

InfoBank is listening on $url
  API reference:   $url/reference
  OpenAPI:         $url/openapi/v1.json
  Health:          $url/health/ready
  Sign-in:         $url/signin (people sign in through an app: /connect/authorize, PKCE S256)
  OIDC discovery:  $url/.well-known/openid-configuration
  Jobs dashboard:  $url/jobs (sign in as the operator)
  Data directory:  $INFOBANK_DATA
                   (database infobank.db, keys/, demo-credentials.txt; for the CLI in another shell:
                    export INFOBANK_DATA="$INFOBANK_DATA")
INFO
if [ -f "$notes" ]; then
  echo "  Demo accounts (generated at first run, kept in $notes):"
  sed 's/^/    /' "$notes"
fi
echo
echo "Press Ctrl+C to stop."
wait "$server"
