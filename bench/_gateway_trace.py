"""Timestamps at the gateway's stages, for ``python -m bench e2e_latency --trace``.

The gateway under test is a real ``livecue serve`` process. With the variables
from :func:`environment`, Python imports a ``sitecustomize`` that calls
:func:`install`, which wraps the gateway's stage functions (HTTP entry, intake,
SQLite calls on the loop and on the store's thread, dispatcher wake-up and
pass, agent lookup, PerformRpc) to note ``time.monotonic()`` as each starts and
ends. Notes are kept in memory and written when the gateway stops, so tracing
costs about a microsecond per note. ``time.monotonic`` and ``time.perf_counter``
are the same clock (CLOCK_MONOTONIC) across processes on Linux, so the notes
line up with the benchmark's own timestamps.

:func:`report` walks each timed cue's critical path, stage after stage, and
prints the median and 90th percentile of each step.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ._common import median, percentile

ENV = "LIVECUE_BENCH_TRACE"

Note = tuple[float, str, str, str]
"""(monotonic seconds, event, "start" | "end" | "at", key)"""

_notes: list[Note] = []
_lock = threading.Lock()


def environment(trace_file: Path, root: Path) -> dict[str, str]:
    """Variables that make a Python process started with them trace into ``trace_file``."""
    site = trace_file.parent / "trace-site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(
        "import bench._gateway_trace\n\nbench._gateway_trace.install()\n"
    )
    paths = [str(site), str(root)]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    return {"PYTHONPATH": os.pathsep.join(paths), ENV: str(trace_file)}


def _note(event: str, phase: str, key: str = "") -> None:
    _notes.append((time.monotonic(), event, phase, key))  # list.append is atomic


def _flush() -> None:
    path = os.environ.get(ENV)
    if not path:
        return
    with _lock:
        notes = list(_notes)
        _notes.clear()
    with open(path, "a") as out:
        for note in notes:
            out.write(json.dumps(note) + "\n")


def _wrap_async(cls: type, name: str, key: Callable[..., str] | None = None) -> None:
    original = getattr(cls, name)

    @functools.wraps(original)
    async def traced(*args: Any, **kwargs: Any) -> Any:
        k = key(*args, **kwargs) if key else ""
        _note(name, "start", k)
        try:
            return await original(*args, **kwargs)
        finally:
            _note(name, "end", k)

    setattr(cls, name, traced)


def _wrap_sync(cls: type, name: str) -> None:
    original = getattr(cls, name)

    @functools.wraps(original)
    def traced(*args: Any, **kwargs: Any) -> Any:
        _note(name, "at")
        return original(*args, **kwargs)

    setattr(cls, name, traced)


def install() -> None:
    """Wrap the gateway's stages. Does nothing unless ``LIVECUE_BENCH_TRACE`` is set."""
    if not os.environ.get(ENV):
        return
    from livecue._livekit import LiveKitRooms
    from livecue._perform_rpc import PerformRpc
    from livecue.gateway.middleware import BodyLimit
    from livecue.gateway.runtime import Gateway
    from livecue.gateway.services.dispatcher import Dispatcher
    from livecue.gateway.services.intake import Intake
    from livecue.store._sql import SQLStore
    from livecue.store.sqlite import _Connection

    original_call = BodyLimit.__call__

    async def http(self: Any, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await original_call(self, scope, receive, send)
            return
        path = f"{scope['method']} {scope['path']}"

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                _note("response", "start", path)
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                _note("response", "end", path)

        _note("http", "start", path)
        await original_call(self, scope, receive, sending)

    BodyLimit.__call__ = http  # type: ignore[method-assign]

    original_db_call = _Connection._call

    def db(self: Any, fn: Callable[..., Any]) -> Any:
        # one statement (or BEGIN/COMMIT) on a SQLite connection's own thread
        _note("db", "start")
        try:
            return original_db_call(self, fn)
        finally:
            _note("db", "end")

    _Connection._call = db  # type: ignore[method-assign]

    _wrap_async(Intake, "accept", lambda _self, room, cue, **_: cue.id)
    _wrap_async(SQLStore, "insert_checked")
    _wrap_async(SQLStore, "set_state", lambda _self, cue_id, *_a, **_k: cue_id)
    for name in ("expire_due", "claim_due", "count_by_state", "next_due_at", "get_cue"):
        _wrap_async(SQLStore, name)
    _wrap_sync(Dispatcher, "wake")
    _wrap_async(Dispatcher, "_tick")
    _wrap_async(Dispatcher, "_deliver", lambda _self, record: record.id)
    _wrap_async(LiveKitRooms, "participants", lambda _self, room: room)
    _wrap_async(PerformRpc, "__call__")

    original_stop = Gateway.stop

    async def stop(self: Any) -> None:
        try:
            await original_stop(self)
        finally:
            _flush()

    Gateway.stop = stop  # type: ignore[method-assign]


# The critical path of one cue, POST to cue_received: (label, event, phase, keyed by cue id).
# Each step is the first note of its kind after the previous step.
CRITICAL_PATH: list[tuple[str, str, str, bool]] = [
    ("HTTP: client send -> ASGI app entry", "http", "start", False),
    ("HTTP: entry -> Intake.accept (auth, pydantic, routing)", "accept", "start", True),
    (
        "Intake.accept -> the store's insert_checked (group commit)",
        "insert_checked",
        "start",
        False,
    ),
    ("insert_checked: the transaction", "insert_checked", "end", False),
    ("insert_checked returned -> Dispatcher.wake()", "wake", "at", False),
    ("wake() -> Dispatcher._tick starts", "_tick", "start", False),
    ("_tick: expire_due (store round trip)", "expire_due", "end", False),
    ("_tick: claim_due (store round trip)", "claim_due", "end", False),
    ("claim_due -> Dispatcher._deliver starts", "_deliver", "start", True),
    ("_deliver -> ListParticipants starts", "participants", "start", False),
    ("ListParticipants (agent lookup, HTTP to LiveKit)", "participants", "end", False),
    ("ListParticipants -> PerformRpc starts", "__call__", "start", False),
]
FINAL_STEP = "PerformRpc -> agent's cue_received (LiveKit + agent SDK)"

# Off the critical path, from the cue's insert: when the 202 went out.
SIDE_STEPS: list[tuple[str, str, str, str]] = [
    ("wake() -> 202 written (response body sent)", "wake", "response", "end"),
]


def _load(trace_file: Path) -> list[Note]:
    if not trace_file.exists():
        return []
    notes: list[Note] = []
    for line in trace_file.read_text().splitlines():
        if line:
            t, event, phase, key = json.loads(line)
            notes.append((float(t), str(event), str(phase), str(key)))
    return sorted(notes)


def _first(
    notes: Sequence[Note], after: float, until: float, event: str, phase: str, key: str | None
) -> float | None:
    for t, e, p, k in notes:
        if t < after:
            continue
        if t > until:
            return None
        if e == event and p == phase and (key is None or k == key):
            return t
    return None


def report(
    trace_file: Path,
    sent: Sequence[tuple[str, float, float, float]],
    log: Callable[[str], None],
) -> None:
    """Print each critical-path step's median and p90 over the timed gateway cues."""
    notes = _load(trace_file)
    if not notes:
        log(f"trace: no notes in {trace_file} (did the gateway stop cleanly?)")
        return
    import bisect

    times = [n[0] for n in notes]
    steps: dict[str, list[float]] = {label: [] for label, *_ in CRITICAL_PATH}
    steps[FINAL_STEP] = []
    side: dict[str, list[float]] = {label: [] for label, *_ in SIDE_STEPS}
    client_202: list[float] = []
    complete = 0
    for cue_id, start, accepted, arrived in sent:
        lo = bisect.bisect_left(times, start)
        hi = bisect.bisect_right(times, arrived + 1.0)
        window = notes[lo:hi]
        previous = start
        found: dict[str, float] = {}
        ok = True
        for label, event, phase, keyed in CRITICAL_PATH:
            t = _first(window, previous, arrived + 1.0, event, phase, cue_id if keyed else None)
            if t is None:
                ok = False
                break
            steps[label].append(t - previous)
            found[event + ":" + phase] = t
            previous = t
        if not ok:
            continue
        complete += 1
        steps[FINAL_STEP].append(arrived - previous)
        client_202.append(accepted - start)
        for label, after_event, event, phase in SIDE_STEPS:
            base = found.get(after_event + ":at")
            if base is not None:
                t = _first(window, base, arrived + 1.0, event, phase, None)
                if t is not None:
                    side[label].append(t - base)
    log(f"trace: the gateway's critical path over {complete} of {len(sent)} timed cues (ms)")
    log(f"  {'step':<58} {'p50':>8} {'p90':>8}")
    total = 0.0
    for label, values in steps.items():
        if values:
            ms = [v * 1000 for v in values]
            total += median(ms)
            log(f"  {label:<58} {median(ms):8.3f} {percentile(ms, 90):8.3f}")
    log(f"  {'sum of the medians':<58} {total:8.3f}")
    for label, values in side.items():
        if values:
            ms = [v * 1000 for v in values]
            log(f"  (side) {label:<51} {median(ms):8.3f} {percentile(ms, 90):8.3f}")
    if client_202:
        ms = [v * 1000 for v in client_202]
        label = "client: POST sent -> 202 read"
        log(f"  (side) {label:<51} {median(ms):8.3f} {percentile(ms, 90):8.3f}")


_STORE_METHODS = {
    "insert_checked",
    "set_state",
    "expire_due",
    "claim_due",
    "count_by_state",
    "next_due_at",
    "get_cue",
}


def store_report(trace_file: Path, start: float, end: float, log: Callable[[str], None]) -> None:
    """How the store spent ``start``..``end``: its database threads' busy time, and each
    store method's calls and duration; dispatcher passes."""
    notes = [n for n in _load(trace_file) if start <= n[0] <= end]
    if not notes:
        log(f"trace: no notes in {trace_file} (did the gateway stop cleanly?)")
        return
    busy: dict[str, list[float]] = {}
    opened: dict[str, list[float]] = {}
    thread_busy = 0.0
    db_open: list[float] = []
    ticks = 0
    for t, event, phase, _key in notes:
        if event == "_tick" and phase == "start":
            ticks += 1
        if event == "db":
            if phase == "start":
                db_open.append(t)
            elif db_open:
                thread_busy += t - db_open.pop()
            continue
        if event not in _STORE_METHODS:
            continue
        if phase == "start":
            opened.setdefault(event, []).append(t)
        elif opened.get(event):
            busy.setdefault(event, []).append(t - opened[event].pop(0))
    seconds = end - start
    log(
        f"trace: over {seconds:.1f} s the store's database threads were busy {thread_busy:.2f} s "
        f"({100 * thread_busy / seconds:.0f}%); {ticks} dispatcher passes ({ticks / seconds:.0f}/s)"
    )
    log(f"  {'store method':<22} {'calls':>8} {'calls/s':>8} {'mean ms':>8} {'time %':>7}")
    for name, values in sorted(busy.items(), key=lambda kv: -sum(kv[1])):
        log(
            f"  {name:<22} {len(values):8d} {len(values) / seconds:8.0f} "
            f"{1000 * sum(values) / len(values):8.3f} {100 * sum(values) / seconds:7.1f}"
        )
