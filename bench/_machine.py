"""How busy the machine was during a run, and how much of that was someone else.

The benchmark machine is shared: a figure taken while other processes held the
CPUs is not comparable with one taken on a quiet machine. :class:`CpuWatch`
reads ``/proc`` (Linux) before and after a run and splits the machine's busy
CPU time into this benchmark's process tree (itself, the servers and load
generators it started) and everything else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def load_average() -> str:
    """``uptime``'s three load averages, or ``?`` where the system has none."""
    try:
        return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "?"


def _machine_busy_s() -> float | None:
    """Busy CPU seconds of all CPUs since boot (everything but idle and iowait)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    values = [int(v) for v in fields]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    # guest time is already counted in user/nice
    total = sum(values[:8])
    return (total - idle) / _TICKS


def _stat(pid: int | str) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces: split after its closing parenthesis
    return text[text.rindex(")") + 2 :].split()


def _tree_cpu_s(root: int) -> float:
    """CPU seconds of ``root`` and its live descendants, with the children they reaped."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(entry.name)
        if fields is None:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        # utime, stime, cutime, cstime (fields 14-17; here shifted by the two skipped)
        times[pid] = sum(int(v) for v in fields[11:15]) / _TICKS
    total = 0.0
    for pid, cpu in times.items():
        p = pid
        while p > 1:
            if p == root:
                total += cpu
                break
            p = parents.get(p, 0)
    return total


@dataclass
class CpuShare:
    seconds: float
    machine_busy_s: float
    ours_s: float
    cpus: int

    @property
    def others_s(self) -> float:
        return max(0.0, self.machine_busy_s - self.ours_s)

    def describe(self) -> str:
        capacity = self.seconds * self.cpus
        return (
            f"over {self.seconds:.1f} s the {self.cpus} CPUs were "
            f"{100 * self.machine_busy_s / capacity:.0f}% busy: this benchmark "
            f"{100 * self.ours_s / capacity:.0f}%, other processes "
            f"{100 * self.others_s / capacity:.0f}% (load average {load_average()})"
        )


class CpuWatch:
    """``start()`` then ``stop()``: the machine's busy CPU time, split into ours and others'."""

    def __init__(self) -> None:
        self._start: tuple[float, float, float] | None = None

    def start(self) -> CpuWatch:
        self._start = self._sample()
        return self

    def stop(self) -> CpuShare | None:
        if self._start is None:
            return None
        end = self._sample()
        if end[1] < 0 or self._start[1] < 0:
            return None
        return CpuShare(
            seconds=end[0] - self._start[0],
            machine_busy_s=end[1] - self._start[1],
            ours_s=end[2] - self._start[2],
            cpus=os.cpu_count() or 1,
        )

    @staticmethod
    def _sample() -> tuple[float, float, float]:
        import time

        busy = _machine_busy_s()
        if busy is None:
            return time.monotonic(), -1.0, 0.0
        return time.monotonic(), busy, _tree_cpu_s(os.getpid())


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system, all threads) ``pid`` has used so far."""
    fields = _stat(pid)
    if fields is None:
        return None
    return sum(int(v) for v in fields[11:13]) / _TICKS


def child_pid(*words: str) -> int | None:
    """A child of this process whose command line holds all of ``words``."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(entry.name)
        if fields is None or int(fields[1]) != me:
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if all(w.encode() in argv for w in words):
            return int(entry.name)
    return None
