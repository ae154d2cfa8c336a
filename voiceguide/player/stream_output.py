"""The default output: miniaudio pulls small blocks from the transport on the device's clock.

The device asks for the next period of sound when it has room for it, so timing comes from the
frames it consumes, never from sleeping: no gaps, no drift.

Through PulseAudio, miniaudio asks for each period only just before it is due (a block is heard
about 0.6 periods after it is handed over, whatever the number of periods), so the period is
what absorbs a stall of the Python side (another thread holding the GIL, a busy machine). At
30 ms a loaded 2-core machine glitched in one run of ten; at 60 ms in none of 16, two CPU hogs
included. A control still acts within a key poll + a period + 0.6 period, about 0.15 s.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from voiceguide.errors import DeviceError
from voiceguide.player.output import BUSY, GONE, NO_DEVICE, find_device, preferred_backends, quiet_alsa, to_pcm16


def device_error(err: Exception) -> DeviceError:
    """A miniaudio failure as one line a person can act on."""
    import miniaudio

    code = err.args[1] if len(err.args) > 1 and isinstance(err.args[1], int) else None
    lib = miniaudio.lib
    if code in (lib.MA_BUSY, getattr(lib, "MA_DEVICE_ALREADY_INITIALIZED", None)):
        return DeviceError(BUSY)
    if code == lib.MA_ACCESS_DENIED:
        return DeviceError("No permission to use the audio device (on Linux, is your user in the audio group?).")
    if code in (lib.MA_NO_DEVICE, lib.MA_NO_BACKEND, lib.MA_FAILED_TO_OPEN_BACKEND_DEVICE, lib.MA_DOES_NOT_EXIST,
                None):
        return DeviceError(NO_DEVICE)
    return DeviceError(f"The audio device could not be opened (miniaudio error {code}). "
                       "Try another with --device, or `voiceguide export` to make a file.")


class StreamOutput:
    PERIOD_MS = 60
    PERIODS = 3
    STALL_S = 1.0  # no request from the device for this long while playing: it went away

    def __init__(self, rate: int, channels: int, *, device: str | None = None, period_ms: int | None = None):
        try:
            import miniaudio
        except ImportError as e:  # pragma: no cover - a dependency, but a broken install happens
            raise DeviceError(f"miniaudio cannot be loaded ({e}); try --output simpleaudio") from None
        quiet_alsa()
        self.rate, self.channels = rate, channels
        self.period_ms = period_ms or self.PERIOD_MS
        device_id = find_device(device) if device else None
        try:
            self._dev = miniaudio.PlaybackDevice(
                output_format=miniaudio.SampleFormat.SIGNED16, nchannels=channels, sample_rate=rate,
                buffersize_msec=self.period_ms, device_id=device_id, callback_periods=self.PERIODS,
                backends=preferred_backends(), app_name="voiceguide")
        except miniaudio.MiniaudioError as e:
            raise device_error(e) from None
        if self._dev.backend.lower() == "null":
            self._dev.close()
            raise DeviceError(NO_DEVICE)
        self.name = f"stream ({self._dev.backend})"
        # from the moment a block is handed over until its first frame is heard, measured through
        # PulseAudio at about 0.6 periods; the display needs no better
        self.latency_s = self.period_ms * 0.6 / 1000
        self._lock = threading.Lock()
        self._last: tuple[float, int] | None = None  # (monotonic time, device frame) of the last request
        self._handed = 0
        self._started_at: float | None = None
        self.error: BaseException | None = None
        self._transport: Any = None

    def start(self, transport: Any) -> None:
        import miniaudio

        self._transport = transport
        feed = self._feed(transport)
        next(feed)
        self._started_at = time.monotonic()
        try:
            self._dev.start(feed)
        except miniaudio.MiniaudioError as e:
            raise device_error(e) from None

    def _feed(self, transport: Any):
        frames = yield b""
        while True:
            now = time.monotonic()
            try:
                pcm = to_pcm16(transport.pull(frames))
            except BaseException as e:  # an exception here would only be printed by cffi: keep it
                if self.error is None:
                    self.error = e
                pcm = np.zeros((frames, self.channels), np.int16)
            with self._lock:
                self._last = (now, self._handed)
                self._handed += frames
            frames = yield pcm

    def audible_frame(self) -> int:
        with self._lock:
            if self._last is None:
                return 0
            t, frame = self._last
            handed = self._handed
        now = time.monotonic()
        return int(max(0, min(handed, frame + (now - t - self.latency_s) * self.rate)))

    def check(self) -> None:
        if self.error is not None:
            err, self.error = self.error, None
            raise err
        with self._lock:
            last = self._last[0] if self._last else self._started_at
        if last is not None and time.monotonic() - last > self.STALL_S:
            raise DeviceError(GONE)

    def close(self) -> None:
        dev, self._dev = getattr(self, "_dev", None), None
        if dev is not None:
            dev.close()
