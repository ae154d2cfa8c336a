"""Worker processes (how pyttsx3 and piper run): real processes, fake backends.

The backends below run inside the workers, which import this module by name.
"""

from __future__ import annotations

import math
import os
import shutil
import struct
import sys
import time
import wave

import pytest

from voiceguide.errors import EngineError, VoiceError
from voiceguide.tts import ClipCache, VoiceSettings, render_clips
from voiceguide.tts.engine import EngineFailure, Voice
from voiceguide.tts.workers import WorkerConfigError, WorkerEngine, WorkerSynth


def _tone(path: str, seconds: float = 1.0) -> None:
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"".join(struct.pack("<h", int(9000 * math.sin(i / 4))) for i in range(int(16000 * seconds))))


def echo_backend(config):
    print("Audio saved to somewhere")  # what pyttsx3 does; must not reach our stdout
    print("and a warning", file=sys.stderr)

    def speak(text, path):
        print(f"Audio saved to {path}")
        if text == "hang":
            time.sleep(120)
        if text == "die":
            os._exit(3)
        if text == "raise":
            raise RuntimeError("the driver said no")
        _tone(path)

    return speak, {"pid": os.getpid(), "config": config}


def fatal_backend(config):
    raise WorkerConfigError(f"no voice {config['voice']!r} here")


def broken_backend(config):
    raise RuntimeError("no speech driver")


def slow_start_backend(config):
    time.sleep(120)


def hang_backend(config):
    def speak(text, path):
        time.sleep(120)

    return speak, {}


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_workers_render_and_keep_their_prints_to_themselves(tmp_path, capfd):
    synth = WorkerSynth("echo", echo_backend, {"voice": "v"}, 2, 30)
    try:
        assert synth.info["config"] == {"voice": "v"}
        pids = {w.process.pid for w in synth._all}
        assert len(pids) == 2
        for n in range(4):
            synth.render("hello", tmp_path / f"{n}.wav", 10)
            assert (tmp_path / f"{n}.wav").stat().st_size > 30000
    finally:
        synth.close()
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    deadline = time.monotonic() + 5
    while not all(gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(gone(p) for p in pids)


def test_a_hung_worker_is_killed_and_replaced(tmp_path):
    synth = WorkerSynth("echo", echo_backend, {}, 1, 30)
    try:
        first = synth._all[0].process.pid
        t = time.monotonic()
        with pytest.raises(EngineFailure, match="echo gave no clip within 1 s") as err:
            synth.render("hang", tmp_path / "a.wav", 1.0)
        assert err.value.what == "hung" and time.monotonic() - t < 5
        assert gone(first)
        synth.render("fine", tmp_path / "b.wav", 10)  # a fresh worker took the slot
        assert synth._all[-1].process.pid != first
    finally:
        synth.close()


def test_a_crashed_worker_is_reported_and_replaced(tmp_path):
    synth = WorkerSynth("echo", echo_backend, {}, 1, 30)
    try:
        with pytest.raises(EngineFailure, match="echo stopped: exit status 3") as err:
            synth.render("die", tmp_path / "a.wav", 10)
        assert err.value.what == "crashed"
        with pytest.raises(EngineFailure, match="echo failed: RuntimeError: the driver said no"):
            synth.render("raise", tmp_path / "b.wav", 10)
        synth.render("fine", tmp_path / "c.wav", 10)
    finally:
        synth.close()


def test_a_setting_the_engine_refuses_is_an_error_at_once():
    t = time.monotonic()
    with pytest.raises(VoiceError, match="no voice 'zz' here") as err:
        WorkerSynth("fatal", fatal_backend, {"voice": "zz"}, 2, 30)
    assert not isinstance(err.value, EngineFailure)  # not retried, no fallback
    assert err.value.exit_code == 2
    assert time.monotonic() - t < 10


def test_a_worker_that_cannot_start_is_a_failure():
    with pytest.raises(EngineFailure, match="broken did not start: RuntimeError: no speech driver"):
        WorkerSynth("broken", broken_backend, {}, 1, 30)
    with pytest.raises(EngineFailure, match="slow did not start within 1 s") as err:
        WorkerSynth("slow", slow_start_backend, {}, 1, 1.0)
    assert err.value.what == "hung"


class HangingWorkers(WorkerEngine):
    name = "fake-worker-hang"
    backend = hang_backend

    def available(self):
        return True

    def version(self):
        return "0"

    def voices(self):
        return [Voice(self.name, "only", "", "")]

    def worker_config(self, settings, jobs=1):
        return {}


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_hung_workers_under_auto_fall_back_to_espeak(tmp_path, fake_engines):
    fake_engines(HangingWorkers.name, HangingWorkers, first_in_auto=True)
    t = time.monotonic()
    result = render_clips(["Slow circles.", "Now faster."], VoiceSettings(), ClipCache(tmp_path), timeout_s=1.0)
    assert time.monotonic() - t < 15
    assert result.engine == "espeak-ng" and result.rendered == 2
    assert result.notes == ["fake-worker-hang gave no clip within 1 s (tried twice); fell back to espeak-ng"]
    with pytest.raises(EngineError, match=r"^fake-worker-hang gave no clip within 1 s \(tried twice\)$"):
        render_clips(
            ["Slow circles."], VoiceSettings(engine=HangingWorkers.name), ClipCache(tmp_path / "b"), timeout_s=1.0
        )
