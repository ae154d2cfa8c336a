"""The speech-engine interface: what an engine is, what it is opened with, what it may raise.

It lives apart from the registry in ``engine.py`` because the engine modules subclass these
types while the registry imports the engine modules (lazily, to register the built-ins); with
both in one module that was an import cycle (engine -> espeak -> command -> engine).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from voiceguide.compiler import check_rate  # the one rate rule, shared with Pacing
from voiceguide.errors import EngineError, PacingError


@dataclass(frozen=True)
class VoiceSettings:
    engine: str = "auto"  # auto | pyttsx3 | espeak-ng | piper | any registered name
    voice: str | None = None  # engine-specific voice name; None = the engine's default
    rate_wpm: int = 160
    volume: float = 1.0  # above 0, at most 1

    def __post_init__(self) -> None:
        check_rate(self.rate_wpm)
        # A volume of 0 would make every clip silent, which the clip check rightly rejects.
        if not 0 < float(self.volume) <= 1:
            raise PacingError(f"the volume must be above 0 and at most 1, not {self.volume}")
        if self.voice is not None and not self.voice.strip():
            raise PacingError("the voice name is empty")


@dataclass(frozen=True)
class Voice:
    engine: str
    name: str  # what --voice accepts
    language: str  # e.g. "en-us"; "" when the engine does not say
    description: str  # a human name, gender, quality: whatever the engine offers
    default: bool = False  # the engine speaks with it when no --voice is given


class EngineFailure(EngineError):
    """One attempt at a clip went wrong in a way that may pass: a hang, a crash, bad output.

    The renderer retries such a clip once; ``EngineError`` itself (a missing engine, an
    unknown voice) is never retried.
    """

    def __init__(self, message: str, *, what: str):
        super().__init__(message)
        self.what = what  # "hung", "crashed", "wrote a bad clip": for the one-line summary


class Synth(ABC):
    """An engine opened for one settings; ``render`` may be called from several threads."""

    @abstractmethod
    def render(self, text: str, out: Path, timeout_s: float) -> None:
        """Write a WAV of ``text`` to ``out``, or raise EngineFailure/EngineError.

        Must give up after ``timeout_s`` seconds (killing whatever it started).
        """

    def close(self) -> None:  # noqa: B027 - optional: a synth that starts nothing keeps this
        """Stop whatever the synth started."""

    def __enter__(self) -> Synth:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Engine(ABC):
    #: The registry name (what ``--engine`` accepts).
    name: str = ""
    #: One line telling a user how to get this engine, for the "missing" message.
    install_hint: str = ""

    @abstractmethod
    def available(self) -> bool:
        """Whether the engine is installed; quick and side-effect free (``auto`` asks it)."""

    def require(self) -> None:
        """Raise EngineError saying how to install the engine when it is missing."""
        if not self.available():
            raise EngineError(f"the {self.name} speech engine is not installed; {self.install_hint}")

    @abstractmethod
    def version(self) -> str:
        """Anything that changes how the engine sounds, as text: it goes into the cache key."""

    def sample_rate(self, voice: str | None) -> int:
        """The rate the engine writes for this voice, or 0 when only the clip tells."""
        return 0

    @abstractmethod
    def voices(self) -> list[Voice]:
        """The voices ``--voice`` accepts for this engine."""

    def voice_key(self, voice: str | None, cache_dir: Path | None = None) -> str:
        """The voice as it goes into the cache key (engines add a voice model's digest, and may
        keep what it costs to work out in ``cache_dir``)."""
        return voice or ""

    def knows_voice(self, voice: str) -> bool:
        """Whether ``--voice voice`` names one of this engine's voices (``auto`` asks, in order)."""
        return any(v.name == voice for v in self.voices())

    @abstractmethod
    def open(self, settings: VoiceSettings, jobs: int, timeout_s: float) -> Synth:
        """Start the engine for ``jobs`` clips at a time; EngineError on an unknown voice.

        Starting may take at most ``timeout_s`` seconds (else EngineFailure "hung").
        """
