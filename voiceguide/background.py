"""The threads a command's work runs on besides its own: one object, made by the command, closed
when the command ends.

Library calls never start threads behind the caller's back. Work that goes faster beside other
work (a clip's analysis beside the music's, TTS clips on every core, the encoder's calibration
while the session is built) takes a ``Background`` and runs on it; a caller that gives none gets
the same result, made in its own thread, one thing at a time. ``voiceguide``'s commands make one
each, and ``voiceguide.Session`` makes one of its own when it is given none; ``close`` ends
everything (work not yet started is dropped, running work is asked to stop through
``stopping`` and waited for), so nothing outlives the command that asked for it.

Its own executor rather than ``concurrent.futures``: that imports logging, 11 ms of a warm
``voiceguide play``'s time to first sound (measured when the bed loader had a plain thread).
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_PENDING, _RUNNING, _DONE, _CANCELLED = range(4)
_NOTHING = object()


class Cancelled(Exception):
    """The task was dropped before it started (its Background was closed, or it was cancelled)."""


def default_workers() -> int:
    """One thread per core this process may run on."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, cores)


class Task(Generic[R]):
    """One call to run once, on a Background's thread or, when nobody has started it yet, in the
    thread that waits for it (so waiting never waits behind other work, and never deadlocks)."""

    def __init__(self, fn: Callable[..., R], args: tuple, name: str | None = None):
        self.name = name
        self._fn: Callable[..., R] | None = fn
        self._args = args
        self._state = _PENDING
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None
        self._on_end: list[Callable[[], None]] = []

    def _claim(self) -> bool:
        with self._lock:
            if self._state != _PENDING:
                return False
            self._state = _RUNNING
            return True

    def _run(self) -> None:
        fn, args = self._fn, self._args
        assert fn is not None
        try:
            self._value = fn(*args)
        except BaseException as e:  # noqa: BLE001 - handed to whoever asks for the result
            self._error = e
        self._end(_DONE)

    def _end(self, state: int) -> None:
        with self._lock:
            self._state = state
            self._fn, self._args = None, ()  # let go of what the call held
            callbacks, self._on_end = self._on_end, []
        self._finished.set()
        for callback in callbacks:
            callback()

    def _when_ended(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if self._state in (_PENDING, _RUNNING):
                self._on_end.append(callback)
                return
        callback()

    def cancel(self) -> bool:
        """Drop the task if it has not started; True if it was dropped."""
        if not self._claim():
            return False
        self._end(_CANCELLED)
        return True

    def done(self) -> bool:
        return self._finished.is_set()

    def wait(self) -> None:
        """Until the task has ended; one nobody has started yet runs here, now."""
        if self._claim():
            self._run()
        self._finished.wait()

    def result(self) -> R:
        """The call's value (waiting for it as ``wait`` does); raises what the call raised, or
        Cancelled."""
        self.wait()
        if self._state == _CANCELLED:
            raise Cancelled(self.name or "the task was dropped before it started")
        if self._error is not None:
            raise self._error
        return self._value


class Background:
    """One executor of ``workers`` threads (started when first needed) and any named tasks, each
    on a thread of its own. A context manager: leaving it closes it.

    ``workers=0`` runs everything in the calling thread, as does a closed Background (an object
    that kept a reference goes on working, one thing at a time, without starting threads).
    """

    def __init__(self, workers: int | None = None):
        self.workers = default_workers() if workers is None else max(0, int(workers))
        #: set by ``close``: long work that can stop early (an ffmpeg measurement) watches it
        self.stopping = threading.Event()
        self._queue: deque[Task] = deque()
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._named: list[tuple[Task, threading.Thread]] = []
        self._closed = False

    # -- giving it work --------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def threaded(self) -> bool:
        """Whether work given now runs beside the caller (else it runs in the calling thread)."""
        return self.workers > 0 and not self._closed

    def submit(self, fn: Callable[..., R], *args: Any) -> Task[R]:
        """Run ``fn(*args)`` on one of the executor's threads; its Task gives the result."""
        task: Task[R] = Task(fn, args)
        with self._cond:
            queued = self.workers > 0 and not self._closed
            if queued:
                self._queue.append(task)
                if self._idle == 0 and len(self._threads) < self.workers:
                    thread = threading.Thread(
                        target=self._work, name=f"voiceguide-worker-{len(self._threads) + 1}", daemon=True
                    )
                    self._threads.append(thread)
                    thread.start()
                else:
                    self._cond.notify()
        if not queued:
            task.wait()
        return task

    def start(self, name: str, fn: Callable[..., R], *args: Any) -> Task[R]:
        """Run ``fn(*args)`` on a thread of its own named ``voiceguide-NAME``: for work that
        mostly waits (on another process) and should not hold one of the executor's threads."""
        task: Task[R] = Task(fn, args, name)
        with self._cond:
            threaded = self.threaded
            if threaded:
                thread = threading.Thread(target=self._run_named, args=(task,), name=f"voiceguide-{name}", daemon=True)
                self._named.append((task, thread))
                thread.start()
        if not threaded:
            task.wait()
        return task

    def batch(self, fn: Callable[[T], R], items: Iterable[T], *, limit: int) -> Batch[T, R]:
        """``fn`` over ``items`` on up to ``limit`` of the executor's threads at once, started now;
        iterate the Batch for (item, result) as each is done."""
        return Batch(self, fn, items, limit)

    # -- ending ----------------------------------------------------------------------------

    def close(self) -> None:
        """Drop the work not started, ask the running work to stop (``stopping``), and wait for
        every thread to end. Idempotent."""
        self.stopping.set()
        with self._cond:
            self._closed = True
            dropped = list(self._queue)
            self._queue.clear()
            self._cond.notify_all()
            threads = list(self._threads)
            named = list(self._named)
        for task in dropped:
            task.cancel()
        me = threading.current_thread()
        for thread in [*threads, *(t for _, t in named)]:
            if thread is not me:  # closed by its own work (a task that ends the command)
                thread.join()

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._threads)} of {self.workers} threads started"
        return f"<Background {state}>"

    # -- the threads -----------------------------------------------------------------------

    def owns_current_thread(self) -> bool:
        me = threading.current_thread()
        return any(t is me for t in self._threads) or any(t is me for _, t in self._named)

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._idle += 1
                    self._cond.wait()
                    self._idle -= 1
                if not self._queue:
                    return
                task = self._queue.popleft()
            if task._claim():
                task._run()

    @staticmethod
    def _run_named(task: Task) -> None:
        if task._claim():
            task._run()


