"""BS.1770 loudness in numpy alone: K-weighting, 10 ms power series, gated integration, true peak.

scipy.signal would filter too, but importing it costs about 0.7 s and 75 MB, more than an export
may spend over a bare ffmpeg encode. The K-weighting here is a finite impulse response taken from
the standard's two biquads and applied with FFTs (overlap-save), which is exact to far below what a
meter shows.

Powers are per-channel mean squares of the K-weighted signal, summed over channels (the weights
of the left and right channels are 1), so ``lufs(power)`` is the loudness BS.1770 defines.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
SEGMENT_MS = 10  # the grid the mixer predicts loudness on
BLOCK_SEGMENTS = 40  # 400 ms gating blocks ...
HOP_SEGMENTS = 10  # ... with 75 % overlap
KERNEL_MS = 100  # the filters' impulse response is below 1e-9 of its start after this


def lufs(power: float) -> float:
    """Loudness of a (channel-summed, K-weighted) mean square; -inf for silence."""
    return -0.691 + 10 * math.log10(power) if power > 0 else -math.inf


def power_of(loudness: float) -> float:
    return 10 ** ((loudness + 0.691) / 10)


def _biquads(rate: int) -> list[tuple[np.ndarray, np.ndarray]]:
    # The standard gives coefficients at 48 kHz; these analogue prototypes (as libebur128 uses)
    # reproduce them there and give the same curve at any other rate.
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / rate)
    vh = 10 ** (gain_db / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = (
        np.array([(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0]),
        np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]),
    )
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / rate)
    a0 = 1 + k / q + k * k
    highpass = (np.array([1.0, -2.0, 1.0]), np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]))
    return [shelf, highpass]


def k_response(rate: int, n: int, bins: np.ndarray | None = None) -> np.ndarray:
    """The K-weighting filter's frequency response at the ``rfft`` bins of an ``n``-point transform
    (all of them, or just ``bins``)."""
    k = np.arange(n // 2 + 1) if bins is None else np.asarray(bins)
    z = np.exp(-2j * np.pi * k / n)
    h = np.ones_like(z)
    for b, a in _biquads(rate):
        h *= np.polyval(b[::-1], z) / np.polyval(a[::-1], z)
    return h


@lru_cache(maxsize=8)
def k_kernel(rate: int) -> np.ndarray:
    """Impulse response of the K-weighting filter, truncated where it has died away."""
    taps = rate * KERNEL_MS // 1000
    n = 1 << (4 * taps - 1).bit_length()
    return np.fft.irfft(k_response(rate, n), n)[:taps].copy()


def fast_length(n: int) -> int:
    """Smallest 2^a 3^b 5^c >= n: FFT sizes that pocketfft handles fastest."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


@lru_cache(maxsize=8)
def _k_block_spectrum(rate: int, n: int) -> np.ndarray:
    return np.fft.rfft(k_kernel(rate), n)


