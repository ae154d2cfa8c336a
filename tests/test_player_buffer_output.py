"""The simpleaudio output: crossfaded joins that add up to the session, and its errors.

Its timing on a real sound server is measured in test_player_controller.py (both outputs).
"""

from __future__ import annotations

import numpy as np
import pytest
from audio_server import ToneMixer, tone_timeline

from voiceguide.errors import DeviceError
from voiceguide.player.buffer_output import BufferOutput, device_error
from voiceguide.player.output import BUSY, NO_DEVICE, to_pcm16
from voiceguide.player.transport import Transport


def test_a_device_name_is_refused_with_the_way_out():
    with pytest.raises(DeviceError) as e:
        BufferOutput(44100, 2, device="Null Output")
    assert "--output stream" in str(e.value)


def test_simpleaudio_failures_become_one_clear_line():
    assert (
        str(device_error(Exception("Error opening PCM device. -- CODE: -16 -- MSG: Device or resource busy"))) == BUSY
    )
    assert str(device_error(Exception("Error opening PCM device. -- CODE: -2 -- MSG: No such file"))) == NO_DEVICE


def test_overlapping_buffers_add_up_to_the_session():
    """Each buffer reaches a join's length into the next, fading out as the next fades in."""
    pytest.importorskip("simpleaudio")
    out = BufferOutput.__new__(BufferOutput)  # no device: only the buffer making is under test
    out.rate, out.channels = 44100, 2
    out.buffer_frames, out.join_frames = 22050, 882
    mixer = ToneMixer(tone_timeline(steps=1, step_ms=2000))
    t = Transport(mixer)
    n, j = out.buffer_frames, out.join_frames

    def pcm(b: bytes) -> np.ndarray:
        return np.frombuffer(b, np.int16).reshape(-1, 2).astype(np.int32)

    first = pcm(out._prepare(t, n, fade_in=False, apply=True))
    second = pcm(out._prepare(t, n, fade_in=True, apply=False))
    assert len(first) == len(second) == n + j
    played = np.zeros((2 * n + j, 2), np.int32)
    played[: n + j] += first
    played[n:] += second
    want = to_pcm16(mixer.render(0, 2 * n + j)).astype(np.int32)
    # both sides are rounded to 16 bits on their own: at most one step apart where they overlap
    assert np.abs(played[: 2 * n] - want[: 2 * n]).max() <= 1
    assert np.array_equal(played[:n], want[:n])
