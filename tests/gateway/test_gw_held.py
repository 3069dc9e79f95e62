"""A cue sent before its agent exists waits for it, and LiveKit's webhook releases it."""

from __future__ import annotations

import asyncio
import time

import pytest
from gwkit import applied_counts, live_agent, received_ids, room_name, running_stack, wait_cue

pytestmark = pytest.mark.e2e

JOIN_AFTER_S = 10.0


async def test_cue_for_a_room_whose_agent_joins_10s_later_is_delivered_once_after_the_join() -> (
    None
):
    # the periodic ListParticipants check runs every 60 s: only the webhook can release the cue
    with running_stack(env={"LIVECUE_HELD_CHECK_S": "60"}) as stack:
        room = room_name("late")
        text = "Welcome, your cue waited for you."
        async with stack.client() as c:
            posted_at = time.monotonic()
            r = await c.post(f"/v1/rooms/{room}/cues", json={"kind": "say", "text": text})
            assert r.status_code == 202
            cue_id = r.json()["id"]

            held = await wait_cue(c, cue_id, {"held"}, timeout=5)
            assert held["reason"] == f"room {room!r} does not exist on the LiveKit server"
            await asyncio.sleep(JOIN_AFTER_S - (time.monotonic() - posted_at))
            still = (await c.get(f"/v1/cues/{cue_id}")).json()
            assert still["status"] == "held"
            assert still["attempts"] == 1

            async with live_agent(stack.livekit, room) as (observer, agent):
                joined_at = time.monotonic()
                await observer.wait_for_text(text, timeout=10)
                status = await wait_cue(c, cue_id, timeout=10)
                await observer.quiet_for(1.5)

                assert status["status"] == "delivered"
                assert status["outcome"] == "applied"
                states = [(h["state"], h["reason"]) for h in status["history"]]
                assert [s for s, _ in states[:3]] == ["queued", "sending", "held"]
                assert states[0][1] == "accepted"
                assert (states[1][1] or "").startswith("by gateway instance ")
                assert states[2][1] == f"room {room!r} does not exist on the LiveKit server"
                # released by LiveKit's participant_joined webhook, not the periodic check
                assert states[3] == ("queued", "agent 'agent' joined")
                assert [(h["state"], h["outcome"]) for h in status["history"]][-1] == (
                    "delivered",
                    "applied",
                )
                assert joined_at - posted_at >= JOIN_AFTER_S
                assert received_ids(agent) == [cue_id]
                assert applied_counts(agent) == {cue_id: 1}
                assert sum(text in t for t in observer.texts()) == 1
