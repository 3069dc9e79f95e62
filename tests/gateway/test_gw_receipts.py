"""Every cue to its end: the gateway's record follows a cue at the agent until it is final.

Real processes throughout: livekit-server, ``livecue serve``, and real AgentSessions with no
gateway settings at all — the gateway asks each agent itself (``livecue.status``).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gwkit import Stack, live_agent, post_cue, room_name, running_stack, until, wait_cue

from harness.observer import Observer

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
UNLIMITED = {"LIVECUE_RATE_PER_ROOM": "1000000", "LIVECUE_RATE_PER_KEY": "1000000"}
SLOW = {"word_delay_s": 0.1}
LONG = " ".join(f"word{i}" for i in range(40))  # about 4 s of speech at SLOW


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with running_stack(env=UNLIMITED) as s:
        yield s


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with stack.client() as c:
        yield c


async def status_of(c: httpx.AsyncClient, cue_id: str) -> dict[str, Any]:
    r = await c.get(f"/v1/cues/{cue_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def at_agent(c: httpx.AsyncClient, cue_id: str, outcome: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        body = await status_of(c, cue_id)
        return body if (body["status"], body["outcome"]) == ("at_agent", outcome) else None

    return await until(check, timeout=10, what=f"cue {cue_id} at the agent, {outcome}")


BURST = """
import asyncio, json, sys, time, httpx
url, key, room, n = sys.argv[1:5]
async def main():
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"},
                                 limits=limits, timeout=30) as c:
        await c.get("/healthz")
        started = time.monotonic()
        async def one(i):
            r = await c.post(f"/v1/rooms/{room}/cues",
                             json={"kind": "reply", "text": f"event {i}", "ttl_s": 20})
            r.raise_for_status()
            return r.json()["id"]
        ids = await asyncio.gather(*(one(i) for i in range(int(n))))
        print(json.dumps({"ids": ids, "seconds": time.monotonic() - started}))
