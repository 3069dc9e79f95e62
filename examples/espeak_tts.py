"""An offline voice: espeak-ng (Debian's package) as a livekit-agents ``tts.TTS``.

It makes the example agent and the voice tests speak real audio without a paid
service. espeak-ng is run once per sentence (the agent's pipeline splits the
model's text into sentences, since this TTS does not stream) and writes a WAV to
stdout, which is handed on as raw 16-bit PCM. :func:`synthesize` gives the same
audio as one buffer, for a test user's speech.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import subprocess
import uuid
import wave
from dataclasses import dataclass
from pathlib import Path

from livekit.agents import APIConnectionError, tts
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions

SAMPLE_RATE = 22050  # espeak-ng's only output rate
DEFAULT_VOICE = "en-us"
DEFAULT_WPM = 175  # espeak-ng's default speed, words per minute


@dataclass(frozen=True)
class Speech:
    """Mono 16-bit PCM at :data:`SAMPLE_RATE`."""

    pcm: bytes
    sample_rate: int = SAMPLE_RATE

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / 2 / self.sample_rate

    def write_wav(self, path: Path) -> Path:
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(self.sample_rate)
            w.writeframes(self.pcm)
        return path

    @classmethod
    def read_wav(cls, path: Path) -> Speech:
        with wave.open(str(path), "rb") as w:
            if (w.getnchannels(), w.getsampwidth()) != (1, 2):
                raise ValueError(f"{path}: not mono 16-bit audio")
            return cls(w.readframes(w.getnframes()), w.getframerate())


def espeak_command(text: str, voice: str, wpm: int) -> list[str]:
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise RuntimeError("espeak-ng is not installed: run `make setup`")
    # "--" so a text starting with "-" is not read as an option
    return [binary, "--stdout", "-v", voice, "-s", str(wpm), "--", text]


def _pcm_from_wav(data: bytes) -> bytes:
    # espeak-ng streams its WAV, so the header's length fields are placeholders;
    # the wave module still reads the frames up to the end of the data.
    with wave.open(io.BytesIO(data)) as w:
        if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, SAMPLE_RATE):
            raise RuntimeError("espeak-ng produced an unexpected audio format")
        return w.readframes(w.getnframes())


def synthesize(text: str, *, voice: str = DEFAULT_VOICE, wpm: int = DEFAULT_WPM) -> Speech:
    """``text`` spoken by espeak-ng, blocking (for test fixtures and scripts)."""
    out = subprocess.run(
        espeak_command(text, voice, wpm), capture_output=True, check=True, timeout=60
    ).stdout
    return Speech(_pcm_from_wav(out))


async def asynthesize(text: str, *, voice: str = DEFAULT_VOICE, wpm: int = DEFAULT_WPM) -> Speech:
    proc = await asyncio.create_subprocess_exec(
        *espeak_command(text, voice, wpm),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await proc.communicate()
    except asyncio.CancelledError:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"espeak-ng exited {proc.returncode}: {err.decode().strip()}")
    return Speech(_pcm_from_wav(out))


class EspeakTTS(tts.TTS):
    """espeak-ng as the agent's voice. Not streaming: the session wraps it in a
    ``tts.StreamAdapter`` that synthesizes sentence by sentence."""

    def __init__(self, *, voice: str = DEFAULT_VOICE, wpm: int = DEFAULT_WPM) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=SAMPLE_RATE,
            num_channels=1,
        )
        self.voice = voice
        self.wpm = wpm

    @property
    def model(self) -> str:
        return "espeak-ng"

    @property
    def provider(self) -> str:
        return "espeak-ng"

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return _EspeakStream(tts=self, input_text=text, conn_options=conn_options)


class _EspeakStream(tts.ChunkedStream):
    def __init__(self, *, tts: EspeakTTS, input_text: str, conn_options: APIConnectOptions):
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._espeak = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        output_emitter.initialize(
            request_id=uuid.uuid4().hex,
            sample_rate=SAMPLE_RATE,
            num_channels=1,
            mime_type="audio/pcm",
        )
        try:
            speech = await asynthesize(
                self.input_text, voice=self._espeak.voice, wpm=self._espeak.wpm
            )
        except (OSError, RuntimeError) as exc:
            raise APIConnectionError(f"espeak-ng failed: {exc}", retryable=False) from exc
        output_emitter.push(speech.pcm)
        output_emitter.flush()
