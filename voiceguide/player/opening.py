"""Opening the sound output (the stream, else simpleaudio), in a thread of its own while the
session is being built.

This module imports nothing heavy, so the thread can start before the command has loaded numpy
and the mixer: the device's own set-up (loading miniaudio, connecting to the sound server) is
mostly waiting, and overlapped this way it is gone from the time to first sound. Given a
session's kept opening (prelude.py), it starts the device on it as soon as the device is open.
"""

from __future__ import annotations

import threading
from typing import Any

from voiceguide.errors import ConfigError, DeviceError
from voiceguide.player.output import OUTPUTS, Output


def open_output(kind: str, rate: int, channels: int, device: str | None = None) -> Output:
    """An opened (not yet started) output: ``auto`` is the stream if miniaudio can play, else simpleaudio."""
    if kind not in OUTPUTS:
        raise ConfigError(f"unknown output {kind!r} (choose one of: {', '.join(OUTPUTS)})")
    first: DeviceError | None = None
    if kind in ("auto", "stream"):
        from voiceguide.player.stream_output import StreamOutput

        try:
            return StreamOutput(rate, channels, device=device)
        except DeviceError as e:
            if kind == "stream" or device is not None:
                raise
            first = e
    from voiceguide.player.buffer_output import BufferOutput

    try:
        return BufferOutput(rate, channels, device=device)
    except DeviceError:
        if first is not None:
            raise first from None
        raise


class OpeningOutput:
    """``open_output`` in a thread of its own, while the caller builds the session; used as a
    context manager that ends the thread, and closes the output unless ``result`` handed it over.

    Opening a device costs 30-40 ms (loading miniaudio, connecting to the sound server), most of
    it waiting; overlapped with the mixer's build it is gone from the time to first sound.
    """

    def __init__(self, kind: str, rate: int, channels: int, device: str | None = None):
        self._output: Any = None
        self._error: BaseException | None = None
        self._taken = False
        self._lock = threading.Lock()
        self._opened = False
        self._prelude: bytes | None = None
        self._thread = threading.Thread(
            target=self._open, args=(kind, rate, channels, device), name="voiceguide-open-output", daemon=True
        )

    def _open(self, *args: Any) -> None:
        try:
            output = open_output(*args)
        except BaseException as e:  # noqa: BLE001 - handed to the caller by result()
            self._error = e
            return
        with self._lock:
            self._output, self._opened = output, True
            pcm = self._prelude
        if pcm is not None:
            self._begin(pcm)

    def begin(self, pcm: bytes) -> None:
        """Start the device on ``pcm`` (a session's kept opening) once it is open: now, if it is.
        An output that cannot start early (simpleaudio's) just waits for the session."""
        with self._lock:
            opened = self._opened
            self._prelude = pcm
        if opened:
            self._begin(pcm)

    def _begin(self, pcm: bytes) -> None:
        begin = getattr(self._output, "begin", None)
        if begin is None or self._error is not None:
            return
        try:
            begin(pcm)
        except BaseException as e:  # noqa: BLE001 - handed to the caller by result()
            self._error = e

    def __enter__(self) -> OpeningOutput:
        self._thread.start()
        return self

    def result(self) -> Any:
        """The opened output (the caller now owns it), or the error opening it met."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._output is not None
        self._taken = True
        return self._output

    def __exit__(self, *exc: object) -> None:
        self._thread.join()
        if self._output is not None and not self._taken:
            self._output.close()
