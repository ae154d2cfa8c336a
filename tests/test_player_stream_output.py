"""The miniaudio stream output: errors as people read them, its clock, and failures it catches."""

from __future__ import annotations

import threading
import time

import pytest
from audio_server import ToneMixer, tone_timeline

from voiceguide.errors import DeviceError
from voiceguide.player.miniaudio_device import MiniaudioError, lib
from voiceguide.player.output import BUSY, NO_DEVICE
from voiceguide.player.stream_output import StreamOutput, device_error
from voiceguide.player.transport import Transport


@pytest.mark.parametrize(
    "code, text",
    [
        (lib.MA_BUSY, BUSY),
        (lib.MA_NO_DEVICE, NO_DEVICE),
        (lib.MA_FAILED_TO_OPEN_BACKEND_DEVICE, NO_DEVICE),
        (None, NO_DEVICE),
    ],
)
def test_miniaudio_failures_become_one_clear_line(code, text):
    err = (
        MiniaudioError("failed to init device", code)
        if code is not None
        else MiniaudioError("no suitable audio backend found")
    )
    e = device_error(err)
    assert isinstance(e, DeviceError) and str(e) == text and e.exit_code == 1


def test_an_odd_failure_names_its_code_and_the_way_out():
    e = device_error(MiniaudioError("failed to init device", -12345))
    assert "-12345" in str(e) and "--device" in str(e) and "voiceguide export" in str(e)


def test_the_device_clock_counts_frames_as_they_play(pulse_env):
    mixer = ToneMixer(tone_timeline(steps=1, step_ms=3000))
    out = StreamOutput(mixer.rate, mixer.channels)
    assert out.name == "stream (PulseAudio)"
    t = Transport(mixer)
    try:
        out.start(t)
        t0 = time.monotonic()
        time.sleep(1.0)
        elapsed = time.monotonic() - t0
        heard = out.audible_frame() / mixer.rate
        out.check()
    finally:
        out.close()
    # the frames heard follow the wall clock (within the device's small buffer)
    assert abs(heard - elapsed) < 0.15, (heard, elapsed)
    # and the producer keeps the transport about AHEAD_MS ahead of what is heard, never much more
    ahead = t.frame / mixer.rate - heard
    limit = (StreamOutput.AHEAD_MS + StreamOutput.PERIOD_MS) / 1000 + StreamOutput.CHUNK_FRAMES / mixer.rate
    assert StreamOutput.AHEAD_MS / 2000 < ahead < limit + 0.05, ahead


class Exploding(ToneMixer):
    def render(self, start_frame, frames):
        if start_frame > self.rate // 2:
            raise RuntimeError("mixer bug")
        return super().render(start_frame, frames)


def test_an_error_in_the_audio_thread_surfaces_in_the_caller(pulse_env):
    mixer = Exploding(tone_timeline(steps=1, step_ms=3000))
    out = StreamOutput(mixer.rate, mixer.channels)
    try:
        out.start(Transport(mixer))
        deadline = time.monotonic() + 3
        with pytest.raises(RuntimeError, match="mixer bug"):
            while time.monotonic() < deadline:
                out.check()
                time.sleep(0.02)
        out.check()  # reported once; the device meanwhile plays silence
    finally:
        out.close()


def test_closing_twice_is_harmless(pulse_env):
    before = set(threading.enumerate())
    mixer = ToneMixer(tone_timeline(steps=1, step_ms=3000))
    out = StreamOutput(mixer.rate, mixer.channels)
    out.start(Transport(mixer))
    deadline = time.monotonic() + 5
    while out.audible_frame() == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert out.audible_frame() > 0
    out.close()
    out.close()
    # the producer thread has ended with the first close, and nothing else was left running
    assert [t for t in set(threading.enumerate()) - before if t.is_alive()] == []
