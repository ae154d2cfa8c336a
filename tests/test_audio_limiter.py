"""The look-ahead limiter and its O(n) building blocks."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from voiceguide.audio.dsp.limiter import Limiter, limit, moving_average, sliding_max, sliding_min
from voiceguide.audio.dsp.loudness import true_peak

arrays = st.lists(st.floats(-10, 10, allow_nan=False), min_size=1, max_size=200).map(np.array)


@given(arrays, st.integers(0, 30))
@settings(max_examples=200, deadline=None)
def test_sliding_min_equals_brute_force(x, r):
    want = np.array([x[max(0, i - r) : i + r + 1].min() for i in range(len(x))])
    assert np.array_equal(sliding_min(x, r), want)


@given(arrays, st.integers(0, 30))
@settings(max_examples=200, deadline=None)
def test_sliding_max_equals_brute_force(x, r):
    want = np.array([x[max(0, i - r) : i + r + 1].max() for i in range(len(x))])
    assert np.array_equal(sliding_max(x, r), want)


def test_gain_is_the_sliding_minimum_of_the_needed_gain():
    # the limiter takes the envelope's sliding maximum once; that must be the same curve as the
    # plain definition (sliding minimum of ceiling / envelope, then the moving average)
    x = speechlike()
    lim = Limiter(x, 22050)
    for ceiling in (0.05, 0.1, 0.2):
        need = np.minimum(1.0, ceiling / np.maximum(lim.env, 1e-12))
        want = np.minimum(moving_average(sliding_min(need, lim.radius), lim.radius), 1.0)
        assert np.array_equal(lim.gain(ceiling), want)


@given(arrays, st.integers(0, 30))
@settings(max_examples=200, deadline=None)
def test_moving_average_equals_brute_force(x, r):
    padded = np.concatenate([np.full(r, x[0]), x, np.full(r, x[-1])])
    want = np.array([padded[i : i + 2 * r + 1].mean() for i in range(len(x))])
    assert np.allclose(moving_average(x, r), want)


def speechlike(rate=22050, seconds=2.0, seed=3):
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    pulses = np.sin(2 * np.pi * 120 * t) ** 31  # sharp glottal-like peaks ...
    bursts = (t % 0.5) < 0.1  # ... in 100 ms bursts, with quiet between
    return 0.3 * pulses * bursts + 0.02 * rng.standard_normal(len(t))


def test_limit_holds_the_true_peak_to_the_ceiling():
    x = speechlike()
    ceiling = 0.4 * true_peak(x)
    y = limit(x, ceiling, 22050)
    assert true_peak(y) <= ceiling * (1 + 1e-9)
    # it limits, it does not just scale: away from the bursts the level is untouched
    t = np.arange(len(x)) / 22050
    far = ((t % 0.5) > 0.15) & ((t % 0.5) < 0.45)
    assert np.allclose(y[far], x[far])


def test_limit_leaves_a_signal_under_the_ceiling_alone():
    x = speechlike()
    assert np.array_equal(limit(x, 2 * true_peak(x), 22050), x)


def test_gain_moves_smoothly():
    x = speechlike()
    g = Limiter(x, 22050).gain(0.3 * true_peak(x))
    assert g.max() <= 1.0 and g.min() > 0
    assert np.abs(np.diff(g)).max() < 0.05  # no gain steps that would click
