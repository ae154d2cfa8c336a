"""pyttsx3 as an engine (espeak-ng's library on Linux, SAPI5 on Windows, NSSpeech on macOS).

Everything pyttsx3 gets wrong is handled here or in the workers: it runs only in spawned
workers, one ``save_to_file`` + ``runAndWait`` per clip (several queued jobs keep only the
last); voice, rate and volume are set again before every clip and never read back (the rate
reads back wrong); a voice name is matched against the engine's own list first, because an
unknown name is silently replaced by the default voice.
"""

from __future__ import annotations

import importlib.util
import os
import sys

from voiceguide.tts.interface import Voice, VoiceSettings
from voiceguide.tts.workers import WorkerConfigError, WorkerEngine

#: The espeak driver writes 22,050 Hz on every platform it runs on.
ESPEAK_DRIVER_RATE = 22050

#: How long a clip may take to appear after runAndWait returned, and how often to ask for it.
LATE_CLIP_S = 0.1
SAVE_ATTEMPTS = 4
#: Turns of pyttsx3's loop (with nothing new queued) given to a clip that is late, before saving again.
LATE_TURNS = 3

_LINUX_LIBS = ("libespeak-ng.so.1", "libespeak-ng.so", "libespeak.so.1")


def _wait_whole(paths: list[str], limit_s: float) -> str | None:
    """The first of ``paths`` to hold a whole WAV within ``limit_s`` seconds, or None."""
    import time

    from voiceguide.tts.wav import WavProblem, read_info

    deadline = time.monotonic() + limit_s
    while True:
        for path in paths:
            try:
                read_info(path)
                return path
            except (OSError, WavProblem):
                pass
        if time.monotonic() > deadline:
            return None
        time.sleep(0.001)


