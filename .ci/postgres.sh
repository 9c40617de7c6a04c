#!/usr/bin/env bash
# Make sure a PostgreSQL server answers on 127.0.0.1:5432 with trust auth for user root and databases
# test, root and postgres. Starts the machine's cluster if it stopped; otherwise a throwaway cluster.
set -euo pipefail
ready() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
if ready; then echo "ci: PostgreSQL answers on 127.0.0.1:5432"; exit 0; fi

if command -v pg_ctlcluster >/dev/null 2>&1 && ls /etc/postgresql >/dev/null 2>&1; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "ci: starting the machine's PostgreSQL $version cluster"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do ready && break; sleep 1; done
fi
if ready; then exit 0; fi

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ]; then
  echo "ci: no PostgreSQL server binaries; installing Debian's postgresql package"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
data=/tmp/mdm-ci-pgdata
echo "ci: starting a throwaway PostgreSQL cluster in $data"
rm -rf "$data" && mkdir -p "$data" && chown postgres:postgres "$data"
su postgres -c "$bin/initdb -D $data -A trust -U postgres >/dev/null"
su postgres -c "$bin/pg_ctl -D $data -l $data/server.log -o \"-c listen_addresses=127.0.0.1 -p 5432 -k /tmp -c max_connections=200\" -w start >/dev/null"
psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE ROLE root SUPERUSER LOGIN" || true
psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE root OWNER root" || true
psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE test OWNER root" || true
ready
