"""How outside text is put in front of the model: framed as events, never as the user.

The seed wrote cues into the history as a user turn ("System: ..."), which let
outside text speak with the user's voice. Here a reply cue becomes one-off
instructions and a context cue a system note, each saying where it came from.
"""

from __future__ import annotations

from collections.abc import Sequence


def reply_instructions(events: Sequence[str]) -> str:
    if len(events) == 1:
        return (
            "An event from outside the conversation (not said by the user): "
            f"{events[0]}\n"
            "Tell the user about it in your own words, briefly, if it matters to them."
        )
    listed = "\n".join(f"{n}. {text}" for n, text in enumerate(events, 1))
    return (
        f"{len(events)} events from outside the conversation (not said by the user), "
        f"oldest first:\n{listed}\n"
        "Tell the user about them together in one short turn, mentioning each."
    )


def context_note(text: str) -> str:
    return f"Context from outside the conversation (not said by the user): {text}"