def _discard(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _voice_rows(voices) -> list[dict]:
    rows = []
    for v in voices:
        langs = []
        for lang in getattr(v, "languages", None) or []:
            if isinstance(lang, bytes):
                lang = lang.decode("utf-8", "ignore")
            langs.append(str(lang).strip("\x00 \x05"))
        rows.append(
            {
                "id": str(v.id),
                "name": str(getattr(v, "name", "") or ""),
                "language": langs[0] if langs else "",
                "gender": str(getattr(v, "gender", "") or ""),
            }
        )
    return rows


def match_voice(wanted: str, rows: list[dict]) -> str | None:
    """The id of the voice ``wanted`` names: by id, name, id's last part, then language."""
    w = wanted.strip().lower()
    for field in ("id", "name"):
        for r in rows:
            if r[field].lower() == w:
                return r["id"]
    for r in rows:
        if r["id"].lower().rsplit("/", 1)[-1].rsplit("\\", 1)[-1] == w:
            return r["id"]
    for r in rows:
        if r["language"].lower() == w:
            return r["id"]
    return None


def pyttsx3_backend(config: dict):
    """Runs in a worker: make the engine, check the voice, return the per-clip function."""
    import pyttsx3

    from voiceguide.compat.pyttsx3 import shorten_espeak_poll

    engine = pyttsx3.init()
    shorten_espeak_poll()  # the espeak driver's loop: a poll of 1 ms, not 10
    rows = _voice_rows(engine.getProperty("voices"))
    driver = type(getattr(getattr(engine, "proxy", None), "_driver", None)).__name__
    try:
        current = str(engine.getProperty("voice") or "")
    except Exception:  # noqa: BLE001 - a driver without the property: no default to show
        current = ""
    info = {"voices": rows, "driver": driver, "default": current}
    if config.get("describe"):
        return (lambda text, path: None), info
    voice_id = None
    if config.get("voice") is not None:
        voice_id = match_voice(config["voice"], rows)
        if voice_id is None:
            raise WorkerConfigError(
                f"pyttsx3 has no voice {config['voice']!r}; see `voiceguide voices --engine pyttsx3`"
            )
    rate = int(config["rate_wpm"])
    volume = float(config["volume"])

    def speak(text: str, path: str) -> None:
        # runAndWait can return before the clip is written, and now and then (a few in a
        # hundred with two workers busy) the clip never comes: wait a little for a whole
        # file, then ask again, taking whichever attempt's file is whole first.
        targets: list[str] = []
        for attempt in range(SAVE_ATTEMPTS):
            targets.append(path if attempt == 0 else f"{path}.{attempt}.tmp")
            if voice_id is not None:
                engine.setProperty("voice", voice_id)
            engine.setProperty("rate", rate)
            engine.setProperty("volume", volume)
            engine.save_to_file(text, targets[-1])
            engine.runAndWait()
            whole = _wait_whole(targets, LATE_CLIP_S)
            for _ in range(LATE_TURNS):
                if whole is not None:
                    break
                # runAndWait may return before espeak's end of synthesis is handled (the first
                # clip of a worker, every time here); that is handled, and the file written, on
                # the loop's next turn. Saving again instead re-targeted the pending synthesis:
                # its samples, cut, landed in the new file, and a clip at 110 wpm came out at
                # the length of one at 240 (seen in full test runs on a busy machine).
                engine.runAndWait()
                whole = _wait_whole(targets, LATE_CLIP_S)
            if whole is not None:
                if whole != path:
                    os.replace(whole, path)
                for t in targets[1:]:
                    _discard(t)
                return
        raise RuntimeError(f"pyttsx3 finished without writing the clip ({SAVE_ATTEMPTS} times)")

    return speak, info


class Pyttsx3Engine(WorkerEngine):
    name = "pyttsx3"
    install_hint = "install it with: pip install pyttsx3 (on Linux it also needs espeak-ng)"
    backend = pyttsx3_backend

    def __init__(self) -> None:
        self._available: bool | None = None
        self._version: str | None = None
        self._lib = None

    def available(self) -> bool:
        # Only cheap signs here: starting pyttsx3 in this process is what must never happen.
        if self._available is None:
            self._available = importlib.util.find_spec("pyttsx3") is not None and self._driver_present()
        return self._available

    def require(self) -> None:
        if importlib.util.find_spec("pyttsx3") is None:
            from voiceguide.errors import EngineError

            raise EngineError(f"the pyttsx3 speech engine is not installed; {self.install_hint}")
        if not self.available():
            from voiceguide.errors import EngineError

            raise EngineError(
                "pyttsx3 has no speech driver on this system; install espeak-ng "
                "(Debian/Ubuntu: sudo apt-get install espeak-ng)"
            )

    def _driver_present(self) -> bool:
        if sys.platform == "darwin":
            return importlib.util.find_spec("objc") is not None or importlib.util.find_spec("AVFoundation") is not None
        if sys.platform == "win32":
            return importlib.util.find_spec("comtypes") is not None or importlib.util.find_spec("win32com") is not None
        return self._espeak_lib() is not None

    def _espeak_lib(self):
        if self._lib is None:
            import ctypes

            self._lib = False
            for name in _LINUX_LIBS:
                try:
                    self._lib = ctypes.CDLL(name)
                    break
                except OSError:
                    continue
        return self._lib or None

    def version(self) -> str:
        if self._version is None:
            self.require()
            from importlib.metadata import PackageNotFoundError, version

            try:
                own = version("pyttsx3")
            except PackageNotFoundError:  # pragma: no cover - a vendored copy
                own = "unknown"
            parts = [f"pyttsx3 {own}", sys.platform]
            lib = self._espeak_lib() if sys.platform not in ("darwin", "win32") else None
            if lib is not None:
                import ctypes

                # espeak_Info only returns a static string: it starts nothing.
                info = lib.espeak_Info
                info.restype = ctypes.c_char_p
                info.argtypes = [ctypes.c_void_p]
                parts.append("espeak-ng " + (info(None) or b"?").decode("utf-8", "replace"))
            self._version = "; ".join(parts)
        return self._version

    def sample_rate(self, voice: str | None) -> int:
        if sys.platform in ("darwin", "win32"):
            return 0
        return ESPEAK_DRIVER_RATE

    def worker_config(self, settings: VoiceSettings | None, jobs: int = 1) -> dict:
        if settings is None:
            return {"describe": True}
        return {"voice": settings.voice, "rate_wpm": settings.rate_wpm, "volume": settings.volume}

    def knows_voice(self, voice: str) -> bool:
        return self.available() and match_voice(voice, self.describe()["voices"]) is not None

    def voices(self) -> list[Voice]:
        info = self.describe()
        return [
            Voice(
                self.name,
                r["id"],
                r["language"],
                ", ".join(x for x in (r["name"], r["gender"].lower()) if x),
                default=r["id"] == info.get("default"),
            )
            for r in info["voices"]
        ]
