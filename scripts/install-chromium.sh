#!/usr/bin/env bash
# Chromium from Debian's packages: the browser of the console's tests (Playwright drives it at
# /usr/bin/chromium; Playwright's own browser download is not used).
exec "$(dirname "$0")/apt-install.sh" chromium test -x /usr/bin/chromium
