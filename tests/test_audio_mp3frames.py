"""MP3 frames: headers, the Info/LAME frame, reservoirs and joins, checked against what ffmpeg makes
of real LAME output."""

import json
import subprocess

import numpy as np
import pytest
from test_audio_support import needs_ffmpeg

from voiceguide.audio.encode import mp3frames as mf
from voiceguide.audio.ffmpeg import mp3_output, pcm_input

pytestmark = needs_ffmpeg
RATE = 44100


def encode(pcm: np.ndarray, path, *, rate=RATE, bitrate="128k", xing=True):
    """s16 (frames, channels) through ffmpeg's libmp3lame, as export runs it."""
    channels = pcm.shape[1]
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            *pcm_input(rate, channels),
            *mp3_output(bitrate, xing=xing),
            "-y",
            str(path),
        ],
        input=pcm.tobytes(),
        check=True,
    )
    return path


def decode(path, channels=2):
    p = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "s16le", "-"], capture_output=True)
    return np.frombuffer(p.stdout, "<i2").reshape(-1, channels), p.stderr.decode()


def music(seconds, rate=RATE, channels=2, seed=0):
    """Tones with a moving level and some noise: enough for LAME to use its reservoir."""
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(seed)
    x = [
        0.2 * np.sin(2 * np.pi * f * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.3 * t)) + 0.02 * rng.standard_normal(len(t))
        for f in (220, 331)[:channels]
    ]
    return np.rint(np.stack(x, axis=1) * 32767).astype("<i2")


def test_header_fields():
    fmt, size, bri = mf.parse_header(0xFFFB9044)  # what LAME writes at 128k, 44.1 kHz, joint stereo
    assert fmt == mf.StreamFormat(1, 44100, 2, False) and size == 417 and bri == 9
    assert fmt.samples == 1152 and fmt.data_start == 36
    fmt, size, _ = mf.parse_header(0xFFFB9244)  # the same with the padding byte
    assert size == 418
    fmt, size, _ = mf.parse_header(0xFFF380C4)  # MPEG-2, 64k, 22.05 kHz, mono
    assert (fmt.mpeg, fmt.rate, fmt.channels, fmt.samples, fmt.side_info) == (2, 22050, 1, 576, 9)
    assert size == 72 * 64000 // 22050
    for bad in (0, 0xFFFD9044, 0xFFFBF044, 0xFFFB9C44):  # no sync, layer II, bad bitrate, bad rate
        with pytest.raises(mf.FrameError):
            mf.parse_header(bad)


def test_index_agrees_with_ffmpeg(tmp_path):
    path = encode(music(3.0), tmp_path / "a.mp3")
    idx = mf.index_frames(path)
    assert idx.info is not None and idx.info.delay == mf.ENCODER_DELAY and idx.info.encoder[:4] == b"Lavc"
    # every frame is there and the sizes add up to the file after the Info frame
    assert int(idx.offsets[0]) == 417 and int(idx.offsets[-1] + idx.sizes[-1]) == path.stat().st_size
    assert np.all(np.diff(idx.offsets) == idx.sizes[:-1])
    # the tag's padding is what makes ffmpeg's decode exactly 3 s
    assert len(idx) * 1152 - idx.info.delay - idx.info.padding == 3 * RATE
    assert len(decode(path)[0]) == 3 * RATE


def test_crc16_matches_a_byte_at_a_time_reference():
    def slow(data):
        v = 0
        for b in data:
            v ^= b
            for _ in range(8):
                v = (v >> 1) ^ 0xA001 if v & 1 else v >> 1
        return v

    rng = np.random.default_rng(3)
    assert mf.crc16(b"123456789") == 0xBB3D  # CRC-16/ARC's check value
    for n in (0, 1, 5000, mf.Crc16.ROWS, mf.Crc16.BLOCK + 12345):
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        c = mf.Crc16()
        for i in range(0, n, 70001):  # in pieces that do not line up with blocks
            c.update(data[i : i + 70001])
        assert c.value() == (slow(data) if n < 100_000 else mf.crc16(data))
    big = rng.integers(0, 256, mf.Crc16.BLOCK + 3, dtype=np.uint8).tobytes()
    assert mf.crc16(big) == slow(big)


