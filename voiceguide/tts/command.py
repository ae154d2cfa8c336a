"""Engines that run one command line per clip (espeak-ng, and tests' misbehaving fakes).

A process per clip is what makes a hang harmless: the timeout kills that process and nothing
else. Several clips run at once from the renderer's threads; each thread only waits on its
own child, so the GIL is not in the way.

Each command starts in a session (and process group) of its own, and a timeout kills the whole
group: an engine behind a wrapper script is the script's child, and killing the script alone
left the child running and holding the stderr pipe we then waited on for ever.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from abc import abstractmethod
from pathlib import Path

from voiceguide.errors import EngineError
from voiceguide.tts.interface import Engine, EngineFailure, Synth, VoiceSettings


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
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                )
            except OSError as e:
                raise EngineError(f"cannot run {argv[0]}: {e.strerror or e}") from None
            self._running.add(proc)
        try:
            _, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            # The whole group killed, so a hung engine leaves nothing behind.
            kill_group(proc)
            reap(proc)
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
            kill_group(proc)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process group ``proc`` leads (it was started in a session of its own)."""
    if proc.returncode is not None:
        return  # reaped: its pid (and group id) may belong to someone else by now
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):
        try:
            proc.kill()
        except OSError:
            pass


def reap(proc: subprocess.Popen, timeout_s: float = 2.0) -> None:
    """Wait for a killed process without waiting on its pipes for ever (a child that left the
    group may still hold them)."""
    try:
        proc.communicate(timeout=timeout_s)
    except (subprocess.TimeoutExpired, ValueError, OSError):
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:  # pragma: no cover - an unkillable process
            pass
