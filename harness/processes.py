"""Stopping the servers the tests start: politely, then for sure."""

from __future__ import annotations

import subprocess


def terminate(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> int | None:
    """SIGTERM ``proc`` and wait up to ``timeout_s`` for it; SIGKILL it if it will not go.
    Returns its exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode
