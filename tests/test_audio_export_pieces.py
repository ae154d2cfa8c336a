"""MP3 export in pieces on several cores: the joined file read back by ffmpeg and ffprobe.

Two encoders are forced here, so these run the split path on any machine. "No audible join" is
measured twice. As the acceptance check does: the worst 50 ms window of (decoded MP3 - WAV export
of the same session) against the same for a single-pass encode of that WAV. That alone would miss
a broken join in a quiet stretch (joins mostly sit in the bed between cues, 5-10 dB under the
worst window, which is in speech), so also at every join: the error of the windows around it
against a one-pass export's there. Measured: good joins come within +3.3 dB of it (median 0),
joins given the wrong reservoir bytes +57 dB.
"""

import os
import shutil
import subprocess
import time

import numpy as np
import pytest
from test_audio_support import build_session, ebur128, espeak_clip, ffprobe, make_audio, needs_espeak, needs_ffmpeg

from voiceguide.audio import MixSettings, build_mixer, export_session
from voiceguide.audio.encode import export as export_mod
from voiceguide.audio.encode import mp3frames, segments
from voiceguide.errors import EnvironmentFault
from voiceguide.timeline import Cue, CueKind, Step, Timeline

pytestmark = [needs_espeak, needs_ffmpeg]
WINDOW = 0.05


@pytest.fixture(autouse=True)
def two_encoders(monkeypatch):
    monkeypatch.setattr(export_mod, "encoder_count", lambda: 2)


@pytest.fixture
def joins(monkeypatch):
    """The JoinReport of every assembled export."""
    reports = []
    real = segments.assemble

    def recording(*args, **kwargs):
        kwargs["report"] = report = segments.JoinReport()
        reports.append(report)
        return real(*args, **kwargs)

    monkeypatch.setattr(segments, "assemble", recording)
    return reports


def decode(path, channels=2, rate=None):
    cmd = ["ffmpeg", "-v", "error", "-i", str(path)]
    if rate:
        cmd += ["-ar", str(rate)]
    p = subprocess.run(cmd + ["-f", "f32le", "-"], capture_output=True)
    return np.frombuffer(p.stdout, np.float32).reshape(-1, channels), p.stderr.decode()


def window_errors(decoded, truth, rate):
    """dB of the mean-of-channels error in each 50 ms window."""
    n = min(len(decoded), len(truth))
    w = int(rate * WINDOW)
    k = n // w
    err = (decoded[: k * w] - truth[: k * w]).mean(axis=1)
    return 20 * np.log10(np.sqrt((err.reshape(k, w) ** 2).mean(axis=1)) + 1e-12)


def single_pass(wav, tmp_path, bitrate="128k"):
    out = tmp_path / "single.mp3"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(wav), "-c:a", "libmp3lame", "-b:a", bitrate, "-y", str(out)], check=True
    )
    return out


def one_pass(mixer, path, monkeypatch):
    """The same export through one encoder (the same level make-up as the split one)."""
    monkeypatch.setattr(export_mod, "encoder_count", lambda: 1)
    try:
        assert export_session(mixer, path).encoders == 1
    finally:
        monkeypatch.setattr(export_mod, "encoder_count", lambda: 2)
    return path


def join_excess(ours, one, truth, joins, rate=44100, spf=1152):
    """For each join: dB by which the error around it exceeds a one-pass export's there (or, where
    that is quieter still, a floor 30 dB under the session's worst window: nothing to hear)."""
    e_ours, e_one = window_errors(ours, truth, rate), window_errors(one, truth, rate)
    floor = e_one.max() - 30
    out = []
    for g in joins:
        k = int((g * spf - 1105) / rate / WINDOW)
        near = slice(max(0, k - 2), k + 3)
        out.append(float(e_ours[near].max() - max(e_one[near].max(), floor)))
    return out


def listing(folder):
    return sorted(p.name for p in folder.iterdir())


