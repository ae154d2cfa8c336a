"""A look-ahead peak limiter for whole clips, in vectorised numpy.

The gain needed at each sample (ceiling / true-peak envelope) is spread with a sliding minimum of
radius R and then a moving average of radius R. Every output gain is an average of minima over
windows that contain the sample itself, so it can never exceed the gain that sample needs: the
ceiling holds by construction, and the gain moves smoothly over about 2R before and after a peak.
"""

from __future__ import annotations

import numpy as np

from voiceguide.audio.dsp.loudness import _tp_phases, true_peak

RADIUS_MS = 3  # gain moves over ~12 ms: quick enough to spare the syllable, slow enough not to buzz


def sliding_min(x: np.ndarray, radius: int) -> np.ndarray:
    """min(x[i - radius : i + radius + 1]) for every i, in O(n) (van Herk / Gil-Werman)."""
    return _sliding(x, radius, np.minimum, np.inf)


def sliding_max(x: np.ndarray, radius: int) -> np.ndarray:
    """max(x[i - radius : i + radius + 1]) for every i, in O(n)."""
    return _sliding(x, radius, np.maximum, -np.inf)


def _sliding(x: np.ndarray, radius: int, op: np.ufunc, pad: float) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if radius <= 0 or n == 0:
        return x.copy()
    w = 2 * radius + 1
    blocks = -(-(n + 2 * radius) // w)
    padded = np.full(blocks * w + w, pad)
    padded[radius : radius + n] = x
    rows = padded.reshape(-1, w)
    prefix = op.accumulate(rows, axis=1).ravel()
    suffix = op.accumulate(rows[:, ::-1], axis=1)[:, ::-1].ravel()
    return op(suffix[:n], prefix[w - 1 : w - 1 + n])


def moving_average(x: np.ndarray, radius: int) -> np.ndarray:
    """Mean of x[i - radius : i + radius + 1], the edges padded with the edge values."""
    if radius <= 0 or len(x) == 0:
        return x.copy()
    padded = np.concatenate([np.full(radius, x[0]), x, np.full(radius, x[-1])])
    cs = np.concatenate([[0.0], np.cumsum(padded)])
    w = 2 * radius + 1
    return (cs[w:] - cs[:-w]) / w


def peak_envelope(x: np.ndarray) -> np.ndarray:
    """Per-sample estimate of the true peak around each sample (four-times oversampled)."""
    half = len(_tp_phases()[0]) // 2
    env = np.abs(x)
    ext = np.concatenate([np.zeros(half), x, np.zeros(half)])
    for taps in _tp_phases():
        # `valid` output i interpolates between samples i-1 and i (see loudness.true_peak).
        y = np.abs(np.convolve(ext, taps, mode="valid"))
        env = np.maximum(env, y[1 : len(x) + 1])
        env = np.maximum(env, y[: len(x)])
    return env


class Limiter:
    """A limiter for one signal: the peak envelope is found once, any ceiling applied after."""

    def __init__(self, x: np.ndarray, rate: int, *, radius_ms: float = RADIUS_MS):
        self.x = np.asarray(x, dtype=np.float64)
        self.radius = max(1, int(rate * radius_ms / 1000))
        self.env = peak_envelope(self.x) if len(self.x) else self.x
        self._top: np.ndarray | None = None

    def gain(self, ceiling: float) -> np.ndarray:
        """The gain curve that holds the peaks to ``ceiling`` (1.0 where nothing is over)."""
        if self._top is None:
            # min over a window of ceiling / env is ceiling / (max over it of env): the sliding
            # extreme is taken once, however many ceilings are tried
            self._top = np.maximum(sliding_max(self.env, self.radius), 1e-12)
        need = np.minimum(1.0, ceiling / self._top)
        # the running-sum average can land a rounding error above 1
        return np.minimum(moving_average(need, self.radius), 1.0)

    @property
    def peak(self) -> float:
        return float(self.env.max(initial=0.0))

    def apply(self, ceiling: float, *, trim: bool = True) -> np.ndarray:
        y = self.x * self.gain(ceiling)
        if trim:
            # The envelope estimate can miss an inter-sample peak by a hair; a trim makes it exact.
            tp = true_peak(y)
            if tp > ceiling:
                y *= ceiling / tp
        return y


def limit(x: np.ndarray, ceiling: float, rate: int, *, radius_ms: float = RADIUS_MS) -> np.ndarray:
    """``x`` (mono) with its true peak brought down to at most ``ceiling`` (linear)."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0 or true_peak(x) <= ceiling:
        return x.copy()
    return Limiter(x, rate, radius_ms=radius_ms).apply(ceiling)
