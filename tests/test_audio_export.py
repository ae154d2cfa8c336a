"""Export on real files: length, chapters, tags, loudness, ducking, clicks, failures.

Every check reads what ffmpeg/ffprobe find in the written file, not what the code meant to write.
"""

import json
import os
import shutil
import subprocess

import numpy as np
import pytest
from test_audio_support import ebur128, ffprobe, needs_espeak, needs_ffmpeg, read_wav

from voiceguide.audio import MixSettings, build_mixer, export_session
from voiceguide.audio.encode.export import sidecar_path
from voiceguide.errors import EnvironmentFault, OutputError

pytestmark = [needs_espeak, needs_ffmpeg]


SESSION = (1.5, 3)  # minutes, steps of the conftest's session fixture


@pytest.fixture(scope="module")
def mp3(mixer, tmp_path_factory):
    out = tmp_path_factory.mktemp("mp3") / "session.mp3"
    seen = []
    result = export_session(mixer, out, chapters=("vtt", "json"), progress=lambda d, t: seen.append((d, t)))
    return out, result, seen


@pytest.fixture(scope="module")
def wav(mixer, tmp_path_factory):
    out = tmp_path_factory.mktemp("wav") / "session.wav"
    export_session(mixer, out)
    return out


def test_mp3_lasts_what_the_timeline_says(mp3, session):
    out, result, _ = mp3
    tl, _ = session
    fmt = ffprobe(out)["format"]
    # ffprobe counts whole MP3 frames from the encoder's delay on; the audio itself starts after
    # that delay (start_time), and ffmpeg's decoder drops it, so duration - start_time is what plays
    playing = float(fmt["duration"]) - float(fmt.get("start_time", 0))
    assert abs(playing - tl.total_ms / 1000) <= 0.05
    assert abs(float(fmt["duration"]) - tl.total_ms / 1000) <= 0.1
    decoded = subprocess.run(["ffmpeg", "-v", "error", "-i", str(out), "-f", "s16le", "-"], capture_output=True).stdout
    assert abs(len(decoded) / 4 / 44100 - tl.total_ms / 1000) <= 0.05
    assert result.duration_ms == tl.total_ms and result.path == out
    assert result.duration_s == tl.total_ms / 1000 and result.bytes == out.stat().st_size


def test_chapters_match_the_steps(mp3, session):
    out, result, _ = mp3
    tl, _ = session
    ch = ffprobe(out)["chapters"]
    titles = [c["tags"]["title"] for c in ch]
    assert titles == ["Introduction"] + [s.title for s in tl.steps] + ["Closing"]
    starts = [float(c["start_time"]) for c in ch]
    assert starts == sorted(starts)
    assert [round(s * 1000) for s in starts[1:-1]] == [s.start_ms for s in tl.steps]
    assert round(float(ch[-1]["start_time"]) * 1000) == tl.steps[-1].end_ms
    assert round(float(ch[-1]["end_time"]) * 1000) == tl.total_ms
    assert len(result.chapters) == len(ch)


def test_tags(mp3, session):
    out, _, _ = mp3
    tl, _ = session
    tags = ffprobe(out)["format"]["tags"]
    assert tags["title"] == tl.title and tags["album"] == tl.routine and tags["artist"] == "voiceguide"
    assert "length=1.5m" in tags["comment"]


def test_loudness_and_true_peak(mp3):
    out, result, _ = mp3
    lufs, tp = ebur128(out)
    assert -17 <= lufs <= -15 and abs(lufs - -16) <= 0.5
    assert tp <= -1.0
    assert result.predicted_lufs == pytest.approx(-16, abs=0.01)


def test_sidecars(mp3, session):
    out, result, _ = mp3
    tl, _ = session
    vtt, js = sidecar_path(out, "vtt"), sidecar_path(out, "json")
    assert vtt.name == "session.mp3.chapters.vtt" and js.name == "session.mp3.chapters.json"
    assert set(result.sidecars) == {vtt, js}
    text = vtt.read_text()
    assert text.startswith("WEBVTT\n") and text.count(" --> ") == len(tl.steps) + 2
    doc = json.loads(js.read_text())
    assert doc["version"] and [c["title"] for c in doc["chapters"]][1:-1] == [s.title for s in tl.steps]
    assert [c["startTime"] for c in doc["chapters"]] == sorted(c["startTime"] for c in doc["chapters"])


