"""Music beds from files: decoded by ffmpeg, looped with crossfades, cached; bad inputs refused."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_audio_support import make_audio, needs_ffmpeg

from voiceguide.audio import ffmpeg as ffmpeg_mod
from voiceguide.audio.cache import DerivedCache
from voiceguide.audio.dsp.loudness import lufs
from voiceguide.audio.sources.music import (
    CROSSFADE_MS,
    builtin_bed,
    crossfade,
    file_bed,
    loop_analysis,
    music_files,
    prepare_bed,
)
from voiceguide.errors import AudioInputError

pytestmark = needs_ffmpeg
RATE = 44100

# "Music" with a tonal part and a noisy part: neither loops by itself without a jump.
MUSIC = "anoisesrc=c=pink:a=0.1:seed=7[n];sine=f=221.3:sample_rate=44100[s];[n][s]amix=inputs=2:weights=1 0.6"


def fade_s(seconds):
    """The crossfade: CROSSFADE_MS, or a third of the shortest track."""
    return min(CROSSFADE_MS / 1000, seconds / 3)


def whole_loop(bed):
    return np.asarray(bed.read(0, bed.frames), dtype=np.float64).reshape(bed.frames, -1)


def going_round(bed, n=2000):
    """What is heard at the seam: the bed's last frames, then the loop's first."""
    x = whole_loop(bed)
    return np.concatenate([x[-n:], x[bed.loop_start : bed.loop_start + n]])


def jumps(x):
    return np.abs(np.diff(x, axis=0)).max(axis=1)


def test_a_user_file_loops_seamlessly(tmp_path):
    src = make_audio(tmp_path / "calm.ogg", MUSIC, 9.0)
    bed = file_bed(src, RATE, 2, None)
    x = whole_loop(bed)
    assert bed.channels == 2
    # the whole file is heard once; the loop starts one crossfade in (the head fades in under the tail)
    assert abs(bed.frames - 9.0 * RATE) < RATE * 0.05
    assert bed.loop_start == round(fade_s(9.0) * RATE)
    seam = going_round(bed)
    inner = jumps(x[RATE:-RATE])
    assert jumps(seam).max() <= inner.max()


def test_looping_the_file_without_a_crossfade_would_jump(tmp_path):
    # guards the test above: this material does have a step at its own ends
    src = make_audio(tmp_path / "calm.wav", MUSIC, 3.0)
    frames = np.concatenate(list(ffmpeg_mod.decode(src, RATE, 2)))
    naive = np.concatenate([frames[-2000:], frames[:2000]]).astype(np.float64)
    assert jumps(naive).max() > jumps(frames[1000:-1000].astype(np.float64)).max()


def test_mono_output_decodes_to_one_channel_and_48k(tmp_path):
    src = make_audio(tmp_path / "calm.flac", MUSIC, 6.0)
    bed = file_bed(src, 48000, 1, None)
    assert bed.channels == 1
    assert abs(bed.frames - 6.0 * 48000) < 48000 * 0.05
    assert np.isfinite(bed.powers).all() and bed.peak > 0


def test_a_folder_plays_in_name_order_with_crossfades(tmp_path):
    folder = tmp_path / "playlist"
    folder.mkdir()
    make_audio(folder / "10 second.mp3", "sine=f=660:sample_rate=44100", 6.0)
    make_audio(folder / "2 first.wav", "sine=f=330:sample_rate=44100", 6.0)
    (folder / "cover.jpg").write_bytes(b"not audio")
    assert [p.name for p in music_files(folder)] == ["2 first.wav", "10 second.mp3"]
    bed = file_bed(folder, RATE, 2, None)
    x = whole_loop(bed)[:, 0]

    def pitch(seg):
        spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
        return np.fft.rfftfreq(len(seg), 1 / RATE)[np.argmax(spec)]

    assert abs(pitch(x[: RATE // 2]) - 330) < 5  # first track first
    assert (
        abs(pitch(x[int(RATE * 6.5) : int(RATE * 7)]) - 660) < 5
    )  # then the second (its 2 s opening under the first one's end)
    # tracks are evened out: both play at one level
    a, b = np.sqrt(np.mean(x[: RATE // 2] ** 2)), np.sqrt(np.mean(x[int(RATE * 6.5) : int(RATE * 7)] ** 2))
    assert 0.8 < a / b < 1.25
    assert jumps(going_round(bed)).max() <= jumps(x[:, None]).max() + 1e-6


def test_the_music_starts_at_its_first_sample(tmp_path):
    # a melody that changes every second: where the bed starts in the file is unmistakable
    tones = ";".join(f"sine=f={220 * 2 ** (k / 12):.2f}:sample_rate=44100:duration=1[t{k}]" for k in range(12))
    src = make_audio(
        tmp_path / "melody.wav", tones + ";" + "".join(f"[t{k}]" for k in range(12)) + "concat=n=12:v=0:a=1", 12.0
    )
    decoded = np.concatenate(list(ffmpeg_mod.decode(src, RATE, 1)))[:, 0].astype(np.float64)
    bed = file_bed(src, RATE, 1, None)
    head = np.asarray(bed.read(0, RATE * 5), dtype=np.float64).reshape(-1)
    gain = np.dot(head, decoded[: len(head)]) / np.dot(decoded[: len(head)], decoded[: len(head)])
    # the session's first 5 s are the file's first 5 s, only brought to the bed's level
    assert np.max(np.abs(head - gain * decoded[: len(head)])) < 1e-4
    # and round the loop, the opening comes back under the seam, then the file carries on
    x = fade_s(12.0)
    later = np.asarray(bed.read(bed.frames, RATE), dtype=np.float64).reshape(-1)
    start = round(x * RATE)
    assert np.max(np.abs(later - gain * decoded[start : start + RATE])) < 1e-4


def test_crossfade_keeps_the_level_for_alike_and_unalike_material():
    rng = np.random.default_rng(0)
    n = 20000
    a, b = rng.standard_normal(n), rng.standard_normal(n)
    mixed = crossfade(a, b)
    mid = slice(n // 2 - 2000, n // 2 + 2000)
    assert np.sqrt(np.mean(mixed[mid] ** 2)) == pytest.approx(1.0, rel=0.1)  # uncorrelated: equal power
    same = crossfade(a, a)
    assert np.allclose(same, a)  # identical: no dip or bump


def test_decoded_loop_is_cached_and_reused(tmp_path, monkeypatch):
    src = make_audio(tmp_path / "calm.m4a", MUSIC, 5.0)
    cache = DerivedCache(tmp_path / "cache")
    first = whole_loop(file_bed(src, RATE, 2, cache))

    def no_ffmpeg(*a, **k):
        raise AssertionError("decoded again instead of using the cache")

    monkeypatch.setattr(ffmpeg_mod, "decode", no_ffmpeg)
    again = file_bed(src, RATE, 2, cache)
    assert np.array_equal(whole_loop(again), first)
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.name.endswith(".tmp")]


def test_builtin_bed_is_cached(tmp_path):
    cache = DerivedCache(tmp_path / "cache")
    a = builtin_bed(RATE, 2, cache)
    b = builtin_bed(RATE, 2, cache)
    assert type(a).__name__ == "ArrayBed" and type(b).__name__ == "FileBed"  # made, then read from the cache
    assert a.frames == b.frames and a.channels == b.channels == 1
    assert np.array_equal(a.samples, b.read(0, b.frames)) and np.array_equal(a.powers, b.powers)
    assert np.array_equal(a.read(a.frames - 100, 300), b.read(b.frames - 100, 300))  # across the loop point
    # power is reported for both output channels of the dual-mono bed
    one = builtin_bed(RATE, 1, None)
    assert np.allclose(a.powers, 2 * one.powers)
    assert -40 < lufs(one.powers.mean()) < -5


def test_builtin_bed_analysis_agrees_with_filtering_its_samples():
    # the bed's powers come from its spectrum at a low rate; filtering the samples must agree
    bed = builtin_bed(48000, 1, None)
    powers, peak = loop_analysis(bed.samples, 48000, 1)
    assert bed.powers.mean() == pytest.approx(powers.mean(), rel=1e-4)
    assert np.max(np.abs(bed.powers / powers - 1)) < 0.1  # each 10 ms within 0.4 dB
    assert peak <= bed.peak < peak * 1.1  # a safe bound on the true peak


def test_none_means_no_bed():
    assert prepare_bed("none", RATE, 2, None) is None


def test_missing_music_names_the_file(tmp_path):
    with pytest.raises(AudioInputError) as e:
        prepare_bed(str(tmp_path / "nope.mp3"), RATE, 2, None)
    assert "nope.mp3" in str(e.value) and "not found" in str(e.value)


def test_not_audio_is_refused_with_the_file_named(tmp_path):
    bad = tmp_path / "song.mp3"
    bad.write_text("this is not an mp3 at all\n" * 50)
    with pytest.raises(AudioInputError) as e:
        prepare_bed(str(bad), RATE, 2, None)
    assert "song.mp3" in str(e.value)


def test_silent_music_is_refused(tmp_path):
    silent = make_audio(tmp_path / "silence.wav", "anullsrc=r=44100:cl=stereo", 4.0)
    with pytest.raises(AudioInputError) as e:
        prepare_bed(str(silent), RATE, 2, None)
    assert "silent" in str(e.value) and "silence.wav" in str(e.value)


def test_a_video_without_sound_is_refused(tmp_path):
    video = tmp_path / "clip.mp4"
    import subprocess

    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=d=1:s=64x64", str(video)], check=True)
    with pytest.raises(AudioInputError) as e:
        prepare_bed(str(video), RATE, 2, None)
    assert "clip.mp4" in str(e.value)


def test_an_empty_folder_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hi")
    with pytest.raises(AudioInputError) as e:
        prepare_bed(str(tmp_path / "empty"), RATE, 2, None)
    assert "no audio files" in str(e.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_refused(tmp_path):
    src = make_audio(tmp_path / "locked.wav", MUSIC, 2.0)
    src.chmod(0)
    try:
        with pytest.raises(AudioInputError) as e:
            prepare_bed(str(src), RATE, 2, None)
        assert "locked.wav" in str(e.value)
    finally:
        src.chmod(0o644)


def test_ffmpeg_missing_is_an_environment_fault(tmp_path, monkeypatch):
    from voiceguide.errors import EnvironmentFault

    src = make_audio(tmp_path / "calm.wav", MUSIC, 2.0)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(EnvironmentFault) as e:
        prepare_bed(str(src), RATE, 2, None)
    assert "install" in str(e.value)


def dominant_hz(x, rate=RATE):
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)[:, 0]
    return np.argmax(np.abs(np.fft.rfft(x))) * rate / len(x)


@pytest.mark.parametrize("name", ["concat:a.mp3|b.mp3", "-i.mp3", "subfile:x.mp3"])
def test_a_music_file_is_read_as_that_file_whatever_its_name(tmp_path, name, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_audio(tmp_path / "a.mp3", "sine=f=440:sample_rate=44100", 3.0)
    make_audio(tmp_path / "b.mp3", "sine=f=1000:sample_rate=44100", 3.0)
    make_audio(tmp_path / "own.mp3", "sine=f=2500:sample_rate=44100", 6.0)
    os.rename(tmp_path / "own.mp3", tmp_path / name)
    relative = Path(name)  # as `--music NAME` gives it: ffmpeg would take it for a protocol or option
    x = np.concatenate(list(ffmpeg_mod.decode(relative, RATE, 1)))
    assert abs(len(x) / RATE - 6.0) < 0.1  # not a.mp3 then b.mp3 (3 s each)
    assert abs(dominant_hz(x) - 2500) < 5
    bed = file_bed(relative, RATE, 1, DerivedCache(tmp_path / "cache"))
    assert abs(dominant_hz(bed.read(0, RATE)) - 2500) < 5


def test_a_cached_loop_damaged_on_disk_is_made_again(tmp_path):
    src = make_audio(tmp_path / "calm.ogg", MUSIC, 9.0, channels=1)
    cache = DerivedCache(tmp_path / "cache")
    good = whole_loop(file_bed(src, RATE, 1, cache))
    loop = next((tmp_path / "cache" / "music").glob("*.f32"))
    size = loop.stat().st_size
    with open(loop, "r+b") as f:  # garbage of the same size over the samples
        f.write(np.random.default_rng(9).standard_normal((size - 24) // 4).astype("<f4").tobytes())
    again = file_bed(src, RATE, 1, DerivedCache(tmp_path / "cache"))
    assert np.array_equal(whole_loop(again), good)
    for entry in (tmp_path / "cache" / "music").iterdir():  # every entry whole again
        assert not entry.name.startswith(".")
    assert file_bed(src, RATE, 1, DerivedCache(tmp_path / "cache")).frames == again.frames
