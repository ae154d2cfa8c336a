"""The espeak-ng command line as an engine: always there on Linux, fast, and the fallback."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections import Counter
from pathlib import Path

from voiceguide.errors import EngineError, VoiceError
from voiceguide.tts.command import CommandEngine, last_line
from voiceguide.tts.interface import Voice, VoiceSettings

#: espeak-ng always writes 22,050 Hz mono 16-bit.
ESPEAK_RATE = 22050


def amplitude(volume: float) -> int:
    """espeak-ng's -a runs 0-200 with 100 as its normal loudness; our volume 1.0 is that normal."""
    return max(1, round(volume * 100))


def parse_voices(listing: str, engine: str = "espeak-ng", default_file: str = "") -> list[Voice]:
    """Voices from ``espeak-ng --voices``: the language code names a voice when it is unique;
    the one whose file is ``default_file`` is marked as the default."""
    rows = []
    for line in listing.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 5:
            continue
        _, lang, age_gender, human, file_id = parts[:5]
        gender = {"M": "male", "F": "female"}.get(age_gender.rpartition("/")[2], "")
        rows.append((lang, file_id, human.replace("_", " "), gender))
    seen = Counter(lang for lang, *_ in rows)
    return [
        Voice(
            engine,
            lang if seen[lang] == 1 else file_id,
            lang,
            ", ".join(x for x in (human, gender) if x),
            default=file_id == default_file,
        )
        for lang, file_id, human, gender in rows
    ]


class EspeakEngine(CommandEngine):
    name = "espeak-ng"
    install_hint = "install it with your package manager (Debian/Ubuntu: sudo apt-get install espeak-ng)"

    def __init__(self, program: str = "espeak-ng"):
        self.program = program
        self._path: str | None = None
        self._version: str | None = None
        self._checked_voices: set[str] = set()
        self._default_voice: str | None = None
        self._lock = threading.Lock()

    def _exe(self) -> str | None:
        if self._path is None:
            self._path = shutil.which(self.program) or ""
        return self._path or None

    def available(self) -> bool:
        return self._exe() is not None

    def version(self) -> str:
        if self._version is None:
            self.require()
            out = self._run(["--version"]).stdout
            # "eSpeak NG text-to-speech: 1.51  Data at: /usr/lib/.../espeak-ng-data"
            self._version = " ".join(out.split()) or "unknown"
        return self._version

    def sample_rate(self, voice: str | None) -> int:
        return ESPEAK_RATE

    def default_voice_arg(self) -> str:
        """What to pass as -v when no voice is asked for ("" for nothing).

        Given a language name ("en", also its built-in default) espeak-ng reads every voice file
        to choose one, a third of its start-up; given the file id of that same voice it opens
        just that file and speaks identically (a test compares the bytes). So name the file.
        """
        if self._default_voice is None:
            self._default_voice = ""
            data = self.version().partition("Data at:")[2].strip()
            if data and (Path(data) / "lang" / "gmw" / "en").is_file():
                self._default_voice = "gmw/en"
        return self._default_voice

    def voices(self) -> list[Voice]:
        self.require()
        # espeak-ng's built-in default is its "en" voice, the file default_voice_arg names
        return parse_voices(self._run(["--voices"]).stdout, self.name, self.default_voice_arg() or "gmw/en")

    def knows_voice(self, voice: str) -> bool:
        try:
            self.check_voice(VoiceSettings(engine=self.name, voice=voice))
        except VoiceError:
            return False
        return True

    def check_voice(self, settings: VoiceSettings) -> None:
        voice = settings.voice
        if voice is None or voice in self._checked_voices:
            return
        # espeak-ng accepts more than it lists (variants such as "en-us+f3"), so ask it rather
        # than the list; -q loads the voice without making a sound.
        proc = self._run(["-q", "-v", voice, ""])
        if proc.returncode != 0:
            raise VoiceError(
                f"espeak-ng has no voice {voice!r} ({last_line(proc.stderr) or 'unknown voice'}); "
                "see `voiceguide voices --engine espeak-ng`"
            )
        with self._lock:
            self._checked_voices.add(voice)

    def argv(self, text: str, out: Path, settings: VoiceSettings) -> list[str]:
        argv = [
            self._exe() or self.program,
            "-b",
            "1",
            "-w",
            str(out),
            "-s",
            str(settings.rate_wpm),
            "-a",
            str(amplitude(settings.volume)),
        ]
        voice = settings.voice if settings.voice is not None else self.default_voice_arg()
        if voice:
            argv += ["-v", voice]
        # "--" keeps a text that starts with "-" from being read as an option.
        return argv + ["--", text]

    def _run(self, args: list[str]) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(
                [self._exe() or self.program, *args],
                capture_output=True,
                text=True,
                timeout=30,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise EngineError(f"espeak-ng does not answer: {e}") from None
