#!/usr/bin/env bash
# Installs espeak-ng, the offline speech synthesizer of the voice tests and the demo
# (the agent's offline voice and the test user's speech). Idempotent: does nothing when
# espeak-ng is already on PATH. Uses apt-get (Debian/Ubuntu); runs `apt-get update` only
# if the first install attempt fails without it.
set -euo pipefail

if command -v espeak-ng >/dev/null 2>&1; then
  exit 0
fi

fail() {
  echo "error: espeak-ng is not installed and could not be installed: $1" >&2
  echo "       install it by hand (Debian/Ubuntu: apt-get install espeak-ng) and run again" >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "apt-get is not available on this machine"

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || fail "not root and sudo is not available"
  sudo=(sudo -n)
fi

install_espeak() {
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq espeak-ng >/dev/null
}

echo "espeak-ng: installing with apt-get..."
if ! install_espeak; then
  echo "espeak-ng: install failed; updating the package lists once and trying again..."
  "${sudo[@]}" apt-get update -qq || fail "apt-get update failed"
  install_espeak || fail "apt-get install espeak-ng failed"
fi
command -v espeak-ng >/dev/null 2>&1 || fail "apt-get finished but espeak-ng is still not on PATH"
echo "espeak-ng: installed at $(command -v espeak-ng)"
