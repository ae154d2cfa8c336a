"""The mixer: exact placement, random access, determinism, gain fixed before rendering."""

import numpy as np
import pytest
from test_audio_support import build_session, needs_espeak

from voiceguide.audio import MixSettings, build_mixer
from voiceguide.audio.dsp.loudness import db, integrated_loudness, true_peak
from voiceguide.audio.mix.mixer import CEILING_DBTP, TARGET_LUFS
from voiceguide.audio.sources.clip import ArrayClip
from voiceguide.timeline import Cue, CueKind, Step, Timeline


def click_session(rate_in=44100, at_ms=(1000, 2501, 7333)):
    """Clips that are one impulse each, 100 samples in: their placement is visible to the sample."""
    clips, cues = {}, []
    for i, ms in enumerate(at_ms):
        x = np.zeros(rate_in // 10, np.float32)
        x[100] = 0.5
        x[101:400] = 0.001 * np.sin(np.arange(299))  # something to measure loudness on
        clips[f"c{i}"] = ArrayClip(x, rate_in)
        cues.append(Cue(ms, ms + 100, CueKind.INSTRUCTION, f"c{i}", 1))
    tl = Timeline("t", "r", 9000, (Step(1, 1, "One", 0, 9000),), tuple(cues))
    return tl, clips


@pytest.mark.parametrize("rate", [44100, 48000, 22050])
def test_each_clip_lands_on_its_frame(rate):
    tl, clips = click_session(rate_in=rate)
    m = build_mixer(tl, clips, MixSettings(sample_rate=rate, music="none", chime="none"))
    out = m.render(0, m.total_frames)[:, 0]
    for c in tl.cues:
        assert np.argmax(np.abs(out[m.frame_of_ms(c.start_ms) - 50 :][:1000])) - 50 == 100


def test_frame_of_ms_rounds_half_up_in_integers():
    tl, clips = click_session()
    m = build_mixer(tl, clips, MixSettings(sample_rate=22050, music="none", chime="none"))
    assert m.frame_of_ms(1) == 22  # 22.05
    assert m.frame_of_ms(10) == 221  # 220.5 rounds up
    assert m.frame_of_ms(1000) == 22050
    assert m.total_frames == m.frame_of_ms(tl.total_ms)


SESSION = (1.0, 2)  # minutes, steps of the conftest's session fixture


@needs_espeak
def test_random_access_equals_the_stream(mixer):
    whole = np.concatenate(list(mixer.blocks(0, 4096)))
    assert whole.shape == (mixer.total_frames, 2)
    rng = np.random.default_rng(1)
    for start in rng.integers(0, mixer.total_frames, 25):
        n = int(rng.integers(1, 20000))
        got = mixer.render(int(start), n)
        want = whole[start : start + n]
        assert np.array_equal(got[: len(want)], want)
        assert not np.any(got[len(want) :])  # past the end: silence
    odd = np.concatenate(list(mixer.blocks(0, 777)))
    assert np.array_equal(odd, whole)


@needs_espeak
def test_two_builds_make_the_same_samples(session, mixer):
    tl, clips = session
    again = build_mixer(tl, clips, MixSettings())
    assert again.gain == mixer.gain
    assert np.array_equal(again.render(123456, 50000), mixer.render(123456, 50000))


@needs_espeak
def test_loudness_and_peak_hit_the_targets_before_any_rendering(mixer):
    assert mixer.predicted_lufs == pytest.approx(TARGET_LUFS[2], abs=0.01)
    x = np.concatenate(list(mixer.blocks(0, 65536)))
    assert integrated_loudness(x, mixer.rate) == pytest.approx(TARGET_LUFS[2], abs=0.3)
    assert db(true_peak(x)) <= CEILING_DBTP + 0.1


@needs_espeak
def test_mono_and_48k(session):
    tl, clips = session
    m = build_mixer(tl, clips, MixSettings(sample_rate=48000, channels=1))
    x = np.concatenate(list(m.blocks()))
    assert x.shape == (tl.total_ms * 48, 1)
    assert integrated_loudness(x, 48000) == pytest.approx(TARGET_LUFS[1], abs=0.3)


@needs_espeak
def test_speech_and_music_parts(mixer, session):
    tl, _ = session
    text = tl.spoken_texts()[0]
    s = mixer.speech(text)
    assert s.shape == (mixer.bank.out_frames(text), 2)
    assert np.array_equal(s[:, 0], mixer.bank.samples(text) * np.float32(mixer.gain))
    full = mixer.music(5000, 1000, ducked=False)
    ducked = mixer.music(5000, 1000, ducked=True)
    assert np.allclose(ducked, full * 10 ** (-13 / 20), atol=1e-7)
    assert np.abs(full).max() > 0


@needs_espeak
def test_with_timeline_keeps_gain_and_moves_the_cues(mixer, session):
    tl, _ = session
    moved = tuple(Cue(c.start_ms + 1000, c.end_ms + 1000, c.kind, c.text, c.step) for c in tl.cues)
    tl2 = Timeline(tl.title, tl.routine, tl.total_ms + 1000, tl.steps, moved, tl.pacing)
    m2 = mixer.with_timeline(tl2)
    assert m2.gain == mixer.gain and m2.music_gain == mixer.music_gain
    assert m2.total_frames == mixer.total_frames + 44100
    first = tl.cues[0]
    a = mixer.frame_of_ms(first.start_ms)
    n = mixer.bank.out_frames(first.text)
    voice = mixer.speech(first.text)[:, 0]
    got = m2.render(a + 44100, n)[:, 0]
    # the clip is there, a second later (the bed under it differs, so compare by correlation)
    assert np.corrcoef(got, voice)[0, 1] > 0.99


@needs_espeak
def test_a_loud_bed_in_a_sparse_session_is_lowered_to_keep_the_voice_in_front():
    tl, clips = build_session(4.0, steps=2, checkin_every_ms=10**9)  # little speech, much music
    m = build_mixer(tl, clips, MixSettings(music_volume_db=-12))
    assert m.music_volume_db < -12
    voice_lufs = -23 + 3 + m.gain_db
    assert voice_lufs - TARGET_LUFS[2] <= 2.0 + 0.01
    loud = build_mixer(tl, clips, MixSettings(music_volume_db=0))
    # a bed as loud as the voice sets the loudness without pushing the voice: it stays (only its
    # peaks may trim it a little, to leave room for a chime)
    assert loud.music_volume_db > -1


@needs_espeak
def test_chimes_sound_at_transitions(session):
    tl, clips = session
    m = build_mixer(tl, clips, MixSettings(music="none"))
    quiet = build_mixer(tl, clips, MixSettings(music="none", chime="none"))
    t = next(c for c in tl.cues if c.kind is CueKind.TRANSITION)
    a = m.frame_of_ms(t.start_ms)
    assert np.abs(m.render(a, 22050)).max() > 0.05
    assert not np.any(quiet.render(a, 22050))


def test_every_spoken_cue_needs_a_clip():
    tl, clips = click_session()
    del clips["c1"]
    with pytest.raises(ValueError):
        build_mixer(tl, clips, MixSettings(music="none"))


def test_negative_ranges_are_refused():
    tl, clips = click_session()
    m = build_mixer(tl, clips, MixSettings(music="none"))
    with pytest.raises(ValueError):
        m.render(-1, 10)
    with pytest.raises(ValueError):
        list(m.blocks(0, 0))


@needs_espeak
def test_a_first_mix_leaves_nothing_for_the_next_build_to_do(session, tmp_path, monkeypatch):
    """What a first play or export does once (every clip's analysis, limiting and resampling, the
    encoder's calibration) is kept in the cache: a new process builds and mixes without redoing it."""
    from voiceguide.audio.encode import codec
    from voiceguide.audio.sources import speech

    tl, clips = session
    first = build_mixer(tl, clips, MixSettings(cache_dir=tmp_path))
    for text in tl.spoken_texts():
        first.bank.samples(text)
    codec.codec_gain("128k", first.rate, first.channels, first.bank.cache)
    monkeypatch.setattr(codec, "_gains", {})  # as in a new process

    def forbidden(*a, **k):
        raise AssertionError("work redone after a first mix")

    monkeypatch.setattr(speech, "shape", forbidden)
    monkeypatch.setattr(codec, "measure", forbidden)
    m = build_mixer(tl, clips, MixSettings(cache_dir=tmp_path))
    for _ in m.blocks(0, 65536):
        pass
    codec.codec_gain("128k", m.rate, m.channels, m.bank.cache)
