#!/usr/bin/env bash
# Installs a Debian package when what it provides is missing: the one way the setup scripts
# install system software.
#   scripts/apt-install.sh PACKAGE CHECK...
# CHECK is a command that succeeds once the package is there (e.g. `test -x /usr/bin/chromium`).
# Idempotent: does nothing when CHECK already succeeds. Uses apt-get (Debian/Ubuntu); runs
# `apt-get update` only if the first install attempt fails without it. Needs root or sudo.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 PACKAGE CHECK..." >&2
  exit 2
fi
package=$1
shift

if "$@" >/dev/null 2>&1; then
  exit 0
fi

fail() {
  echo "error: $package is not installed and could not be installed: $1" >&2
  echo "       install it by hand (Debian/Ubuntu: apt-get install $package) and run again" >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "apt-get is not available on this machine"

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || fail "not root and sudo is not available"
  sudo=(sudo -n)
fi

install() {
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$package" >/dev/null
}

echo "$package: installing with apt-get..."
if ! install; then
  echo "$package: install failed; updating the package lists once and trying again..."
  "${sudo[@]}" apt-get update -qq || fail "apt-get update failed"
  install || fail "apt-get install $package failed"
fi
"$@" >/dev/null 2>&1 || fail "apt-get finished but it is still missing (checked with: $*)"
echo "$package: installed"
