"""Engines that run one command line per clip (espeak-ng, and tests' misbehaving fakes).

A process per clip is what makes a hang harmless: the timeout kills that process and nothing
else. Several clips run at once from the renderer's threads; each thread only waits on its
own child, so the GIL is not in the way.
"""

from __future__ import annotations

import subprocess
import threading
from abc import abstractmethod
from pathlib import Path

from voiceguide.errors import EngineError
from voiceguide.tts.engine import Engine, EngineFailure, Synth, VoiceSettings


def last_line(text: str | bytes) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def exit_text(code: int) -> str:
    """How a process ended, in words: "exit status 3", "killed by SIGABRT"."""
    if code >= 0:
        return f"exit status {code}"
    import signal

    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"


class CommandEngine(Engine):
    """An engine whose clip is written by ``argv(...)``, one process per clip."""

    @abstractmethod
    def argv(self, text: str, out: Path, settings: VoiceSettings) -> list[str]:
        """The command that writes ``text`` spoken with ``settings`` as a WAV at ``out``."""

    def check_voice(self, settings: VoiceSettings) -> None:
        """Raise VoiceError when ``settings.voice`` is unknown; called once per render."""

    def open(self, settings: VoiceSettings, jobs: int, timeout_s: float) -> Synth:
        self.require()
        self.check_voice(settings)
        return CommandSynth(self, settings)


class CommandSynth(Synth):
    def __init__(self, engine: CommandEngine, settings: VoiceSettings):
        self.engine = engine
        self.settings = settings
        self._running: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self._closed = False

    def render(self, text: str, out: Path, timeout_s: float) -> None:
        argv = self.engine.argv(text, out, self.settings)
        name = self.engine.name
        with self._lock:
            if self._closed:
                raise EngineError(f"{name} was stopped")
            try:
                proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
            except OSError as e:
                raise EngineError(f"cannot run {argv[0]}: {e.strerror or e}") from None
            self._running.add(proc)
        try:
            _, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            # Killed, so a hung engine leaves nothing behind.
            proc.kill()
            proc.communicate()
            raise EngineFailure(f"{name} gave no clip within {timeout_s:g} s", what="hung") from None
        finally:
            with self._lock:
                self._running.discard(proc)
        if proc.returncode != 0:
            why = last_line(err) or exit_text(proc.returncode)
            raise EngineFailure(f"{name} failed: {why}", what="crashed")

    def close(self) -> None:
        """Kill the clips still being made (a render that stops early does not wait for them)."""
        with self._lock:
            self._closed = True
            running = list(self._running)
        for proc in running:
            if proc.poll() is None:
                proc.kill()
