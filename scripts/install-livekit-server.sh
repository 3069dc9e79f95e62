#!/usr/bin/env bash
# Puts livekit-server (pinned version) at .cache/bin/livekit-server.
# Uses one already on PATH if it reports the pinned version, else builds it
# from its Go module. Idempotent: does nothing when the cached binary is right.
set -euo pipefail
VERSION="1.13.5"
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.cache/bin/livekit-server"
mkdir -p "$root/.cache/bin"

reports_version() { "$1" --version 2>/dev/null | grep -q "version $VERSION\$"; }

if [ -x "$dest" ] && reports_version "$dest"; then
  exit 0
fi
if found="$(command -v livekit-server 2>/dev/null)" && reports_version "$found"; then
  ln -sf "$found" "$dest"
  echo "livekit-server $VERSION: using $found"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "error: livekit-server $VERSION is not on PATH and Go is not installed to build it" >&2
  exit 1
fi
echo "livekit-server $VERSION: building from its Go module (a minute or two)..."
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
GOBIN="$build" GOFLAGS="-mod=mod" go install "github.com/livekit/livekit-server/cmd/server@v$VERSION"
mv "$build/server" "$dest"
reports_version "$dest"
echo "livekit-server $VERSION: installed at $dest"
