"""The MP3 encoder's level change: measured through the real ffmpeg, made up in export."""

import subprocess

import numpy as np
from test_audio_support import needs_ffmpeg

from voiceguide.audio import MixSettings, build_mixer, export_session
from voiceguide.audio.cache import DerivedCache
from voiceguide.audio.encode import codec
from voiceguide.audio.sources.clip import ArrayClip
from voiceguide.background import Background
from voiceguide.timeline import Cue, CueKind, Step, Timeline

pytestmark = needs_ffmpeg


def test_measured_gain_is_a_plausible_loss():
    g = codec.measure(codec.ffmpeg_path(), "128k", 44100, 2)
    assert 0.85 < g <= 1.0


def test_measured_once_then_remembered(tmp_path, monkeypatch):
    cache = DerivedCache(tmp_path)
    calls = []
    monkeypatch.setattr(codec, "_gains", {})
    monkeypatch.setattr(codec, "measure", lambda *a, **k: calls.append(a) or 0.93)
    with Background() as background:
        codec.warm_up(22050, 1, cache, "96k", background=background)
        assert codec.codec_gain("96k", 22050, 1, cache) == 0.93  # waits for the background run
        assert codec.codec_gain("96k", 22050, 1, cache) == 0.93
    assert len(calls) == 1
    monkeypatch.setattr(codec, "_gains", {})  # a new process: the cache answers
    assert codec.codec_gain("96k", 22050, 1, cache) == 0.93 and len(calls) == 1


def test_the_mp3_plays_at_the_level_the_mixer_made(tmp_path):
    rate = 44100
    t = np.arange(rate * 4) / rate
    tone = ArrayClip(0.3 * np.sin(2 * np.pi * 440 * t), rate, key="tone")
    tl = Timeline("t", "r", 6000, (Step(1, 1, "One", 0, 6000),), (Cue(1000, 5000, CueKind.INSTRUCTION, "tone", 1),))
    m = build_mixer(tl, {"tone": tone}, MixSettings(music="none", chime="none"))
    out = tmp_path / "t.mp3"
    export_session(m, out)
    decoded = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(out), "-f", "s16le", "-ac", "1", "-"], capture_output=True, check=True
    ).stdout
    y = np.frombuffer(decoded, "<i2").astype(np.float64) / 32767
    want = m.render(0, m.total_frames)[:, 0]
    mid = slice(rate * 2, rate * 4)
    ratio_db = 10 * np.log10(np.mean(y[mid] ** 2) / np.mean(want[mid].astype(np.float64) ** 2))
    assert abs(ratio_db) < 0.1
