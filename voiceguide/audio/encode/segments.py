"""A session's MP3 in pieces: what each encoder is fed, and how their frames become one stream.

Encoding is most of an export's time (LAME at ffmpeg's default quality takes 8-13 s of CPU for
20 minutes of a session, depending on the music; the mixing about 1 s), and one LAME process
uses one core. So the session is cut into pieces, the pieces are encoded by one LAME process
per core, and their frames are joined (mp3frames.py says how a join stays inaudible).

Two kinds of piece:

- fresh: the session's own samples, fed to an encoder with ``PRIME`` frames of the audio before
  it (whose frames are dropped: they prime the encoder's psychoacoustic state) and ``WINDOW`` +
  ``TAIL`` frames after it (so a join can be made anywhere in the window, and the end of the
  encoder's input is never near a frame that is kept).
- loop: where the mix is the music bed alone at its full level (mixer.steady_spans: three
  quarters of a routine's time, between the cues), every frame is the bed at that frame's place
  in the loop. When the loop is a whole number of MP3 frames long (the built-in one is 96 s, 3675
  frames at 44.1 kHz), it is encoded once (primed with its own end, and run a little past its
  end) and those frames are copied wherever the session plays it. Measured on the bundled
  routine at 20 minutes, that halves the audio LAME has to encode.

The frame grid is the session's: global frame g decodes to the session's samples
[g * spf - delay, ...) where delay is LAME's 576 plus the decoder's 529, and every piece's input
starts on a multiple of spf samples, so each encoder's frames fall on that same grid.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from voiceguide.audio.encode import mp3frames as mf

PRIME = 8  # frames before a fresh piece, dropped: measured, joins sound the same from 4 on
# Frames searched for a join. Measured over 6525 joins (48 exports of the routine, both musics):
# 45% were made at the window's first frame, 0.8% needed 9 or more, the latest 14; a window of
# 16 ran out twice. Each frame of window costs encoding on both sides of every join (24 rather
# than 16: 5% more of the session encoded).
WINDOW = 24
TAIL = 2  # frames encoded past the window: LAME's lookahead reaches one granule ahead
MARGIN = 2  # frames kept clear of anything but the bed around a copied stretch (MDCT overlap)
MIN_COPY_S = 1.0  # a steady stretch is copied only when this much more than its joins cost
MAX_PIECE_S = 60.0  # fresh stretches longer than this are split, so the cores finish together
CHUNK_FRAMES = 2048
# a loop piece ends less than 2 windows past the wrap, and its join window runs one more
LOOP_RUN_ON = 3 * WINDOW + TAIL + 1
HOLD = 512  # main data bytes of output kept back: the most a reservoir reaches


class JoinError(RuntimeError):
    """No frame in a join's window lets the two encodings meet cleanly."""


@dataclass(frozen=True)
class Piece:
    """Global frames from the join before ``first`` to the join after ``end`` come from one encoding.

    ``first``: where the window of the join before it opens (0 for the session's first piece);
    ``end``: where the window of the join after it opens (the session's end for the last piece).
    A fresh piece's encoder is fed the session's samples [feed_start, feed_end); a loop piece's
    frames are the loop encoding's, global frame g being its frame g - ``loop_offset``.
    """

    first: int
    end: int
    loop: bool
    feed_start: int = 0
    feed_end: int = 0
    loop_offset: int = 0

    @property
    def feed_frames(self) -> int:
        return self.feed_end - self.feed_start


@dataclass(frozen=True)
class LoopJob:
    """The bed's loop, encoded once: ``frames`` samples from loop position ``start`` (wrapping)."""

    start: int
    frames: int


@dataclass(frozen=True)
class Plan:
    spf: int  # samples per MP3 frame
    total: int  # the session's samples (per channel)
    pieces: tuple[Piece, ...]  # in session order
    loop: LoopJob | None
    window: int = WINDOW

    @property
    def encoded_frames(self) -> int:
        """Samples all the encoders are fed, in frames' worth: the work this plan costs."""
        fed = sum(p.feed_frames for p in self.pieces if not p.loop) + (self.loop.frames if self.loop else 0)
        return fed // self.spf


def frame_samples(rate: int) -> int:
    """Samples per Layer III frame: MPEG-1 from 32 kHz up, MPEG-2/2.5 (half frames) below."""
    return 1152 if rate >= 32000 else 576


