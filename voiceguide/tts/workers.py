"""Engines that live in spawned worker processes (pyttsx3, piper).

Why processes, and why freshly started ones: pyttsx3 hangs when several threads share its one
engine, and a forked child of a process that already made an engine hangs too; a neural
engine can take seconds per clip and must still be stoppable. A worker is a new interpreter
(never a fork) that owns one engine, does one clip at a time, and is killed when it stops
answering; the renderer's threads each borrow a worker for a clip. Its stdout and stderr go
to /dev/null (pyttsx3 prints "Audio saved to ..." for every clip); it talks to us only
through a socket pair.

The workers are started with ``subprocess`` rather than multiprocessing's "spawn" context:
that context re-runs the parent's main module in every worker, which restarts the CLI's
imports there and, in a script without a ``__main__`` guard, starts workers without end.

A *backend* is a module-level function ``backend(config) -> (speak, info)`` run inside the
worker: ``speak(text, path)`` writes one WAV, ``info`` is any picklable description of the
engine (its voices, say). It raises ``WorkerConfigError`` for a mistake of the user's (an
unknown voice), which is reported at once and never retried.
"""

from __future__ import annotations

import importlib
import queue
import subprocess
import sys
import threading
from abc import abstractmethod
from pathlib import Path
from typing import Any, Callable

from voiceguide.errors import EngineError
from voiceguide.tts.command import exit_text
from voiceguide.tts.engine import Engine, EngineFailure, Synth, VoiceSettings

Backend = Callable[[dict], "tuple[Callable[[str, str], None], Any]"]

#: How long a worker may take to start when no render timeout applies (listing voices).
START_TIMEOUT_S = 60.0

# The worker's whole program: connect, take the parent's import path, serve.
_BOOT = (
    "import sys\n"
    "from multiprocessing.connection import Connection\n"
    "conn = Connection(int(sys.argv[1]))\n"
    "sys.path[:] = conn.recv()\n"
    "from voiceguide.tts.workers import serve\n"
    "serve(conn)\n"
)


class WorkerConfigError(Exception):
    """Raised by a backend for a setting the engine does not accept (shown as it is)."""


def _backend_ref(backend: Backend) -> tuple[str, str]:
    return backend.__module__, backend.__qualname__


def _load_backend(module: str, qualname: str) -> Backend:
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def serve(conn) -> None:
    """The worker's loop: build the backend, then one clip per request until told to stop."""
    try:
        (module, qualname), config = conn.recv()
        speak, info = _load_backend(module, qualname)(config)
    except WorkerConfigError as e:
        conn.send(("fatal", str(e)))
        return
    except BaseException as e:  # noqa: BLE001 - everything goes back to the parent as text
        conn.send(("error", f"{type(e).__name__}: {e}"))
        return
    conn.send(("ready", info))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if job is None:
            return
        text, path = job
        try:
            speak(text, path)
        except BaseException as e:  # noqa: BLE001
            conn.send(("error", f"{type(e).__name__}: {e}"))
        else:
            conn.send(("ok", None))


class Worker:
    """One worker process running a backend."""

    def __init__(self, name: str, backend: Backend, config: dict):
        import socket
        from multiprocessing.connection import Connection

        self.name = name
        ours, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _BOOT, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        except OSError as e:
            ours.close()
            raise EngineError(f"cannot start a {name} worker: {e.strerror or e}") from None
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        self.info: Any = None
        try:
            self.conn.send(list(sys.path))
            self.conn.send((_backend_ref(backend), config))
        except OSError:
            pass  # a worker that died at once is reported by wait_ready

    def wait_ready(self, timeout_s: float) -> Any:
        kind, payload = self._receive(timeout_s, starting=True)
        if kind == "fatal":
            self.kill()
            raise EngineError(payload)
        if kind != "ready":
            self.kill()
            raise EngineFailure(f"{self.name} did not start: {payload}", what="crashed")
        self.info = payload
        return payload

    def call(self, text: str, path: Path, timeout_s: float) -> None:
        try:
            self.conn.send((text, str(path)))
        except (OSError, ValueError):
            self.kill()
            raise EngineFailure(f"{self.name} stopped: {self._exit_text()}", what="crashed") from None
        kind, payload = self._receive(timeout_s, starting=False)
        if kind != "ok":
            raise EngineFailure(f"{self.name} failed: {payload}", what="crashed")

    def _receive(self, timeout_s: float, *, starting: bool) -> tuple[str, Any]:
        try:
            if not self.conn.poll(timeout_s):
                self.kill()
                doing = "did not start" if starting else "gave no clip"
                raise EngineFailure(f"{self.name} {doing} within {timeout_s:g} s", what="hung")
            return self.conn.recv()
        except (EOFError, OSError):
            self.kill()
            raise EngineFailure(f"{self.name} stopped: {self._exit_text()}", what="crashed") from None

    def _exit_text(self) -> str:
        try:
            code = self.process.wait(1.0)
        except subprocess.TimeoutExpired:
            return "no answer"
        return exit_text(code)

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        try:
            self.process.wait(1.0)
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            try:
                self.process.wait(5.0)
            except subprocess.TimeoutExpired:  # pragma: no cover - an unkillable process
                pass
        self.conn.close()


class WorkerSynth(Synth):
    """A pool of ``size`` workers; each ``render`` borrows one, a failed one is replaced."""

    def __init__(self, name: str, backend: Backend, config: dict, size: int, start_timeout_s: float):
        self.name = name
        self.backend = backend
        self.config = config
        self.start_timeout_s = start_timeout_s
        self._idle: queue.Queue[Worker | None] = queue.Queue()
        self._all: list[Worker] = []
        self._lock = threading.Lock()
        # Start every worker at once: spawning and importing overlap across cores.
        workers = [self._spawn() for _ in range(max(1, size))]
        try:
            for w in workers:
                w.wait_ready(start_timeout_s)
        except BaseException:
            self.close()
            raise
        self.info = workers[0].info
        for w in workers:
            self._idle.put(w)

    def _spawn(self) -> Worker:
        w = Worker(self.name, self.backend, self.config)
        with self._lock:
            self._all.append(w)
        return w

    def render(self, text: str, out: Path, timeout_s: float) -> None:
        worker = self._idle.get()
        try:
            if worker is None or not worker.alive():
                worker = self._spawn()
                worker.wait_ready(self.start_timeout_s)
            worker.call(text, out, timeout_s)
        except EngineFailure:
            if worker is not None:
                worker.kill()
            worker = None  # the next render on this slot starts a fresh worker
            raise
        finally:
            self._idle.put(worker)

    def close(self) -> None:
        with self._lock:
            workers, self._all = self._all, []
        for w in workers:
            w.close()


class WorkerEngine(Engine):
    """An engine whose clips come from spawned workers running ``backend``."""

    #: Module-level function run in each worker (must be importable by the worker).
    backend: Backend

    @abstractmethod
    def worker_config(self, settings: VoiceSettings | None) -> dict:
        """What the backend needs to know; ``None`` settings means "only describe yourself"."""

    def open(self, settings: VoiceSettings, jobs: int, timeout_s: float) -> Synth:
        self.require()
        return WorkerSynth(self.name, type(self).backend, self.worker_config(settings), jobs, timeout_s)

    def describe(self, timeout_s: float = START_TIMEOUT_S) -> Any:
        """Start one worker without settings and return its ``info`` (e.g. to list voices)."""
        self.require()
        synth = WorkerSynth(self.name, type(self).backend, self.worker_config(None), 1, timeout_s)
        try:
            return synth.info
        finally:
            synth.close()
