"""voiceguide: turn a written routine into a narrated, hands-free audio session.

    import voiceguide
    session = voiceguide.Session("back-massage", length="15m")
    session.export("massage.mp3", chapters=["vtt"])

Names are loaded on first use (module ``__getattr__``): ``import voiceguide`` loads nothing but
this file, because the console script imports it before every command, and the live player's
time to its first sound includes whatever this file would import.
"""

from __future__ import annotations

from voiceguide.lazy import loader

__version__ = "0.1.0"

_EXPORTS = {
    "Session": "voiceguide.session",
    "Pacing": "voiceguide.compiler",
    "Timeline": "voiceguide.timeline",
    "load_routine": "voiceguide.routine",
    "VoiceguideError": "voiceguide.errors",
    "RoutineError": "voiceguide.errors",
    "PacingError": "voiceguide.errors",
    "ConfigError": "voiceguide.errors",
    "AudioInputError": "voiceguide.errors",
    "VoiceError": "voiceguide.errors",
    "OutputError": "voiceguide.errors",
    "EnvironmentFault": "voiceguide.errors",
    "EngineError": "voiceguide.errors",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


__getattr__ = loader(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
