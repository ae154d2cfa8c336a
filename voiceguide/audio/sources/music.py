"""The music bed: one seamless loop at the output rate, built in or made from the user's files.

A user's file (or each file of a folder, played in name order) is decoded by ffmpeg at the output
rate, brought to one loudness, and joined into a loop with a crossfade at every seam, the last
track back into the first. The music starts at its first sample: each crossfade lays the next
track's opening under the end of the one before, so the first track's opening is heard once in
the clear and, after that, only under the seam (``loop_start`` is where the repeating part
begins). The bed lives in a raw file read with ``pread`` (a playlist may be an hour long; memory
must not grow with it), kept under the cache folder when there is one.

Everything the mixer needs to predict loudness comes with the bed: the K-weighted power of every
10 ms of the loop and its true peak, both at the bed's own level (the mixer sets the level).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from voiceguide.audio import ffmpeg
from voiceguide.audio.cache import DerivedCache, digest
from voiceguide.audio.dsp.loudness import (
    block_powers,
    gated_power,
    k_response,
    k_weight,
    lufs,
    segment_bounds,
    segment_powers,
    segment_sums,
    true_peak,
)
from voiceguide.errors import AudioInputError
from voiceguide.files import is_full, write_fault

CROSSFADE_MS = 4000
# A loop of whole MP3 frames (1152 samples: two of the half-size frames below 32 kHz) is encoded
# once and reused by an export (encode/segments.py); the last track gives up at most 26 ms of its fade.
LOOP_MULTIPLE = 1152
MIN_TRACK_MS = 1000  # shorter is a click, not music (and loudness is measured over 400 ms blocks)
SILENT_LUFS = -60.0  # quieter than this is not music anyone can hear over a voice
AUDIO_SUFFIXES = frozenset(
    {
        ".mp3",
        ".ogg",
        ".oga",
        ".opus",
        ".flac",
        ".wav",
        ".wave",
        ".m4a",
        ".aac",
        ".mp4",
        ".wma",
        ".aif",
        ".aiff",
        ".webm",
        ".mka",
        ".alac",
        ".ape",
        ".wv",
    }
)


class Bed(Protocol):
    frames: int  # length of the whole bed: the opening heard once, then the loop
    loop_start: int  # where the loop begins: after frame ``frames`` comes this one
    channels: int  # 1: the same signal in every output channel
    powers: np.ndarray  # K-weighted power per 10 ms of the loop, summed over output channels
    peak: float  # true peak of the loop (linear)

    def read(self, pos: int, frames: int) -> np.ndarray: ...


@dataclass
class ArrayBed:
    """A loop held in memory (the built-in one: 17 MB for 96 s of mono at 44.1 kHz)."""

    samples: np.ndarray  # (frames,) or (frames, channels) float32
    powers: np.ndarray
    peak: float
    loop_start: int = 0  # the built-in bed is a loop from its first sample

    @property
    def frames(self) -> int:
        return len(self.samples)

    @property
    def channels(self) -> int:
        return 1 if self.samples.ndim == 1 else self.samples.shape[1]

    def read(self, pos: int, frames: int) -> np.ndarray:
        start = bed_position(pos, self.frames, self.loop_start)
        if start + frames <= self.frames:
            return self.samples[start : start + frames]
        where = bed_position(np.arange(pos, pos + frames), self.frames, self.loop_start)
        return np.take(self.samples, where, axis=0)


class FileBed:
    """A loop in a raw float32 file, read where it is needed."""

    def __init__(self, f, frames: int, channels: int, powers: np.ndarray, peak: float, loop_start: int = 0):
        self._file = f  # kept open: the loop may be an unnamed temp file
        self._fd = f.fileno()
        self.frames = frames
        self.loop_start = loop_start
        self.channels = channels
        self.powers = powers
        self.peak = peak

    def read(self, pos: int, frames: int) -> np.ndarray:
        fb = 4 * self.channels
        parts = []
        pos = bed_position(pos, self.frames, self.loop_start)
        while frames > 0:
            n = min(frames, self.frames - pos)
            parts.append(os.pread(self._fd, n * fb, pos * fb))
            frames -= n
            pos = self.loop_start
        data = np.frombuffer(b"".join(parts), dtype="<f4")
        return data if self.channels == 1 else data.reshape(-1, self.channels)


def bed_position(pos, frames: int, loop_start: int):
    """Where session frame ``pos`` (an int or an array) reads the bed: straight through the first
    ``frames``, then round the loop [loop_start, frames) again and again."""
    period = frames - loop_start
    if isinstance(pos, np.ndarray):
        return np.where(pos < frames, pos, loop_start + (pos - loop_start) % period)
    return pos if pos < frames else loop_start + (pos - loop_start) % period


def loop_analysis(samples: np.ndarray, rate: int, channels_out: int) -> tuple[np.ndarray, float]:
    """Per-10 ms K-weighted power of a loop (in its steady state) and its true peak.

    ``samples`` may be a memory map of an hour of music: it is read a piece at a time.
    """
    n = len(samples)
    bounds = segment_bounds(n, rate)
    cum_at_bounds = np.zeros(len(bounds))
    total = 0.0
    step = rate * 20
    for s in range(0, n, step):
        piece = np.asarray(samples[s : s + step], dtype=np.float64)
        # the loop's own tail is the history of its start: the filter sees it as periodic
        hist = samples[s - rate : s] if s >= rate else np.asarray(samples[-min(n, rate) :])
        kx = k_weight(piece, rate, history=np.asarray(hist, dtype=np.float64))
        sq = kx * kx if kx.ndim == 1 else (kx * kx).sum(axis=1)
        cs = np.cumsum(sq) + total
        lo = int(np.searchsorted(bounds, s, side="right"))
        hi = int(np.searchsorted(bounds, s + len(piece), side="right"))
        cum_at_bounds[lo:hi] = cs[bounds[lo:hi] - s - 1]
        total = float(cs[-1])
    powers = np.diff(cum_at_bounds) / np.maximum(np.diff(bounds), 1)
    if samples.ndim == 1:
        powers = powers * channels_out
    return powers, true_peak(samples, periodic=True)


def builtin_bed(rate: int, channels: int, cache: DerivedCache | None) -> ArrayBed | FileBed:
    from voiceguide.audio.sources.ambient import LOOP_S, ambient_loop

    n = LOOP_S * rate
    name = digest("ambient", rate)
    if cache is not None:
        meta = cache.load_json("music", name)
        powers = cache.load_arrays("music", name)
        if meta is not None and powers is not None:
            # read where it is played, not whole: reading and copying the 17 MB first took about
            # 50 ms of a warm start's time to first sound; the entry's check is one pass (6 ms)
            f = cache.open_raw("music", name + ".f32", n * 4)
            if f is not None:
                return FileBed(f, n, 1, powers["powers"] * channels, float(meta["peak"]))
    loop = ambient_loop(rate)
    # The loop is made as a spectrum, so its K-weighting is a product there: exact (periodic),
    # and measured at the low rate the loop was made at (which holds every partial's square).
    spec = loop.low_spectrum
    n_low = LOOP_S * loop.low_rate
    bins = np.flatnonzero(spec)
    kspec = np.zeros_like(spec)
    kspec[bins] = spec[bins] * k_response(rate, n, bins).astype(np.complex64)
    kx = np.fft.irfft(kspec, n_low)
    np.square(kx, out=kx)
    bounds = segment_bounds(n_low, loop.low_rate)
    powers = segment_sums(kx, bounds) / np.diff(bounds)
    # Band-limited to `top`, a signal cannot rise between samples by more than 1/cos(pi top/rate).
    peak = float(np.abs(loop.samples).max() / np.cos(np.pi * min(loop.top / rate, 0.25)))
    samples = loop.samples
    if cache is not None:
        cache.save_raw("music", name + ".f32", samples)
        cache.save_arrays("music", name, powers=powers)
        cache.save_json("music", name, {"peak": peak})
    return ArrayBed(samples, powers * channels, peak)


def music_files(path: Path) -> list[Path]:
    """The file itself, or a folder's audio files in name order (natural: 2 before 10)."""
    import re

    if not path.exists():
        raise AudioInputError("music file or folder not found", path=path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise AudioInputError("music path is neither a file nor a folder", path=path)

    def natural(p: Path):
        return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name.casefold())]

    files = sorted(
        (
            p
            for p in path.iterdir()
            if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES and not p.name.startswith(".")
        ),
        key=natural,
    )
    if not files:
        raise AudioInputError(
            f"no audio files in this music folder (looked for {', '.join(sorted(s[1:] for s in AUDIO_SUFFIXES))})",
            path=path,
        )
    return files


