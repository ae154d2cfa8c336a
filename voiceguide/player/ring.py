"""The hand-over between the thread that makes sound and the device callback that plays it.

The device callback must never wait on anything slow: it runs when the sound card needs the next
period, and anything it spends beyond the few tens of milliseconds the device keeps queued is
heard as a gap (a 100 ms stall in the callback once shifted everything after it by 71 ms). So the
callback only copies bytes that are already made, out of a preallocated buffer, and a producer
thread keeps that buffer a few hundred milliseconds ahead.

Positions count frames since the start, and they are the transport's device frames: ``read`` is
what the device has been given, ``write`` what the producer has made. The producer may take back
frames the device has not been given yet (``cut``), which is how a key acts on what is about to
be heard rather than on what was made long before.
"""

from __future__ import annotations

import threading


class PcmRing:
    """Interleaved 16-bit frames, ``capacity`` of them at most. Thread-safe; ``take`` allocates
    nothing but a memoryview (after its first call)."""

    def __init__(self, capacity_frames: int, frame_bytes: int):
        self.frame_bytes = frame_bytes
        self.capacity = capacity_frames
        self._buf = bytearray(capacity_frames * frame_bytes)
        self._scratch = bytearray(0)
        self._view = memoryview(self._buf)
        self.lock = threading.Lock()
        self.read = 0  # frames handed to the device
        self.write = 0  # frames made
        self.underruns = 0  # device requests that found fewer frames than they asked for
        self.short_frames = 0  # silence the device got instead (all underruns together)

    @property
    def filled(self) -> int:
        return self.write - self.read

    def room(self) -> int:
        with self.lock:
            return self.capacity - (self.write - self.read)

    def put(self, pcm: bytes, at: int | None = None) -> int:
        """Append ``pcm`` (whole frames) at ``at`` (default: the end), dropping anything made after
        that point; frames before ``read`` (already played) are skipped. Returns the new end."""
        fb = self.frame_bytes
        with self.lock:
            start = self.write if at is None else max(self.read, min(at, self.write))
            data = memoryview(pcm)[(start - at) * fb :] if at is not None and start > at else memoryview(pcm)
            n = min(len(data) // fb, self.capacity - (start - self.read))
            self._copy_in(start, data[: n * fb])
            self.write = start + n
            return self.write

    def _copy_in(self, frame: int, data: memoryview) -> None:
        fb, cap = self.frame_bytes, self.capacity
        a = (frame % cap) * fb
        first = min(len(data), cap * fb - a)
        self._view[a : a + first] = data[:first]
        if first < len(data):
            self._view[: len(data) - first] = data[first:]

    def take(self, frames: int) -> tuple[memoryview, int]:
        """(bytes for ``frames`` frames, the device frame they start at) for the device callback.

        The frames are copied out (about a microsecond for a period) into a buffer only the
        callback uses, so the producer may refill their place at once. Short of frames, the rest
        is silence and the request counts as an underrun."""
        fb, cap = self.frame_bytes, self.capacity
        if len(self._scratch) < frames * fb:
            self._scratch = bytearray(frames * fb)  # once, at the first request
        out = memoryview(self._scratch)[: frames * fb]
        with self.lock:
            start = self.read
            n = min(frames, self.write - self.read)
            a = (start % cap) * fb
            first = min(n * fb, cap * fb - a)
            out[:first] = self._view[a : a + first]
            out[first : n * fb] = self._view[: n * fb - first]
            if n < frames:
                out[n * fb :] = bytes((frames - n) * fb)
                self.underruns += 1
                self.short_frames += frames - n
            self.read = start + n
            return out, start