def test_progress_and_no_leftovers(mp3, mixer):
    out, _, seen = mp3
    assert seen[-1] == (mixer.total_frames, mixer.total_frames)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "session.mp3",
        "session.mp3.chapters.json",
        "session.mp3.chapters.vtt",
    ]
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_wav_is_exactly_what_the_mixer_renders(wav, mixer):
    got = read_wav(wav)
    want = np.concatenate(list(mixer.blocks(0, 10000)))
    assert got.shape == want.shape
    assert np.array_equal(np.rint(got * 32768), np.rint(np.clip(want * 32767, -32768, 32767)))
    info = ffprobe(wav)
    assert info["format"]["tags"]["title"] == mixer.timeline.title


def test_music_is_12_db_under_the_voice_while_it_speaks(wav, mixer, session):
    tl, _ = session
    x = read_wav(wav)[:, 0]
    voice = np.zeros_like(x)
    for c in tl.cues:
        if c.spoken:
            s = mixer.speech(c.text)[:, 0]
            a = mixer.frame_of_ms(c.start_ms)
            voice[a : a + len(s)] += s
    bed = x - voice  # what is left is the music (and the quantisation, at -96 dB)
    for c in tl.cues:
        if c.spoken:
            a, n = mixer.frame_of_ms(c.start_ms), mixer.bank.out_frames(c.text)
            v = np.sqrt(np.mean(voice[a : a + n] ** 2))
            m = np.sqrt(np.mean(bed[a : a + n] ** 2))
            assert 20 * np.log10(v / m) >= 12, c.text


def test_cues_are_even(wav, mixer, session):
    tl, _ = session
    louds = []
    for c in tl.cues:
        if c.spoken and c.duration_ms >= 1000:
            lufs, _ = ebur128(wav, start=c.start_ms / 1000, duration=c.duration_ms / 1000)
            louds.append(lufs)
    assert len(louds) >= 4
    assert max(louds) - min(louds) <= 4.0  # each within +-2 LU of the others


def test_no_click_at_duck_ramps(wav, mixer, session):
    tl, _ = session
    x = read_wav(wav)[:, 0]
    voice = np.zeros_like(x)
    chimes = np.zeros_like(x, dtype=bool)
    for c in tl.cues:
        a = mixer.frame_of_ms(c.start_ms)
        if c.spoken:
            s = mixer.speech(c.text)[:, 0]
            voice[a : a + len(s)] += s
        else:
            chimes[a : a + 3 * 44100] = True
    bed = (x - voice)[~chimes]
    steps = np.abs(np.diff(bed))
    ramps = np.zeros(len(x), dtype=bool)
    for d in mixer.envelope.dips:
        ramps[max(0, d.start - 9000) : d.start + 100] = True
        ramps[d.end - 100 : d.end + 14000] = True
    near = np.abs(np.diff(x - voice))[ramps[1:] & ~chimes[1:]]
    assert near.max() <= steps.max() + 2 / 32768


def test_mono_48k_mp3(session, tmp_path):
    tl, clips = session
    m = build_mixer(tl, clips, MixSettings(sample_rate=48000, channels=1))
    out = tmp_path / "mono.mp3"
    export_session(m, out, bitrate="96k")
    stream = ffprobe(out)["streams"][0]
    assert stream["sample_rate"] == "48000" and stream["channels"] == 1
    lufs, tp = ebur128(out)
    assert abs(lufs - -19) <= 1 and tp <= -1