@dataclass
class _Track:
    file: object  # temp file of raw float32 frames
    frames: int
    gain: float  # brings the track to the common loudness


def _decode_track(path: Path, rate: int, channels: int, scratch: Path | None) -> _Track:
    """Decode to a raw temp file while measuring the track's loudness (one pass, flat memory)."""
    f = tempfile.TemporaryFile(dir=scratch)  # noqa: SIM115 - lives in the returned _Track
    segs = []
    history = None
    frames = 0
    carry = np.zeros((0, channels), dtype=np.float32)
    seg_len = rate // 100 if rate % 100 == 0 else None
    try:
        for chunk in ffmpeg.decode(path, rate, channels):
            f.write(chunk.tobytes())
            frames += len(chunk)
            # whole 10 ms segments only, so each chunk's segments line up with the track's grid
            data = np.concatenate([carry, chunk]) if len(carry) else chunk
            if seg_len:
                usable = len(data) - len(data) % seg_len
            else:
                usable = len(data)
            piece, carry = data[:usable], data[usable:]
            if len(piece):
                kx = k_weight(piece, rate, history=history)
                segs.append(segment_powers(kx, rate))
                history = (piece if history is None else np.concatenate([history, piece]))[-rate:]
        if len(carry):
            segs.append(segment_powers(k_weight(carry, rate, history=history), rate))
    except BaseException:
        f.close()
        raise
    if frames < rate * MIN_TRACK_MS // 1000:
        # a 2-sample WAV decodes to a loop with nothing to crossfade and nothing to map
        f.close()
        raise AudioInputError(
            f"this music lasts only {frames * 1000 // rate} ms; a music bed needs at least {MIN_TRACK_MS // 1000} s",
            path=path,
        )
    loudness = lufs(gated_power(block_powers(np.concatenate(segs)))) if segs else float("-inf")
    if loudness < SILENT_LUFS:
        f.close()
        raise AudioInputError("this music is silent (nothing above -60 LUFS)", path=path)
    return _Track(f, frames, 10 ** ((-23.0 - loudness) / 20))


