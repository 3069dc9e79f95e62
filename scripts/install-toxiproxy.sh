#!/usr/bin/env bash
# Puts toxiproxy-server (pinned version) at .cache/bin/toxiproxy-server, for the
# benchmarks' WAN profile (`python -m bench fanout_wan`): it adds latency between the
# clients and livekit-server. Built from its Go module like livekit-server.
# Idempotent: does nothing when the cached binary reports the pinned version.
set -euo pipefail
VERSION="2.12.0"
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.cache/bin/toxiproxy-server"
mkdir -p "$root/.cache/bin"

reports_version() { "$1" --version 2>/dev/null | grep -q "$VERSION"; }

if [ -x "$dest" ] && reports_version "$dest"; then
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "error: toxiproxy-server $VERSION is missing and Go is not installed to build it" >&2
  exit 1
fi
echo "toxiproxy-server $VERSION: building from its Go module..."
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
GOBIN="$build" GOFLAGS="-mod=mod" go install \
  -ldflags "-X github.com/Shopify/toxiproxy/v2.Version=$VERSION" \
  "github.com/Shopify/toxiproxy/v2/cmd/server@v$VERSION"
mv "$build/server" "$dest"
reports_version "$dest"
echo "toxiproxy-server $VERSION: installed at $dest"
