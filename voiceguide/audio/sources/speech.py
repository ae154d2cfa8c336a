"""Spoken clips made ready for the mix: even in loudness, peak-limited, resampled.

Every clip is brought to the same loudness (REFERENCE_LUFS, measured as BS.1770 does), so every
cue is as loud as the others whatever the engine did, and its peaks are limited to the ceiling
the mixer derives from the session's gain. Limiting lowers loudness, so the clip is measured and
raised again after it: the loudness stays exact and only the peaks move, which is what lets the
mixer fix its gain before any clip is limited. Voices are peaky (espeak-ng's run about 19 dB from
peak to loudness, where a -16 LUFS program with a -2 dBTP ceiling allows about 17), so most clips
lose a few dB of peaks.

What the mixer needs before the first block (each clip's K-weighted power per 10 ms) is measured
on the clip as normalised, which is quick, and cached; the limiting and resampling are done when
the clip is first played, and cached too, so a session starts at once and a warm export reads a
few small files instead of every clip.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from voiceguide.audio.cache import DerivedCache, digest
from voiceguide.audio.dsp.limiter import Limiter
from voiceguide.audio.dsp.loudness import (
    block_powers,
    gated_power,
    integrated_loudness,
    k_weight,
    lufs,
    segment_powers,
    segment_powers_sq,
    true_peak,
)
from voiceguide.audio.dsp.resampler import resample, resampled_length

if TYPE_CHECKING:  # pragma: no cover
    from voiceguide.background import Background, Batch

REFERENCE_LUFS = -23.0  # every clip, measured as one channel, before the session's gain
DEFAULT_CEILING_DB = -8.0  # until a mixer sets one from its gain
SILENT_LUFS = -70.0
MAX_LIMIT_DB = 20.0  # the most a clip's peaks are pulled down before it is let go quieter
RESIDENT_BYTES = 24 << 20  # processed clips kept in memory (about 40 at 44.1 kHz); others are re-read


class ClipLike(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def digest(self) -> str: ...  # names the samples: what is derived from a clip is cached under it
    @property
    def sample_rate(self) -> int: ...
    @property
    def frames(self) -> int: ...

    def read(self) -> np.ndarray: ...


@dataclass(frozen=True)
class ClipAnalysis:
    rate: int  # the clip's own rate
    frames: int  # at its own rate
    gain: float  # brings it to REFERENCE_LUFS
    peak: float  # a bound on its true peak at that gain, before limiting
    powers: np.ndarray  # K-weighted power per 10 ms at that gain (one channel)


def shape(x: np.ndarray, rate: int, ceiling_db: float) -> np.ndarray:
    """``x`` with its true peak at most ``ceiling_db`` and its loudness unchanged.

    Limiting lowers loudness and making that up raises the peaks again, so the limiter's own
    ceiling is found by a secant search. While searching, loudness is predicted from the gain
    curve applied to the K-weighted signal (the gain moves far slower than the filter's response
    matters); the result is measured once, exactly, at the end.
    """
    ceiling = 10 ** (ceiling_db / 20)
    if len(x) == 0:
        return x
    lim = Limiter(x, rate)
    if lim.peak <= ceiling:
        return x
    kx2 = np.square(k_weight(x, rate))

    def loudness(gain: np.ndarray | float) -> float:
        return lufs(gated_power(block_powers(segment_powers_sq(kx2 * np.square(gain), rate))))

    target = loudness(1.0)
    if not target > SILENT_LUFS:
        return lim.apply(ceiling)

    def overshoot(t_db: float) -> float:
        """How far over the ceiling the peaks end up once the loudness is made up (dB)."""
        return t_db + (target - loudness(lim.gain(10 ** (t_db / 20)))) - ceiling_db

    # A clip whose loudness is all in its peaks (a click) cannot keep it; the search is bounded
    # and such a clip simply comes out limited and quieter.
    lowest = ceiling_db - MAX_LIMIT_DB
    t0, f0 = ceiling_db, overshoot(ceiling_db)
    t1 = max(lowest, ceiling_db - 2 * f0)
    for _ in range(6):
        f1 = overshoot(t1)
        if not np.isfinite(f1) or abs(f1) < 0.05 or f1 == f0:
            break
        t0, f0, t1 = t1, f1, min(ceiling_db, max(lowest, t1 - f1 * (t1 - t0) / (f1 - f0)))
    y = lim.apply(10 ** (t1 / 20), trim=False)  # the one trim is below, after the make-up
    made_up = integrated_loudness(y, rate)
    if np.isfinite(made_up):
        y = y * 10 ** (min(target - made_up, MAX_LIMIT_DB) / 20)
    tp = true_peak(y)
    return y * (ceiling / tp) if tp > ceiling else y


class SpeechBank:
    """The processed clips of one session, made on first use and shared by mixers re-timed from it."""

    def __init__(self, clips: Mapping[str, ClipLike], rate: int, cache: DerivedCache | None):
        self.clips = dict(clips)
        self.rate = rate
        self.cache = cache
        # peaks are held to this (dBTP, before the session's gain); the mixer sets it
        self.ceiling_db: float = DEFAULT_CEILING_DB
        self._base: dict[str, ClipAnalysis] = {}
        self._resident: OrderedDict[str, np.ndarray] = OrderedDict()
        self._resident_bytes = 0
        self._pending: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    # -- before the first block ------------------------------------------------------------

    def add(self, clips: Mapping[str, ClipLike]) -> None:
        """More clips for mixers re-timed from this session; a text it has keeps its clip."""
        for text, clip in clips.items():
            self.clips.setdefault(text, clip)

    def analyse(self, texts: Iterable[str], background: Background | None = None) -> None:
        """Measure what the mixer needs of each clip (from the cache when it has it); with a
        ``background``, on up to two of its threads when there are many."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._base]
        for text in todo:
            if text not in self.clips:
                raise ValueError(f"no clip was given for the cue {text!r}")
        order = self._bundle_order(todo)
        bundle = None if order is None else digest("speech-analysis-set", order)
        if bundle is not None and order is not None:
            found = self._load_bundle(bundle, order, todo)
            if found is not None:
                self._base.update(found)
                return
        if len(todo) < 8 or background is None or not background.threaded:
            for text in todo:
                self._base[text] = self._analysis(text)
        else:
            # FFT-bound, and numpy's FFTs let go of the GIL: two threads take half the time
            with background.batch(self._analysis, todo, limit=2) as batch:
                done = dict(batch)
            for text in todo:
                self._base[text] = done[text]
        if bundle is not None and order is not None:
            self._save_bundle(bundle, order, todo)

    # A session's analyses are also kept together, one entry per set of clips: loading the 59
    # entries of the bundled routine one by one took about 30 ms of the time to first sound
    # (an open, a check and an npz read each); the bundle is one read.

    def _bundle_order(self, texts: list[str]) -> list[str] | None:
        """The distinct clip digests of ``texts``, sorted: the bundle's key and its row order."""
        if self.cache is None or len(texts) < 2:
            return None
        return sorted({self.clips[t].digest for t in texts})

    def _load_bundle(self, name: str, order: list[str], texts: list[str]) -> dict[str, ClipAnalysis] | None:
        assert self.cache is not None  # _bundle_order gives no order without a cache
        z = self.cache.load_arrays("speech", name)
        if z is None:
            return None
        meta, ends, powers = z.get("meta"), z.get("ends"), z.get("powers")
        if (
            meta is None
            or ends is None
            or powers is None
            or meta.shape != (len(order), 4)
            or ends.shape != (len(order),)
            or (len(ends) and int(ends[-1]) != len(powers))
        ):
            return None
        starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
        by_digest: dict[str, ClipAnalysis] = {}
        for i, d in enumerate(order):
            rate, frames, gain, peak = meta[i]
            by_digest[d] = ClipAnalysis(
                int(rate), int(frames), float(gain), float(peak), powers[int(starts[i]) : int(ends[i])]
            )
        return {t: by_digest[self.clips[t].digest] for t in texts}

    def _save_bundle(self, name: str, order: list[str], texts: list[str]) -> None:
        assert self.cache is not None
        first: dict[str, ClipAnalysis] = {}
        for t in texts:
            first.setdefault(self.clips[t].digest, self._base[t])
        parts = [first[d] for d in order]
        self.cache.save_arrays(
            "speech",
            name,
            meta=np.array([[a.rate, a.frames, a.gain, a.peak] for a in parts], dtype=np.float64),
            ends=np.cumsum([len(a.powers) for a in parts]).astype(np.int64),
            powers=np.concatenate([a.powers for a in parts]) if parts else np.zeros(0),
        )

    def analysis(self, text: str) -> ClipAnalysis:
        return self._base[text]

    def out_frames(self, text: str) -> int:
        a = self._base[text]
        return resampled_length(a.frames, a.rate, self.rate)

    def max_peak(self) -> float:
        """The highest true peak any clip will have (before the session's gain)."""
        top = max((a.peak for a in self._base.values()), default=0.0)
        return min(top, 10 ** (self.ceiling_db / 20))

    def set_ceiling(self, ceiling_db: float) -> None:
        """Hold every clip's true peak to ``ceiling_db`` (rounded down to a quarter dB, so that
        sessions with nearly the same gain share cache entries)."""
        ceiling_db = float(np.floor(ceiling_db * 4) / 4)
        with self._lock:
            if ceiling_db != self.ceiling_db:
                self.ceiling_db = ceiling_db
                self._resident.clear()
                self._resident_bytes = 0

    def _analysis(self, text: str) -> ClipAnalysis:
        clip = self.clips[text]
        name = digest("speech-analysis", clip.digest)
        if self.cache is not None:
            z = self.cache.load_arrays("speech", name)
            if z is not None:
                rate, frames, gain, peak = z["meta"]
                return ClipAnalysis(int(rate), int(frames), float(gain), float(peak), z["powers"])
        raw = np.asarray(clip.read(), dtype=np.float64).reshape(-1)
        segs = segment_powers(k_weight(raw, clip.sample_rate), clip.sample_rate)
        loud = lufs(gated_power(block_powers(segs)))
        gain = 10 ** ((REFERENCE_LUFS - loud) / 20) if loud > SILENT_LUFS else 1.0
        # the sample peak plus 1 dB bounds the true peak of speech; exactness is not needed here
        a = ClipAnalysis(
            clip.sample_rate, len(raw), gain, float(np.abs(raw).max(initial=0.0)) * gain * 1.122, segs * gain * gain
        )
        if self.cache is not None:
            self.cache.save_arrays("speech", name, meta=np.array([a.rate, a.frames, a.gain, a.peak]), powers=a.powers)
        return a

    # -- while rendering -------------------------------------------------------------------

    def ready(self, text: str) -> bool:
        """Whether ``text``'s processed clip is in memory (``samples`` returns it at once)."""
        with self._lock:
            return text in self._resident

    def samples(self, text: str) -> np.ndarray:
        """The clip at the output rate, float32 mono, at the reference level (no session gain)."""
        while True:
            with self._lock:
                x = self._resident.get(text)
                if x is not None:
                    self._resident.move_to_end(text)
                    return x
                busy = self._pending.get(text)
                if busy is None:
                    busy = self._pending[text] = threading.Event()
                    ceiling_db = self.ceiling_db
                    break
            busy.wait()  # another thread is making it; then take it from the residents
        try:
            x = self._make(text, ceiling_db)
            with self._lock:
                if ceiling_db == self.ceiling_db:
                    self._resident[text] = x
                    self._resident_bytes += x.nbytes
                    while self._resident_bytes > RESIDENT_BYTES and len(self._resident) > 1:
                        _, old = self._resident.popitem(last=False)
                        self._resident_bytes -= old.nbytes
        finally:
            with self._lock:
                del self._pending[text]
            busy.set()
        return x

    def prefetch(self, texts: Iterable[str], background: Background, *, workers: int = 1) -> Batch | None:
        """Make ``texts`` ready on ``workers`` of ``background``'s threads, in order (the order
        they are spoken), up to half the resident budget; the rest are made as needed. Returns
        the batch, for a caller that must see it end (None when the background has no threads:
        then each clip is made when it is first mixed)."""
        if not background.threaded:
            return None
        order = [t for t in dict.fromkeys(texts) if t in self._base]
        return background.batch(self._prefetch_one, order, limit=workers)

    def _prefetch_one(self, text: str) -> None:
        with self._lock:
            if self._resident_bytes > RESIDENT_BYTES // 2:
                return
        try:
            self.samples(text)
        except Exception:  # noqa: BLE001 - prefetch only; the real request raises it again
            pass  # whoever needs the clip will meet the error itself

    def check_sources(self, texts: Iterable[str]) -> None:
        """Before the first block: every clip that will have to be read while mixing (its
        processed samples are not cached, or fail their check) is read and checked now, so a
        damaged clip is found while the session can still render it again, not halfway through
        an export. Raises DamagedClip naming every damaged clip."""
        if self.cache is None:
            return
        from voiceguide.errors import DamagedClip

        damaged: list[DamagedClip] = []
        for text in dict.fromkeys(texts):
            name = self._cache_name(text, self.ceiling_db)
            if self.cache.load_raw("speech", name, "<f4", self.out_frames(text)) is None:
                try:
                    self.clips[text].read()
                except DamagedClip as e:
                    damaged.append(e)
        DamagedClip.raise_all(damaged)

    def _cache_name(self, text: str, ceiling_db: float) -> str:
        return digest("speech-samples", self.clips[text].digest, ceiling_db, self.rate) + ".f32"

    def _make(self, text: str, ceiling_db: float) -> np.ndarray:
        clip = self.clips[text]
        base = self._base[text]
        n = resampled_length(base.frames, base.rate, self.rate)
        name = self._cache_name(text, ceiling_db)
        if self.cache is not None:
            x = self.cache.load_raw("speech", name, "<f4", n)
            if x is not None:
                return x
        x = np.asarray(clip.read(), dtype=np.float64).reshape(-1) * base.gain
        x = shape(x, base.rate, ceiling_db)
        x = resample(x, base.rate, self.rate).astype(np.float32)
        if self.cache is not None:
            self.cache.save_raw("speech", name, x)
        return x
