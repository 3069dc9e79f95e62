"""Cues accepted per second, durably, next to the ceiling of the same server on this machine.

wrk drives ``POST /v1/rooms/{room}/cues`` (16 kept-alive connections over 2 threads,
each request a ``context`` cue with its own text, spread over 50 rooms) against:

- ``ceiling``: a bare FastAPI app under the same uvicorn, with the same request shape and
  validation, that stores nothing (``bench/_ceiling_app.py``): what this machine can
  answer at all;
- ``sqlite``: one gateway on SQLite (``synchronous=FULL``: each commit is fsynced before
  the 202);
- ``postgres_x1``: one gateway on PostgreSQL (``synchronous_commit=on``, the default);
- ``postgres_x2``: two gateways on one PostgreSQL, wrk split between them.

A 202 means the cue is committed, so accepted is durable: after each run the gateways
stop and the cues are counted through the store; there must be at least as many as wrk
counted 202s. The rooms have no agent, so the dispatcher claims each cue and holds it,
writing to the same database while the load runs — as it would for real. Group commit
(several requests' cues in one transaction) is how the gateway keeps up.

``cues_per_s`` is wrk's successful responses over its measured duration, ``ratio`` that
over the ceiling; ``accept_p99_ms`` wrk's 99th-percentile latency. Any non-2xx response
fails the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from harness.gateway import GatewayProcess
from harness.livekit_server import LiveKitServer, free_port
from harness.postgres import PostgresServer
from livecue.store import open_store

from . import _gateway_trace
from ._common import ROOT, BenchFailure, gateway_env, log, rounded
from ._machine import load_average

NAME = "ingest"
HELP = "cues accepted per second, durably, on SQLite and PostgreSQL, next to the server's ceiling"

INSTALL_HINT = "run scripts/install-bench-tools.sh (or apt-get install wrk)"

# wrk's Lua: one request per call, a fresh headers table each time (wrk.format stores
# Content-Length in the table it is given, so a shared one would keep the first length).
WRK_SCRIPT = r"""
local key = os.getenv("LIVECUE_BENCH_KEY")
local tag = os.getenv("LIVECUE_BENCH_TAG") or "run"
local rooms = tonumber(os.getenv("LIVECUE_BENCH_ROOMS") or "50")
local threads = {}

