"""The voice figures, measured from recorded audio: how fast ``interrupt`` silences the
agent, how long ``queue`` leaves the floor, and what the response window must cover.

One voice session (espeak-ng voice, silero VAD, a talking user, a hidden recorder —
the voice tests' harness) in a room of a local server; each figure is taken over
``--runs`` repetitions:

- ``interrupt_stop``: an ``interrupt`` cue sent (before its RPC call) → the last of the
  agent's audio in the recording;
- ``user_gap``: a ``queue`` cue sent while the user speaks; the end of the user's
  speech → the start of the cue's speech. The agent answers the user's turn first
  (``reply_gap``: the end of the user's speech → the agent's answer), then the
  response window passes, then the cue speaks;
- ``answer_detected``: the agent asks, the user answers half a second after hearing
  the end of the question; the agent's speech ending (its state leaving "speaking")
  → the agent's VAD noticing the answer (its user state becoming "speaking"). The
  response window must be longer than this;
- ``vad_start``: the user's speech in the recording → the agent's user state "speaking".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from pathlib import Path
from typing import Any

from ._common import log, median, percentile, use_examples

NAME = "voice"
HELP = "interrupt stop time, queue gaps and the response window, from recorded audio"

ROOM = "bench-voice"
ANSWER = "Yes please, send the receipt to my email address."
QUESTION = "Would you like a receipt for your donation today?"
CUE = "A new donation of fifty dollars has arrived."
ANSWER_DELAY_S = 0.5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=10, help="repetitions of each figure")


def _stats(name: str, values: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    log(f"{name}: p50 {median(ms):.0f} ms, max {max(ms):.0f} ms over {len(ms)} runs: {ms}")
    return {
        f"{name}_p50_ms": round(median(ms)),
        f"{name}_p90_ms": round(percentile(ms, 90)),
        f"{name}_max_ms": round(max(ms)),
    }


async def _quiet(recorder: Any, agent: Any, seconds: float = 1.5) -> None:
    """Until nobody has made a sound for ``seconds`` and the agent is idle."""
    from harness.voice import until

    def settled() -> bool:
        last = [us[-1].end for who in ("agent", "user") if (us := recorder.utterances(who))] or [
            0.0
        ]
        return (
            time.monotonic() - max(last) > seconds
            and agent.session.agent_state == "listening"
            and agent.cues.pending == 0
        )

    await until(settled, "a quiet room", timeout=60)


async def _interrupt_stops(agent: Any, recorder: Any, sender: Any, runs: int) -> list[float]:
    from harness.voice import long_speech_under_way
    from livecue import new_cue

    stops = []
    for run in range(runs):
        await _quiet(recorder, agent)
        _, began = await long_speech_under_way(sender, recorder, ROOM, heard_s=1.5)
        sent = time.monotonic()
        await sender.send(ROOM, new_cue("interrupt"))
        heard = await recorder.wait_for_end("agent", after=began, quiet_s=1.0)
        stops.append(heard.end - sent)
        log(f"interrupt {run + 1}: audio stopped {1000 * (heard.end - sent):.0f} ms after the send")
    return stops


def _note_times(log_: list[tuple[float, str]], what: str, after: float) -> list[float]:
    return [t for t, note in log_ if note == what and t >= after]


async def _user_gaps(
    agent: Any, user: Any, recorder: Any, sender: Any, clips: Path, runs: int
) -> tuple[list[float], list[float], list[float]]:
    from harness.voice import timeline, user_clip, wait_for_note
    from livecue import new_cue

    gaps, replies, vad_starts = [], [], []
    notes = timeline(agent)
    for run in range(runs):
        await _quiet(recorder, agent)
        began = time.monotonic()
        user.start_saying(user_clip(ANSWER, clips))
        detected = await _first_note(notes, "user speaking", began)
        result = await sender.send(ROOM, new_cue("say", CUE))
        started = await wait_for_note(notes, f"cue {result.cue_id} started", timeout=30)
        said = await recorder.wait_for_speech("agent", after=started)
        speech = next(u for u in recorder.utterances("user") if u.start >= began - 0.05)
        reply = await recorder.wait_for_speech("agent", after=speech.end)
        gaps.append(said.start - speech.end)
        replies.append(reply.start - speech.end)
        vad_starts.append(detected - speech.start)
        log(
            f"user gap {run + 1}: cue's speech {1000 * (said.start - speech.end):.0f} ms after "
            f"the user's; VAD heard the user {1000 * (detected - speech.start):.0f} ms in"
        )
    return gaps, replies, vad_starts


async def _answers_detected(
    agent: Any, user: Any, recorder: Any, sender: Any, clips: Path, runs: int
) -> list[float]:
    from harness.voice import timeline, user_clip
    from livecue import new_cue

    detected_after = []
    notes = timeline(agent)
    for run in range(runs):
        await _quiet(recorder, agent)
        began = time.monotonic()
        await sender.send(ROOM, new_cue("say", QUESTION))
        question = await recorder.wait_for_end("agent", after=began, quiet_s=0.3)
        await asyncio.sleep(max(0.0, question.end + ANSWER_DELAY_S - time.monotonic()))
        user.start_saying(user_clip(ANSWER, clips))
        heard = await _first_note(notes, "user speaking", question.end)
        stopped = max(_note_times(notes, "agent listening", began))
        detected_after.append(heard - stopped)
        log(
            f"answer {run + 1}: the agent stopped speaking, and heard the answer "
            f"{1000 * (heard - stopped):.0f} ms later"
        )
    return detected_after


async def _first_note(notes: list[tuple[float, str]], what: str, after: float) -> float:
    from harness.voice import until

    await until(lambda: bool(_note_times(notes, what, after)), what, timeout=10)
    return min(_note_times(notes, what, after))


async def run(args: argparse.Namespace) -> dict[str, object]:
    use_examples()
    from espeak_tts import EspeakTTS
    from harness.agent import start_agent
    from harness.livekit_server import LiveKitServer
    from harness.recorder import Recorder
    from harness.voice import shared_vad, wait_until_hearing
    from harness.voice_user import VoiceUser
    from livecue import Credentials, CueSender

    with LiveKitServer() as server, tempfile.TemporaryDirectory(prefix="bench-voice-") as tmp:
        async with contextlib.AsyncExitStack() as stack:
            recorder = await Recorder.join(server, ROOM)
            stack.push_async_callback(recorder.leave)
            user = await VoiceUser.join(server, ROOM)
            stack.push_async_callback(user.leave)
            # no turn limit in the way: thirty cue-driven turns follow each other here
            agent = await start_agent(
                server, ROOM, tts=EspeakTTS(), vad=shared_vad(), max_turns_per_minute=1000
            )
            stack.push_async_callback(agent.stop)
            await wait_until_hearing(agent)
            creds = Credentials(server.url, server.api_key, server.api_secret)
            sender = await stack.enter_async_context(CueSender(creds))
            clips = Path(tmp)

            stops = await _interrupt_stops(agent, recorder, sender, args.runs)
            gaps, replies, vad_starts = await _user_gaps(
                agent, user, recorder, sender, clips, args.runs
            )
            answers = await _answers_detected(agent, user, recorder, sender, clips, args.runs)

    result: dict[str, object] = {"bench": NAME, "runs": args.runs}
    result.update(_stats("interrupt_stop", stops))
    result.update(_stats("user_gap", gaps))
    result.update(_stats("reply_gap", replies))
    result.update(_stats("answer_detected", answers))
    result.update(_stats("vad_start", vad_starts))
    return result