def k_weight(x: np.ndarray, rate: int, *, history: np.ndarray | None = None) -> np.ndarray:
    """K-weighted copy of ``x`` (frames, or frames x channels), filtered from rest.

    ``history`` (the frames just before ``x``) lets a long signal be filtered in pieces, and a
    periodic loop be filtered in its steady state by passing the loop's own tail.
    """
    kernel = k_kernel(rate)
    x = np.asarray(x, dtype=np.float64)
    ctx = len(kernel) - 1
    if history is None:
        history = np.zeros((ctx,) + x.shape[1:])
    else:
        history = np.asarray(history, dtype=np.float64)[-ctx:]
        if len(history) < ctx:
            history = np.concatenate([np.zeros((ctx - len(history),) + x.shape[1:]), history])
    full = np.concatenate([history, x])
    # Overlap-save in blocks a few times the kernel's length: about three times quicker than one
    # transform of the whole signal (smaller transforms stay in cache, and the kernel's spectrum,
    # small at this size, is computed once per rate), and exact to rounding just the same.
    block = 1 << (4 * ctx - 1).bit_length()
    hop = block - ctx
    if len(x) <= 2 * hop:
        n = fast_length(len(full) + ctx)
        spec = np.fft.rfft(full, n, axis=0)
        kspec = np.fft.rfft(kernel, n)
        if x.ndim == 2:
            kspec = kspec[:, None]
        return np.fft.irfft(spec * kspec, n, axis=0)[ctx : ctx + len(x)]
    blocks = -(-len(x) // hop)
    lanes = full.T if x.ndim == 2 else full[None, :]  # (channels, frames)
    padded = np.zeros((len(lanes), ctx + blocks * hop))
    padded[:, : len(full)] = lanes
    frames = np.lib.stride_tricks.sliding_window_view(padded, block, axis=1)[:, ::hop]
    y = np.fft.irfft(np.fft.rfft(frames, axis=2) * _k_block_spectrum(rate, block), block, axis=2)[:, :, ctx:]
    y = y.reshape(len(lanes), -1)[:, : len(x)]
    return y.T if x.ndim == 2 else y[0]


def segment_bounds(frames: int, rate: int, segment_ms: int = SEGMENT_MS) -> np.ndarray:
    """Frame boundaries of the segments covering ``frames`` (the last one may be short)."""
    count = -(-frames * 1000 // (rate * segment_ms)) if frames else 0
    ms = np.arange(count + 1, dtype=np.int64) * segment_ms
    bounds = (ms * rate + 500) // 1000
    bounds[-1] = frames
    return bounds


def segment_powers(kx: np.ndarray, rate: int, segment_ms: int = SEGMENT_MS) -> np.ndarray:
    """Channel-summed mean square of an already K-weighted signal over each segment."""
    return segment_powers_sq(np.square(kx), rate, segment_ms)


def segment_powers_sq(sq: np.ndarray, rate: int, segment_ms: int = SEGMENT_MS) -> np.ndarray:
    """``segment_powers`` from the squared signal."""
    if sq.ndim == 2:
        sq = sq.sum(axis=1)
    bounds = segment_bounds(len(sq), rate, segment_ms)
    if len(bounds) < 2:
        return np.zeros(0)
    return segment_sums(sq, bounds) / np.maximum(np.diff(bounds), 1)


def segment_sums(x: np.ndarray, bounds: np.ndarray, chunk: int = 1 << 20) -> np.ndarray:
    """Sums of x[bounds[i]:bounds[i+1]] in float64, a chunk at a time (x may be long float32)."""
    if len(x) <= chunk and len(bounds) > 1 and bounds[0] == 0 and bounds[-1] == len(x) and np.all(np.diff(bounds) > 0):
        # a clip: one pass, no running-sum array (several times quicker at this size)
        return np.add.reduceat(x, bounds[:-1], dtype=np.float64)
    at = np.zeros(len(bounds))
    total = 0.0
    for s in range(0, len(x), chunk):
        cs = np.cumsum(x[s : s + chunk], dtype=np.float64)
        cs += total
        lo = int(np.searchsorted(bounds, s, side="right"))
        hi = int(np.searchsorted(bounds, s + len(cs), side="right"))
        at[lo:hi] = cs[bounds[lo:hi] - s - 1]
        total = float(cs[-1])
    return np.diff(at)


def block_powers(segments: np.ndarray) -> np.ndarray:
    """Powers of the 400 ms gating blocks, every 100 ms, from 10 ms segment powers.

    A signal shorter than one block is one block: a short cue still has a loudness.
    """
    segments = np.asarray(segments, dtype=np.float64)
    if len(segments) == 0:
        return segments
    if len(segments) < BLOCK_SEGMENTS:
        return np.array([segments.mean()])
    cs = np.concatenate([[0.0], np.cumsum(segments)])
    starts = np.arange(0, len(segments) - BLOCK_SEGMENTS + 1, HOP_SEGMENTS)
    return (cs[starts + BLOCK_SEGMENTS] - cs[starts]) / BLOCK_SEGMENTS


def gated_power(blocks: np.ndarray, scale: float = 1.0) -> float:
    """BS.1770 gated mean of block powers (as if multiplied by ``scale``); 0 when all are gated."""
    blocks = np.asarray(blocks, dtype=np.float64) * scale
    kept = blocks[blocks > power_of(ABSOLUTE_GATE_LUFS)]
    if len(kept) == 0:
        return 0.0
    threshold = kept.mean() * 10 ** (RELATIVE_GATE_LU / 10)
    kept = kept[kept > threshold]
    return float(kept.mean()) if len(kept) else 0.0


def integrated_loudness(x: np.ndarray, rate: int) -> float:
    """Integrated loudness (LUFS) of a whole signal, as a meter would report it."""
    return lufs(gated_power(block_powers(segment_powers(k_weight(x, rate), rate))))


# Four-times oversampling, as BS.1770 Annex 2 suggests for true peak: three fractional-delay
# windowed-sinc interpolators of 16 taps (the fourth phase is the samples themselves).
_TP_TAPS = 16


@lru_cache(maxsize=1)
def _tp_phases() -> list[np.ndarray]:
    half = _TP_TAPS // 2
    phases = []
    for p in (0.25, 0.5, 0.75):
        t = np.arange(-half + 1, half + 1) - p
        window = 0.5 + 0.5 * np.cos(np.pi * t / (half + 0.5))
        phases.append((np.sinc(t) * window)[::-1].copy())
    return phases


def true_peak(x: np.ndarray, *, periodic: bool = False, chunk: int = 1 << 18) -> float:
    """Largest absolute value of ``x`` oversampled four times (linear, not dB).

    ``periodic`` treats ``x`` as a loop, so the seam is checked as well. ``x`` may be a memory
    map: it is converted a chunk at a time.
    """
    if x.ndim == 1:
        x = x[:, None]
    n = len(x)
    if n == 0:
        return 0.0
    half = _TP_TAPS // 2
    peak = 0.0
    for c in range(x.shape[1]):

        def span(a: int, b: int, c: int = c) -> np.ndarray:
            """x[a:b, c] as float64, wrapping round the loop or zero-padded outside it."""
            idx = np.arange(a, b)
            if periodic:
                return np.asarray(x[idx % n, c], dtype=np.float64)
            inside = (idx >= 0) & (idx < n)
            out = np.zeros(len(idx))
            out[inside] = x[idx[inside], c]
            return out

        for s in range(0, n, chunk):
            e = min(n, s + chunk)
            seg = np.asarray(x[s:e, c], dtype=np.float64)
            ext = np.concatenate([span(s - half, s), seg, span(e, e + half)])
            peak = max(peak, float(np.abs(seg).max()))
            for taps in _tp_phases():
                y = np.convolve(ext, taps, mode="valid")
                peak = max(peak, float(np.abs(y).max()))
    return peak


def db(x: float) -> float:
    return 20 * math.log10(x) if x > 0 else -math.inf
