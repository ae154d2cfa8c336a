"""Clips for the mix, on real espeak-ng speech: even loudness, held peaks, cached work."""

import typing

import numpy as np
import pytest
from test_audio_support import espeak_clip, needs_espeak

from voiceguide.audio.cache import DerivedCache, digest
from voiceguide.audio.dsp.loudness import db, integrated_loudness, true_peak
from voiceguide.audio.sources.clip import ArrayClip
from voiceguide.audio.sources.speech import REFERENCE_LUFS, SpeechBank, shape

pytestmark = needs_espeak
TEXTS = [
    "Step 2 of 7: Effleurage.",
    "Check in: is the pressure comfortable?",
    "Good.",
    "Keep your hands relaxed and your movements slow and even, from the lower back to the neck.",
]


class CountingClip:
    """A clip that counts how often its samples are read."""

    def __init__(self, clip):
        self._clip, self.reads = clip, 0
        self.key, self.sample_rate, self.frames = clip.key, clip.sample_rate, clip.frames
        self.digest = clip.digest

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
    assert db(true_peak(x)) > -6  # espeak-ng is peaky: this needs limiting
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
    assert all(c.reads == 0 for c in clips2.values())  # a warm start reads no clip at all


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


def test_garbage_of_the_same_size_in_the_cache_is_never_mixed(tmp_path):
    cache = DerivedCache(tmp_path)
    t = TEXTS[3]
    bank = SpeechBank({t: espeak_clip(t)}, 44100, cache)
    bank.analyse([t])
    good, powers = bank.samples(t).copy(), bank.analysis(t).powers.copy()
    rng = np.random.default_rng(5)
    for f in (tmp_path / "speech").iterdir():
        size = f.stat().st_size
        with open(f, "r+b") as fh:  # the payload scrambled, sizes and trailers kept
            fh.write(rng.integers(0, 256, size - 24, dtype=np.uint8).tobytes())
    again = SpeechBank({t: CountingClip(espeak_clip(t))}, 44100, DerivedCache(tmp_path))
    again.analyse([t])
    assert np.array_equal(again.analysis(t).powers, powers)
    assert np.array_equal(again.samples(t), good)
    assert again.clips[t].reads == 2  # made again from the clip: analysed, then processed


def test_what_is_derived_is_keyed_by_the_clips_samples_not_its_key(tmp_path):
    """Two recordings under one cache key (piper varies from run to run) never share analysis."""
    cache = DerivedCache(tmp_path)
    a = espeak_clip(TEXTS[0])
    b = espeak_clip(TEXTS[2])
    one = SpeechBank({"x": ArrayClip(a.read(), a.sample_rate, key="same-key")}, 44100, cache)
    one.analyse(["x"])

    class Other(ArrayClip):
        @property
        def digest(self):
            return "another-recording"

    two = SpeechBank({"x": Other(b.read(), b.sample_rate, key="same-key")}, 44100, cache)
    two.analyse(["x"])
    assert two.analysis("x").frames == b.frames != one.analysis("x").frames
    assert len(two.samples("x")) == two.out_frames("x")


def test_check_sources_finds_a_damaged_clip_before_the_first_block(tmp_path, put_clip):
    from voiceguide.errors import DamagedClip
    from voiceguide.tts.cache import ClipCache

    clips = ClipCache(tmp_path / "clips")
    clip = put_clip(clips, "ab" + "0" * 62, ms=800)
    bank = SpeechBank({"x": clip}, 44100, DerivedCache(tmp_path / "mix"))
    bank.analyse(["x"])
    bank.check_sources(["x"])  # sound: nothing to say
    data = bytearray(clip.path.read_bytes())
    data[100:110] = bytes(10)
    clip.path.write_bytes(bytes(data))  # rewritten: a new file with the same size
    fresh = clips.get(clip.key)
    bank = SpeechBank({"x": fresh}, 44100, DerivedCache(tmp_path / "mix"))
    bank.analyse(["x"])  # cached: the clip is not read
    bank.set_ceiling(-9.0)  # processed samples for this ceiling are not cached
    with pytest.raises(DamagedClip) as err:
        bank.check_sources(["x"])
    assert err.value.keys == (clip.key,) and not clip.path.exists()


def test_a_missing_clip_is_a_programming_error():
    with pytest.raises(ValueError):
        SpeechBank({}, 44100, None).analyse(["Hello."])


def test_silence_passes_through():
    bank = SpeechBank({"": ArrayClip(np.zeros(2205), 22050)}, 44100, None)
    bank.analyse([""])
    assert not np.any(bank.samples(""))


def test_a_sessions_analyses_are_read_back_as_one_entry(tmp_path):
    clips = {t: espeak_clip(t) for t in TEXTS}
    bank = SpeechBank(clips, 44100, DerivedCache(tmp_path))
    bank.analyse(TEXTS)
    bundle = digest("speech-analysis-set", bank._bundle_order(list(TEXTS)))
    assert (tmp_path / "speech" / f"{bundle}.npz").exists()

    class OneEntry(DerivedCache):
        loads: typing.ClassVar[list[str]] = []

        def load_arrays(self, kind, name):
            self.loads.append(name)
            return super().load_arrays(kind, name)

    warm = OneEntry(tmp_path)
    again = SpeechBank(clips, 44100, warm)
    again.analyse(TEXTS)
    assert warm.loads == [bundle]  # one read, not one per clip
    for t in TEXTS:
        a, b = again.analysis(t), bank.analysis(t)
        assert (a.rate, a.frames, a.gain, a.peak) == (b.rate, b.frames, b.gain, b.peak)
        assert np.array_equal(a.powers, b.powers)

    # a bundle for another set of clips is another entry: it never answers for this one
    fewer = SpeechBank({t: clips[t] for t in TEXTS[:2]}, 44100, OneEntry(tmp_path))
    assert digest("speech-analysis-set", fewer._bundle_order(list(TEXTS[:2]))) != bundle
