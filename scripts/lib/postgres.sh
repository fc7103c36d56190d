# Sourced by scripts/test.sh and scripts/bench.sh: a throwaway PostgreSQL cluster on a loopback port.
# pg_start exports INFOBANK_TEST_POSTGRES (a connection string to an admin database); pg_stop removes
# the cluster. If INFOBANK_TEST_POSTGRES is already set, that server is used and nothing is started.
# `pg_start durable` (scripts/bench.sh) keeps fsync and synchronous_commit on, so figures measure
# durable commits as in production; plain `pg_start` (tests) turns them off for speed.

pg_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

pg_install() {
  if ! pg_bin >/dev/null; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "installing PostgreSQL from Debian's packages"
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) || return 1
    else
      return 1
    fi
  fi
}

pg_free_port() {
  local port
  for port in $(seq 55432 55532); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return 0; fi
  done
  return 1
}

PG_STARTED_DIR=""

pg_start() {
  if [ -n "${INFOBANK_TEST_POSTGRES:-}" ]; then
    echo "using PostgreSQL from INFOBANK_TEST_POSTGRES"
    return 0
  fi
  pg_install || { echo "PostgreSQL is not available: its store tests will be skipped" >&2; return 1; }
  local bin port dir run_as=()
  bin=$(pg_bin)
  port=$(pg_free_port) || return 1
  dir=$(mktemp -d -t infobank-pg.XXXXXX)
  # initdb refuses to run as root: run the cluster as the postgres system user.
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$dir"
    run_as=(runuser -u postgres --)
  fi
  "${run_as[@]}" "$bin/initdb" -D "$dir/data" -U infobank --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; return 1; }
  local settings="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  if [ "${1:-}" = "durable" ]; then
    # For measurements: every commit flushed to disk (fsync, synchronous_commit and full-page writes
    # on, the defaults), with memory and checkpoint spacing sized for a throwaway cluster so a
    # checkpoint storm does not land in the middle of a run.
    settings="-c fsync=on -c synchronous_commit=on -c full_page_writes=on -c shared_buffers=512MB -c max_wal_size=4GB -c checkpoint_timeout=30min -c wal_buffers=16MB"
  fi
  # Otherwise fsync off: a throwaway test cluster, where durability across power loss is irrelevant.
  "${run_as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 $settings -c max_connections=300" \
    start >/dev/null || { cat "$dir/server.log" >&2; return 1; }
  PG_STARTED_DIR="$dir"
  export INFOBANK_TEST_POSTGRES="Host=127.0.0.1;Port=$port;Username=infobank;Database=postgres"
  echo "started a throwaway PostgreSQL on 127.0.0.1:$port"
}

pg_stop() {
  [ -n "$PG_STARTED_DIR" ] || return 0
  local bin run_as=()
  bin=$(pg_bin)
  [ "$(id -u)" -eq 0 ] && run_as=(runuser -u postgres --)
  "${run_as[@]}" "$bin/pg_ctl" -D "$PG_STARTED_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_STARTED_DIR"
  PG_STARTED_DIR=""
}
