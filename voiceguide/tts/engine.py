"""The one registry every speech engine goes through (the interface itself is in ``interface.py``).

Built-in engines register here exactly like a third-party or test engine would, through
``register_engine(name, factory)``. A factory is called with no arguments and returns an
``Engine``; it must be cheap (no engine start-up), since ``auto`` asks every engine whether it
is available.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from voiceguide.errors import EngineError, PacingError, VoiceError

# The interface types, re-exported: callers and tests have always imported them from here.
from voiceguide.tts.interface import Engine, EngineFailure, Synth, Voice, VoiceSettings

__all__ = [
    "AUTO_ORDER",
    "Engine",
    "EngineFailure",
    "Synth",
    "Voice",
    "VoiceSettings",
    "check_voice",
    "engine_names",
    "get_engine",
    "installed_auto_engines",
    "list_voices",
    "register_engine",
    "resolve_engine",
    "unregister_engine",
]

#: The order ``auto`` tries engines in: the most natural voice first. When the one it picked
#: hangs or crashes, a render falls back along the same order (piper, then pyttsx3, then the
#: espeak-ng command line, which has the fewest moving parts).
AUTO_ORDER = ("piper", "pyttsx3", "espeak-ng")


_registry: dict[str, Callable[[], Engine]] = {}
_instances: dict[str, Engine] = {}
_lock = threading.Lock()


def register_engine(name: str, factory: Callable[[], Engine]) -> None:
    """Make ``name`` usable as ``VoiceSettings.engine``; a later registration replaces one."""
    if not name or name == "auto":
        raise ValueError(f"cannot register an engine named {name!r}")
    with _lock:
        _registry[name] = factory
        _instances.pop(name, None)


def unregister_engine(name: str) -> None:
    """Forget an engine (tests use it to clean up their fakes)."""
    with _lock:
        _registry.pop(name, None)
        _instances.pop(name, None)


def engine_names() -> list[str]:
    _ensure_builtins()
    return list(_registry)


def get_engine(name: str) -> Engine:
    """The engine registered as ``name`` (one instance per process).

    An unknown name is a mistyped flag, so it is a PacingError (exit 2), not a broken engine.
    """
    _ensure_builtins()
    with _lock:
        if name in _instances:
            return _instances[name]
        factory = _registry.get(name)
    if factory is None:
        known = ", ".join(["auto", *_registry])
        raise PacingError(f"unknown speech engine {name!r} (choose from {known})")
    engine = factory()
    with _lock:
        return _instances.setdefault(name, engine)


def installed_auto_engines() -> list[str]:
    """The engines ``auto`` may use, best first, that are installed here."""
    return list(_installed_auto_engines())


def _installed_auto_engines() -> Iterator[str]:
    for name in AUTO_ORDER:
        try:
            engine = get_engine(name)
        except PacingError:
            continue  # a built-in someone unregistered
        if engine.available():
            yield name


def resolve_engine(settings: VoiceSettings) -> str:
    """The engine name ``settings`` means: ``auto`` becomes the best one installed (with a
    ``--voice``, the best one that has that voice)."""
    if settings.engine != "auto":
        get_engine(settings.engine).require()
        return settings.engine
    names = _installed_auto_engines()  # lazily: the first one installed is usually the answer
    first = next(names, None)
    if first is None:
        raise EngineError(
            "no speech engine is installed; install espeak-ng (Debian/Ubuntu: sudo apt-get install espeak-ng)"
        )
    if settings.voice is None:
        return first
    for name in (first, *names):
        if get_engine(name).knows_voice(settings.voice):
            return name
    raise VoiceError(
        f"no installed speech engine has a voice {settings.voice!r}; "
        "see `voiceguide voices` for the names --voice takes"
    )


def check_voice(settings: VoiceSettings) -> None:
    """The voice check ``show`` makes without rendering (render makes it when it opens the engine).

    An unknown engine name is a PacingError and an unknown voice a VoiceError (both exit 2); an
    engine that is not installed has no voices to check against, so it passes here.
    """
    if settings.engine != "auto":
        engine = get_engine(settings.engine)
        if settings.voice is not None and engine.available() and not engine.knows_voice(settings.voice):
            raise VoiceError(
                f"{engine.name} has no voice {settings.voice!r}; see `voiceguide voices --engine {engine.name}`"
            )
        return
    try:
        resolve_engine(settings)
    except EngineError:
        return


def list_voices(engine: str | None = None) -> list[Voice]:
    """Voices of one engine, or of every installed engine when ``engine`` is None or "auto"."""
    if engine is not None and engine != "auto":
        eng = get_engine(engine)
        eng.require()
        return eng.voices()
    out: list[Voice] = []
    names = engine_names()
    # the order auto picks them in first, so the engine that would speak is listed at the top
    for name in sorted(names, key=lambda n: AUTO_ORDER.index(n) if n in AUTO_ORDER else len(AUTO_ORDER)):
        eng = get_engine(name)
        if eng.available():
            out.extend(eng.voices())
    return out


_builtins_done = False


def _ensure_builtins() -> None:
    # The built-ins register lazily so importing this module stays free of engine modules.
    global _builtins_done
    if _builtins_done:
        return
    _builtins_done = True
    from voiceguide.tts import espeak, piper_engine, pyttsx3_engine

    for name, factory in (
        ("espeak-ng", espeak.EspeakEngine),
        ("pyttsx3", pyttsx3_engine.Pyttsx3Engine),
        ("piper", piper_engine.PiperEngine),
    ):
        with _lock:
            _registry.setdefault(name, factory)
