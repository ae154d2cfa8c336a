"""The default output: miniaudio plays on the device's clock what a producer thread made ahead.

The device asks for the next period of sound when it has room for it, so timing comes from the
frames it consumes, never from sleeping: no gaps, no drift. What a request may be late by before
it is heard as a gap is the sound server's cushion. PulseAudio's, as miniaudio sets it up, is
half a period (measured: a 40 ms stall of a 60 ms-period callback slipped the sound by 11 ms),
and even a callback doing nothing came 63 ms late once in 1000 requests on a 2-core machine. So
the stream asks PulseAudio for a 120 ms target buffer (PULSE_LATENCY_MSEC, which libpulse reads
when the stream connects; a user's own setting wins): then an 80 ms stall slipped nothing and a
block is heard about 75 ms after it is handed over, with 30 ms periods.

The callback does no work: it copies a period out of a ring (ring.py) that a producer thread
keeps ``AHEAD_MS`` ahead by pulling the transport, which is where the mixing, a clip's first use
and any other stall of the Python side now land, absorbed by the ring. A key still acts at once:
the producer renders the change from the first frame the device has not been given and swaps it
into the ring (key poll + at most a period + the server's 75 ms, about 0.13 s).

A session's kept opening (prelude.py) can start the device before the mixer exists (``begin``):
``start`` then makes the same frames from the transport, compares them, and goes on from the
opening's end, or, should they differ, from the frame being heard.

A device may take seconds to ask for its first period (an idle PulseAudio sink took about 2 s,
like a suspended card or a Bluetooth speaker waking up), and a sound server may stall for a
moment; neither ends the session. A device that stops asking is given up only when its sound
server no longer answers, or after ``GONE_S``.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from typing import Any

from voiceguide.errors import DeviceError
from voiceguide.player import prelude
from voiceguide.player.output import (
    BUSY,
    GONE,
    NO_DEVICE,
    find_device,
    playback_devices,
    preferred_backends,
    quiet_alsa,
    to_pcm16,
)
from voiceguide.player.ring import PcmRing

#: The device never started asking for sound: one line, like a device that went away.
NEVER_STARTED = (
    "The audio device did not start playing within {s:g} s. Check the speakers are on and "
    "connected, or make a file with `voiceguide export`."
)


def device_error(err: Exception) -> DeviceError:
    """A miniaudio failure as one line a person can act on."""
    from _miniaudio import lib

    code = err.args[1] if len(err.args) > 1 and isinstance(err.args[1], int) else None
    if code in (lib.MA_BUSY, getattr(lib, "MA_DEVICE_ALREADY_INITIALIZED", None)):
        return DeviceError(BUSY)
    if code == lib.MA_ACCESS_DENIED:
        return DeviceError("No permission to use the audio device (on Linux, is your user in the audio group?).")
    if code in (lib.MA_NO_DEVICE, lib.MA_NO_BACKEND, lib.MA_FAILED_TO_OPEN_BACKEND_DEVICE, lib.MA_DOES_NOT_EXIST, None):
        return DeviceError(NO_DEVICE)
    return DeviceError(
        f"The audio device could not be opened (miniaudio error {code}). "
        "Try another with --device, or `voiceguide export` to make a file."
    )


class StreamOutput:
    PERIOD_MS = 30
    PERIODS = 3
    PULSE_LATENCY_MS = 120  # PulseAudio's target buffer for the stream (see the module's docstring)
    PULSE_HEARD_S = 0.075  # ... and, measured, how long after a request its first frame is heard
    AHEAD_MS = 400  # made ahead of the device: rides out a stall this long on the Python side
    PRIME_MS = 200  # made before the device starts (its first request may ask for several periods)
    CHUNK_FRAMES = 2048  # the producer's block (46 ms at 44.1 kHz)
    LOOKAHEAD_S = 20  # clips placed this far ahead are made ready in the producer's idle time
    IDLE_S = 0.005  # the producer's nap when the ring is full and nothing is to be prepared
    COLLECT_S = 1.0  # how often the producer collects the young garbage (the player turns
    # automatic collection off while a session plays)
    START_WAIT_S = 15.0  # how long a device may take to ask for its first period
    STALL_S = 1.0  # no request for this long: ask whether the sound server is still there
    GONE_S = 6.0  # and give up after this long without a request even if it answers

    def __init__(self, rate: int, channels: int, *, device: str | None = None, period_ms: int | None = None):
        try:
            from voiceguide.player import miniaudio_device as ma
        except ImportError as e:  # pragma: no cover - a dependency, but a broken install happens
            raise DeviceError(f"miniaudio cannot be loaded ({e}); try --output simpleaudio") from None
        quiet_alsa()
        self.rate, self.channels = rate, channels
        self.period_ms = period_ms or self.PERIOD_MS
        device_id = find_device(device) if device else None
        ours = "PULSE_LATENCY_MSEC" not in os.environ
        if ours:  # only while the stream connects: it is read then, and nothing else here needs it
            os.environ["PULSE_LATENCY_MSEC"] = str(self.PULSE_LATENCY_MS)
        try:
            self._dev = ma.Playback(
                rate=rate,
                channels=channels,
                period_ms=self.period_ms,
                periods=self.PERIODS,
                backends=preferred_backends(),
                fill=self._fill_device,
                device_id=device_id,
                app_name="voiceguide",
            )
        except ma.MiniaudioError as e:
            raise device_error(e) from None
        finally:
            if ours:
                os.environ.pop("PULSE_LATENCY_MSEC", None)
        if self._dev.backend.lower() == "null":
            self._dev.close()
            raise DeviceError(NO_DEVICE)
        self._backend = self._dev.backend
        self.name = f"stream ({self._dev.backend})"
        # from the moment a block is handed over until its first frame is heard (measured); the
        # display needs no better
        pulse = self._dev.backend == "PulseAudio" and ours
        self.latency_s = self.PULSE_HEARD_S if pulse else self.period_ms * 0.6 / 1000
        # room for a kept opening (begin) and what the producer keeps ahead after it
        self._ring = PcmRing(rate * (prelude.SECONDS + 2), 2 * channels)
        self._ahead = rate * self.AHEAD_MS // 1000
        self._last: tuple[float, int, int] | None = None  # (monotonic time, first frame, frames) of the last request
        self._started_at: float | None = None
        self._closing = threading.Event()
        self._producer: threading.Thread | None = None
        self._probe: _Probe | None = None
        self.error: BaseException | None = None
        self.worst_late_s = 0.0  # the latest a device request came, past its period (for debug output)
        self._transport: Any = None
        self._prelude: bytes | None = None  # a kept opening the device started on, until start()
        #: Whether the kept opening was the session's own sound (None: the device started without one).
        self.prelude_matched: bool | None = None

    # --- the producer ---------------------------------------------------------------------
    def begin(self, pcm: bytes) -> None:
        """Start the device on a session's kept opening (16-bit frames, prelude.py), before its
        mixer is ready; ``start`` then takes over from the transport."""
        self._prelude = pcm
        self._ring.put(pcm)
        self._start_device()

    def start(self, transport: Any) -> None:
        self._transport = transport
        if self._prelude is None:
            self._fill(self.rate * self.PRIME_MS // 1000)  # the first request finds sound waiting
        else:
            self._take_over(transport)
        self._producer = threading.Thread(target=self._produce, name="voiceguide-producer", daemon=True)
        self._producer.start()
        if self._started_at is None:
            self._start_device()

    def _start_device(self) -> None:
        from voiceguide.player.miniaudio_device import MiniaudioError

        self._started_at = time.monotonic()
        try:
            self._dev.start()
        except MiniaudioError as e:
            raise device_error(e) from None

    def _take_over(self, transport: Any) -> None:
        """Make the kept opening's frames from the transport and compare: the same, the
        transport goes on from the opening's end (what the ring holds); not the same, its sound
        replaces the opening from the first frame the device has not been given."""
        kept, self._prelude = self._prelude, None
        assert kept is not None
        made = to_pcm16(transport.pull(len(kept) // self._ring.frame_bytes, apply_pending=False)).tobytes()
        self.prelude_matched = made == kept
        if not self.prelude_matched:
            self._remake_from_device(apply_pending=False)

    def _fill(self, frames: int) -> None:
        pcm = to_pcm16(self._transport.pull(frames, apply_pending=False)).tobytes()
        self._ring.put(pcm)

    def _produce(self) -> None:
        lookahead = self.rate * self.LOOKAHEAD_S
        collected = time.monotonic()
        try:
            while not self._closing.is_set():
                if self._transport.pending:
                    self._apply_commands()
                elif self._ring.filled < self._ahead:
                    self._fill(self.CHUNK_FRAMES)
                elif self._transport.prepare_ahead(lookahead):
                    pass
                elif time.monotonic() - collected > self.COLLECT_S:
                    gc.collect(0)  # with the ring full, a pause here is never heard
                    collected = time.monotonic()
                else:
                    time.sleep(self.IDLE_S)
        except BaseException as e:  # noqa: BLE001 - reported by check() in the control thread
            self.error = e

    def _apply_commands(self) -> None:
        """Apply pending commands at the first frame the device has not been given, and swap the
        changed sound into the ring. Should a request come while the change is being made (it
        takes a few ms, a request comes every 30), its frames were the old sound, and the change
        is heard from the frame after them: the transport's crossfades run on, so it is no click."""
        self._remake_from_device(apply_pending=True)

    def _remake_from_device(self, *, apply_pending: bool) -> None:
        """Rewind the transport to the first frame the device has not been given and put what it
        makes from there into the ring, in place of what the ring held after that frame."""
        ring = self._ring
        with ring.lock:
            cut = ring.read
        self._transport.rewind(cut)
        pcm = to_pcm16(self._transport.pull(self.CHUNK_FRAMES, apply_pending=apply_pending)).tobytes()
        ring.put(pcm, at=cut)

    # --- the device callback: copies, nothing else ----------------------------------------------
    def _fill_device(self, output: Any, frames: int) -> None:
        from _miniaudio import ffi

        out, first = self._ring.take(frames)
        ffi.memmove(output, out, len(out))
        now = time.monotonic()
        last = self._last
        if last is not None:
            # how much later than its period a request came: the device's cushion paid for it
            self.worst_late_s = max(self.worst_late_s, now - last[0] - last[2] / self.rate)
        self._last = (now, first, frames)  # one assignment: read whole by others

    # --- what the control thread asks -------------------------------------------------------------
    @property
    def underruns(self) -> int:
        """Device requests that found the ring short (each was topped up with silence)."""
        return self._ring.underruns

    @property
    def started(self) -> bool:
        """The device has been started (by ``begin`` on a kept opening, or by ``start``)."""
        return self._started_at is not None

    @property
    def waiting(self) -> bool:
        """Started, but the device has not asked for sound yet (for a while)."""
        return self._last is None and self._started_at is not None and time.monotonic() - self._started_at > 0.5

    def audible_frame(self) -> int:
        last = self._last
        if last is None:
            return 0
        t, first, frames = last
        return int(max(0, min(first + frames, first + (time.monotonic() - t - self.latency_s) * self.rate)))

    def check(self) -> None:
        if self.error is not None:
            err, self.error = self.error, None
            raise err
        if self._started_at is None:
            return
        now = time.monotonic()
        last = self._last
        if last is None:
            waited = now - self._started_at
            if waited > self.START_WAIT_S:
                raise DeviceError(NEVER_STARTED.format(s=self.START_WAIT_S))
            if waited > self.STALL_S and self._server_gone():
                raise DeviceError(GONE)
            return
        idle = now - last[0]
        if idle > self.GONE_S or (idle > self.STALL_S and self._server_gone()):
            raise DeviceError(GONE)

    def _server_gone(self) -> bool:
        """Whether the device's sound server has stopped answering (asked at most twice a second,
        in a thread of its own: a stalled server makes the question wait, which means "there")."""
        probe = self._probe
        if probe is None or (probe.done and time.monotonic() - probe.at > 0.5):
            self._probe = probe = _Probe(self._backend)
        return probe.done and probe.gone

    def close(self) -> None:
        self._closing.set()
        dev, self._dev = getattr(self, "_dev", None), None
        if dev is not None:
            dev.close()
        producer = getattr(self, "_producer", None)
        if producer is not None and producer is not threading.current_thread():
            producer.join(2)


class _Probe:
    """One look, in the background, at whether a backend still lists any playback device."""

    def __init__(self, backend: str):
        self.at = time.monotonic()
        self.done = False
        self.gone = False
        self._backend = backend
        self._thread = threading.Thread(target=self._run, name="voiceguide-device-probe", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.gone = not playback_devices(self._backend)
        except Exception:  # noqa: BLE001 - a probe that fails says nothing either way
            self.gone = False
        self.done = True