def test_an_info_frame_ffmpeg_reads_and_trusts(tmp_path):
    src = encode(music(2.0), tmp_path / "a.mp3", xing=False)
    idx = mf.index_frames(src)
    assert idx.info is None
    audio = src.read_bytes()
    frames = len(idx)
    padding = frames * 1152 - 576 - 2 * RATE
    info = mf.info_frame(
        idx.header,
        frames=frames,
        audio_bytes=len(audio),
        toc=bytes(100),
        delay=576,
        padding=padding,
        music_crc=mf.crc16(audio),
        encoder=b"Lavc59.37",
    )
    out = tmp_path / "b.mp3"
    out.write_bytes(info + audio)
    assert len(decode(out)[0]) == 2 * RATE  # trimmed exactly by our delay and padding
    probe = json.loads(
        subprocess.run(
            ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(out)], capture_output=True, text=True
        ).stdout
    )
    # ffmpeg shows the encoder string only when the tag's CRC checks out
    assert probe["streams"][0]["tags"]["encoder"] == "Lavc59.37"
    back = mf.index_frames(out)
    assert back.info == mf.InfoTag(576, padding, b"Lavc59.37") and len(back) == frames
    with pytest.raises(mf.FrameError):
        mf.info_frame(idx.header, frames=1, audio_bytes=1, toc=bytes(100), delay=576, padding=5000, music_crc=0)


def test_low_bitrate_info_frame_moves_up_a_bitrate(tmp_path):
    # at 8 kb/s a 22.05 kHz frame holds 26 bytes, too few for the tag
    src = encode(music(1.0, rate=22050, channels=1), tmp_path / "a.mp3", rate=22050, bitrate="8k", xing=False)
    idx = mf.index_frames(src)
    info = mf.info_frame(
        idx.header,
        frames=len(idx),
        audio_bytes=src.stat().st_size,
        toc=bytes(100),
        delay=576,
        padding=len(idx) * 576 - 576 - 22050,
        music_crc=0,
    )
    fmt, size, bri = mf.parse_header(int.from_bytes(info[:4], "big"))
    assert size == len(info) >= 4 + 9 + mf.INFO_TAG_BYTES and bri > mf.parse_header(idx.header)[2]
    out = tmp_path / "b.mp3"
    out.write_bytes(info + src.read_bytes())
    assert len(decode(out, channels=1)[0]) == 22050


def test_reservoir_round_trip():
    fmt, size, _ = mf.parse_header(0xFFFB9044)
    frames = bytearray()
    for i in range(3):
        frame = bytearray(size)
        frame[:4] = (0xFFFB9044).to_bytes(4, "big")
        frame[fmt.data_start :] = bytes([i + 1]) * (size - fmt.data_start)
        frames += frame
    slot = size - fmt.data_start  # 381 bytes of main data per frame
    data = bytes(range(256)) * 2  # 512: reaches into the second-last frame
    mf.patch_tail(frames, data[:500], fmt)
    assert mf.reservoir(bytes(frames), 500, fmt) == data[:500]
    assert frames[:4] == (0xFFFB9044).to_bytes(4, "big")  # headers and side info untouched
    assert frames[size : size + fmt.data_start] == frames[:4] + bytes(fmt.data_start - 4)
    assert frames[2 * size - (500 - slot) - 1] == 2  # the byte before the patch is still frame 2's
    with pytest.raises(mf.FrameError):
        mf.reservoir(bytes(frames[:size]), 500, fmt)


