"""FFT resampling of clips: exact lengths, clean tones, nothing above the new Nyquist."""

import numpy as np
import pytest

from voiceguide.audio.dsp.resampler import resample, resampled_length


@pytest.mark.parametrize(
    "rate_in,rate_out", [(22050, 44100), (22050, 48000), (48000, 44100), (44100, 16000), (16000, 22050), (24000, 24000)]
)
def test_a_tone_comes_out_as_the_same_tone(rate_in, rate_out):
    n = int(rate_in * 1.3) + 17
    f = 997.0
    x = 0.5 * np.sin(2 * np.pi * f * np.arange(n) / rate_in)
    y = resample(x, rate_in, rate_out)
    assert len(y) == resampled_length(n, rate_in, rate_out) == round(n * rate_out / rate_in)
    want = 0.5 * np.sin(2 * np.pi * f * np.arange(len(y)) / rate_out)
    core = slice(len(y) // 10, len(y) * 9 // 10)  # the edges see the tone start abruptly
    assert np.max(np.abs(y[core] - want[core])) < 2e-3


def test_downsampling_removes_what_the_new_rate_cannot_hold():
    rate_in, rate_out = 48000, 16000
    t = np.arange(rate_in) / rate_in
    x = np.sin(2 * np.pi * 440 * t) + np.sin(2 * np.pi * 12000 * t)  # 12 kHz > 8 kHz Nyquist
    y = resample(x, rate_in, rate_out)
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    freqs = np.fft.rfftfreq(len(y), 1 / rate_out)
    at_440 = spec[np.argmin(np.abs(freqs - 440))]
    alias = spec[np.argmin(np.abs(freqs - 4000))]  # where 12 kHz would fold to
    assert alias < at_440 * 1e-3


def test_silence_and_empty():
    assert len(resample(np.zeros(0), 22050, 44100)) == 0
    assert not np.any(resample(np.zeros(1000), 22050, 48000))
