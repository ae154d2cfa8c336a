"""Band-limited resampling of short clips by FFT (numpy only; scipy.signal is too slow to import).

A speech clip starts and ends in near silence, so treating it as one period of a periodic signal
(what the FFT does) costs nothing audible once a little silence is padded on; the result is the
ideal band-limited interpolation, with no filter design to get wrong.
"""

from __future__ import annotations

import math

import numpy as np

from voiceguide.audio.dsp.loudness import fast_length

PAD_MS = 40  # silence added before transforming, so the clip's end does not wrap onto its start


def resampled_length(frames: int, rate_in: int, rate_out: int) -> int:
    """Frames a clip of ``frames`` at ``rate_in`` has at ``rate_out``; the mixer relies on this."""
    return (frames * rate_out + rate_in // 2) // rate_in


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """``x`` (mono float) at ``rate_out``, length ``resampled_length``; float64."""
    x = np.asarray(x, dtype=np.float64)
    n_out = resampled_length(len(x), rate_in, rate_out)
    if rate_in == rate_out or len(x) == 0:
        return x.copy()[:n_out]
    g = math.gcd(rate_in, rate_out)
    up, down = rate_out // g, rate_in // g
    # Both transform lengths must be whole: n_in a multiple of `down`, n_in * up / down fast too.
    n_in = len(x) + rate_in * PAD_MS // 1000
    n_in = fast_length(-(-n_in // down)) * down
    m = n_in * up // down
    spec = np.fft.rfft(x, n_in)
    out = np.zeros(m // 2 + 1, dtype=np.complex128)
    keep = min(len(spec), len(out))
    out[:keep] = spec[:keep]
    # The bin at the lower Nyquist frequency holds two folded halves; split it when upsampling,
    # and drop it when downsampling (it cannot be represented unambiguously).
    if n_in % 2 == 0 and m > n_in:
        out[n_in // 2] *= 0.5
    elif m % 2 == 0 and m < n_in:
        out[m // 2] = out[m // 2].real
    y = np.fft.irfft(out, m) * (m / n_in)
    return y[:n_out]
