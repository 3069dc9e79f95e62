"""Benchmarks against a real livekit-server: ``python -m bench NAME`` (see ``--help``).

Each benchmark starts its own server, measures, prints exactly one JSON line
on stdout (progress goes to stderr) and stops everything it started.
"""
