"""The music bed's gain over the session: ducked under every spoken cue, faded in and out.

The chimes' tails duck too (without the fades): a bell may ring on under the next words, softly.

Every cue's time is known before a sample is made, so the ducking is computed, not detected: the
bed glides down before a cue starts (so the first word is already clear) and back up after it
ends. Cues less than ``merge_ms`` apart share one dip, so the bed does not pump between sentences.
Ramps are raised cosines in decibels, read from tables built once, so the same frame always gets
the same gain whichever block it is rendered in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ATTACK_MS = 200  # down, ending where the cue starts
RELEASE_MS = 300  # back up, starting where the cue ends
MERGE_MS = 1500
FADE_IN_MS = 100  # just enough to start without a click: the first sound should come at once
FADE_OUT_MS = 4000


def _ramp(frames: int) -> np.ndarray:
    """0 -> 1 over ``frames`` samples, a raised cosine (zero slope at both ends)."""
    return 0.5 - 0.5 * np.cos(np.pi * np.arange(frames) / max(frames, 1))


@dataclass(frozen=True)
class Dip:
    start: int  # first frame at the full dip
    end: int  # first frame after it


class MusicEnvelope:
    """Gain (linear) of the bed at any frame of the session, before the overall music level."""

    def __init__(
        self,
        rate: int,
        total_frames: int,
        spans: list[tuple[int, int]],
        duck_db: float,
        *,
        attack_ms: int = ATTACK_MS,
        release_ms: int = RELEASE_MS,
        merge_ms: int = MERGE_MS,
        fade_in_ms: int = FADE_IN_MS,
        fade_out_ms: int = FADE_OUT_MS,
    ):
        self.rate = rate
        self.total = total_frames
        self.duck = float(np.float32(10 ** (-duck_db / 20)))  # what block() writes, exactly
        self.attack = rate * attack_ms // 1000
        self.release = rate * release_ms // 1000
        merge = max(rate * merge_ms // 1000, self.attack + self.release)
        dips: list[list[int]] = []
        for a, b in sorted(spans):
            if b <= a:
                continue
            if dips and a - dips[-1][1] < merge:
                dips[-1][1] = max(dips[-1][1], b)
            else:
                dips.append([a, b])
        self.dips = [Dip(a, b) for a, b in dips]
        self._starts = np.array([d.start - self.attack for d in self.dips], dtype=np.int64)
        self._ends = np.array([d.end + self.release for d in self.dips], dtype=np.int64)
        ramp_db = -duck_db
        self._down = (10 ** (ramp_db * _ramp(self.attack) / 20)).astype(np.float32)
        self._up = (10 ** (ramp_db * (1 - _ramp(self.release)) / 20)).astype(np.float32)
        # Short sessions get proportionally short fades.
        self.fade_in = min(rate * fade_in_ms // 1000, total_frames // 4)
        self.fade_out = min(rate * fade_out_ms // 1000, total_frames // 4)
        self._fade_in = _ramp(self.fade_in).astype(np.float32)
        self._fade_out = (1 - _ramp(self.fade_out)).astype(np.float32)

    def block(self, start: int, frames: int, *, fades: bool = True) -> np.ndarray:
        """Gains for frames [start, start + frames), float32; ``fades=False``: the dips alone."""
        out = np.ones(frames, dtype=np.float32)
        end = start + frames
        lo = int(np.searchsorted(self._ends, start, side="right"))
        hi = int(np.searchsorted(self._starts, end, side="left"))
        for j in range(lo, hi):
            d = self.dips[j]
            self._paste(out, start, d.start - self.attack, self._down)
            a, b = max(d.start, start), min(d.end, end)
            if a < b:
                out[a - start : b - start] = self.duck
            self._paste(out, start, d.end, self._up)
        if not fades:
            return out
        if start < self.fade_in:
            self._paste(out, start, 0, self._fade_in, multiply=True)
        if end > self.total - self.fade_out:
            self._paste(out, start, self.total - self.fade_out, self._fade_out, multiply=True)
        if end > self.total:
            out[max(0, self.total - start) :] = 0.0
        return out

    @staticmethod
    def _paste(out: np.ndarray, start: int, at: int, table: np.ndarray, multiply: bool = False) -> None:
        """Write ``table`` (placed at frame ``at``) into ``out`` (which starts at frame ``start``)."""
        a, b = max(at, start), min(at + len(table), start + len(out))
        if a >= b:
            return
        if multiply:
            out[a - start : b - start] *= table[a - at : b - at]
        else:
            out[a - start : b - start] = table[a - at : b - at]

    def mean_squares(self, bounds: np.ndarray, points: int = 4) -> tuple[np.ndarray, np.ndarray]:
        """Mean of gain^2 over each span [bounds[i], bounds[i+1]), with the fades and without them,
        from ``points`` samples of each span.

        Used to predict loudness; the ramps last 20+ of the 10 ms spans, so a few points suffice.
        Done a stretch at a time, so memory does not grow with the session.
        """
        bounds = np.asarray(bounds, dtype=np.int64)
        faded = np.empty(len(bounds) - 1)
        dips = np.empty(len(bounds) - 1)
        frac = (np.arange(points) + 0.5) / points
        step = 1 << 14
        for s in range(0, len(bounds) - 1, step):
            b = bounds[s : s + step + 1]
            frames = (b[:-1, None] + np.diff(b)[:, None] * frac[None, :]).astype(np.int64).ravel()
            g = self.at(frames, fades=False)
            g *= g
            dips[s : s + len(b) - 1] = g.reshape(-1, points).mean(axis=1)
            g *= np.square(self._fades_at(frames))
            faded[s : s + len(b) - 1] = g.reshape(-1, points).mean(axis=1)
        return faded, dips

    def mean_square(self, bounds: np.ndarray, points: int = 4, *, fades: bool = True) -> np.ndarray:
        return self.mean_squares(bounds, points)[0 if fades else 1]

    def at(self, frames: np.ndarray, *, fades: bool = True) -> np.ndarray:
        """Gains at arbitrary frames (float64), the same values ``block`` gives."""
        frames = np.asarray(frames, dtype=np.int64)
        out = np.ones(len(frames))
        if self.dips:
            j = np.searchsorted(self._starts, frames, side="right") - 1
            inside = (j >= 0) & (frames < self._ends[np.maximum(j, 0)])
            jj = j[inside]
            f = frames[inside]
            starts = np.array([d.start for d in self.dips], dtype=np.int64)[jj]
            ends = np.array([d.end for d in self.dips], dtype=np.int64)[jj]
            g = np.full(len(f), self.duck)
            down = f < starts
            g[down] = self._down[f[down] - (starts[down] - self.attack)]
            up = f >= ends
            g[up] = self._up[f[up] - ends[up]]
            out[inside] = g
        if not fades:
            return out
        return out * self._fades_at(frames)

    def _fades_at(self, frames: np.ndarray) -> np.ndarray:
        out = np.ones(len(frames))
        if self.fade_in:
            m = frames < self.fade_in
            out[m] = self._fade_in[frames[m]]
        if self.fade_out:
            m = (frames >= self.total - self.fade_out) & (frames < self.total)
            out[m] = self._fade_out[frames[m] - (self.total - self.fade_out)]
        out[frames >= self.total] = 0.0
        return out