asyncio.run(main())
"""


async def burst(stack: Stack, room: str, n: int) -> tuple[list[str], float]:
    """``n`` reply cues to ``room`` from a client process of its own, as fast as it can."""
    args = [sys.executable, "-c", BURST, stack.url, stack.admin_key, room, str(n)]
    done = await asyncio.to_thread(subprocess.run, args, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    return out["ids"], out["seconds"]


async def all_final(c: httpx.AsyncClient, ids: list[str], timeout: float) -> list[dict[str, Any]]:
    """Every cue's record once all are final, asking one at a time (a poller per cue would
    load the machine more than the agent under test)."""
    done: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while len(done) < len(ids):
        for cue_id in [i for i in ids if i not in done]:
            body = await status_of(c, cue_id)
            if body["final"]:
                done[cue_id] = body
        if time.monotonic() > deadline:
            left = Counter((b["status"], b["outcome"]) for b in done.values())
            raise AssertionError(f"{len(ids) - len(done)} cues not final; final ones: {left}")
        await asyncio.sleep(0.3)
    return [done[i] for i in ids]


async def test_a_queued_rpc_cue_ends_applied_with_what_was_said(
    stack: Stack, client: httpx.AsyncClient
) -> None:
    room = room_name("rcpt")
    async with live_agent(stack.livekit, room, **SLOW) as (observer, agent):
        first = await post_cue(client, room, kind="reply", text=LONG)
        await observer.wait_until_saying("word2")
        queued = await post_cue(client, room, kind="say", text="And one more thing.")

        waiting = await at_agent(client, queued, "queued")  # the agent's first answer
        assert waiting["final"] is False
        final = await wait_cue(client, queued, timeout=20)

    assert (final["status"], final["outcome"]) == ("delivered", "applied")
    assert final["receipt"]["said"] == "And one more thing."
    assert final["receipt"]["speech_started_at"] <= final["receipt"]["speech_ended_at"]
    assert [h["outcome"] for h in final["history"] if h["outcome"]] == [
        "queued",
        "started",
        "applied",
    ]
    long_one = await wait_cue(client, first, timeout=10)
    assert long_one["outcome"] == "applied" and "word39" in long_one["receipt"]["said"]
    assert agent.outcomes(queued) == ["started", "applied"]


async def test_coalesced_expired_and_interrupted_cues_each_say_so(
    stack: Stack, client: httpx.AsyncClient
) -> None:
    room = room_name("rcpt")
    async with live_agent(stack.livekit, room, **SLOW) as (observer, agent):
        cut = await post_cue(client, room, kind="reply", text=LONG)
        await observer.wait_until_saying("word2")
        # behind the speech: two replies that merge, and one that cannot wait that long
        merged_a = await post_cue(client, room, kind="reply", text="donation A", coalesce_key="d")
        merged_b = await post_cue(client, room, kind="reply", text="donation B", coalesce_key="d")
        short = await post_cue(client, room, kind="say", text="Too late.", ttl_s=1)
        for cue_id in (merged_a, merged_b, short):
            await at_agent(client, cue_id, "queued")
        await asyncio.sleep(1.2)  # the short one's life runs out while the speech goes on
        stop = await post_cue(client, room, kind="interrupt")

        records = {
            name: await wait_cue(client, cue_id, timeout=20)
            for name, cue_id in {
                "cut": cut,
                "a": merged_a,
                "b": merged_b,
                "short": short,
                "stop": stop,
            }.items()
        }

    assert (records["cut"]["status"], records["cut"]["outcome"]) == ("delivered", "interrupted")
    said = records["cut"]["receipt"]["said"]
    assert "word2" in said and "word39" not in said  # as far as it got
    assert records["cut"]["reason"] == "its speech was cut off"
    assert records["stop"]["outcome"] == "applied"
    assert (records["short"]["status"], records["short"]["outcome"]) == ("expired", "expired")
    assert records["short"]["reason"] == "it expired while waiting"
    # the two merged replies: one turn, the second names the first
    assert records["a"]["outcome"] == "applied"
    assert records["b"]["outcome"] == "coalesced"
    assert records["b"]["receipt"]["merged_into"] == merged_a
    assert records["b"]["receipt"]["said"] == records["a"]["receipt"]["said"]
    assert "donation A" in records["a"]["receipt"]["said"]
    assert "donation B" in records["a"]["receipt"]["said"]
    # and the agent's own account agrees, cue by cue
    for name, cue_id in (("cut", cut), ("a", merged_a), ("b", merged_b), ("short", short)):
        assert agent.outcomes(cue_id)[-1] == records[name]["outcome"]


async def test_a_burst_of_200_queue_cues_ends_as_the_agent_says(
    stack: Stack, client: httpx.AsyncClient
) -> None:
    room = room_name("burst")
    async with live_agent(stack.livekit, room, word_delay_s=0.02) as (observer, agent):
        await post_cue(client, room, kind="reply", text=LONG)  # speaking while the burst lands
        await observer.wait_until_saying("word1")
        ids, burst_s = await burst(stack, room, 200)
        finals = await all_final(client, ids, timeout=60)

        agent_finals = Counter(
            e.outcome.status
            for e in agent.events
            if e.type in ("cue_applied", "cue_dropped") and e.outcome.cue_id in set(ids)
        )
        turns = len(agent.llm.requests) - 1  # less the first, long reply
    records = Counter(f["outcome"] for f in finals)
    states = Counter(f["status"] for f in finals)
    print(
        f"burst of 200 in {burst_s:.2f} s: {turns} turns; records {dict(records)} "
        f"{dict(states)}; the agent reported {dict(agent_finals)}"
    )
    assert records == agent_finals
    assert sum(records.values()) == 200
    assert set(records) <= {"applied", "coalesced", "expired"}
    assert records["applied"] == turns  # one leading cue per turn, the rest merged into it
    assert all(f["final"] for f in finals)


async def test_agent_name_on_the_data_transport_reaches_that_agent_only(
    stack: Stack, client: httpx.AsyncClient
) -> None:
    room = room_name("named")
    async with (
        live_agent(stack.livekit, room, identity="agent-alpha", agent_name="alpha") as (obs, a),
        live_agent(
            stack.livekit, room, identity="agent-beta", agent_name="beta", observer=False
        ) as (_, b),
    ):
        cue_id = await post_cue(
            client, room, kind="context", text="for beta", transport="data", agent_name="beta"
        )
        final = await wait_cue(client, cue_id, timeout=15)
        await asyncio.sleep(0.5)  # a packet to alpha would have arrived by now
        assert (final["status"], final["outcome"], final["agent"]) == (
            "delivered",
            "applied",
            "agent-beta",
        )
        assert [e.cue.id for e in b.events if e.type == "cue_received"] == [cue_id]
        assert [e for e in a.events if e.type == "cue_received"] == []
        del obs


# -- an agent killed with cues in hand ---------------------------------------------------------


class AgentProcess:
    """A real agent in its own process, reporting its livecue events as JSON lines."""

    def __init__(self, stack: Stack, room: str, identity: str, word_delay_s: float) -> None:
        env = {
            **os.environ,
            **stack.livekit.env,
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT}/examples",
        }
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "harness.agent_process", "--room", room,
                "--identity", identity, "--word-delay", str(word_delay_s),
            ],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        self.events: list[dict[str, Any]] = []

    async def ready(self, timeout: float = 30.0) -> None:
        await until(self._read_ready, timeout=timeout, what="the agent process to be ready")

    async def _read_ready(self) -> bool:
        line = await asyncio.to_thread(self.proc.stdout.readline)  # type: ignore[union-attr]
        if not line:
            raise AssertionError(f"the agent process exited with {self.proc.poll()}")
        self.events.append(json.loads(line))
        return self.events[-1]["event"] == "ready"

    def kill(self) -> None:
        self.proc.kill()  # SIGKILL
        self.proc.wait()
        rest = self.proc.stdout.read() if self.proc.stdout else ""
        self.events += [json.loads(line) for line in rest.splitlines() if line.strip()]

    def statuses(self, cue_id: str) -> list[str]:
        return [e["status"] for e in self.events if e.get("cue_id") == cue_id and e["status"]]


async def test_cues_of_an_agent_killed_before_acting_go_to_the_next_agent_once(
    stack: Stack, client: httpx.AsyncClient
) -> None:
    room = room_name("kill")
    observer = await Observer.join(stack.livekit, room)
    first = AgentProcess(stack, room, "agent-first", word_delay_s=0.15)
    try:
        await first.ready()
        speaking = await post_cue(client, room, kind="reply", text=LONG)
        await observer.wait_until_saying("word2")
        waiting = [await post_cue(client, room, kind="say", text=f"Queued {n}.") for n in range(3)]
        for cue_id in waiting:
            await at_agent(client, cue_id, "queued")
        await at_agent(client, speaking, "started")

        first.kill()  # kill -9 with one cue half spoken and three waiting
        killed_at = time.monotonic()

        async def handed_back() -> list[dict[str, Any]] | None:
            states = [await status_of(client, i) for i in waiting]
            return states if all(s["status"] in ("queued", "held") for s in states) else None

        back = await until(handed_back, timeout=60, what="the gateway to take the cues back")
        detected_s = time.monotonic() - killed_at
        for record in back:  # queued again, then held until an agent comes
            reasons = [h["reason"] or "" for h in record["history"]]
            assert any("'agent-first' left before acting on it" in r for r in reasons), reasons
        cut = await wait_cue(client, speaking, timeout=10)
        assert (cut["status"], cut["outcome"]) == ("delivered", "interrupted")
        assert cut["reason"] == "the agent 'agent-first' left while acting on it"

        async with live_agent(stack.livekit, room, identity="agent-next", observer=False) as (
            _,
            second,
        ):
            finals = [await wait_cue(client, i, timeout=30) for i in waiting]
            for n in range(3):
                await observer.wait_for_text(f"Queued {n}.", timeout=15)
            await observer.quiet_for(1.0)

            assert [(f["status"], f["outcome"], f["agent"]) for f in finals] == [
                ("delivered", "applied", "agent-next")
            ] * 3
            # each acted on once, by the new agent; the cue acted on before is never resent
            received = [e.cue.id for e in second.events if e.type == "cue_received"]
            assert sorted(received) == sorted(waiting)  # sent in parallel: in any order
            for cue_id in waiting:
                assert second.outcomes(cue_id) == ["started", "applied"]
                assert "started" not in first.statuses(cue_id)
            assert sum(f"Queued {n}." in t for n in range(3) for t in observer.texts()) == 3
        print(f"agent kill -9 noticed by the gateway after {detected_s:.1f} s")
    finally:
        if first.proc.poll() is None:
            first.kill()
        await observer.leave()