function setup(thread)
  thread:set("thread_no", #threads)
  table.insert(threads, thread)
end

local sent = 0

function request()
  sent = sent + 1
  local room = string.format("ingest-%02d", (sent * 7 + thread_no * 13) % rooms)
  local body = string.format(
    '{"kind":"context","text":"ingest %s thread %d cue %d: order %d changed"}',
    tag, thread_no, sent, sent * 31 + thread_no)
  local headers = {
    ["Authorization"] = "Bearer " .. key,
    ["Content-Type"] = "application/json",
  }
  return wrk.format("POST", "/v1/rooms/" .. room .. "/cues", headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_SUMMARY {"duration_us":%d,"requests":%d,"status":%d,"connect":%d,' ..
    '"read":%d,"write":%d,"timeout":%d,"p99_us":%d}\n',
    summary.duration, summary.requests, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(99)))
end
"""

_P99 = re.compile(r"^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s*(\d+)")
_SUMMARY = re.compile(r"^WRK_SUMMARY (\{.*\})$", re.MULTILINE)
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=float, default=8.0, help="measured seconds per target")
    parser.add_argument("--warmup", type=float, default=2.0, help="untimed seconds of load first")
    parser.add_argument("--connections", type=int, default=16, help="kept-alive connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--rooms", type=int, default=50, help="rooms the cues are spread over")
    parser.add_argument(
        "--only",
        choices=("ceiling", "sqlite", "postgres_x1", "postgres_x2"),
        action="append",
        help="run only these targets (repeat; default: all four)",
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="timestamp the SQLite gateway's store calls and print how its store spent the run",
    )


@dataclass(frozen=True)
class WrkRun:
    seconds: float
    requests: int
    non_2xx: int
    socket_errors: dict[str, int]
    p99_ms: float

    @property
    def accepted(self) -> int:
        return self.requests - self.non_2xx


def parse_wrk(output: str) -> WrkRun:
    """wrk's report: counts from the script's ``done()`` line, the 99% from ``--latency``."""
    summary = _SUMMARY.search(output)
    p99 = _P99.search(output)
    if summary is None or p99 is None:
        raise BenchFailure(f"could not read wrk's report:\n{output}")
    data = json.loads(summary.group(1))
    non_2xx = _NON_2XX.search(output)
    status_errors = int(non_2xx.group(1)) if non_2xx else 0
    if status_errors != data["status"]:  # wrk counts the same thing twice: they must agree
        raise BenchFailure(f"wrk's report disagrees with itself on errors:\n{output}")
    return WrkRun(
        seconds=data["duration_us"] / 1e6,
        requests=data["requests"],
        non_2xx=status_errors,
        socket_errors={k: data[k] for k in ("connect", "read", "write", "timeout")},
        p99_ms=float(p99.group(1)) * _UNIT_MS[p99.group(2)],
    )


async def run_wrk(
    wrk: str, url: str, script: Path, env: dict[str, str], args: argparse.Namespace, seconds: float
) -> tuple[WrkRun, str]:
    command = [
        wrk,
        f"--threads={args.threads}",
        f"--connections={args.connections}",
        f"--duration={max(1, round(seconds))}s",
        "--timeout=10s",
        "--latency",
        f"--script={script}",
        url,
    ]
    proc = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise BenchFailure(f"wrk exited with {proc.returncode}:\n{text}")
    return parse_wrk(text), text


async def _probe(url: str, key: str) -> None:
    """One request by hand, so a wrong key or body fails with the server's own words."""
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        for _ in range(200):
            try:
                ready = await client.get("/readyz")
                if ready.status_code in (200, 404):  # the ceiling app has no /readyz
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
        else:
            raise BenchFailure(f"{url} never became ready")
        response = await client.post(
            "/v1/rooms/ingest-probe/cues",
            json={"kind": "context", "text": "ingest probe"},
            headers={"Authorization": f"Bearer {key}"},
        )
    if response.status_code != 202:
        raise BenchFailure(f"probe cue answered {response.status_code}: {response.text}")


async def _load(
    wrk: str, urls: list[str], key: str, args: argparse.Namespace, tmp: Path, label: str
) -> WrkRun:
    """Warm up, then the timed run, with wrk's connections split over ``urls``."""
    script = tmp / "ingest.lua"
    script.write_text(WRK_SCRIPT)
    env = {**os.environ, "LIVECUE_BENCH_KEY": key, "LIVECUE_BENCH_ROOMS": str(args.rooms)}
    share = argparse.Namespace(**vars(args))
    share.connections = max(1, args.connections // len(urls))
    share.threads = max(1, args.threads // len(urls))
    for phase, seconds in (("warmup", args.warmup), ("timed", args.duration)):
        runs = await asyncio.gather(
            *(
                run_wrk(
                    wrk, url, script, {**env, "LIVECUE_BENCH_TAG": f"{label}-{phase}-{n}"},
                    share, seconds,
                )
                for n, url in enumerate(urls)
            )
        )  # fmt: skip
        for run_, _report in runs:
            if run_.non_2xx:
                raise BenchFailure(f"{label} {phase}: {run_.non_2xx} responses were not 2xx")
            if any(run_.socket_errors.values()):
                log(f"{label} {phase}: socket errors {run_.socket_errors}")
        if phase == "timed":
            merged = WrkRun(
                seconds=max(r.seconds for r, _ in runs),
                requests=sum(r.requests for r, _ in runs),
                non_2xx=0,
                socket_errors={},
                p99_ms=max(r.p99_ms for r, _ in runs),
            )
            log(f"{label}: " + _strip_summary(runs[0][1]).strip().splitlines()[-2])
            return merged
        warm_total = sum(r.accepted for r, _ in runs)
        log(f"{label}: warm-up {warm_total} accepted")
    raise AssertionError("unreachable")


async def _ceiling(wrk: str, args: argparse.Namespace, tmp: Path) -> WrkRun:
    port = free_port()
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once, stopped in finally
        [
            sys.executable, "-m", "uvicorn", "bench._ceiling_app:app", "--host", "127.0.0.1",
            "--port", str(port), "--no-access-log", "--log-level", "warning",
        ],
        cwd=ROOT,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        await _probe(url, "none")
        return await _load(wrk, [url], "none", args, tmp, "ceiling")
    finally:
        proc.terminate()
        proc.wait(timeout=20)


async def _gateways(
    wrk: str,
    args: argparse.Namespace,
    tmp: Path,
    server: LiveKitServer,
    db: str,
    count: int,
    label: str,
) -> WrkRun:
    trace = tmp / "gateway-trace.jsonl" if args.trace and db.endswith(".db") else None
    gateways = [GatewayProcess(server, db=db, env_extra=gateway_env(trace)) for _ in range(count)]
    try:
        key = gateways[0].create_key("send")
        for gateway in gateways:
            gateway.start()
        for gateway in gateways:
            await _probe(gateway.url, key)
        began = time.monotonic()
        timed = await _load(wrk, [g.url for g in gateways], key, args, tmp, label)
        ended = time.monotonic()
        for gateway in gateways:
            code = gateway.stop()
            if code not in (0, -15, None):  # uvicorn re-raises SIGTERM after a clean stop
                log(f"gateway exited with {code}:\n{gateway.log_tail()}")
        stored = await _count_stored(db)
        if timed.accepted > stored:
            raise BenchFailure(f"{label}: only {stored} cues stored for {timed.accepted} 202s")
        log(f"{label}: {stored} cues stored (every 202 is there)")
        if trace is not None:
            _gateway_trace.store_report(trace, began, ended, log)
        return timed
    finally:
        for gateway in gateways:
            gateway.close()


async def _count_stored(db: str) -> int:
    store = open_store(db)
    try:
        return sum((await store.count_by_state()).values())
    finally:
        await store.aclose()


async def run(args: argparse.Namespace) -> dict[str, object]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise BenchFailure(f"wrk is not installed: {INSTALL_HINT}")
    targets = args.only or ["ceiling", "sqlite", "postgres_x1", "postgres_x2"]
    log(f"load average before: {load_average()}")
    results: dict[str, WrkRun] = {}
    with (
        LiveKitServer() as server,
        tempfile.TemporaryDirectory(prefix="livecue-ingest-") as tmp_name,
    ):
        tmp = Path(tmp_name)
        postgres = (
            PostgresServer().start() if any(t.startswith("postgres") for t in targets) else None
        )
        try:
            for target in targets:
                if target == "ceiling":
                    results[target] = await _ceiling(wrk, args, tmp)
                elif target == "sqlite":
                    db = str(tmp / "ingest.db")
                    results[target] = await _gateways(wrk, args, tmp, server, db, 1, target)
                else:
                    assert postgres is not None
                    count = 2 if target == "postgres_x2" else 1
                    db = postgres.database()
                    results[target] = await _gateways(wrk, args, tmp, server, db, count, target)
        finally:
            if postgres is not None:
                postgres.stop()
    log(f"load average after: {load_average()}")
    out: dict[str, object] = {"bench": NAME}
    ceiling = results.get("ceiling")
    if ceiling is not None:
        out["ceiling_per_s"] = rounded(ceiling.accepted / ceiling.seconds, 1)
    for target, timed in results.items():
        if target == "ceiling":
            continue
        per_s = timed.accepted / timed.seconds
        entry: dict[str, object] = {
            "cues_per_s": rounded(per_s, 1),
            "accept_p99_ms": rounded(timed.p99_ms, 3),
        }
        if ceiling is not None:
            entry["ratio"] = rounded(per_s / (ceiling.accepted / ceiling.seconds), 3)
        out[target] = entry
    return out


def _strip_summary(report: str) -> str:
    return "\n".join(line for line in report.splitlines() if not line.startswith("WRK_SUMMARY"))
