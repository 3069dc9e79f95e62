"""``python -m bench NAME [options]``: run one benchmark, print its JSON line."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable, Coroutine
from types import ModuleType

from . import cli, e2e_latency, fanout, fanout_wan, ingest, latency, voice
from ._common import BenchFailure

BENCHMARKS: dict[str, ModuleType] = {
    m.NAME: m for m in (fanout, fanout_wan, latency, cli, ingest, e2e_latency, voice)
}

Result = dict[str, object] | list[dict[str, object]]
"""One JSON line, or several (one per size of a scale curve)."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmarks against a real livekit-server started for the run. "
        "Each prints one JSON line on stdout; progress goes to stderr.",
    )
    commands = p.add_subparsers(dest="name", metavar="NAME", required=True)
    for name, module in BENCHMARKS.items():
        sub = commands.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    run: Callable[[argparse.Namespace], Coroutine[None, None, Result]]
    run = BENCHMARKS[args.name].run
    try:
        result = asyncio.run(run(args))
    except (BenchFailure, FileNotFoundError) as exc:  # a failed run, a tool not installed
        print(f"bench {args.name} failed: {exc}", file=sys.stderr)
        return 1
    for line in result if isinstance(result, list) else [result]:
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
