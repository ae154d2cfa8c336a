"""Clips for the mix, on real espeak-ng speech: even loudness, held peaks, cached work."""

import numpy as np
import pytest

from test_audio_support import espeak_clip, needs_espeak
from voiceguide.audio.cache import DerivedCache
from voiceguide.audio.clip import ArrayClip
from voiceguide.audio.loudness import db, integrated_loudness, true_peak
from voiceguide.audio.speech import REFERENCE_LUFS, SpeechBank, shape

pytestmark = needs_espeak
TEXTS = ["Step 2 of 7: Effleurage.", "Check in: is the pressure comfortable?", "Good.",
         "Keep your hands relaxed and your movements slow and even, from the lower back to the neck."]


class CountingClip:
    """A clip that counts how often its samples are read."""

    def __init__(self, clip):
        self._clip, self.reads = clip, 0
        self.key, self.sample_rate, self.frames = clip.key, clip.sample_rate, clip.frames

    def read(self):
        self.reads += 1
        return self._clip.read()


def test_every_clip_comes_out_at_one_loudness_with_held_peaks():
    bank = SpeechBank({t: espeak_clip(t) for t in TEXTS}, 44100, None)
    bank.analyse(TEXTS)
    bank.set_ceiling(-7.0)
    louds = []
    for t in TEXTS:
        x = bank.samples(t)
        assert x.dtype == np.float32 and len(x) == bank.out_frames(t)
        assert db(true_peak(x)) <= -7.0 + 0.05
        louds.append(integrated_loudness(x, 44100))
    assert max(louds) - min(louds) < 0.3
    assert abs(np.mean(louds) - REFERENCE_LUFS) < 0.3


def test_shape_limits_peaks_and_keeps_loudness():
    clip = espeak_clip(TEXTS[3])
    x = clip.read().astype(np.float64)
    x *= 10 ** ((REFERENCE_LUFS - integrated_loudness(x, clip.sample_rate)) / 20)
    assert db(true_peak(x)) > -6      # espeak-ng is peaky: this needs limiting
    y = shape(x, clip.sample_rate, -9.0)
    assert db(true_peak(y)) <= -9.0 + 1e-9
    assert integrated_loudness(y, clip.sample_rate) == pytest.approx(REFERENCE_LUFS, abs=0.05)


def test_analysis_and_samples_are_cached(tmp_path):
    cache = DerivedCache(tmp_path)
    clips = {t: CountingClip(espeak_clip(t)) for t in TEXTS}
    bank = SpeechBank(clips, 48000, cache)
    bank.analyse(TEXTS)
    first = {t: bank.samples(t).copy() for t in TEXTS}
    clips2 = {t: CountingClip(espeak_clip(t)) for t in TEXTS}
    bank2 = SpeechBank(clips2, 48000, cache)
    bank2.analyse(TEXTS)
    for t in TEXTS:
        assert np.array_equal(bank2.samples(t), first[t])
        assert np.array_equal(bank2.analysis(t).powers, bank.analysis(t).powers)
    assert all(c.reads == 0 for c in clips2.values())   # a warm start reads no clip at all


def test_a_truncated_cache_entry_is_made_again(tmp_path):
    cache = DerivedCache(tmp_path)
    t = TEXTS[0]
    bank = SpeechBank({t: espeak_clip(t)}, 44100, cache)
    bank.analyse([t])
    good = bank.samples(t).copy()
    for f in (tmp_path / "speech").glob("*.f32"):
        f.write_bytes(f.read_bytes()[:100])
    for f in (tmp_path / "speech").glob("*.npz"):
        f.write_bytes(b"garbage")
    again = SpeechBank({t: espeak_clip(t)}, 44100, cache)
    again.analyse([t])
    assert np.array_equal(again.samples(t), good)


def test_a_missing_clip_is_a_programming_error():
    with pytest.raises(ValueError):
        SpeechBank({}, 44100, None).analyse(["Hello."])


def test_silence_passes_through():
    bank = SpeechBank({"": ArrayClip(np.zeros(2205), 22050)}, 44100, None)
    bank.analyse([""])
    assert not np.any(bank.samples(""))