# -- exact length -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "minutes,rate,channels,music,bitrate",
    [
        (0.5, 44100, 2, "builtin", "128k"),
        (1.0, 48000, 1, "builtin", "96k"),
        (0.75, 22050, 2, "builtin", "128k"),
        (0.6, 44100, 2, "none", "128k"),
        (0.4, 22050, 1, "none", "96k"),
        # low bitrates: a reservoir of up to 511 (or 255) bytes spans many small frames
        (0.5, 44100, 2, "builtin", "32k"),
        (0.5, 24000, 1, "none", "8k"),
    ],
)
def test_decodes_to_exactly_the_sessions_length(tmp_path, joins, minutes, rate, channels, music, bitrate):
    tl, clips = build_session(minutes, steps=2, intro_ms=4000, outro_ms=5000, checkin_every_ms=9000)
    m = build_mixer(
        tl, clips, MixSettings(sample_rate=rate, channels=channels, music=music, cache_dir=tmp_path / "cache")
    )
    out = tmp_path / "s.mp3"
    result = export_session(m, out, bitrate=bitrate)
    assert result.encoders == 2 and len(joins) == 1 and joins[0].offsets
    got, err = decode(out, channels)
    assert err == "" and len(got) == m.total_frames
    stream = ffprobe(out)["streams"][0]
    assert int(stream["sample_rate"]) == rate and stream["channels"] == channels
    # and it is the session, sample for sample in time: no lag against the mixer's own render
    want = m.render(0, m.total_frames)
    x, y = got[:, 0], want[:, 0]
    lags = range(-40, 41)
    best = max(lags, key=lambda k: float(np.dot(x[1000 + k : -1000 + k], y[1000:-1000])))
    assert best == 0


