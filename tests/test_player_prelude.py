"""A session's kept opening: found only for the same words and unchanged files, played before the
mixer exists, and checked against the mixer's own sound when it takes over."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from audio_server import RATE, ToneMixer, assert_same_sound, offset_of, tone_timeline

from voiceguide.cachedir import CacheDir
from voiceguide.player import PlainDisplay, PlayerOptions, play_session, prelude
from voiceguide.player.output import to_pcm16
from voiceguide.player.stream_output import StreamOutput

FLAGS = {"pace": 1.0, "music": "builtin", "cache_dir": None}


def fake_session(tmp_path: Path, music: str = "builtin") -> SimpleNamespace:
    """What ``keep`` reads of a session: its routine, music, clips and cache folder (real files)."""
    routine = tmp_path / "r.yaml"
    if not routine.exists():
        routine.write_text("title: R\n")
    clip = tmp_path / "clip.wav"
    if not clip.exists():
        clip.write_bytes(b"x" * 100)
    clips = {"Hello.": SimpleNamespace(path=clip)}
    return SimpleNamespace(
        routine_ref=str(routine),
        mix=SimpleNamespace(music=music),
        prepared=SimpleNamespace(clips=clips),
        cache_dir=tmp_path / "cache",
    )


PCM = bytes(range(256)) * 40  # 2,560 frames of 16-bit stereo


def kept(session: SimpleNamespace, rate: int = 44100) -> bytes | None:
    return prelude.find(session.cache_dir, prelude.name_for(session.routine_ref, FLAGS), rate, 2)


def test_an_opening_kept_is_found_for_the_same_words(tmp_path):
    s = fake_session(tmp_path)
    name = prelude.name_for(s.routine_ref, FLAGS)
    assert kept(s) is None
    prelude.keep(name, s, PCM, 44100, 2)
    assert kept(s) == PCM
    # its place in the cache is one the cache commands know as voiceguide's
    ours, foreign = CacheDir(s.cache_dir).scan()
    assert [e.path.name for e in ours] == [name] and foreign == 0


def test_other_words_another_folder_or_another_format_find_nothing(tmp_path, monkeypatch):
    s = fake_session(tmp_path)
    prelude.keep(prelude.name_for(s.routine_ref, FLAGS), s, PCM, 44100, 2)
    assert prelude.name_for(s.routine_ref, {**FLAGS, "pace": 1.5}) != prelude.name_for(s.routine_ref, FLAGS)
    assert prelude.name_for("other.yaml", FLAGS) != prelude.name_for(s.routine_ref, FLAGS)
    assert kept(s, rate=48000) is None  # the device runs at another rate
    assert prelude.find(s.cache_dir, prelude.name_for(s.routine_ref, FLAGS), 44100, 1) is None
    here = prelude.name_for(s.routine_ref, FLAGS)
    monkeypatch.chdir(tmp_path)  # a relative path means another file in another folder
    assert prelude.name_for(s.routine_ref, FLAGS) != here


def test_a_changed_routine_music_or_clip_makes_the_opening_stale(tmp_path):
    music = tmp_path / "calm.ogg"
    music.write_bytes(b"ogg")
    s = fake_session(tmp_path, music=str(music))
    name = prelude.name_for(s.routine_ref, FLAGS)

    def keep_again():
        prelude.keep(name, s, PCM, 44100, 2)
        assert kept(s) == PCM

    keep_again()
    Path(s.routine_ref).write_text("title: R, edited\n")
    assert kept(s) is None
    keep_again()  # a stale opening is replaced, not kept beside the new one
    os.utime(music, ns=(1, 1))
    assert kept(s) is None
    keep_again()
    clip = s.prepared.clips["Hello."].path
    clip.unlink()
    clip.write_bytes(b"y" * 100)  # rendered again: another file of the same size
    assert kept(s) is None
    keep_again()
    os.utime(clip, ns=(5, 5))  # reading a clip touches it: that changes nothing
    assert kept(s) == PCM
    assert len(CacheDir(s.cache_dir).scan()[0]) == 1


def test_a_damaged_opening_is_never_played_and_is_made_again(tmp_path):
    s = fake_session(tmp_path)
    name = prelude.name_for(s.routine_ref, FLAGS)
    prelude.keep(name, s, PCM, 44100, 2)
    (entry,) = (e.path for e in CacheDir(s.cache_dir).scan()[0])
    data = bytearray(entry.read_bytes())
    data[100] ^= 0xFF
    entry.write_bytes(bytes(data))
    assert kept(s) is None
    assert not entry.exists()  # taken out of the way
    prelude.keep(name, s, PCM, 44100, 2)
    assert kept(s) == PCM


def test_a_clips_seal_is_read_where_the_speech_layer_puts_it():
    from voiceguide.tts.wav import SEAL_BYTES

    assert prelude._CLIP_SEAL_BYTES == SEAL_BYTES


def test_the_opening_is_the_mixers_first_seconds_as_the_device_gets_them():
    mixer = ToneMixer(tone_timeline(steps=3, step_ms=3000))
    pcm = prelude.opening(mixer)
    frames = min(mixer.total_frames, prelude.SECONDS * RATE)
    assert pcm == to_pcm16(mixer.render(0, frames)).tobytes()
    short = ToneMixer(tone_timeline(steps=1, step_ms=1000))
    assert len(prelude.opening(short)) == short.total_frames * 4  # never past the session's end


# --- on a real sound server ---------------------------------------------------------------------


def heard(x: np.ndarray) -> np.ndarray:
    return to_pcm16(x).astype(np.float32) / 32768


def play_from(server, mixer, opening: bytes, *, loading_s: float):
    """Start the device on ``opening``, 'load' for ``loading_s``, then play the session through."""
    out = StreamOutput(mixer.rate, mixer.channels)
    mark = server.mark()
    out.begin(opening)
    time.sleep(loading_s)
    options = PlayerOptions(output="stream")
    result = play_session(mixer, options=options, display=PlainDisplay(io.StringIO()), keys=None, output=out)
    time.sleep(0.3)  # the recorder's own latency
    return out, result, server.record(mark)


def test_a_session_started_on_its_kept_opening_is_heard_exactly_as_rendered(pulse_env):
    mixer = ToneMixer(tone_timeline(steps=2, step_ms=3000))
    out, result, rec = play_from(pulse_env, mixer, prelude.opening(mixer), loading_s=0.7)
    assert out.prelude_matched is True
    assert result.completed and result.underruns == 0
    ref = heard(mixer.render(0, mixer.total_frames))
    lag, score = offset_of(rec, ref, at=RATE // 2, window=RATE)
    assert score > 0.999
    # sample for sample, across the hand-over from the kept opening to the transport
    assert_same_sound(rec, ref, lag, RATE // 10, mixer.total_frames)


def test_a_stale_opening_gives_way_to_the_sessions_own_sound_where_it_is(pulse_env):
    mixer = ToneMixer(tone_timeline(steps=2, step_ms=3000))
    # kept before something changed the sound (an engine upgraded, say): here, 6 dB quieter
    stale = (np.frombuffer(prelude.opening(mixer), np.int16) // 2).astype(np.int16)
    out, result, rec = play_from(pulse_env, mixer, stale.tobytes(), loading_s=0.7)
    assert out.prelude_matched is False
    assert result.completed and result.underruns == 0
    old = stale.reshape(-1, mixer.channels).astype(np.float32) / 32768
    new = heard(mixer.render(0, mixer.total_frames))
    lag, score = offset_of(rec, old, at=RATE // 4, window=RATE // 4)
    assert score > 0.999
    assert_same_sound(rec, old, lag, RATE // 10, RATE // 2, "the stale opening")
    # from shortly after the hand-over (0.7 s in, plus a block), the session's own frames, in place
    late = int(1.2 * RATE)
    assert_same_sound(rec, new, lag, late, mixer.total_frames, "after the hand-over, the recording")


@pytest.mark.parametrize("busy_s", [0.0, 2.5])
def test_an_opening_covers_a_slow_start_without_an_underrun(pulse_env, busy_s):
    """Beside two busy processes the mixer took about 1.5 s to be ready: the opening lasts 6."""
    mixer = ToneMixer(tone_timeline(steps=2, step_ms=4000))
    out, result, rec = play_from(pulse_env, mixer, prelude.opening(mixer), loading_s=busy_s)
    assert out.prelude_matched is True and result.underruns == 0
