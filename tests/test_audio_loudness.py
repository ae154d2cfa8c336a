"""The loudness meter (numpy only) against ffmpeg's ebur128, on signals made here."""

import wave

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_audio_support import ebur128, needs_ffmpeg

from voiceguide.audio.dsp.loudness import (
    block_powers,
    db,
    fast_length,
    gated_power,
    integrated_loudness,
    k_weight,
    lufs,
    power_of,
    segment_bounds,
    segment_powers,
    true_peak,
)


def write_wav(path, x, rate):
    x = np.atleast_2d(x.T).T
    with wave.open(str(path), "wb") as w:
        w.setnchannels(x.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.rint(x * 32767).astype("<i2").tobytes())
    return path


def program(rate, seconds=12.0, seed=1):
    """Speech-like bursts of filtered noise and tones, a quiet stretch, a loud stretch, in stereo."""
    rng = np.random.default_rng(seed)
    n = int(rate * seconds)
    t = np.arange(n) / rate
    noise = np.cumsum(rng.standard_normal((n, 2)), axis=0)
    noise -= np.convolve(noise[:, 0], np.ones(64) / 64, mode="same")[:, None]  # pinkish, no drift
    noise /= np.abs(noise).max()
    tones = 0.3 * np.sin(2 * np.pi * 220 * t)[:, None] + 0.1 * np.sin(2 * np.pi * 3100 * t)[:, None]
    env = (0.2 + 0.8 * (np.sin(2 * np.pi * 0.7 * t) > 0))[:, None]
    x = 0.3 * (noise * 0.5 + tones) * env
    x[int(n * 0.4) : int(n * 0.55)] *= 0.02  # a near-silent stretch the relative gate drops
    return x


@needs_ffmpeg
@pytest.mark.parametrize("rate", [44100, 48000, 22050])
def test_integrated_loudness_matches_ffmpeg(tmp_path, rate):
    x = program(rate)
    mine = integrated_loudness(np.rint(x * 32767) / 32767, rate)
    theirs, _ = ebur128(write_wav(tmp_path / "p.wav", x, rate))
    assert abs(mine - theirs) <= 0.1  # ffmpeg prints one decimal


@needs_ffmpeg
def test_gating_drops_silence_like_ffmpeg(tmp_path):
    rate = 48000
    t = np.arange(rate * 10) / rate
    tone = 0.25 * np.sin(2 * np.pi * 1000 * t)
    x = np.concatenate([tone, np.zeros(rate * 20), tone * 0.05])  # mostly silence and a faint end
    mine = integrated_loudness(x, rate)
    theirs, _ = ebur128(write_wav(tmp_path / "g.wav", x, rate))
    assert abs(mine - theirs) <= 0.1
    # the gates keep the silence (and the faint end) out: only blocks straddling an edge count
    assert abs(mine - integrated_loudness(tone, rate)) < 0.2
    ungated = lufs(np.mean(block_powers(segment_powers(k_weight(x, rate), rate))))
    assert mine - ungated > 4


@needs_ffmpeg
def test_true_peak_finds_peaks_between_samples(tmp_path):
    rate = 44100
    t = np.arange(rate * 2) / rate
    # a quarter-rate sine sampled 45 degrees off its crests: every sample is at 0.707 of the peak
    x = 0.5 * np.sin(2 * np.pi * (rate / 4) * t + np.pi / 4)
    x = x * np.hanning(len(x)) ** 0.05
    sample_peak = np.abs(x).max()
    tp = true_peak(x)
    assert db(tp) - db(sample_peak) > 2.5
    _, theirs = ebur128(write_wav(tmp_path / "tp.wav", x, rate))
    assert abs(db(tp) - theirs) < 0.5


def test_true_peak_of_a_loop_checks_its_seam():
    x = np.zeros(1000)
    x[0], x[-1] = 0.5, 0.5  # the seam joins two samples of the same sign: a peak across it
    assert true_peak(x, periodic=True) > true_peak(x)


def test_k_weight_in_pieces_equals_whole():
    rate = 44100
    x = program(rate, seconds=3.0)
    whole = k_weight(x, rate)
    cut = rate + 123
    pieces = np.concatenate([k_weight(x[:cut], rate), k_weight(x[cut:], rate, history=x[:cut])])
    assert np.allclose(whole, pieces, atol=1e-9)


@pytest.mark.parametrize("rate", [22050, 44100])
@pytest.mark.parametrize("channels", [1, 2])
def test_k_weight_in_blocks_equals_direct_convolution(rate, channels):
    # long enough for the overlap-save path, with a length that leaves a partial last block
    from voiceguide.audio.dsp.loudness import k_kernel

    rng = np.random.default_rng(rate + channels)
    x = rng.standard_normal((5 * rate + 77,) if channels == 1 else (5 * rate + 77, channels))
    kernel = k_kernel(rate)
    lanes = x[:, None] if channels == 1 else x
    want = np.stack([np.convolve(lanes[:, c], kernel)[: len(x)] for c in range(channels)], axis=1)
    got = k_weight(x, rate)
    assert got.shape == x.shape
    assert np.allclose(got.reshape(len(x), -1), want, rtol=0, atol=1e-10)


@given(st.integers(0, 5000), st.sampled_from([8000, 22050, 44100]))
@settings(max_examples=50, deadline=None)
def test_segment_sums_equal_plain_sums(frames, rate):
    from voiceguide.audio.dsp.loudness import segment_bounds, segment_sums

    x = np.random.default_rng(frames).random(frames).astype(np.float32)
    bounds = segment_bounds(frames, rate)
    want = np.array([x[a:b].sum(dtype=np.float64) for a, b in zip(bounds[:-1], bounds[1:])])
    assert np.allclose(segment_sums(x, bounds), want, rtol=1e-12, atol=0)


def test_segment_powers_cover_every_frame_once():
    rate = 22050
    bounds = segment_bounds(rate * 3 + 7, rate)
    assert bounds[0] == 0 and bounds[-1] == rate * 3 + 7
    assert np.all(np.diff(bounds) > 0)
    x = np.ones(rate * 3 + 7)
    assert np.allclose(segment_powers(x, rate), 1.0)


def test_short_signal_is_one_block():
    assert len(block_powers(np.full(7, 0.01))) == 1
    blocks = block_powers(np.full(100, 0.01))
    assert len(blocks) == (100 - 40) // 10 + 1


def test_gated_power_absolute_and_relative_gates():
    quiet = power_of(-80.0)
    loud = power_of(-20.0)
    assert gated_power(np.array([quiet, quiet])) == 0.0
    # blocks 10+ LU below the mean of the rest do not count
    assert abs(lufs(gated_power(np.array([loud, loud, power_of(-35.0)]))) - -20.0) < 1e-9
    # scale moves every block, and so what the absolute gate sees
    assert gated_power(np.array([quiet]), scale=power_of(0) / power_of(-20) * 1e2) > 0


@given(st.integers(1, 10**6))
@settings(max_examples=200, deadline=None)
def test_fast_length_is_the_smallest_5_smooth_at_least_n(n):
    m = fast_length(n)
    assert m >= n
    r = m
    for p in (2, 3, 5):
        while r % p == 0:
            r //= p
    assert r == 1
    for k in range(n, m):  # nothing smaller qualifies (checked on the stretch in between)
        r = k
        for p in (2, 3, 5):
            while r % p == 0:
                r //= p
        assert r != 1
