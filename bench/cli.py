"""One cue per process: the ``livecue send`` console script vs the seed's trigger script.

Both send one data packet to a room with a real listening participant; every
run must reach it exactly once. Runs alternate so noise falls on both alike.
``livecue --help`` is timed in the same rounds: the start-up cost alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from harness.livekit_server import LiveKitServer

from ._common import BenchFailure, log, median, rounded
from ._listeners import LISTENER_ROOM_TIMEOUT_S, Listeners

NAME = "cli"
HELP = "wall time of one `livecue send --transport data` process vs the seed's script, and --help"

BIN = Path(sys.executable).parent
LIVECUE = BIN / "livecue"
SEED_SCRIPT = Path(__file__).resolve().parent / "seed_trigger.py"
ROOM = "cli-bench"
_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=9, help="timed runs of each command")
    parser.add_argument(
        "--importtime", action="store_true", help="show each command's costliest imports (stderr)"
    )


def commands(text: str) -> dict[str, list[str]]:
    return {
        "livecue": [str(LIVECUE), "send", ROOM, text, "--transport", "data"],
        "seed": [sys.executable, str(SEED_SCRIPT), ROOM, text],
    }


def clean_env(server: LiveKitServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "LIVECUE_"))}
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    # As installed: cached bytecode is written once and reused, not recompiled every run.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return {**env, **server.env}


async def run_process(argv: Sequence[str], env: dict[str, str], cwd: str) -> tuple[float, str]:
    """Wall time of the process, spawn to exit, and its stderr."""
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        _out, err = await asyncio.wait_for(proc.communicate(), 60)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise BenchFailure(f"{argv[0]} did not finish within 60s") from None
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise BenchFailure(f"{argv[0]} exited {proc.returncode}: {err.decode().strip()[-500:]}")
    return elapsed, err.decode()


def import_tree(importtime_log: str, *, min_ms: float = 5.0, max_depth: int = 3) -> list[str]:
    """The costly part of ``-X importtime`` output: cumulative ms, indented by nesting.

    Python prints a module after the modules it imported, so parents follow children.
    """
    lines = []
    for match in _IMPORT_LINE.finditer(importtime_log):
        self_us, cumulative_us, indent, module = match.groups()
        depth = (len(indent) - 1) // 2
        if depth <= max_depth and int(cumulative_us) >= min_ms * 1000:
            lines.append(
                f"{int(cumulative_us) / 1000:8.1f} ms cumulative {int(self_us) / 1000:6.1f} ms self"
                f"  {'  ' * depth}{module}"
            )
    return lines


def top_level_ms(importtime_log: str) -> float:
    """Milliseconds spent in top-level imports, all of them."""
    return sum(
        int(cumulative) / 1000
        for _self, cumulative, indent, _module in _IMPORT_LINE.findall(importtime_log)
        if len(indent) <= 1
    )


async def show_imports(env: dict[str, str], cwd: str) -> None:
    for name, argv in commands("importtime probe").items():
        _, err = await run_process(argv, {**env, "PYTHONPROFILEIMPORTTIME": "1"}, cwd)
        log(f"{name}: imports take {top_level_ms(err):.0f} ms; those of 5 ms or more:")
        for line in import_tree(err):
            log("    " + line)


async def run(args: argparse.Namespace) -> dict[str, object]:
    if not LIVECUE.exists():
        raise BenchFailure(f"{LIVECUE} is missing: install the project (`make setup`)")
    with (
        LiveKitServer(empty_timeout_s=LISTENER_ROOM_TIMEOUT_S) as server,
        tempfile.TemporaryDirectory(prefix="bench-cli-") as cwd,
    ):
        env = clean_env(server)
        listeners = await Listeners.start(server, [ROOM])
        try:
            baseline, _ = await run_process([sys.executable, "-c", "pass"], env, cwd)
            log(f"a bare `python -c pass` takes {baseline:.3f}s here")
            times: dict[str, list[float]] = {"livecue": [], "seed": [], "help": []}
            for round_ in range(args.runs + 1):  # round 0 warms the page cache
                order = list(times) if round_ % 2 == 0 else list(reversed(times))
                for name in order:
                    if name == "help":
                        elapsed, _ = await run_process([str(LIVECUE), "--help"], env, cwd)
                        log(f"help round {round_}: {elapsed:.3f}s")
                    else:
                        marker = f"cli-{name}-{round_}-{time.time_ns()}"
                        elapsed, _ = await run_process(commands(marker)[name], env, cwd)
                        summary = await listeners.expect_once(marker, name, timeout_s=5.0)
                        log(f"{name} round {round_}: {elapsed:.3f}s ({summary})")
                    if round_ > 0:
                        times[name].append(elapsed)
            if args.importtime:
                await show_imports(env, cwd)
        finally:
            await listeners.close()

    livecue_s, seed_s = median(times["livecue"]), median(times["seed"])
    help_s = median(times["help"])
    log(f"livecue/seed = {livecue_s / seed_s:.2f} (target <= 1)")
    log(f"livecue --help = {help_s:.3f}s (target < 0.1)")
    return {
        "bench": NAME,
        "livecue_s": rounded(livecue_s),
        "seed_s": rounded(seed_s),
        "help_s": rounded(help_s),
    }