def _split_fresh(
    first: int, end: int, spf: int, total: int, max_frames: int, *, prime_from_start: bool, run_to_end: bool
) -> list[Piece]:
    """Fresh pieces covering nominal frames [first, end), none longer than ``max_frames``."""
    n = max(1, math.ceil((end - first) / max_frames))
    bounds = [first + (end - first) * i // n for i in range(n + 1)]
    out = []
    for i in range(n):
        a, b = bounds[i], bounds[i + 1]
        feed_start = 0 if (i == 0 and prime_from_start) else max(0, (a - PRIME) * spf)
        feed_end = total if (i == n - 1 and run_to_end) else min(total, (b + WINDOW + TAIL) * spf)
        out.append(Piece(a, b, False, feed_start, feed_end))
    return out


def _steady_runs(steady: Sequence[tuple[int, int]], spf: int, delay: int, min_frames: int) -> list[tuple[int, int]]:
    """Global frames [u, v) whose every sample, with MARGIN frames either side, is in a steady span."""
    runs = []
    for a, b in steady:
        u = -(-(a + delay + MARGIN * spf) // spf)
        v = (b + delay - MARGIN * spf) // spf
        if v - u >= min_frames:
            runs.append((u, v))
    return runs


def _loop_pieces(u: int, v: int, loop_frames: int) -> list[Piece]:
    """Loop pieces for a steady run [u, v): the window before opens at u, the one after at v - WINDOW.

    The loop encoding holds loop frames from -PRIME to loop_frames + LOOP_RUN_ON, so a piece may
    run on past the loop's end; a longer run is cut where the loop wraps and joined to the loop's
    own start. No piece is shorter than a window (or the joins on either side could cross): one
    that would be runs on past the wrap by a window, and none leaves a stub after it.
    """
    out = []
    s, end = u, v - WINDOW
    while s < end:
        phase = s % loop_frames
        wrap = s + (loop_frames - phase)
        e = wrap if wrap - s >= WINDOW else wrap + WINDOW
        if end - e < WINDOW:
            e = end
        out.append(Piece(s, e, True, loop_offset=s - phase - PRIME))
        s = e
    return out


def plan_session(
    total: int, rate: int, workers: int, *, steady: Sequence[tuple[int, int]] = (), loop_samples: int = 0
) -> Plan:
    """Cut a session of ``total`` samples into pieces for ``workers`` encoders.

    ``steady``: the mixer's steady spans; ``loop_samples``: the bed's loop length. The loop is
    reused only when its length is a whole number of frames and the plan then costs clearly less
    encoding than encoding everything (it does not for a playlist longer than the session).
    """
    spf = frame_samples(rate)
    delay = mf.ENCODER_DELAY + mf.DECODER_DELAY
    frames = -(-(total + delay) // spf)  # the last frame holding session samples, plus one
    even = max(1, math.ceil(frames / max(1, workers)))
    plain = Plan(
        spf, total, tuple(_split_fresh(0, frames, spf, total, even, prime_from_start=True, run_to_end=True)), None
    )
    if not steady or loop_samples <= 0 or loop_samples % spf:
        return plain
    loop_frames = loop_samples // spf
    join_cost = 2 * WINDOW + PRIME + TAIL
    runs = [
        (u, v)
        for u, v in _steady_runs(steady, spf, delay, join_cost + int(MIN_COPY_S * rate / spf))
        if u > WINDOW + PRIME and v < frames - 2
    ]
    if not runs:
        return plain
    max_fresh = min(even, max(1, int(MAX_PIECE_S * rate / spf)))
    pieces: list[Piece] = []
    start = 0  # the next fresh stretch's nominal first frame
    for u, v in runs:
        pieces += _split_fresh(start, u, spf, total, max_fresh, prime_from_start=not pieces, run_to_end=False)
        pieces += _loop_pieces(u, v, loop_frames)
        start = v - WINDOW
    pieces += _split_fresh(start, frames, spf, total, max_fresh, prime_from_start=False, run_to_end=True)
    loop = LoopJob(start=(loop_frames - PRIME) * spf, frames=(loop_frames + PRIME + LOOP_RUN_ON) * spf)
    reuse = Plan(spf, total, tuple(pieces), loop)
    # joins are cheap but not free (each costs a window of extra encoding, and a process's start)
    return reuse if reuse.encoded_frames < 0.8 * plain.encoded_frames else plain


# -- joining ------------------------------------------------------------------------------------


@dataclass
class Source:
    """An encoding's frames: global frame g is ``index`` frame g - ``offset``."""

    index: mf.FrameIndex
    fd: int
    offset: int

    def frames(self, first: int, last: int) -> bytes:
        return self.index.read(self.fd, first - self.offset, last - self.offset)

    def frame(self, g: int) -> bytes:
        return self.frames(g, g + 1)

    @property
    def stop(self) -> int:
        """One past the last global frame this encoding holds."""
        return len(self.index) + self.offset


@dataclass
class JoinReport:
    """Where each join was made: for tests and the benchmark."""

    joins: list[int] = field(default_factory=list)  # global frame of each join
    offsets: list[int] = field(default_factory=list)  # frames after its window opened
    frames: int = 0
    loop_frames_copied: int = 0


def find_joins(plan: Plan, sources: Sequence[Source], fmt: mf.StreamFormat) -> list[int]:
    """The frame each join is made at: the first in its window where the encodings meet cleanly."""
    joins = []
    for i in range(len(plan.pieces) - 1):
        a, b = sources[i], sources[i + 1]
        g = plan.pieces[i + 1].first
        for j in range(g, g + plan.window):
            if mf.join_ok(a.frame(j - 1), a.frame(j), b.frame(j - 1), b.frame(j), fmt):
                joins.append(j)
                break
        else:
            raise JoinError(f"no clean join in frames {g}..{g + plan.window - 1}")
    return joins


def _reservoir_before(src: Source, g: int, fmt: mf.StreamFormat) -> bytes:
    """What the encoding's frame g reads from its reservoir (the tail of its frames before g)."""
    need = mf.main_data_begin(src.frame(g), fmt)
    if not need:
        return b""
    first, have = g - src.offset, 0
    while have < need and first > 0:
        first -= 1
        have += int(src.index.sizes[first]) - fmt.data_start
    return mf.reservoir(src.frames(first + src.offset, g), need, fmt)


class _Output:
    """The joined frames on their way to the file, the last ones held back: a later join may have
    to put its reservoir bytes into their tail (at low bitrates 511 bytes span many frames, and a
    piece may be only a window long)."""

    def __init__(self, out: BinaryIO, fmt: mf.StreamFormat):
        self.out = out
        self.fmt = fmt
        self.pending = bytearray()
        self.sizes: list[int] = []
        self.crc = mf.Crc16()
        self.appended = 0  # bytes of frames taken so far (written or held)

    def add(self, data: bytes, sizes: Sequence[int]) -> None:
        self.pending += data
        self.sizes += sizes
        self.appended += len(data)
        keep, slots = 0, 0
        for size in reversed(self.sizes):
            if slots >= HOLD:
                break
            keep += 1
            slots += size - self.fmt.data_start
        self._write(len(self.sizes) - keep)

    def patch(self, reservoir: bytes) -> None:
        if reservoir:
            mf.patch_tail(self.pending, reservoir, self.fmt)

    def close(self) -> None:
        self._write(len(self.sizes))

    def _write(self, frames: int) -> None:
        if frames <= 0:
            return
        n = sum(self.sizes[:frames])
        chunk = bytes(self.pending[:n])
        self.crc.update(chunk)
        self.out.write(chunk)
        del self.pending[:n]
        del self.sizes[:frames]


def assemble(
    plan: Plan,
    sources: Sequence[Source],
    out: BinaryIO,
    *,
    delay: int,
    encoder: bytes,
    report: JoinReport | None = None,
) -> None:
    """Write the joined stream at ``out``'s position: its Info frame, then every frame.

    Raises JoinError when a join cannot be made (the caller encodes in one pass instead).
    """
    fmt = sources[0].index.fmt
    joins = find_joins(plan, sources, fmt)
    starts = [0] + joins
    stops = joins + [sources[-1].stop]
    frames = stops[-1]
    padding = frames * plan.spf - delay - plan.total
    if not 0 <= padding <= mf.MAX_PAD:
        raise mf.FrameError(f"the joined stream ends {padding} samples after the session")
    audio_bytes = 0
    for src, a, b in zip(sources, starts, stops):
        idx = src.index
        audio_bytes += int(
            idx.offsets[b - 1 - src.offset] + idx.sizes[b - 1 - src.offset] - idx.offsets[a - src.offset]
        )
    model = sources[0].index.header
    info_size = len(mf.info_frame(model, frames=0, audio_bytes=0, toc=bytes(100), delay=0, padding=0, music_crc=0))
    info_at = out.tell()
    out.write(bytes(info_size))
    output = _Output(out, fmt)
    toc_frames = [i * frames // 100 for i in range(100)]
    toc_offsets: list[int] = []
    for i, (src, a, b) in enumerate(zip(sources, starts, stops)):
        idx = src.index
        for lo in range(a, b, CHUNK_FRAMES):
            hi = min(b, lo + CHUNK_FRAMES)
            base = int(idx.offsets[lo - src.offset])
            while len(toc_offsets) < 100 and toc_frames[len(toc_offsets)] < hi:
                f = toc_frames[len(toc_offsets)]
                toc_offsets.append(info_size + output.appended + int(idx.offsets[f - src.offset]) - base)
            output.add(src.frames(lo, hi), idx.sizes[lo - src.offset : hi - src.offset].tolist())
        if i + 1 < len(sources):
            # the next encoding's frame b reaches back into its own reservoir: put those bytes
            # where the decoder will look for them, at the end of the frames before it
            output.patch(_reservoir_before(sources[i + 1], b, fmt))
        if report is not None and plan.pieces[i].loop:
            report.loop_frames_copied += b - a
    output.close()
    written = info_size + output.appended
    info = mf.info_frame(
        model,
        frames=frames,
        audio_bytes=audio_bytes,
        toc=mf.seek_table(toc_offsets, frames, written),
        delay=delay,
        padding=padding,
        music_crc=output.crc.value(),
        encoder=encoder,
    )
    end = out.tell()
    out.seek(info_at)
    out.write(info)
    out.seek(end)
    if report is not None:
        report.joins = list(joins)
        report.offsets = [j - p.first for j, p in zip(joins, plan.pieces[1:])]
        report.frames = frames


def open_source(path: str | os.PathLike, offset: int) -> Source:
    idx = mf.index_frames(path)
    return Source(idx, os.open(idx.path, os.O_RDONLY), offset)