def test_user_music_export(session, tmp_path):
    from test_audio_support import make_audio

    tl, clips = session
    song = make_audio(tmp_path / "song.ogg", "anoisesrc=c=brown:a=0.2:seed=3", 20.0)
    m = build_mixer(tl, clips, MixSettings(music=str(song), cache_dir=tmp_path / "cache"))
    out = tmp_path / "with-song.mp3"
    export_session(m, out)
    lufs, tp = ebur128(out)
    assert abs(lufs - -16) <= 1 and tp <= -1


# -- failures leave nothing behind ------------------------------------------------------------


def listing(folder):
    return sorted(p.name for p in folder.iterdir())


def test_unknown_extension(mixer, tmp_path):
    with pytest.raises(OutputError) as e:
        export_session(mixer, tmp_path / "s.ogg")
    assert ".mp3 or .wav" in str(e.value)
    assert listing(tmp_path) == []


def test_missing_folder(mixer, tmp_path):
    with pytest.raises(OutputError) as e:
        export_session(mixer, tmp_path / "nope" / "s.mp3")
    assert "does not exist" in str(e.value)


def test_bad_bitrate_rate_and_chapter_format(mixer, session, tmp_path):
    with pytest.raises(OutputError):
        export_session(mixer, tmp_path / "s.mp3", bitrate="1000k")
    with pytest.raises(OutputError):
        export_session(mixer, tmp_path / "s.mp3", chapters=("srt",))
    tl, clips = session
    odd = build_mixer(tl, clips, MixSettings(sample_rate=96000, music="none"))
    with pytest.raises(OutputError):
        export_session(odd, tmp_path / "s.mp3")
    assert listing(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_folder_not_writable(mixer, tmp_path):
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(OutputError):
            export_session(mixer, tmp_path / "s.mp3")
    finally:
        tmp_path.chmod(0o755)


def test_ctrl_c_leaves_no_file(mixer, tmp_path):
    out = tmp_path / "s.mp3"
    out.write_bytes(b"an older export")

    def interrupt(done, total):
        if done > total // 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export_session(mixer, out, chapters=("vtt",), progress=interrupt)
    assert listing(tmp_path) == ["s.mp3"] and out.read_bytes() == b"an older export"


def test_ffmpeg_missing(mixer, tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(EnvironmentFault) as e:
        export_session(mixer, tmp_path / "s.mp3")
    assert "install" in str(e.value) and "ffmpeg" in str(e.value)
    assert listing(tmp_path) == []


def test_ffmpeg_failing_midway_is_an_environment_fault(mixer, tmp_path, monkeypatch):
    # an ffmpeg that reads a little, then dies as it would on a full disk
    fake = tmp_path / "bin" / "ffmpeg"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\nhead -c 100000 >/dev/null\necho 'Error writing trailer: No space left on device' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    monkeypatch.setattr(shutil, "which", lambda name: str(fake))
    with pytest.raises(EnvironmentFault) as e:
        export_session(mixer, out_dir / "s.wav")
    assert "disk is full" in str(e.value)
    assert listing(out_dir) == []


def small_disk(tmp_path):
    """A 300 kB tmpfs, when this user may mount one (root in a container often may)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small tmpfs")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    return mnt


def test_a_full_disk_is_reported_and_leaves_nothing(mixer, tmp_path):
    mnt = small_disk(tmp_path)
    try:
        with pytest.raises(EnvironmentFault) as e:
            export_session(mixer, mnt / "s.mp3")
        assert "disk is full" in str(e.value)
        assert listing(mnt) == []
    finally:
        subprocess.run(["umount", str(mnt)])


# -- what lies beside an export agrees with it -------------------------------------------------------


def test_exporting_again_removes_the_sidecars_it_was_not_asked_for(mixer, tmp_path):
    out = tmp_path / "s.mp3"
    first = export_session(mixer, out, chapters=("vtt", "json"))
    assert first.notes == () and listing(tmp_path) == ["s.mp3", "s.mp3.chapters.json", "s.mp3.chapters.vtt"]
    again = export_session(mixer, out, chapters=("json",))
    assert listing(tmp_path) == ["s.mp3", "s.mp3.chapters.json"]
    assert again.sidecars == (sidecar_path(out, "json"),)
    assert any("removed s.mp3.chapters.vtt" in n for n in again.notes)
    export_session(mixer, out)
    assert listing(tmp_path) == ["s.mp3"]


def test_a_file_of_the_users_under_a_sidecars_name_stays(mixer, tmp_path):
    out = tmp_path / "s.mp3"
    mine = sidecar_path(out, "vtt")
    mine.write_text("my own notes about this recording\n")
    result = export_session(mixer, out)
    assert mine.read_text() == "my own notes about this recording\n" and result.notes == ()


def read_cues(path):
    """The cue points and labels of a WAV, by a small RIFF reader of our own."""
    import struct

    data = path.read_bytes()
    assert data[:4] == b"RIFF" and struct.unpack_from("<I", data, 4)[0] == len(data) - 8
    pos, cues, labels = 12, {}, {}
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = data[pos + 8 : pos + 8 + size]
        if cid == b"cue ":
            n = struct.unpack_from("<I", body)[0]
            for i in range(n):
                ident, _, chunk, _, _, offset = struct.unpack_from("<II4sIII", body, 4 + 24 * i)
                assert chunk == b"data"
                cues[ident] = offset
        elif cid == b"LIST" and body[:4] == b"adtl":
            sub = 4
            while sub + 8 <= len(body):
                sid, ssize = body[sub : sub + 4], struct.unpack_from("<I", body, sub + 4)[0]
                if sid == b"labl":
                    ident = struct.unpack_from("<I", body, sub + 8)[0]
                    labels[ident] = body[sub + 12 : sub + 8 + ssize].rstrip(b"\0").decode()
                sub += 8 + ssize + (ssize & 1)
        pos += 8 + size + (size & 1)
    return [(cues[i], labels.get(i)) for i in sorted(cues)]


def test_a_wav_carries_its_chapters_as_cue_points(wav, mixer):
    from voiceguide.audio.encode.chapters import session_chapters

    chapters = session_chapters(mixer.timeline)
    want = [(mixer.frame_of_ms(c.start_ms), c.title) for c in chapters]
    assert read_cues(wav) == want and len(want) >= 3
    probed = ffprobe(wav)["chapters"]
    assert [(int(c["start"]), c["tags"]["title"]) for c in probed] == want
    # still the same samples: the markers come after them
    assert read_wav(wav).shape == (mixer.total_frames, mixer.channels)


def test_a_killed_exports_temps_are_removed_by_the_next_export(mixer, tmp_path, dead_writer_name):
    from voiceguide.files import temp_name

    out = tmp_path / "s.mp3"
    dead = [
        tmp_path / dead_writer_name("s.mp3", ".part"),
        tmp_path / dead_writer_name("other.wav", ".part"),
        tmp_path / dead_writer_name("s.mp3.chapters.vtt", ".part"),
    ]
    live = tmp_path / temp_name("x.mp3", ".part")  # a run writing it now (this process)
    theirs = [
        tmp_path / ".s.mp3.0a1b2c3d.part",  # the old pattern: no writer to check
        tmp_path / dead_writer_name("photo.jpg", ".part"),
    ]  # not a name an export writes
    for p in [*dead, live, *theirs]:
        p.write_bytes(b"x" * 1000)
    export_session(mixer, out)
    assert listing(tmp_path) == sorted(["s.mp3", live.name, *(p.name for p in theirs)])


def test_odd_names_reach_ffmpeg_as_files(mixer, tmp_path, monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(tmp_path)  # relative, as `-o NAME` gives them
    result = export_session(mixer, Path("-y.wav"))
    assert (tmp_path / "-y.wav").exists() and read_wav(tmp_path / "-y.wav").shape[0] == mixer.total_frames
    (tmp_path / "concat:a.mp3|b.mp3").mkdir()
    result = export_session(mixer, Path("concat:a.mp3|b.mp3") / "pipe:1.mp3")
    assert result.bytes > 10_000 and listing(tmp_path / "concat:a.mp3|b.mp3") == ["pipe:1.mp3"]
