"""The second output: simpleaudio buffers started at deadlines on the monotonic clock.

simpleaudio opens the device per buffer and drains it; chaining ``wait_done()`` and ``sleep()``
leaves seconds of silence between buffers (STACK.md). So each buffer is started when the
monotonic clock reaches its deadline, whatever the previous one is doing, and reaches a little
past its end into the next one: the two overlap by a short crossfade (sin^2 + cos^2 = 1), so a
late or early start of a few ms is neither a gap nor a click. A start later than that (a thread
woken 23 ms late once made an audible skip in 25 s) begins that many frames into its buffer, so
the sound stays where the clock says it belongs: the frames skipped are the ones the previous
buffer's faded tail was playing meanwhile. A command stops what is playing and starts again from
the frame being heard, rewound in the transport.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from voiceguide.errors import DeviceError
from voiceguide.player.output import BUSY, GONE, NO_DEVICE, quiet_alsa, to_pcm16


def device_error(err: Exception) -> DeviceError:
    text = str(err)
    if "-16" in text or "busy" in text.lower():
        return DeviceError(BUSY)
    return DeviceError(NO_DEVICE)


class BufferOutput:
    BUFFER_S = 10.0
    JOIN_MS = 20
    POLL_S = 0.01  # how often a pending command is looked for (well within the 200 ms allowed)
    RESTART_LEAD_S = 0.06  # time to make the short buffer that carries a command
    RESTART_MS = 500  # ms in that short buffer; the long ones follow on their deadlines
    PREPARE_BEFORE_S = 0.2  # clips are made ahead only while the next deadline is further off

    def __init__(self, rate: int, channels: int, *, device: str | None = None, buffer_s: float | None = None):
        if device is not None:
            raise DeviceError(
                "simpleaudio plays on the system's default device only; use --output stream to choose a device"
            )
        try:
            import simpleaudio
        except ImportError:
            raise DeviceError(
                "simpleaudio is not installed (pip install 'voiceguide[simpleaudio]'); "
                "--output stream needs nothing extra"
            ) from None
        from voiceguide.compat.simpleaudio import SimpleaudioError

        quiet_alsa()
        self._sa = simpleaudio
        self._error = SimpleaudioError
        self.rate, self.channels = rate, channels
        self.buffer_frames = int((buffer_s or self.BUFFER_S) * rate)
        self.join_frames = self.JOIN_MS * rate // 1000
        self.name = "simpleaudio"
        self.latency_s = 0.005  # measured through PulseAudio: a buffer is heard 1-10 ms after its start
        try:  # open the device once now, so a missing one is reported before anything starts
            simpleaudio.play_buffer(np.zeros((rate // 100, channels), np.int16).tobytes(), channels, 2, rate).stop()
        except self._error as e:
            raise device_error(e) from None
        self._lock = threading.Lock()
        self._playing: list[tuple[Any, int, float, int]] = []  # (play object, device frame, start, frames)
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def start(self, transport: Any) -> None:
        self._thread = threading.Thread(target=self._run, args=(transport,), name="voiceguide-simpleaudio", daemon=True)
        self._thread.start()

    def _run(self, transport: Any) -> None:
        try:
            self._schedule(transport)
        except BaseException as e:  # noqa: BLE001 - handed to the control thread by check()
            self.error = e

    def _schedule(self, transport: Any) -> None:
        # (d_next, t_next): the next buffer's first device frame and its deadline; every deadline
        # follows from the first by frame counts, so nothing drifts
        d_next, t_next = 0, time.monotonic()
        fade_in = False
        prepared: bytes | None = None
        size = 0
        while not self._closing.is_set():
            now = time.monotonic()
            if transport.pending and self._playing:
                d_next, t_next = self._restart(transport, now)
                prepared, fade_in = None, True
                continue
            if prepared is None and not (transport.finished and d_next >= transport.end_frame):
                # commands are applied only at a frame about to be heard (see _restart), or before
                # anything plays; never at the start of a buffer seconds ahead
                size = self.buffer_frames
                prepared = self._prepare(transport, size, fade_in=fade_in, apply=not self._playing)
            if prepared is not None and now >= t_next:
                if not self._playing:
                    t_next = now  # the first buffer starts when it is ready, nothing is late
                self._play(prepared, d_next, t_next, size)
                d_next += size
                t_next += size / self.rate
                prepared, fade_in = None, True
                continue
            self._watch(now)
            if t_next - now > self.PREPARE_BEFORE_S:
                transport.prepare_ahead(self.buffer_frames)  # clips of what comes, made in spare time
            time.sleep(max(0.0, min(self.POLL_S, t_next - time.monotonic())))
        self._stop_all()

    def _restart(self, transport: Any, now: float) -> tuple[int, float]:
        """Apply pending commands at the frame heard a moment from now, switching buffers right then."""
        with self._lock:
            _, d_cur, t_cur, _ = self._playing[-1]
        t_switch = now + self.RESTART_LEAD_S
        d = d_cur + int(round((t_switch - t_cur) * self.rate))
        transport.rewind(d)
        d = transport.frame  # the history may not reach that far ahead: then where it ends
        t_switch = t_cur + (d - d_cur) / self.rate
        size = self.RESTART_MS * self.rate // 1000
        short = self._prepare(transport, size, fade_in=False, apply=True)
        time.sleep(max(0.0, t_switch - time.monotonic()))
        self._stop_all()
        self._play(short, d, t_switch, size)
        return d + size, t_switch + size / self.rate

    def _play(self, pcm: bytes, frame: int, deadline: float, size: int) -> None:
        """Start ``pcm`` (device frames ``frame``...) due at ``deadline``, from the frame the
        clock has reached if it starts late."""
        late = int((time.monotonic() - deadline) * self.rate)
        skip = max(0, min(late, size - 1))
        if skip:
            pcm = pcm[skip * 2 * self.channels :]
            frame, deadline, size = frame + skip, deadline + skip / self.rate, size - skip
        try:
            obj = self._sa.play_buffer(pcm, self.channels, 2, self.rate)
        except self._error as e:
            raise device_error(e) from None
        with self._lock:
            self._playing = [p for p in self._playing if p[0].is_playing()]
            self._playing.append((obj, frame, deadline, size))

    def _prepare(self, transport: Any, frames: int, *, fade_in: bool, apply: bool) -> bytes:
        """The next buffer, reaching ``join_frames`` into the one after, faded out over that reach."""
        body = transport.pull(frames, apply_pending=apply)
        tail = transport.peek(self.join_frames)
        block = np.concatenate([body, tail])
        j = self.join_frames
        ramp = (np.sin(0.5 * np.pi * (np.arange(j) + 0.5) / j) ** 2).astype(np.float32)[:, None]
        if fade_in:
            block[:j] *= ramp
        block[-j:] *= 1.0 - ramp
        return to_pcm16(block).tobytes()

    def _watch(self, now: float) -> None:
        """A buffer that stopped well before its end, not by us: the device went away."""
        with self._lock:
            current = self._playing[-1] if self._playing else None
        if current is not None:
            obj, _, started, frames = current
            if not obj.is_playing() and now < started + frames / self.rate - 0.5:
                raise DeviceError(GONE)

    def _stop_all(self) -> None:
        with self._lock:
            playing, self._playing = self._playing, []
        for obj, *_ in playing:
            obj.stop()

    def audible_frame(self) -> int:
        now = time.monotonic()
        with self._lock:
            started = [p for p in self._playing if p[2] <= now]
        if not started:
            return 0
        _, frame, t, frames = started[-1]
        return int(frame + max(0.0, min(frames, (now - t - self.latency_s) * self.rate)))

    def check(self) -> None:
        if self.error is not None:
            err, self.error = self.error, None
            raise err

    def close(self) -> None:
        self._closing.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2)
        self._stop_all()
