"""The built-in bed: the same every run, seamless, slow and soft, not a test tone."""

import numpy as np
import pytest

from voiceguide.audio.dsp.loudness import block_powers, k_weight, lufs, segment_powers
from voiceguide.audio.sources.ambient import CHORD_S, LOOP_S, ambient_loop


@pytest.fixture(scope="module")
def loop():
    return ambient_loop(44100).samples


def test_same_samples_every_time(loop):
    assert np.array_equal(loop, ambient_loop(44100).samples)
    assert loop.dtype == np.float32 and len(loop) == LOOP_S * 44100


def test_the_seam_is_no_bigger_a_step_than_the_music_takes(loop):
    across = abs(float(loop[0]) - float(loop[-1]))
    steps = np.abs(np.diff(loop))
    assert across <= steps.max()
    assert across <= np.percentile(steps, 99.9)

    # and the level carries on across it: the last and first 100 ms are alike in loudness
    def level(x):
        return np.sqrt(np.mean(x.astype(np.float64) ** 2))

    assert 0.7 < level(loop[:4410]) / level(loop[-4410:]) < 1.4


def test_slow_evolving_chords_not_a_tone(loop):
    rate = 44100
    spec = np.abs(np.fft.rfft(loop[: rate * 8].astype(np.float64)))
    freqs = np.fft.rfftfreq(rate * 8, 1 / rate)
    strong = freqs[(spec > spec.max() * 0.05) & (freqs > 20)]
    pitches = np.unique(np.round(12 * np.log2(strong / 440)))
    assert len(pitches) >= 6  # a chord and its harmonics, many notes
    energy = spec**2
    assert energy[(freqs > 50) & (freqs < 2000)].sum() > 0.97 * energy.sum()  # soft: little treble
    # evolving: the short-term loudness moves a little over the loop, never drops out
    segs = segment_powers(k_weight(loop, rate), rate)
    short = [lufs(p) for p in block_powers(segs)[::30]]
    assert 0.5 < max(short) - min(short) < 8
    # chords change every CHORD_S seconds: the spectrum of chord 1 and chord 2 differ
    a = np.abs(np.fft.rfft(loop[int(rate * 5) : int(rate * 9)].astype(np.float64)))
    b = np.abs(np.fft.rfft(loop[int(rate * (CHORD_S + 5)) : int(rate * (CHORD_S + 9))].astype(np.float64)))
    assert np.corrcoef(a, b)[0, 1] < 0.9


@pytest.mark.parametrize("rate", [16000, 22050, 48000])
def test_other_rates_play_the_same_music(rate, loop):
    x = ambient_loop(rate).samples
    assert len(x) == LOOP_S * rate and np.isfinite(x).all()

    # the same notes: the spectra of a stretch agree once on a common frequency grid
    def spectrum(y, r):
        seg = y[int(r * 5) : int(r * 9)].astype(np.float64)
        return np.abs(np.fft.rfft(seg))[: 4 * 3000]  # bins of 0.25 Hz up to 3 kHz

    assert np.corrcoef(spectrum(x, rate), spectrum(loop, 44100))[0, 1] > 0.99


def test_interpolated_loop_has_no_images_above_its_content(loop):
    spec = np.abs(np.fft.rfft(loop[: 44100 * 4].astype(np.float64)))
    freqs = np.fft.rfftfreq(44100 * 4, 1 / 44100)
    assert spec[freqs > 6000].max() < spec.max() * 1e-3  # -60 dB: nothing mirrored up there
