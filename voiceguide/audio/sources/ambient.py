"""The built-in music: a slow, soft ambient pad, generated in code and exactly periodic.

Six chords in D major (Dmaj9, Bm11, Gmaj9, Em9, A9sus4, F#m7), 16 s each, swell into one another
over 6 s; notes the chords share are held through the change. Each pad note is a few soft
harmonics, each with a quieter slightly sharp twin (a slow chorus shimmer), whose upper harmonics breathe
in and out at their own slow rates, so the timbre keeps evolving; a low bass note and a faint
high sparkle frame it.

The loop is built directly as a spectrum and turned into samples with one inverse FFT (at a low
rate, then interpolated): every partial's frequency sits on a bin of the loop's length and every
envelope is periodic over the loop, so the last sample flows into the first with no seam at all,
and the same samples come out on every run (live play is compared with the export). It is dual
mono on purpose: LAME encodes a stereo signal with any side content about 30 % slower, and export
speed is held to a bare ffmpeg encode.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHORD_S = 16
CROSSFADE_S = 6.0
# (bass, pad notes) as MIDI numbers; the pads share A3 and F#4 most of the way round.
CHORDS = (
    (38, (57, 61, 64, 66)),  # Dmaj9
    (35, (57, 62, 64, 66)),  # Bm11
    (43, (57, 59, 62, 66)),  # Gmaj9
    (40, (55, 59, 62, 66)),  # Em9
    (45, (57, 59, 62, 64)),  # A9sus4
    (42, (57, 61, 64, 66)),  # F#m7 (add11), back to D
)
LOOP_S = CHORD_S * len(CHORDS)
SPARKLE = (78, 83, 81, 78, 76, 81)  # one high note per chord, two octaves over a chord tone

_ENV_POINTS = 4096  # envelopes are sampled this finely over the loop, then transformed
_ENV_BINS = 96  # and kept up to 1 Hz: they are far smoother than that


def _hz(note: float) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def _chord_windows(t: np.ndarray) -> np.ndarray:
    """Amplitude of each chord over the loop: plateaus joined by cos^2 crossfades summing to 1."""
    centres = (np.arange(len(CHORDS)) + 0.5) * CHORD_S
    d = np.abs((t[None, :] - centres[:, None] + LOOP_S / 2) % LOOP_S - LOOP_S / 2)
    u = np.clip((d - (CHORD_S - CROSSFADE_S) / 2) / CROSSFADE_S, 0.0, 1.0)
    return np.cos(np.pi / 2 * u) ** 2


@dataclass(frozen=True)
class AmbientLoop:
    samples: np.ndarray  # one loop at the output rate, float32, peak 0.5
    low_rate: int  # a rate dividing it that still holds every partial (and its square)
    low_spectrum: np.ndarray  # the same loop's spectrum at that rate (``rfft`` bins, same scale)
    top: float  # the highest frequency in it (Hz)


def ambient_loop(rate: int) -> AmbientLoop:
    """One loop of the built-in bed at ``rate``.

    Everything sits below ``top`` (about 2.3 kHz), so the loop is made by one inverse FFT at a
    low rate and interpolated up: a fraction of the time and memory of a transform at 44.1 kHz.
    """
    partials = _partials(rate)
    top = max((f for f, *_ in partials), default=0.0) + _ENV_BINS / LOOP_S
    k = next((k for k in (8, 6, 5, 4, 3, 2) if rate % k == 0 and rate // k >= 4.1 * top), 1)
    low = rate // k
    spec = _spectrum(partials, LOOP_S * low)
    y = np.fft.irfft(spec, LOOP_S * low)
    x = _upsample_loop(y, k)
    scale = 0.5 / float(np.abs(x).max())
    x *= np.float32(scale)
    spec *= np.complex64(scale)
    return AmbientLoop(x, low, spec, top)


def _upsample_loop(y: np.ndarray, k: int, taps: int = 32) -> np.ndarray:
    """A periodic signal at ``k`` times its rate, by windowed-sinc interpolation (float32).

    The signal wraps round at both ends, so the result loops exactly as the input does. Its
    content sits far below the low rate's Nyquist, so a lowpass at 0.8 of it passes all of it
    and stops the images.
    """
    if k == 1:
        return y.astype(np.float32)
    half = taps // 2
    ext = np.concatenate([y[-half:], y, y[:half]]).astype(np.float64)
    out = np.empty(len(y) * k, dtype=np.float32)
    cutoff = 0.8
    for p in range(k):
        t = np.arange(-half + 1, half + 1) - p / k  # tap j weighs y[m + j] for output m + p/k
        h = cutoff * np.sinc(cutoff * t) * (0.5 + 0.5 * np.cos(np.pi * t / (half + 1)))
        h /= h.sum()  # every phase passes DC alike: no ripple
        out[p::k] = np.convolve(ext, h[::-1], mode="valid")[1 : 1 + len(y)]
    return out


def _partials(rate: int) -> list[tuple[float, float, float, np.ndarray]]:
    """(frequency Hz, amplitude, phase, envelope over the loop) of every partial ``rate`` can hold."""
    t = np.arange(_ENV_POINTS) * (LOOP_S / _ENV_POINTS)
    windows = _chord_windows(t)
    rng = np.random.default_rng(20240517)  # fixed: the bed must be the same every run
    partials: list[tuple[float, float, float, np.ndarray]] = []

    def lfo(cycles: int, depth: float) -> np.ndarray:
        return 1.0 + depth * np.sin(2 * np.pi * cycles * t / LOOP_S + rng.uniform(0, 2 * np.pi))

    pad_notes = sorted({p for _, pads in CHORDS for p in pads})
    for note in pad_notes:
        env = sum(windows[i] for i, (_, pads) in enumerate(CHORDS) if note in pads)
        f0 = _hz(note)
        for h, amp in enumerate((1.0, 0.42, 0.2, 0.1, 0.05, 0.025), start=1):
            breath = lfo(int(rng.integers(1, 4)), 0.15 * h)
            # a main partial and a quieter, slightly sharp twin: they beat slowly (chorus), and
            # the unequal pair never cancels, so the swell stays gentle rather than a tremolo
            for share, detune in ((0.72, 0.0), (0.28, 0.22 + 0.0008 * f0 * h)):
                partials.append((f0 * h + detune, share * amp, rng.uniform(0, 2 * np.pi), env * breath))
    for i, (bass, _) in enumerate(CHORDS):
        f0 = _hz(bass)
        for h, amp in enumerate((0.55, 0.18, 0.06), start=1):
            partials.append((f0 * h, amp, rng.uniform(0, 2 * np.pi), windows[i] * lfo(1, 0.1)))
    for i, note in enumerate(SPARKLE):
        # swells in the middle of its chord only, like a distant held glass tone
        swell = windows[i] * np.sin(np.pi * ((t - i * CHORD_S) % LOOP_S).clip(0, CHORD_S) / CHORD_S) ** 2
        partials.append((_hz(note), 0.06, rng.uniform(0, 2 * np.pi), swell * lfo(3, 0.5)))
    # the random draws above happen whatever the rate, so every rate gets the same music
    return [p for p in partials if p[0] <= 0.45 * rate - _ENV_BINS / LOOP_S]


def _spectrum(partials, n: int) -> np.ndarray:
    """``rfft`` bins (complex64) of an ``n``-sample loop holding ``partials``; sparse."""
    spec = np.zeros(n // 2 + 1, dtype=np.complex64)
    j = np.arange(-_ENV_BINS, _ENV_BINS + 1)
    for f, amp, phase, env in partials:
        k = int(round(f * LOOP_S))
        if k + _ENV_BINS >= n // 2:
            continue
        coef = np.fft.rfft(env)[: _ENV_BINS + 1] / _ENV_POINTS
        e = np.concatenate([np.conj(coef[:0:-1]), coef])
        # x(t) = amp * e(t) * cos(2 pi f t + phase): its spectrum is e's, shifted to f
        spec[k + j] += (n * amp / 2 * np.exp(1j * phase)) * e
    return spec
