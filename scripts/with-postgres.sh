#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL server, exported as OPENLINQ_TEST_POSTGRES_URL.
# Uses $OPENLINQ_TEST_POSTGRES_URL as is when it is already set. Otherwise it finds
# Debian's PostgreSQL binaries (installing the `postgresql` package when run as root
# on a machine without them), starts a private cluster in a temp directory on a
# unix socket, and removes it afterwards.
set -euo pipefail

if [[ -n "${OPENLINQ_TEST_POSTGRES_URL:-}" ]]; then
  exec "$@"
fi

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
bin=$(find_bin)
if [[ -z "$bin" ]]; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "with-postgres: installing Debian's postgresql package" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    bin=$(find_bin)
  fi
  if [[ -z "$bin" ]]; then
    echo "with-postgres: PostgreSQL is not installed (apt-get install postgresql)," \
      "or set OPENLINQ_TEST_POSTGRES_URL" >&2
    exit 1
  fi
fi

dir=$(mktemp -d /tmp/openlinq-pg.XXXXXX)
run_as=()
if [[ $(id -u) -eq 0 ]]; then
  # initdb refuses to run as root; the Debian package creates a postgres user.
  chown postgres "$dir"
  run_as=(runuser -u postgres --)
fi
cleanup() {
  "${run_as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

"${run_as[@]}" "$bin/initdb" -D "$dir/data" -U openlinq --auth=trust -E UTF8 >/dev/null
"${run_as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w start \
  -o "-k $dir -c listen_addresses='' -c fsync=off -c max_connections=200" >/dev/null
"$bin/createdb" -h "$dir" -U openlinq openlinq_test
export OPENLINQ_TEST_POSTGRES_URL="postgresql://openlinq@/openlinq_test?host=$dir"
"$@"