def _read(track: _Track, start: int, frames: int, channels: int) -> np.ndarray:
    fb = 4 * channels
    data = os.pread(track.file.fileno(), frames * fb, start * fb)
    return np.frombuffer(data, dtype="<f4").reshape(-1, channels).astype(np.float64) * track.gain


def crossfade(tail: np.ndarray, head: np.ndarray) -> np.ndarray:
    """``tail`` fading out while ``head`` fades in, keeping the level steady either way.

    Equal-power fades suit unrelated material and linear ones identical material; the weights
    here are normalised by the pair's measured correlation, so both come out level.
    """
    n = len(tail)
    s = 0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)
    a, b = 1.0 - s, s
    denom = np.sqrt(np.sum(tail * tail) * np.sum(head * head))
    r = float(np.clip(np.sum(tail * head) / denom, 0.0, 1.0)) if denom > 0 else 0.0
    k = 1.0 / np.sqrt(a * a + b * b + 2 * r * a * b)
    if tail.ndim == 2:
        a, b, k = a[:, None], b[:, None], k[:, None]
    return k * (a * tail + b * head)


def _assemble(tracks: list[_Track], rate: int, channels: int, out) -> tuple[int, int]:
    """Write the bed: the first track's opening in the clear, then the loop: each track minus its
    opening, its end crossfaded into the next track's opening. Returns (frames, loop_start).

    The overlap comes from the end of each track: with a 27 s melody the session's 0.5 s is the
    file's 0.5 s (dropping the head instead started the music 4 s into the file, and its first
    4 s were only ever heard under a seam).

    The loop is a whole number of MP3 frames long (LOOP_MULTIPLE), so an MP3 export can encode
    it once and copy its frames: the last track ends up to LOOP_MULTIPLE - 1 samples early (its
    crossfade starts that much sooner).
    """
    x = min(rate * CROSSFADE_MS // 1000, min(t.frames for t in tracks) // 3)
    ends = [t.frames for t in tracks]
    short = sum(ends) - len(tracks) * x
    if ends[-1] - short % LOOP_MULTIPLE >= 2 * x:
        ends[-1] -= short % LOOP_MULTIPLE
    block = rate * 10
    written = 0
    for s in range(0, x, block):
        piece = _read(tracks[0], s, min(block, x - s), channels)
        out.write(piece.astype("<f4").tobytes())
        written += len(piece)
    loop_start = written
    for i, t in enumerate(tracks):
        nxt = tracks[(i + 1) % len(tracks)]
        end = ends[i]
        for s in range(x, end - x, block):
            piece = _read(t, s, min(block, end - x - s), channels)
            out.write(piece.astype("<f4").tobytes())
            written += len(piece)
        if x:
            mixed = crossfade(_read(t, end - x, x, channels), _read(nxt, 0, x, channels))
            out.write(mixed.astype("<f4").tobytes())
            written += x
    return written, loop_start


def file_bed(source: Path, rate: int, channels: int, cache: DerivedCache | None) -> FileBed:
    files = music_files(source)
    for p in files:
        if not os.access(p, os.R_OK):
            raise AudioInputError("cannot read this music file (permission denied)", path=p)
    stats = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    name = digest("music", stats, rate, channels, CROSSFADE_MS, LOOP_MULTIPLE, "opening in the clear")
    if cache is not None:
        meta = cache.load_json("music", name)
        arrays = cache.load_arrays("music", name)
        if isinstance(meta, dict) and arrays is not None and "powers" in arrays:
            f = cache.open_raw("music", name + ".f32", int(meta["frames"]) * 4 * channels)
            if f is not None:
                return FileBed(
                    f,
                    int(meta["frames"]),
                    channels,
                    arrays["powers"],
                    float(meta["peak"]),
                    int(meta.get("loop_start", 0)),
                )
    try:
        return _make_file_bed(files, name, stats, rate, channels, cache)
    except OSError as e:  # the decoded tracks and the loop are written as they are made
        if cache is not None and is_full(e):
            raise write_fault(e, f"the cache {cache.root}") from None
        raise


def _make_file_bed(
    paths: list[Path], name: str, stats: list, rate: int, channels: int, cache: DerivedCache | None
) -> FileBed:
    scratch = cache.scratch("music") if cache is not None else None
    entry = cache.raw_entry("music", name + ".f32") if cache is not None else None
    out = entry.file if entry is not None else tempfile.TemporaryFile()  # noqa: SIM115 - closed below
    tracks: list[_Track] = []
    try:
        for p in paths:
            tracks.append(_decode_track(p, rate, channels, scratch))
        frames, loop_start = _assemble(tracks, rate, channels, entry if entry is not None else out)
        out.flush()
        loop = np.memmap(out, dtype="<f4", mode="r", shape=(frames, channels))
        powers, peak = loop_analysis(loop if channels > 1 else loop[:, 0], rate, channels)
        del loop
    except BaseException:
        out.close()
        if entry is not None:
            entry.discard()
        raise
    finally:
        for t in tracks:
            t.file.close()
    if entry is not None:
        # the analysis and meta go in first: a reader that finds the loop finds them too
        cache.save_arrays("music", name, powers=powers)
        cache.save_json(
            "music", name, {"frames": frames, "loop_start": loop_start, "peak": peak, "files": [s[0] for s in stats]}
        )
        entry.publish()
    return FileBed(out, frames, channels, powers, peak, loop_start)


def prepare_bed(music: str, rate: int, channels: int, cache: DerivedCache | None) -> Bed | None:
    if music == "none":
        return None
    if music == "builtin":
        return builtin_bed(rate, channels, cache)
    return file_bed(Path(music).expanduser(), rate, channels, cache)
