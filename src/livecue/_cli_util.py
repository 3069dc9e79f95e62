"""What every ``livecue`` command shares: exit codes, argument types, one-line errors,
symbols that the terminal can show. Stdlib only: ``livecue --help`` imports it."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number of seconds")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def one_line(text: str) -> str:
    return " ".join(text.split())


def error(message: str) -> None:
    print(f"error: {one_line(message)}", file=sys.stderr)


def _can_encode(text: str, stream: Any) -> bool:
    try:
        text.encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def symbols() -> tuple[str, str, str]:
    """Check mark, cross and ellipsis, or ASCII stand-ins where stdout cannot show them."""
    if _can_encode("✓✗…", sys.stdout):
        return "✓", "✗", "…"
    return "OK", "FAIL", "..."


def short_id(cue_id: str, ellipsis: str) -> str:
    return cue_id if len(cue_id) <= 12 else cue_id[:8] + ellipsis


def print_json(value: object) -> None:
    print(json.dumps(value, ensure_ascii=False))


class HelpFormatter(argparse.HelpFormatter):
    """argparse's wrapping for descriptions, with an epilog of examples kept as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith(("example:", "examples:")):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)
