"""The synthesised chimes."""

import numpy as np
import pytest

from voiceguide.audio.dsp.loudness import integrated_loudness
from voiceguide.audio.sources.chime import ring_ms, synthesize_chime


@pytest.mark.parametrize("style", ["soft", "bell"])
@pytest.mark.parametrize("rate", [44100, 48000, 16000])
def test_chime_rings_and_ends_in_silence(style, rate):
    x = synthesize_chime(style, rate)
    assert len(x) == ring_ms(style) * rate // 1000
    assert np.abs(x).max() == pytest.approx(1.0)
    assert abs(x[0]) < 1e-3 and abs(x[-1]) < 1e-3  # no click at either end
    head = np.sqrt(np.mean(x[: rate // 2] ** 2))
    tail = np.sqrt(np.mean(x[-rate // 2 :] ** 2))
    assert tail < head / 10  # it decays
    assert np.abs(x[: rate // 1000]).max() < 0.3  # a rounded strike, not a click


def test_styles_differ_and_none_is_silent():
    soft, bell = synthesize_chime("soft", 44100), synthesize_chime("bell", 44100)
    n = min(len(soft), len(bell))
    assert np.corrcoef(soft[:n], bell[:n])[0, 1] < 0.5
    assert len(synthesize_chime("none", 44100)) == 0 and ring_ms("none") == 0


def test_soft_chime_has_a_bowl_like_spectrum():
    rate = 44100
    x = synthesize_chime("soft", rate)
    spec = np.abs(np.fft.rfft(x))
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    top = freqs[np.argmax(spec)]
    assert 400 < top < 700  # a mid-high, gentle fundamental
    assert integrated_loudness(x, rate) < -10
