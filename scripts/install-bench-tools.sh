#!/usr/bin/env bash
# The load generator the benchmarks need (wrk, for `python -m bench ingest`).
exec "$(dirname "$0")/apt-install.sh" wrk command -v wrk
