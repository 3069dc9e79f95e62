"""Cues accepted per second by one gateway on SQLite, under a steady HTTP load.

A real ``livecue serve`` (against a real livekit-server) takes ``POST
/v1/rooms/{room}/cues`` from ``wrk``: 16 kept-alive connections over 2 threads,
each request a ``context`` cue with its own text, spread over 50 rooms. A 202
means the cue is committed to SQLite, so accepted is durable: after the run the
gateway is stopped and the rows in its database are counted, and there must be
at least as many as wrk counted 202s. The rooms have no agent, so the
dispatcher claims each cue, finds no agent and holds it, writing to the same
database while the load runs — as it would for real.

``cues_per_s`` is wrk's successful responses over its measured duration;
``accept_p99_ms`` is the 99th percentile of its request latency (connect
excluded: connections are kept alive). Any non-2xx response fails the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from harness.gateway import GatewayProcess
from harness.livekit_server import LiveKitServer

from . import _gateway_trace
from ._common import BenchFailure, gateway_env, log, rounded
from ._machine import CpuWatch, child_pid, load_average, process_cpu_s

NAME = "ingest"
HELP = "cues accepted per second (durably, in SQLite) by one gateway under a wrk HTTP load"

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
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=3.0, help="untimed seconds of load first")
    parser.add_argument("--connections", type=int, default=16, help="kept-alive connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--rooms", type=int, default=50, help="rooms the cues are spread over")
    parser.add_argument(
        "--trace",
        action="store_true",
        help="timestamp the gateway's store calls and print how its store thread spent the run",
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


def count_stored(db: str) -> dict[str, int]:
    """Cues per state, read from the database file alone (read-only, after the gateway stopped)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT state, COUNT(*) FROM cues GROUP BY state").fetchall()
    finally:
        conn.close()
    return {state: n for state, n in rows}


async def _probe(gateway: GatewayProcess, key: str) -> None:
    """One request by hand, so a wrong key or body fails with the gateway's own words."""
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
        for _ in range(100):
            ready = await client.get("/readyz")
            if ready.status_code == 200:
                break
            await asyncio.sleep(0.1)
        else:
            raise BenchFailure(f"the gateway never became ready: {ready.text}")
        response = await client.post(
            "/v1/rooms/ingest-probe/cues",
            json={"kind": "context", "text": "ingest probe"},
            headers={"Authorization": f"Bearer {key}"},
        )
    if response.status_code != 202:
        raise BenchFailure(f"probe cue answered {response.status_code}: {response.text}")


async def run(args: argparse.Namespace) -> dict[str, object]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise BenchFailure(f"wrk is not installed: {INSTALL_HINT}")
    log(f"load average before: {load_average()}")
    with (
        LiveKitServer() as server,
        tempfile.TemporaryDirectory(prefix="livecue-ingest-") as tmp,
    ):
        trace_file = Path(tmp) / "gateway-trace.jsonl"
        gateway = GatewayProcess(server, env_extra=gateway_env(trace_file if args.trace else None))
        try:
            key = gateway.create_key("send")
            gateway.start()
            await _probe(gateway, key)
            script = Path(tmp) / "ingest.lua"
            script.write_text(WRK_SCRIPT)
            env = {
                **os.environ,
                "LIVECUE_BENCH_KEY": key,
                "LIVECUE_BENCH_ROOMS": str(args.rooms),
            }
            log(
                f"wrk: {args.connections} connections, {args.threads} threads, "
                f"{args.rooms} rooms; {args.warmup:g} s warm-up, then {args.duration:g} s"
            )
            warm, _ = await run_wrk(
                wrk, gateway.url, script, {**env, "LIVECUE_BENCH_TAG": "warmup"}, args, args.warmup
            )
            log(f"warm-up: {warm.accepted} accepted in {warm.seconds:.2f} s")
            pid = child_pid("serve", "--port", str(gateway.port))
            cpu_before = process_cpu_s(pid) if pid else None
            watch = CpuWatch().start()
            began = time.monotonic()
            timed, report = await run_wrk(
                wrk, gateway.url, script, {**env, "LIVECUE_BENCH_TAG": "timed"}, args, args.duration
            )
            ended = time.monotonic()
            share = watch.stop()
            cpu_after = process_cpu_s(pid) if pid else None
            log("wrk's report:\n" + _strip_summary(report))
            if share is not None:
                log(share.describe())
            if cpu_before is not None and cpu_after is not None and timed.accepted:
                used = cpu_after - cpu_before
                per_cue_ms = 1000 * used / timed.accepted
                log(
                    f"gateway process: {used:.2f} CPU s for {timed.accepted} cues, "
                    f"{per_cue_ms:.3f} ms per cue (at most ~{1000 / per_cue_ms:.0f} cues/s "
                    "on one free core, dispatcher included)"
                )
            log(f"load average after: {load_average()}")
            code = gateway.stop()
            if code not in (0, -15, None):  # uvicorn re-raises SIGTERM after a clean stop
                log(f"gateway exited with {code}:\n{gateway.log_tail()}")
            stored = count_stored(gateway.db)
            if args.trace:
                _gateway_trace.store_report(trace_file, began, ended, log)
        finally:
            gateway.close()

    for run_, what in ((warm, "warm-up"), (timed, "timed run")):
        if run_.non_2xx:
            raise BenchFailure(f"{what}: {run_.non_2xx} responses were not 2xx")
        if any(run_.socket_errors.values()):
            log(f"{what}: socket errors {run_.socket_errors}")
    answered_202 = warm.accepted + timed.accepted + 1  # + the probe
    total = sum(stored.values())
    log(f"202s counted: {answered_202} (warm-up {warm.accepted}, timed {timed.accepted}, probe 1)")
    log(f"cues stored: {total} by state {json.dumps(stored, sort_keys=True)}")
    if total < answered_202:
        raise BenchFailure(f"only {total} cues stored for {answered_202} answered 202")
    per_s = timed.accepted / timed.seconds
    log(f"{per_s:.0f} cues/s accepted, p99 {timed.p99_ms:.2f} ms (target >= 1000 cues/s)")
    return {
        "bench": NAME,
        "cues_per_s": rounded(per_s, 1),
        "accept_p99_ms": rounded(timed.p99_ms, 3),
    }


def _strip_summary(report: str) -> str:
    return "\n".join(line for line in report.splitlines() if not line.startswith("WRK_SUMMARY"))
