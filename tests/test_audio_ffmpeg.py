"""Decoding through ffmpeg."""

import numpy as np
import pytest
from test_audio_support import make_audio, needs_ffmpeg

from voiceguide.audio.ffmpeg import decode, last_line
from voiceguide.errors import AudioInputError

pytestmark = needs_ffmpeg


def test_decode_streams_frames_at_the_asked_rate(tmp_path):
    src = make_audio(tmp_path / "t.flac", "sine=f=1000:sample_rate=22050", 2.0, rate=22050, channels=1)
    chunks = list(decode(src, 48000, 2, chunk_frames=10000))
    assert max(len(c) for c in chunks) <= 10000
    x = np.concatenate(chunks)
    assert x.shape == (96000, 2) and x.dtype == np.float32
    assert np.array_equal(x[:, 0], x[:, 1])
    spec = np.abs(np.fft.rfft(x[:, 0]))
    assert abs(np.argmax(spec) * 48000 / len(x) - 1000) < 2


def test_decode_failure_names_the_file(tmp_path):
    bad = tmp_path / "x.wav"
    bad.write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(AudioInputError) as e:
        list(decode(bad, 44100, 2))
    assert "x.wav" in str(e.value)


def test_last_line():
    assert last_line("a\n\n  b  \n\n") == "b" and last_line("") == ""
