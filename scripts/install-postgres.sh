#!/usr/bin/env bash
# Makes sure PostgreSQL's server binaries (initdb, pg_ctl, postgres) are present: the tests
# start a throwaway cluster of their own, and several gateway instances share one database.
# Idempotent: does nothing when they are there. Uses apt-get (Debian/Ubuntu); runs
# `apt-get update` only if the first install attempt fails without it.
set -euo pipefail

if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  exit 0
fi

fail() {
  echo "error: PostgreSQL's server binaries are missing and could not be installed: $1" >&2
  echo "       install them by hand (Debian/Ubuntu: apt-get install postgresql) and run again" >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "apt-get is not available on this machine"

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || fail "not root and sudo is not available"
  sudo=(sudo -n)
fi

install_postgres() {
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq postgresql >/dev/null
}

echo "postgresql: installing with apt-get..."
if ! install_postgres; then
  echo "postgresql: install failed; updating the package lists once and trying again..."
  "${sudo[@]}" apt-get update -qq || fail "apt-get update failed"
  install_postgres || fail "apt-get install postgresql failed"
fi
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || fail "installed, but initdb is not there"
echo "postgresql: installed ($(ls -d /usr/lib/postgresql/*/bin | tail -1))"
