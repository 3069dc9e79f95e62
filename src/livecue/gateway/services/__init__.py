"""The gateway's working parts, each usable without HTTP."""
