"""The live path under the conditions that used to break it, through a real (private) sound server:
a stall where the sound is made, clips made while the session plays on a loaded CPU, a device
slow to wake, a server that freezes for a moment, a simpleaudio buffer started late.

Each checks the recording against what the mixer makes, and the player's own count of underruns
(device requests that found no sound ready). A failing check says where and by how much, signed.
"""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
import wave

import numpy as np
import pytest
from audio_server import (
    RATE,
    AudioServer,
    ToneMixer,
    assert_same_sound,
    offset_of,
    require_audio_server,
    tone_timeline,
)

from voiceguide.player import PlainDisplay, PlayerOptions, play_session
from voiceguide.player.output import to_pcm16

pytestmark = [pytest.mark.audio, pytest.mark.slow]


def heard(x: np.ndarray) -> np.ndarray:
    return to_pcm16(x).astype(np.float32) / 32768


def play(server, mixer, **kw):
    shown = io.StringIO()
    mark = server.mark()
    result = play_session(mixer, options=PlayerOptions(**kw), display=PlainDisplay(shown), keys=None)
    time.sleep(0.3)  # the recorder's own latency
    return result, server.record(mark), shown.getvalue()


def assert_heard_exactly(rec: np.ndarray, ref: np.ndarray, what: str) -> None:
    """The recording is ``ref`` sample for sample from 0.1 s on (a new stream may lose its first ms)."""
    lag, score = offset_of(rec, ref, at=RATE // 2, window=RATE // 2)
    assert score > 0.999, f"{what}: the start of the session is not in the recording (score {score:.3f})"
    probes = []
    for at in range(RATE, len(ref) - RATE, RATE):
        local, _ = offset_of(rec, ref, at=at, window=RATE // 4, search=(lag + at - RATE // 2, lag + at + RATE // 2))
        probes.append((at / RATE, local - lag))
    moved = [(t, round(d * 1000 / RATE, 2)) for t, d in probes if abs(d) > 1]
    assert not moved, f"{what}: the sound moved against the mixer at (s, ms): {moved[:5]}"
    assert_same_sound(rec, ref, lag, RATE // 10, len(ref), what)


class Stalling(ToneMixer):
    """Makes one block 150 ms late, 1.5 s in: a garbage collection, a slow disk, a clip's first use."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.stalled = False

    def render(self, start_frame, frames):
        if not self.stalled and start_frame > 1.5 * self.rate:
            self.stalled = True
            time.sleep(0.15)
        return super().render(start_frame, frames)


def test_a_stall_where_the_sound_is_made_is_never_heard(pulse_env):
    mixer = Stalling(tone_timeline(steps=2, step_ms=2000))
    result, rec, _ = play(pulse_env, mixer)
    assert mixer.stalled and result.completed
    assert result.underruns == 0, f"{result.underruns} device requests found no sound ready"
    assert_heard_exactly(rec, heard(mixer.render(0, mixer.total_frames)), "after a 150 ms stall")


def test_python_busy_in_another_thread_is_never_heard(pulse_env):
    mixer = ToneMixer(tone_timeline(steps=2, step_ms=2500))
    stop = threading.Event()

    def busy():  # pure Python, holding the GIL between switches, as the display or a key might
        while not stop.is_set():
            sum(i * i for i in range(20000))

    worker = threading.Thread(target=busy, daemon=True)
    worker.start()
    try:
        result, rec, _ = play(pulse_env, mixer)
    finally:
        stop.set()
        worker.join()
    assert result.underruns == 0
    assert_heard_exactly(rec, heard(mixer.render(0, mixer.total_frames)), "beside a busy Python thread")


def long_real_session(cache_dir, seconds: int):
    """A real session (espeak-ng clips, the built-in bed, chimes) with a line every 2.5 s."""
    from voiceguide.audio import MixSettings, build_mixer
    from voiceguide.timeline import Cue, CueKind, Step, Timeline
    from voiceguide.tts import ClipCache, VoiceSettings, render_clips

    texts = [f"Line {i}. Keep the strokes slow and even, number {i}." for i in range(seconds // 2)]
    clips = render_clips(texts, VoiceSettings(engine="espeak-ng", rate_wpm=300), ClipCache(cache_dir)).clips
    cues, t = [], 500
    for text in texts:
        if t + clips[text].duration_ms >= seconds * 1000 - 1500:
            break
        cues.append(Cue(t, t + clips[text].duration_ms, CueKind.INSTRUCTION, text, 1))
        t += max(2500, clips[text].duration_ms + 300)
    timeline = Timeline("Long", "long", seconds * 1000, (Step(1, 1, "All", 0, seconds * 1000 - 1000),), tuple(cues))
    # no cache for the mixer's own work: every clip is processed while the session plays
    return build_mixer(timeline, clips, MixSettings(music="builtin", cache_dir=None))


def test_clips_made_while_a_long_session_plays_on_a_loaded_cpu(pulse_env, tmp_path, monkeypatch):
    from voiceguide.audio import export_session
    from voiceguide.audio.sources import speech

    # Room for a few clips only, so they are made, dropped and made again all through the session:
    # the old player stopped making them ahead at half this budget and made the rest on the
    # audio thread, first use by first use.
    monkeypatch.setattr(speech, "RESIDENT_BYTES", 1 << 20)
    mixer = long_real_session(tmp_path / "cache", 36)
    export_session(mixer, tmp_path / "ref.wav")
    with wave.open(str(tmp_path / "ref.wav")) as w:
        ref = np.frombuffer(w.readframes(w.getnframes()), np.int16).reshape(-1, 2).astype(np.float32) / 32768
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        result, rec, _ = play(pulse_env, mixer)
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    assert result.completed
    assert result.underruns == 0, f"{result.underruns} device requests found no sound ready"
    assert_heard_exactly(rec, ref, "36 s beside two busy processes")


def test_a_device_slow_to_wake_is_waited_for(monkeypatch):
    require_audio_server()
    mixer = ToneMixer(tone_timeline(steps=1, step_ms=3000))
    with AudioServer(keepalive=False) as idle:  # an idle sink asks for its first sound after ~2 s
        for k, v in idle.env.items():
            monkeypatch.setenv(k, v)
        t0 = time.monotonic()
        result, rec, shown = play(idle, mixer)
    assert result.completed, "the session ended before it was heard"
    assert time.monotonic() - t0 >= mixer.total_frames / RATE
    assert np.abs(rec).max() > 0.3, "nothing loud was recorded"


def test_a_server_that_freezes_for_a_moment_is_ridden_out(pulse_env):
    mixer = ToneMixer(tone_timeline(steps=2, step_ms=2500))
    threading.Timer(1.5, pulse_env.freeze_server, args=(1.5,)).start()
    result, rec, _ = play(pulse_env, mixer)
    assert result.completed, "a 1.5 s freeze of the sound server ended the session"
    assert np.abs(rec).max() > 0.3


def test_a_simpleaudio_buffer_started_late_keeps_its_place(pulse_env, monkeypatch):
    pytest.importorskip("simpleaudio")
    from voiceguide.player.buffer_output import BufferOutput

    monkeypatch.setattr(BufferOutput, "BUFFER_S", 2.0)
    original = BufferOutput._play
    late_by = 0.03
    calls = []

    def late_play(self, pcm, frame, deadline, size):
        calls.append(frame)
        if len(calls) == 2:  # the second buffer's thread wakes 30 ms late
            time.sleep(max(0.0, deadline + late_by - time.monotonic()))
        return original(self, pcm, frame, deadline, size)

    monkeypatch.setattr(BufferOutput, "_play", late_play)
    mixer = ToneMixer(tone_timeline(steps=2, step_ms=2500))
    result, rec, _ = play(pulse_env, mixer, output="simpleaudio")
    assert result.completed and len(calls) >= 3
    ref = heard(mixer.render(0, mixer.total_frames))
    lag, _ = offset_of(rec, ref, at=RATE // 2, window=RATE // 2)
    # after the late join (2 s), the sound is where the clock says, not 30 ms behind
    local, score = offset_of(
        rec, ref, at=int(2.6 * RATE), window=RATE // 4, search=(lag + int(2.1 * RATE), lag + int(3.1 * RATE))
    )
    moved_ms = (local - lag) * 1000 / RATE
    assert score > 0.99 and abs(moved_ms) <= 10, f"after a join started 30 ms late the sound moved {moved_ms:+.1f} ms"
