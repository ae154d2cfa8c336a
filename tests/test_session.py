"""The glue: compile, render with real espeak-ng, re-time with the real clip lengths."""

import threading
from pathlib import Path

import pytest

from voiceguide.compiler import Pacing
from voiceguide.session import Retimer, prepare
from voiceguide.tts import VoiceSettings

STRETCH = Path(__file__).parent / "routines" / "stretch.yaml"


@pytest.fixture
def voice():
    return VoiceSettings(engine="espeak-ng")


def test_without_rendering_it_estimates_and_renders_nothing(tmp_path, voice):
    p = prepare(STRETCH, Pacing(), voice, tmp_path, render=False)
    assert p.timeline.estimated and p.clips == {} and p.rendered == 0
    assert not any(tmp_path.rglob("*.wav"))


def test_rendering_makes_every_clip_and_retimes_exactly(tmp_path, voice):
    p = prepare(STRETCH, Pacing(), voice, tmp_path, render=True)
    assert not p.timeline.estimated
    assert set(p.timeline.spoken_texts()) <= set(p.clips)
    for cue in p.timeline.cues:
        if cue.spoken:
            assert cue.duration_ms == p.clips[cue.text].duration_ms  # the real length, not a guess
    again = prepare(STRETCH, Pacing(), voice, tmp_path, render=False)
    assert again.timeline == p.timeline  # show after render prints exactly what plays
    assert prepare(STRETCH, Pacing(), voice, tmp_path, render=True).rendered == 0


def test_length_stays_exact_with_real_clips(tmp_path, voice):
    p = prepare(STRETCH, Pacing(length_ms=240_000), voice, tmp_path, render=True)
    assert p.timeline.total_ms == 240_000 and not p.timeline.estimated


class _FakeMixer:
    """Stands in for the audio mixer: the retimer only swaps timelines."""

    def __init__(self, timeline):
        self.timeline = timeline

    def with_timeline(self, timeline, clips=None):
        return _FakeMixer(timeline)


def test_retime_lengthens_one_step_or_refits_under_length(tmp_path, voice):
    free = prepare(STRETCH, Pacing(), voice, tmp_path, render=True)
    retime = Retimer(free, _FakeMixer(free.timeline))
    before = free.timeline
    mixer = retime(1, 30_000)
    assert mixer is retime.mixer
    assert mixer.timeline.steps[0].duration_ms == before.steps[0].duration_ms + 30_000
    assert mixer.timeline.steps[1].duration_ms == before.steps[1].duration_ms
    assert mixer.timeline.total_ms == before.total_ms + 30_000
    mixer = retime(2, 30_000)  # the first change is kept
    assert mixer.timeline.total_ms == before.total_ms + 60_000

    fitted = prepare(STRETCH, Pacing(length_ms=300_000), voice, tmp_path, render=True)
    retime = Retimer(fitted, _FakeMixer(fitted.timeline))
    first = fitted.timeline.steps[0].duration_ms
    mixer = retime(1, 20_000)
    assert mixer.timeline.steps[0].duration_ms == first + 20_000
    assert mixer.timeline.total_ms == 300_000  # later steps gave the time back
    assert retime(1, -10 * 60_000) is None  # impossible: the step would vanish
    assert retime(99, 1000) is None


def test_export_tags_carry_the_pacing(tmp_path, voice):
    p = prepare(STRETCH, Pacing(length_ms=240_000), voice, tmp_path, render=False)
    from voiceguide.audio.encode.export import session_tags  # the one tag builder, which every export uses

    tags = session_tags(p.timeline)
    assert tags["title"] == "Desk stretch" and tags["album"] == "stretch" and tags["artist"] == "voiceguide"
    assert "length_s=240.0" in tags["comment"]


def test_music_louder_than_the_voice_gets_a_note_and_the_default_none(tmp_path):
    from test_audio_support import build_session

    from voiceguide.audio import MixSettings, build_mixer
    from voiceguide.session import music_note

    tl, clips = build_session(1.0, steps=2)
    loud = build_mixer(tl, clips, MixSettings(music_volume_db=10.0, cache_dir=tmp_path))
    note = music_note(loud)
    assert loud.music_volume_db > 0 and note and "louder than the voice" in note and "--music-volume" in note
    assert music_note(build_mixer(tl, clips, MixSettings(cache_dir=tmp_path))) is None
    assert music_note(build_mixer(tl, clips, MixSettings(music="none", cache_dir=tmp_path))) is None


# --- the threads a session works on ---------------------------------------------------------------


def _our_threads() -> set[threading.Thread]:
    """voiceguide's live threads, as objects: another owner's workers carry the same names."""
    return {t for t in threading.enumerate() if t.name.startswith("voiceguide-")}


def test_a_session_ends_its_own_threads_when_closed_and_leaves_a_given_background_open(tmp_path):
    import voiceguide
    from voiceguide.background import Background

    before = _our_threads()
    with voiceguide.Session(STRETCH, engine="espeak-ng", cache_dir=tmp_path, music="none") as session:
        session.export(tmp_path / "own.wav")
        assert _our_threads() - before  # it made its own and worked on it
    assert _our_threads() == before

    with Background(2) as background:
        session = voiceguide.Session(STRETCH, engine="espeak-ng", cache_dir=tmp_path, background=background)
        session.export(tmp_path / "given.wav")
        session.close()
        assert not background.closed and session.background is background  # its owner closes it
    assert _our_threads() == before


@pytest.mark.usefixtures("isolated_settings")
def test_a_command_leaves_no_thread_behind(tmp_path, capsys):
    from voiceguide.cli import main

    before = _our_threads()
    with pytest.raises(SystemExit) as done:
        main(["export", str(STRETCH), "--engine", "espeak-ng", "-o", str(tmp_path / "s.mp3")])
    assert done.value.code == 0, capsys.readouterr().err
    assert (tmp_path / "s.mp3").stat().st_size > 0
    assert _our_threads() == before
