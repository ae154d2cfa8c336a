"""The bed's envelope: dips under cues, merged when close, ramps, fades; same values however read."""

import numpy as np
import pytest

from voiceguide.audio.mix.envelope import ATTACK_MS, RELEASE_MS, MusicEnvelope

RATE = 8000  # small, so whole sessions fit in a test


def env_for(spans_s, total_s=60.0, duck_db=13.0):
    spans = [(int(a * RATE), int(b * RATE)) for a, b in spans_s]
    return MusicEnvelope(RATE, int(total_s * RATE), spans, duck_db)


def test_dips_to_the_duck_level_and_back_with_ramps():
    e = env_for([(10, 12)])
    g = e.block(0, e.total)
    duck = 10 ** (-13 / 20)
    assert g[int(10 * RATE)] == pytest.approx(duck, rel=1e-6)
    assert g[int(11.9 * RATE)] == pytest.approx(duck, rel=1e-6)
    a = int((10 - ATTACK_MS / 1000) * RATE)
    assert g[a - 1] == pytest.approx(1.0) and g[a + 1] < 1.0  # the ramp starts before the cue
    r = int((12 + RELEASE_MS / 1000) * RATE)
    assert g[r + 1] == pytest.approx(1.0) and g[r - 10] < 1.0
    ramp = g[a : int(10 * RATE)]
    assert np.all(np.diff(ramp) <= 0)  # glides down, no wobble


def test_cues_less_than_merge_apart_share_one_dip():
    e = env_for([(10, 12), (13, 14), (20, 21)])
    assert len(e.dips) == 2
    g = e.block(0, e.total)
    duck = 10 ** (-13 / 20)
    assert np.allclose(g[int(12 * RATE) : int(13 * RATE)], duck)  # no pumping in the short gap
    assert g[int(17 * RATE)] == pytest.approx(1.0)  # a long gap comes back up


def test_fades_at_the_ends():
    e = env_for([], total_s=60)
    g = e.block(0, e.total)
    assert g[0] == 0.0 and g[e.fade_in] == pytest.approx(1.0)
    assert g[-1] < 1e-3 and np.all(np.diff(g[-e.fade_out :]) <= 1e-7)
    assert not np.any(e.block(e.total, 100))  # silent past the end
    assert np.all(e.block(0, e.total, fades=False) == 1.0)


def test_any_block_split_gives_the_same_gains():
    e = env_for([(0.1, 1), (5, 9), (9.5, 11), (30, 30.5), (59.9, 60)])
    whole = e.block(0, e.total)
    rng = np.random.default_rng(0)
    cuts = np.sort(rng.integers(0, e.total, 40))
    parts = np.concatenate([e.block(a, b - a) for a, b in zip(np.r_[0, cuts], np.r_[cuts, e.total])])
    assert np.array_equal(parts, whole)
    assert np.allclose(e.at(np.arange(e.total)), whole, atol=1e-7)


def test_mean_square_follows_the_gain():
    e = env_for([(10, 20)])
    bounds = np.arange(0, e.total + 1, RATE // 100)
    ms = e.mean_square(bounds)
    assert ms[1500] == pytest.approx(10 ** (-13 / 10), rel=1e-6)
    assert ms[3000] == pytest.approx(1.0)
