"""Finding speech in a recording by energy (the voice tests' judge), on made-up frames."""

from __future__ import annotations

import numpy as np

from harness.speech_energy import (
    Frame,
    Utterance,
    frames_of,
    overlap_s,
    speech_length_s,
    utterances,
)

LOUD, QUIET = 5000.0, 3.0


def _frames(pattern: str, *, step: float = 0.01) -> list[Frame]:
    """One 10 ms frame per character: '#' loud, '.' quiet."""
    return [
        Frame(received_at=(n + 1) * step, duration_s=step, rms=LOUD if c == "#" else QUIET)
        for n, c in enumerate(pattern)
    ]


def test_runs_of_loud_frames_are_speech() -> None:
    found = utterances(_frames("....####...."), gap_s=0.05)
    assert len(found) == 1
    assert found[0].start == 0.04 and abs(found[0].end - 0.08) < 1e-9


def test_short_pauses_stay_inside_an_utterance_and_long_ones_split() -> None:
    pattern = "##...##" + "." * 80 + "##"
    found = utterances(_frames(pattern), gap_s=0.5)
    assert len(found) == 2
    assert abs(found[0].end - 0.07) < 1e-9


def test_the_last_utterance_is_open_until_a_gap_follows_it() -> None:
    assert not utterances(_frames("###..."), gap_s=0.5)[-1].closed
    assert utterances(_frames("###" + "." * 60), gap_s=0.5)[-1].closed


def test_silence_is_no_speech() -> None:
    assert utterances(_frames("." * 100)) == []
    assert utterances([]) == []


def test_overlap_counts_only_time_both_sound() -> None:
    a = [Utterance(0.0, 2.0), Utterance(5.0, 6.0)]
    b = [Utterance(1.5, 5.5)]
    assert abs(overlap_s(a, b) - 1.0) < 1e-9
    assert overlap_s(a, [Utterance(2.0, 5.0)]) == 0


def test_pcm_is_measured_frame_by_frame() -> None:
    rate = 16000
    tone = (8000 * np.sin(np.arange(rate // 2) / 5)).astype("<i2").tobytes()
    silence = bytes(rate)  # half a second of zeros
    pcm = silence + tone + silence
    frames = frames_of(pcm, rate)
    assert abs(frames[-1].received_at - 1.5) < 0.011
    assert abs(speech_length_s(pcm, rate) - 0.5) < 0.011
