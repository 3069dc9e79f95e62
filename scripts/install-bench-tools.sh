#!/usr/bin/env bash
# Installs the load generator the benchmarks need (wrk, for `python -m bench ingest`).
# Idempotent: does nothing when wrk is already on PATH. Uses apt-get (Debian/Ubuntu);
# runs `apt-get update` only if the first install attempt fails without it.
set -euo pipefail

if command -v wrk >/dev/null 2>&1; then
  exit 0
fi

fail() {
  echo "error: wrk is not installed and could not be installed: $1" >&2
  echo "       install it by hand (Debian/Ubuntu: apt-get install wrk) and run again" >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "apt-get is not available on this machine"

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || fail "not root and sudo is not available"
  sudo=(sudo -n)
fi

install_wrk() {
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq wrk >/dev/null
}

echo "wrk: installing with apt-get..."
if ! install_wrk; then
  echo "wrk: install failed; updating the package lists once and trying again..."
  "${sudo[@]}" apt-get update -qq || fail "apt-get update failed"
  install_wrk || fail "apt-get install wrk failed"
fi
command -v wrk >/dev/null 2>&1 || fail "apt-get finished but wrk is still not on PATH"
echo "wrk: installed at $(command -v wrk)"
