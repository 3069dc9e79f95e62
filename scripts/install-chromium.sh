#!/usr/bin/env bash
# Installs Chromium from Debian's packages: the browser of the console's tests (Playwright
# drives it at /usr/bin/chromium; Playwright's own browser download is not used).
# Idempotent: does nothing when /usr/bin/chromium is already there. Uses apt-get
# (Debian/Ubuntu); runs `apt-get update` only if the first install attempt fails without it.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  exit 0
fi

fail() {
  echo "error: chromium is not installed and could not be installed: $1" >&2
  echo "       install it by hand (Debian: apt-get install chromium) and run again" >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "apt-get is not available on this machine"

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || fail "not root and sudo is not available"
  sudo=(sudo -n)
fi

install_chromium() {
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq chromium >/dev/null
}

echo "chromium: installing with apt-get..."
if ! install_chromium; then
  echo "chromium: install failed; updating the package lists once and trying again..."
  "${sudo[@]}" apt-get update -qq || fail "apt-get update failed"
  install_chromium || fail "apt-get install chromium failed"
fi
[ -x "$CHROMIUM" ] || fail "apt-get finished but $CHROMIUM is still missing"
echo "chromium: installed at $CHROMIUM"
