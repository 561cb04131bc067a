#!/usr/bin/env bash
# Makes a PostgreSQL server reachable at 127.0.0.1:5432 with database `test`, which
# meshgate-store's PostgreSQL tests use (postgres://postgres@127.0.0.1:5432/test, no password).
#
# - Already running: only makes sure database `test` exists.
# - Not running: installs PostgreSQL from Debian packages if needed, creates/starts the
#   cluster, allows password-less (trust) connections from 127.0.0.1/::1 FOR LOCAL TESTS, and
#   creates database `test`.
#
# Idempotent. Needs root (or sudo) only for the install/start path.
# Overrides: PGHOST_TEST (127.0.0.1), PGPORT_TEST (5432), PGUSER_TEST (postgres), PGDB_TEST (test).
set -euo pipefail

HOST="${PGHOST_TEST:-127.0.0.1}"
PORT="${PGPORT_TEST:-5432}"
USER_NAME="${PGUSER_TEST:-postgres}"
DB="${PGDB_TEST:-test}"

say() { echo "setup-postgres: $*"; }
die() { echo "setup-postgres: error: $*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root (or sudo) to run: $*"
  fi
}

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"
  elif command -v sudo >/dev/null; then sudo -u postgres "$@"
  else die "need root (or sudo) to run as the postgres user: $*"
  fi
}

is_ready() { command -v pg_isready >/dev/null && pg_isready -q -h "$HOST" -p "$PORT"; }

# Connects over TCP as the test user without a password (-w: never prompt).
can_connect() {
  PGPASSWORD='' psql -w -h "$HOST" -p "$PORT" -U "$USER_NAME" -d postgres -tAc 'SELECT 1' >/dev/null 2>&1
}

newest_version() { ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1; }

install_and_start() {
  if ! command -v pg_ctlcluster >/dev/null || [ -z "$(newest_version)" ]; then
    say "PostgreSQL is not installed; installing the Debian package 'postgresql'"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql
  fi
  local ver
  ver="$(newest_version)"
  [ -n "$ver" ] || die "no PostgreSQL version found under /usr/lib/postgresql after installing"
  if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$ver main"; then
    say "creating cluster $ver/main on port $PORT"
    as_root pg_createcluster --port "$PORT" "$ver" main
  fi
  say "starting cluster $ver/main"
  as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  for _ in $(seq 1 30); do
    is_ready && return 0
    sleep 1
  done
  die "cluster $ver/main did not become ready on $HOST:$PORT within 30 s (see /var/log/postgresql/)"
}

allow_trust_for_local_tests() {
  local hba
  hba="$(as_postgres psql -w -p "$PORT" -d postgres -tAc 'SHOW hba_file' 2>/dev/null || true)"
  [ -n "$hba" ] && as_root test -f "$hba" \
    || die "cannot connect to $HOST:$PORT as $USER_NAME without a password, and cannot find pg_hba.conf to allow it; set MESHGATE_TEST_POSTGRES_URL to a URL that works instead"
  if as_root grep -q '^# meshgate-store tests' "$hba"; then
    die "$hba already trusts local TCP connections but $USER_NAME still cannot connect; check the server log"
  fi
  say "allowing password-less (trust) TCP connections from 127.0.0.1 and ::1 in $hba (local tests only)"
  local tmp
  tmp="$(mktemp)"
  {
    echo '# meshgate-store tests: password-less connections from this machine only (added by scripts/setup-postgres.sh)'
    echo 'host    all    all    127.0.0.1/32    trust'
    echo 'host    all    all    ::1/128         trust'
    as_root cat "$hba"
  } >"$tmp"
  as_root cp "$tmp" "$hba"
  rm -f "$tmp"
  as_postgres psql -w -p "$PORT" -d postgres -tAc 'SELECT pg_reload_conf()' >/dev/null
  sleep 1
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; }

# A server may run elsewhere (a container, a CI service) while this machine lacks the client.
if ! command -v psql >/dev/null || ! command -v pg_isready >/dev/null; then
  if port_open; then
    say "something listens on $HOST:$PORT but psql/pg_isready are missing; installing 'postgresql-client'"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql-client
  fi
fi

if is_ready; then
  say "PostgreSQL is already running on $HOST:$PORT"
else
  say "no PostgreSQL answers on $HOST:$PORT"
  install_and_start
fi

if ! can_connect; then
  allow_trust_for_local_tests
  can_connect || die "still cannot connect to $HOST:$PORT as $USER_NAME without a password"
fi

exists="$(PGPASSWORD='' psql -w -h "$HOST" -p "$PORT" -U "$USER_NAME" -d postgres -tAc \
  "SELECT 1 FROM pg_database WHERE datname = '$DB'")"
if [ "$exists" = "1" ]; then
  say "database '$DB' exists"
else
  say "creating database '$DB'"
  PGPASSWORD='' psql -w -h "$HOST" -p "$PORT" -U "$USER_NAME" -d postgres -qc "CREATE DATABASE \"$DB\""
fi
say "ready: postgres://$USER_NAME@$HOST:$PORT/$DB"
