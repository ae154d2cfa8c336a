"""The clip format checks: header parsing, truncation, layout conversion, speech plausibility."""

from __future__ import annotations

import math
import struct
import wave
from array import array

import pytest

from voiceguide.tts.wav import (
    CANONICAL_HEADER,
    WavProblem,
    check_speech,
    parse_header,
    peak,
    plausible_ms,
    read_info,
    read_pcm16,
    write_pcm16,
)


def tone(ms: int, rate: int = 22050, amp: int = 12000, hz: float = 220.0) -> bytes:
    n = rate * ms // 1000
    return array("h", (int(amp * math.sin(2 * math.pi * hz * i / rate)) for i in range(n))).tobytes()


def test_written_clip_reads_back(tmp_path):
    p = tmp_path / "a.wav"
    pcm = tone(500)
    write_pcm16(p, pcm, 22050)
    info = read_info(p)
    assert (info.channels, info.sample_rate, info.bits) == (1, 22050, 16)
    assert info.data_offset == CANONICAL_HEADER
    assert info.frames == len(pcm) // 2
    assert info.canonical
    assert read_pcm16(p) == pcm
    # The standard library agrees with our header.
    with wave.open(str(p)) as w:
        assert (w.getnchannels(), w.getframerate(), w.getnframes()) == (1, 22050, len(pcm) // 2)


def test_truncated_file_is_reported(tmp_path):
    p = tmp_path / "a.wav"
    write_pcm16(p, tone(300), 22050)
    data = p.read_bytes()
    p.write_bytes(data[:64])
    with pytest.raises(WavProblem, match="truncated"):
        read_info(p)
    p.write_bytes(data[:20])
    with pytest.raises(WavProblem):
        read_info(p)


@pytest.mark.parametrize("head", [b"", b"RIFF\0\0\0\0WAVX", b"ID3\x04" + bytes(60), b"RIFF\x24\0\0\0WAVEjunk"])
def test_not_a_wav(head):
    with pytest.raises(WavProblem):
        parse_header(head, len(head))


def test_non_pcm_is_refused():
    fmt = struct.pack("<HHIIHH", 3, 1, 22050, 88200, 4, 32)  # IEEE float
    head = b"RIFF" + struct.pack("<I", 100) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
    with pytest.raises(WavProblem, match="not PCM"):
        parse_header(head + b"data" + struct.pack("<I", 8) + bytes(8), len(head) + 16)


def test_extra_chunks_are_skipped_and_layout_made_canonical(tmp_path):
    # A stereo 16-bit file with a LIST chunk before the data, as some engines write.
    rate = 16000
    left = tone(400, rate)
    frames = array("h")
    frames.frombytes(left)
    stereo = array("h")
    for s in frames:
        stereo.extend((s, s))
    data = stereo.tobytes()
    fmt = struct.pack("<HHIIHH", 1, 2, rate, rate * 4, 4, 16)
    lst = b"LIST" + struct.pack("<I", 6) + b"INFOab"
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + lst + b"data" + struct.pack("<I", len(data)) + data
    p = tmp_path / "s.wav"
    p.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    info = read_info(p)
    assert (info.channels, info.bits, info.data_offset) == (2, 16, 12 + 24 + 14 + 8)
    assert not info.canonical
    out = check_speech(p, "a tone", 160)
    assert out.canonical and out.channels == 1 and out.sample_rate == rate
    assert read_pcm16(p) == left  # both channels equal: the mono mix is the same samples


def test_8_bit_input_is_converted(tmp_path):
    p = tmp_path / "u8.wav"
    with wave.open(str(p), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(8000)
        w.writeframes(bytes(int(128 + 100 * math.sin(i / 3)) for i in range(4000)))
    info = check_speech(p, "hello there", 160)
    assert info.bits == 16 and info.frames == 4000
    assert 20000 < peak(read_pcm16(p), stride=1) < 26000  # 100/128 of full scale


def test_silence_is_refused(tmp_path):
    p = tmp_path / "quiet.wav"
    write_pcm16(p, bytes(22050 * 2), 22050)
    with pytest.raises(WavProblem, match="silent"):
        check_speech(p, "one two three", 160)


def test_too_short_and_too_long_are_refused(tmp_path):
    p = tmp_path / "c.wav"
    text = "Knead the shoulders slowly with both hands for a while"
    low, high = plausible_ms(text, 160)
    write_pcm16(p, tone(max(1, low - 30)), 22050)
    with pytest.raises(WavProblem, match="too short"):
        check_speech(p, text, 160)
    write_pcm16(p, tone(high + 500), 22050)
    with pytest.raises(WavProblem, match="too long"):
        check_speech(p, text, 160)
    write_pcm16(p, tone((low + high) // 4), 22050)
    assert check_speech(p, text, 160).frames > 0


def test_plausible_bounds_follow_the_rate():
    slow = plausible_ms("one two three four five six", 80)
    fast = plausible_ms("one two three four five six", 400)
    assert slow[0] > fast[0] and slow[1] > fast[1]
    assert slow[0] < slow[1]


def test_peak_sees_both_signs():
    assert peak(array("h", [0, 5, -300, 7] * 1000).tobytes(), stride=1) == 300
    assert peak(b"") == 0