def speech_across(boundary_s):
    """40 s with one long sentence spoken across ``boundary_s``."""
    texts = [
        "Check the pressure with your partner.",
        "Use long, slow strokes from the lower back up to the shoulders, then glide back down.",
    ]
    clips = {t: espeak_clip(t) for t in texts}
    cues = []
    for kind, at_ms, text in [
        (CueKind.CHECKIN, 2000, texts[0]),
        (CueKind.INSTRUCTION, int(boundary_s * 1000) - 1500, texts[1]),
    ]:
        c = clips[text]
        cues.append(Cue(at_ms, at_ms + -(-c.frames * 1000 // c.sample_rate), kind, text, 1))
    return Timeline("t", "r", 40000, (Step(1, 1, "One", 0, 40000),), tuple(cues)), clips


def test_a_join_inside_speech_is_not_heard(tmp_path, joins, monkeypatch):
    # without music the session is cut in two halves; put a sentence across the cut
    plan = segments.plan_session(40 * 44100, 44100, 2)
    cut_s = (plan.pieces[1].first * plan.spf - 1105) / 44100
    tl, clips = speech_across(cut_s)
    m = build_mixer(tl, clips, MixSettings(music="none", chime="none"))
    cue = tl.cues[1]
    assert cue.start_ms / 1000 < cut_s < cue.end_ms / 1000 - 1.0
    out, wav = tmp_path / "s.mp3", tmp_path / "s.wav"
    export_session(m, wav)
    assert export_session(m, out).encoders == 2
    truth, _ = decode(wav)
    ours, err = decode(out)
    assert err == "" and len(ours) == m.total_frames
    theirs, _ = decode(single_pass(wav, tmp_path))
    assert window_errors(ours, truth, 44100).max() <= window_errors(theirs, truth, 44100).max() + 1.0
    one, _ = decode(one_pass(m, tmp_path / "one.mp3", monkeypatch))
    (excess,) = join_excess(ours, one, truth, joins[0].joins)
    assert excess <= 6


@pytest.mark.parametrize("seconds,encoders", [(19, 1), (21, 2)])
def test_the_split_starts_at_twenty_seconds(tmp_path, seconds, encoders):
    tl, clips = build_session(seconds / 60, steps=1, intro_ms=3000, outro_ms=3000, checkin_every_ms=6000)
    m = build_mixer(tl, clips, MixSettings())
    out = tmp_path / "s.mp3"
    assert export_session(m, out).encoders == encoders
    got, err = decode(out)
    assert err == "" and len(got) == m.total_frames == seconds * 44100


# -- joins, loudness, chapters ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def session():
    return build_session(1.5, steps=3)


def stereo_song(tmp_path):
    """11 s of a different tone in each ear (a 7 s loop once crossfaded)."""
    return str(make_audio(tmp_path / "song.ogg", "aevalsrc=0.2*sin(2*PI*220*t)|0.2*sin(2*PI*277*t)", 11.0))


@pytest.mark.parametrize("music", ["builtin", "stereo"])
def test_no_join_is_heard_and_the_targets_hold(session, tmp_path, joins, music, monkeypatch):
    if music == "builtin":
        tl, clips = build_session(4.0, steps=3)  # long enough for the 96 s loop to pay
    else:
        tl, clips = session
        music = stereo_song(tmp_path)
    m = build_mixer(tl, clips, MixSettings(music=music, cache_dir=tmp_path / "cache"))
    out, wav = tmp_path / "s.mp3", tmp_path / "s.wav"
    export_session(m, wav)
    result = export_session(m, out, chapters=("vtt",))
    assert result.encoders == 2
    (report,) = joins
    assert len(report.joins) >= 4 and report.loop_frames_copied > 0  # the bed's loop was reused
    truth, _ = decode(wav)
    ours, err = decode(out)
    assert err == "" and len(ours) == m.total_frames
    theirs, _ = decode(single_pass(wav, tmp_path))
    assert window_errors(ours, truth, 44100).max() <= window_errors(theirs, truth, 44100).max() + 1.0
    one, _ = decode(one_pass(m, tmp_path / "one.mp3", monkeypatch))
    assert max(join_excess(ours, one, truth, report.joins)) <= 6
    lufs, tp = ebur128(out)
    assert abs(lufs - -16) <= 1 and tp <= -1
    info = ffprobe(out)
    titles = [c["tags"]["title"] for c in info["chapters"]]
    assert titles == ["Introduction"] + [s.title for s in tl.steps] + ["Closing"]
    starts = [float(c["start_time"]) for c in info["chapters"]]
    assert starts == sorted(starts)
    assert info["format"]["tags"]["title"] == tl.title
    assert listing(tmp_path) == sorted(
        ["cache", "one.mp3", "s.mp3", "s.mp3.chapters.vtt", "s.wav", "single.mp3"]
        + (["song.ogg"] if music != "builtin" else [])
    )


def test_a_join_with_a_wrong_reservoir_is_heard(session, tmp_path, joins, monkeypatch):
    """The measure above can fail: give the joined frames the wrong bytes from their reservoir."""
    tl, clips = session
    m = build_mixer(tl, clips, MixSettings(music=stereo_song(tmp_path), cache_dir=tmp_path / "cache"))
    out, wav = tmp_path / "s.mp3", tmp_path / "s.wav"
    export_session(m, wav)
    one, _ = decode(one_pass(m, tmp_path / "one.mp3", monkeypatch))
    real = mp3frames.patch_tail
    monkeypatch.setattr(mp3frames, "patch_tail", lambda frames, data, fmt: real(frames, bytes(len(data)), fmt))
    export_session(m, out)
    truth, _ = decode(wav)
    ours, _ = decode(out)
    assert min(join_excess(ours, one, truth, joins[-1].joins)) > 12


def test_when_no_join_can_be_made_it_encodes_in_one_pass(session, tmp_path, monkeypatch):
    tl, clips = session
    m = build_mixer(tl, clips, MixSettings())
    monkeypatch.setattr(mp3frames, "join_ok", lambda *a: False)
    out = tmp_path / "s.mp3"
    result = export_session(m, out)
    assert result.encoders == 1
    got, err = decode(out)
    assert err == "" and abs(len(got) - m.total_frames) <= 0  # ffmpeg's own tag trims exactly too
    assert listing(tmp_path) == ["s.mp3"]


# -- failures leave nothing behind ------------------------------------------------------------------


def children():
    """Processes whose parent is this one."""
    me = str(os.getpid())
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[1] == me:
                        out.append(pid)
            except OSError:
                pass
    return out


@pytest.mark.parametrize("at", [0.05, 0.9])
def test_ctrl_c_leaves_no_file_and_no_encoder(session, tmp_path, at):
    tl, clips = session
    m = build_mixer(tl, clips, MixSettings())
    out = tmp_path / "s.mp3"
    out.write_bytes(b"an older export")

    def interrupt(done, total):
        if done > total * at:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export_session(m, out, chapters=("json",), progress=interrupt)
    assert listing(tmp_path) == ["s.mp3"] and out.read_bytes() == b"an older export"
    assert children() == []


def test_an_encoder_dying_midway_is_an_environment_fault(session, tmp_path, monkeypatch):
    tl, clips = session
    m = build_mixer(tl, clips, MixSettings())
    fake = tmp_path / "bin" / "ffmpeg"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\nhead -c 300000 >/dev/null\necho 'av_interleaved_write_frame(): No space left on device' >&2\n"
        "exit 1\n"
    )
    fake.chmod(0o755)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    monkeypatch.setattr(shutil, "which", lambda name: str(fake))
    with pytest.raises(EnvironmentFault) as e:
        export_session(m, out_dir / "s.mp3")
    assert "disk is full" in str(e.value)
    assert listing(out_dir) == [] and children() == []


def test_a_failure_while_joining_leaves_nothing(session, tmp_path, monkeypatch):
    tl, clips = session
    m = build_mixer(tl, clips, MixSettings())

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(segments, "assemble", broken)
    with pytest.raises(EnvironmentFault) as e:
        export_session(m, tmp_path / "s.mp3")
    assert "disk is full" in str(e.value)
    assert listing(tmp_path) == []


def test_export_starts_no_thread_that_outlives_it(session, tmp_path):
    import threading

    tl, clips = session
    m = build_mixer(tl, clips, MixSettings())
    time.sleep(0.2)
    before = set(threading.enumerate())
    export_session(m, tmp_path / "s.mp3")
    assert set(threading.enumerate()) - before == set()


def test_a_background_given_to_build_and_export_leaves_no_thread_once_closed(session, tmp_path):
    import threading

    from voiceguide.background import Background

    tl, clips = session
    before = set(threading.enumerate())
    with Background(2) as background:
        m = build_mixer(tl, clips, MixSettings(cache_dir=tmp_path / "cache"), background)
        export_session(m, tmp_path / "s.mp3", background=background)
        assert any(t.name.startswith("voiceguide-worker") for t in threading.enumerate())  # it was used
    assert set(threading.enumerate()) - before == set()


def test_jobs_are_shared_out_by_size_alone():
    assert export_mod.assign_jobs([100, 60, 60, 60, 20], 2) == [[0, 3], [1, 2, 4]]
    assert export_mod.assign_jobs([5, 5, 5], 3) == [[0], [1], [2]]
    assert export_mod.assign_jobs([7], 2) == [[0], []]
    shared = export_mod.assign_jobs([30, 90, 10, 60, 60, 45, 20], 2)
    assert sorted(j for js in shared for j in js) == list(range(7)) and all(js == sorted(js) for js in shared)
    loads = [sum([30, 90, 10, 60, 60, 45, 20][j] for j in js) for js in shared]
    assert abs(loads[0] - loads[1]) <= 10


def test_the_same_session_exports_to_the_same_bytes(session, tmp_path):
    """Which pieces share a LAME process changes its frames a little, so that must not depend on
    which process happened to be free (it did: two exports of one session decoded differently)."""
    tl, clips = session
    m = build_mixer(tl, clips, MixSettings(cache_dir=tmp_path / "cache"))
    a, b = tmp_path / "a.mp3", tmp_path / "b.mp3"
    assert export_session(m, a).encoders == 2
    assert export_session(m, b).encoders == 2
    assert a.read_bytes() == b.read_bytes()
