"""The built-in music: a slow, soft ambient pad, generated in code and exactly periodic.

Six chords in D major (Dmaj9, Bm11, Gmaj9, Em9, A9sus4, F#m7), 16 s each, swell into one another
over 6 s; notes the chords share are held through the change. Each pad note is a few soft
harmonics, each with a quieter slightly sharp twin (a slow chorus shimmer), whose upper harmonics breathe
in and out at their own slow rates, so the timbre keeps evolving; a low bass note and a faint
high sparkle frame it.

The loop is built directly as a spectrum and turned into samples with one inverse FFT: every
partial's frequency sits on a bin of the loop's length and every envelope is periodic over the
loop, so the last sample flows into the first with no seam at all, and the same samples come out
on every run (live play is compared with the export). It is dual mono on purpose: LAME encodes
a stereo signal with any side content about 30 % slower, and export speed is held to a bare
ffmpeg encode.
"""

from __future__ import annotations

import numpy as np

CHORD_S = 16
CROSSFADE_S = 6.0
# (bass, pad notes) as MIDI numbers; the pads share A3 and F#4 most of the way round.
CHORDS = (
    (38, (57, 61, 64, 66)),   # Dmaj9
    (35, (57, 62, 64, 66)),   # Bm11
    (43, (57, 59, 62, 66)),   # Gmaj9
    (40, (55, 59, 62, 66)),   # Em9
    (45, (57, 59, 62, 64)),   # A9sus4
    (42, (57, 61, 64, 66)),   # F#m7 (add11), back to D
)
LOOP_S = CHORD_S * len(CHORDS)
SPARKLE = (78, 83, 81, 78, 76, 81)  # one high note per chord, two octaves over a chord tone

_ENV_POINTS = 4096   # envelopes are sampled this finely over the loop, then transformed
_ENV_BINS = 96       # and kept up to 1 Hz: they are far smoother than that


def _hz(note: float) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def _chord_windows(t: np.ndarray) -> np.ndarray:
    """Amplitude of each chord over the loop: plateaus joined by cos^2 crossfades summing to 1."""
    centres = (np.arange(len(CHORDS)) + 0.5) * CHORD_S
    d = np.abs((t[None, :] - centres[:, None] + LOOP_S / 2) % LOOP_S - LOOP_S / 2)
    u = np.clip((d - (CHORD_S - CROSSFADE_S) / 2) / CROSSFADE_S, 0.0, 1.0)
    return np.cos(np.pi / 2 * u) ** 2


def ambient_loop(rate: int) -> np.ndarray:
    """One loop of the built-in bed at ``rate``, mono float32, peak about 0.5."""
    spec, _ = ambient_spectrum(rate)
    x = np.fft.irfft(spec, LOOP_S * rate)
    x *= np.float32(0.5 / np.abs(x).max())
    return x


def ambient_spectrum(rate: int) -> tuple[np.ndarray, float]:
    """The loop's spectrum (``rfft`` bins of LOOP_S * rate samples, complex64) and its top frequency.

    Sparse: only bins near the partials are set, so filters can be applied to those alone.
    """
    n = LOOP_S * rate
    t = np.arange(_ENV_POINTS) * (LOOP_S / _ENV_POINTS)
    windows = _chord_windows(t)
    rng = np.random.default_rng(20240517)  # fixed: the bed must be the same every run

    # partials: (frequency Hz, amplitude, phase, envelope over the loop)
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

    spec = np.zeros(n // 2 + 1, dtype=np.complex64)
    j = np.arange(-_ENV_BINS, _ENV_BINS + 1)
    top = 0.0
    for f, amp, phase, env in partials:
        k = int(round(f * LOOP_S))
        if k + _ENV_BINS >= n // 2 or f > 0.45 * rate:
            continue
        coef = np.fft.rfft(env)[: _ENV_BINS + 1] / _ENV_POINTS
        e = np.concatenate([np.conj(coef[:0:-1]), coef])
        # x(t) = amp * e(t) * cos(2 pi f t + phase): its spectrum is e's, shifted to f
        spec[k + j] += (n * amp / 2 * np.exp(1j * phase)) * e
        top = max(top, (k + _ENV_BINS) / LOOP_S)
    return spec, top
