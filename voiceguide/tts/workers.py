"""Engines that live in spawned worker processes (pyttsx3, piper).

Why processes, and why freshly started ones: pyttsx3 hangs when several threads share its one
engine, and a forked child of a process that already made an engine hangs too; a neural
engine can take seconds per clip and must still be stoppable. A worker is a new interpreter
(never a fork) that owns one engine, does one clip at a time, and is killed when it stops
answering; the renderer's threads each borrow a worker for a clip. It talks to us through
its stdin and a private copy of its stdout; its real stdout and stderr go to the null
device (pyttsx3 prints "Audio saved to ..." for every clip).

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
import json
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from abc import abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from voiceguide.errors import EngineError, VoiceError
from voiceguide.tts.command import exit_text, kill_group
from voiceguide.tts.interface import Engine, EngineFailure, Synth, VoiceSettings

Backend = Callable[[dict], "tuple[Callable[[str, str], None], Any]"]

#: How long a worker may take to start when no render timeout applies (listing voices).
START_TIMEOUT_S = 60.0

# The worker's whole program: take the parent's import path, then serve on stdin/stdout.
_BOOT = (
    "import json, sys\n"
    "sys.path[:] = json.loads(sys.argv[1])\n"
    "from voiceguide.tts.workers import serve_stdio\n"
    "serve_stdio()\n"
)

_HEADER = struct.Struct("<I")


class WorkerConfigError(Exception):
    """Raised by a backend for a setting the engine does not accept (shown as it is, exit 2)."""


class Channel:
    """Length-prefixed pickles over a pair of byte streams (both ends are ours)."""

    def __init__(self, reader: IO[bytes], writer: IO[bytes]):
        self.reader = reader
        self.writer = writer

    def send(self, obj: Any) -> None:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        self.writer.write(_HEADER.pack(len(data)) + data)
        self.writer.flush()

    def recv(self) -> Any:
        head = self._exactly(_HEADER.size)
        return pickle.loads(self._exactly(_HEADER.unpack(head)[0]))

    def _exactly(self, n: int) -> bytes:
        chunks = []
        while n:
            chunk = self.reader.read(n)
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)


def _backend_ref(backend: Backend) -> tuple[str, str]:
    return backend.__module__, backend.__qualname__


def _load_backend(module: str, qualname: str) -> Backend:
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def serve_stdio() -> None:
    """The worker's entry point: keep a private copy of stdout, send the real one to null."""
    private = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    serve(Channel(sys.stdin.buffer, private))


def serve(conn: Channel) -> None:
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


_EOF = object()


class Worker:
    """One worker process running a backend.

    A reader thread turns the worker's answers into a queue, so waiting for one can time out
    the same way on every platform (pipes cannot be polled with select on Windows).
    """

    def __init__(self, name: str, backend: Backend, config: dict):
        self.name = name
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _BOOT, json.dumps(sys.path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                # its own process group, so a kill takes anything it started with it; it still
                # ends when we do, as its stdin then reaches end of file
                start_new_session=True,
            )
        except OSError as e:
            raise EngineError(f"cannot start a {name} worker: {e.strerror or e}") from None
        self.conn = Channel(self.process.stdout, self.process.stdin)
        self._inbox: queue.Queue[Any] = queue.Queue()
        threading.Thread(target=self._read, name=f"voiceguide-{name}-reader", daemon=True).start()
        self.info: Any = None
        try:
            self.conn.send((_backend_ref(backend), config))
        except OSError:
            pass  # a worker that died at once is reported by wait_ready

    def _read(self) -> None:
        while True:
            try:
                self._inbox.put(self.conn.recv())
            except Exception:  # noqa: BLE001 - EOF, a broken pipe, a garbled message: all mean "gone"
                self._inbox.put(_EOF)
                return

    def wait_ready(self, timeout_s: float) -> Any:
        kind, payload = self._receive(timeout_s, starting=True)
        if kind == "fatal":
            self.kill()
            raise VoiceError(payload)
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
            message = self._inbox.get(timeout=timeout_s)
        except queue.Empty:
            self.kill()
            doing = "did not start" if starting else "gave no clip"
            raise EngineFailure(f"{self.name} {doing} within {timeout_s:g} s", what="hung") from None
        if message is _EOF:
            self.kill()
            raise EngineFailure(f"{self.name} stopped: {self._exit_text()}", what="crashed")
        return message

    def _exit_text(self) -> str:
        try:
            return exit_text(self.process.wait(1.0))
        except subprocess.TimeoutExpired:
            return "no answer"

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
            kill_group(self.process)
            try:
                self.process.wait(5.0)
            except subprocess.TimeoutExpired:  # pragma: no cover - an unkillable process
                pass
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass


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
        self._closed = False
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
            if not self._closed:
                self._all.append(w)
                return w
        # Closed meanwhile (Ctrl-C, another clip's failure): this clip is not wanted any more.
        w.kill()
        raise EngineError(f"{self.name} was stopped")

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
            self._closed = True
            workers, self._all = self._all, []
        for w in workers:
            w.close()


class WorkerEngine(Engine):
    """An engine whose clips come from spawned workers running ``backend``."""

    #: Module-level function run in each worker (must be importable by the worker).
    backend: Backend

    @abstractmethod
    def worker_config(self, settings: VoiceSettings | None, jobs: int = 1) -> dict:
        """What the backend needs to know, for ``jobs`` workers at once; ``None`` settings means
        "only describe yourself"."""

    def open(self, settings: VoiceSettings, jobs: int, timeout_s: float) -> Synth:
        self.require()
        return WorkerSynth(self.name, type(self).backend, self.worker_config(settings, jobs), jobs, timeout_s)

    def describe(self, timeout_s: float = START_TIMEOUT_S) -> Any:
        """Start one worker without settings and return its ``info`` (e.g. to list voices)."""
        self.require()
        synth = WorkerSynth(self.name, type(self).backend, self.worker_config(None), 1, timeout_s)
        try:
            return synth.info
        finally:
            synth.close()
