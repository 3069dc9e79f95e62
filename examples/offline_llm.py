"""A scripted stand-in for a language model, for running without an API key.

It reads the chat context the way a model would and answers from it: it
repeats the outside events in the latest instructions, mentions the newest
outside context note it has been given, and echoes a user's message.
``word_delay_s`` streams the answer slowly, like a real model, so the agent is
"speaking" for a while.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from livekit.agents import llm
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions

_SINGLE = re.compile(r"\(not said by the user\): (.*)")
_LISTED = re.compile(r"^\d+\. (.*)$", re.MULTILINE)
_NOTE = "Context from outside the conversation (not said by the user): "


def _events(instructions: str) -> list[str]:
    listed = _LISTED.findall(instructions)
    if listed:
        return listed
    single = _SINGLE.search(instructions.split("\n", 1)[0])
    return [single.group(1)] if single else []


def compose_answer(chat_ctx: llm.ChatContext) -> str:
    messages = [m for m in chat_ctx.items if isinstance(m, llm.ChatMessage)]
    notes = [
        (m.text_content or "")[len(_NOTE) :]
        for m in messages
        if m.role == "system" and (m.text_content or "").startswith(_NOTE)
    ]
    last = messages[-1] if messages else None
    parts: list[str] = []
    events = _events(last.text_content or "") if last is not None and last.role == "system" else []
    if events:
        parts.append("Update: " + " | ".join(events) + ".")
    elif last is not None and last.role == "user":
        # a voice session without speech-to-text commits turns without words
        said = (last.text_content or "").strip()
        parts.append(f"You said: {said}." if said else "Sorry, I did not catch that.")
    else:
        parts.append("Hello, how can I help?")
    if notes:
        parts.append(f"(I also know: {notes[-1]})")
    return " ".join(parts)


class OfflineLLM(llm.LLM):
    def __init__(self, *, word_delay_s: float = 0.0) -> None:
        super().__init__()
        self.word_delay_s = word_delay_s
        self.requests: list[llm.ChatContext] = []

    @property
    def model(self) -> str:
        return "offline-scripted"

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[Any] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        **_: Any,
    ) -> llm.LLMStream:
        self.requests.append(chat_ctx.copy())
        return _OfflineStream(
            self,
            compose_answer(chat_ctx),
            chat_ctx=chat_ctx,
            tools=tools or [],
            conn_options=conn_options,
        )


class _OfflineStream(llm.LLMStream):
    def __init__(self, model: OfflineLLM, answer: str, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self._answer = answer
        self._delay = model.word_delay_s

    async def _run(self) -> None:
        for word in self._answer.split(" "):
            self._event_ch.send_nowait(
                llm.ChatChunk(
                    id="offline", delta=llm.ChoiceDelta(role="assistant", content=word + " ")
                )
            )
            if self._delay:
                await asyncio.sleep(self._delay)