class Batch(Generic[T, R]):
    """``fn`` over ``items`` on up to ``limit`` runners, each taking the next item when it is free.

    Iterating gives (item, result) in the order they are done; an item whose call raised raises
    there, and no further items are started. ``cancel`` starts no more items; ``wait`` waits for
    the ones running. Made by ``Background.batch``.
    """

    def __init__(self, background: Background, fn: Callable[[T], R], items: Iterable[T], limit: int):
        self._background = background
        self._fn = fn
        self._items: Iterator[T] = iter(items)
        self._take = threading.Lock()
        self._cond = threading.Condition()
        self._results: deque[tuple[T, bool, Any]] = deque()
        self._stopped = False
        # a batch given to a closed Background runs here in full; one that is running when its
        # Background closes stops taking items, and says so (Cancelled) once the rest are read
        self._watch = background.threaded
        self._dropped = False
        n = max(1, min(limit, background.workers)) if background.threaded else 1
        self._active = n
        self._runners = [background.submit(self._runner) for _ in range(n)]
        for runner in self._runners:
            runner._when_ended(self._runner_ended)

    def _next_item(self) -> tuple[bool, T | None]:
        with self._take:
            if self._stopped:
                return False, None
            if self._watch and self._background.stopping.is_set():
                self._dropped = self._dropped or next(self._items, _NOTHING) is not _NOTHING
                return False, None
            for item in self._items:
                return True, item
            return False, None

    def _runner(self) -> None:
        while True:
            more, item = self._next_item()
            if not more:
                return
            try:
                value = self._fn(item)  # type: ignore[arg-type]
            except BaseException as e:  # noqa: BLE001 - raised again where the batch is read
                self._stopped = True
                self._put((item, False, e))  # type: ignore[arg-type]
                return
            self._put((item, True, value))  # type: ignore[arg-type]

    def _put(self, entry: tuple[T, bool, Any]) -> None:
        with self._cond:
            self._results.append(entry)
            self._cond.notify_all()

    def _runner_ended(self) -> None:
        with self._cond:
            self._active -= 1
            self._cond.notify_all()

    def __iter__(self) -> Iterator[tuple[T, R]]:
        while True:
            with self._cond:
                while not self._results and self._active > 0:
                    if self._background.owns_current_thread():
                        break  # read from one of the executor's own threads: help, below
                    self._cond.wait()
                entry = self._results.popleft() if self._results else None
                active = self._active
            if entry is None:
                if active == 0:
                    if self._dropped:
                        raise Cancelled("the batch's Background was closed before every item was done")
                    return
                self._help()
                continue
            item, ok, value = entry
            if not ok:
                raise value
            yield item, value

    def _help(self) -> None:
        """Run a runner nobody has started here; else wait a moment for the running ones."""
        for runner in self._runners:
            if runner._claim():
                runner._run()
                return
        with self._cond:
            if not self._results and self._active > 0:
                self._cond.wait(0.05)

    def cancel(self) -> None:
        """Start no more items (the running ones go on; ``wait`` waits for them)."""
        with self._take:
            self._stopped = True
        for runner in self._runners:
            runner.cancel()

    def wait(self) -> None:
        """Until every runner has ended (a runner nobody started runs here, now)."""
        for runner in self._runners:
            runner.wait()

    def close(self) -> None:
        """``cancel``, then ``wait``."""
        self.cancel()
        self.wait()

    def __enter__(self) -> Batch[T, R]:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        """Waits for the running items; after an error (or Ctrl-C) starts no more first."""
        if exc_type is not None:
            self.cancel()
        self.wait()