def test_short_blocks_are_seen_where_lame_uses_them(tmp_path):
    steady = encode(music(2.0), tmp_path / "steady.mp3")
    clicks = np.zeros((2 * RATE, 2), dtype="<i2")
    clicks[RATE // 4 :: RATE // 4] = 30000  # sharp attacks: LAME switches to short blocks
    clicky = encode(clicks + music(2.0) // 8, tmp_path / "clicks.mp3")

    def shapes(path):
        idx = mf.index_frames(path)
        with open(path, "rb") as f:
            return [mf.ends_short(idx.read(f, i, i + 1), idx.fmt) for i in range(len(idx))]

    # steady music is all long blocks, but where it starts and stops out of silence
    assert all(s == ((False, False), (False, False)) for s in shapes(steady)[2:-3])
    assert sum(any(short for short, _ in s) for s in shapes(clicky)) >= 4


@pytest.mark.parametrize("rate,channels", [(44100, 2), (22050, 1), (48000, 1)])
def test_two_encodings_joined_decode_as_one(tmp_path, rate, channels):
    pcm = music(6.0, rate=rate, channels=channels, seed=rate)
    spf = 1152 if rate >= 32000 else 576
    g = 3 * rate // spf  # join about half way
    a = mf.index_frames(encode(pcm[: (g + 20) * spf], tmp_path / "a.mp3", rate=rate))
    b = mf.index_frames(encode(pcm[(g - 8) * spf :], tmp_path / "b.mp3", rate=rate, xing=False))
    fa, fb = open(a.path, "rb"), open(b.path, "rb")  # noqa: SIM115 - closed once the frames are read
    at = lambda idx, f, i: idx.read(f, i, i + 1)
    off = g - 8  # b's frame i is the session's frame i + off
    j = next(
        j
        for j in range(g, g + 16)
        if mf.join_ok(at(a, fa, j - 1), at(a, fa, j), at(b, fb, j - 1 - off), at(b, fb, j - off), a.fmt)
    )
    head = bytearray(a.read(fa, 0, j))
    need = mf.main_data_begin(at(b, fb, j - off), b.fmt)
    mf.patch_tail(head, mf.reservoir(b.read(fb, 0, j - off), need, b.fmt), a.fmt)
    tail = b.read(fb, j - off, len(b))
    fa.close()
    fb.close()
    frames = j + len(b) - (j - off)
    info = mf.info_frame(
        a.header,
        frames=frames,
        audio_bytes=len(head) + len(tail),
        toc=bytes(100),
        delay=576,
        padding=frames * spf - 576 - len(pcm),
        music_crc=0,
    )
    out = tmp_path / "joined.mp3"
    out.write_bytes(info + bytes(head) + tail)
    got, err = decode(out, channels)
    assert err == "" and len(got) == len(pcm)
    single, _ = decode(encode(pcm, tmp_path / "single.mp3", rate=rate), channels)
    # around the join the joined file is as close to the input as a single encode is
    s = max(0, j * spf - 1105 - rate // 10)
    near = slice(s, s + rate // 5)
    err_joined = np.sqrt(np.mean((got[near].astype(float) - pcm[near]) ** 2))
    err_single = np.sqrt(np.mean((single[near].astype(float) - pcm[near]) ** 2))
    assert err_joined <= 1.5 * err_single + 1


@pytest.mark.parametrize("bitrate", ["128k", "32k"])
def test_the_room_a_frame_leaves_is_where_the_next_frames_data_begins(tmp_path, bitrate):
    """room_after reads where a frame's main data ends from its granules' lengths: never past the
    start of the next frame's main data, and (LAME stuffs its spare bits into the granules) at
    that very byte almost everywhere."""
    idx = mf.index_frames(encode(music(4.0), tmp_path / "a.mp3", bitrate=bitrate))
    with open(idx.path, "rb") as f:
        frames = [idx.read(f, i, i + 1) for i in range(len(idx))]
    gaps = [mf.room_after(a, idx.fmt) - mf.main_data_begin(b, idx.fmt) for a, b in zip(frames, frames[1:])]
    assert min(gaps) >= 0
    assert sum(g == 0 for g in gaps) >= 0.9 * len(gaps)
