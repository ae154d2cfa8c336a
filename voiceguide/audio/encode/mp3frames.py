"""MPEG audio Layer III frames: reading a stream's frames, joining streams, the Info/LAME frame.

A parallel export encodes a session in pieces (several LAME processes) and joins their frames
into one stream. Three things make that work, all of them facts of the format:

- Frames are independent except for two links to the frame before. The decoder overlaps each
  granule's inverse MDCT with the previous granule's, and the windows must agree (a long window
  may be followed only by a long or a start window; a short or start window only by a short or
  stop window). And the bit reservoir: a frame's main data may begin up to 511 bytes
  (``main_data_begin``) before its own header, in the unused tail of earlier frames' payloads.
  So a join after frame J-1 of stream A and frame J of stream B (both encodings of the same
  audio, frame for frame) decodes cleanly when A's and B's frame J-1 end with the same kind of
  window, and when A left at least as many bytes free before frame J as B's frame J reaches
  back (``room_after``: the bytes after A's frame J-1's main data, which decoders keep as the
  reservoir): B's reservoir bytes are then copied into A's tail. ``join_ok`` and ``patch_tail``
  do exactly that.
- LAME delays its output by 576 samples (its "encoder delay") and the decoder's filterbank by
  529 more, and the last frame is padded. An Info frame (the Xing header of a constant-bitrate
  stream, with LAME's extension) at the front says how many frames follow and how many samples
  to drop at the start (delay) and at the end (padding). ffmpeg's decoder and gapless players
  trim by it, so the file decodes to exactly the session's length. ffmpeg accepts the delays
  when the encoder string starts with LAME, Lavf or Lavc; it checks the tag's CRC only before
  trusting its ReplayGain fields.
- Every stream here is one bitrate, one sample rate, one channel layout, so a join is valid
  wherever those conditions hold; the caller searches a window of frames for such a place.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

# kb/s by bitrate index, Layer III
_BITRATES = {
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_RATES = (44100, 48000, 32000)
ENCODER_DELAY = 576  # LAME's, for every setting; read from ffmpeg's own tag when there is one
DECODER_DELAY = 529  # the polyphase filterbank's, which decoders add on top
INFO_TAG_BYTES = 156  # "Info" .. tag CRC, with every optional Xing field present
MAX_PAD = (1 << 12) - 1  # delay and padding are 12-bit fields


class FrameError(ValueError):
    """The bytes are not the MP3 stream they were expected to be."""


@dataclass(frozen=True)
class StreamFormat:
    """What every frame of one stream shares."""

    mpeg: int  # 1, or 2 for MPEG-2 and MPEG-2.5 (half-size frames)
    rate: int
    channels: int
    crc: bool  # a 16-bit CRC follows the header

    @property
    def samples(self) -> int:
        """Samples per channel in one frame."""
        return 1152 if self.mpeg == 1 else 576

    @property
    def side_info(self) -> int:
        if self.mpeg == 1:
            return 17 if self.channels == 1 else 32
        return 9 if self.channels == 1 else 17

    @property
    def data_start(self) -> int:
        """Where the main data slots begin in a frame (after header, CRC and side info)."""
        return 4 + (2 if self.crc else 0) + self.side_info


def parse_header(h: int) -> tuple[StreamFormat, int, int]:
    """(format, frame size in bytes, bitrate index) of a 32-bit Layer III frame header."""
    if h >> 21 != 0x7FF:
        raise FrameError("no frame sync")
    version = (h >> 19) & 3  # 0: MPEG-2.5, 2: MPEG-2, 3: MPEG-1
    layer = (h >> 17) & 3  # 1: Layer III
    br_index = (h >> 12) & 15
    sr_index = (h >> 10) & 3
    if version == 1 or layer != 1 or br_index in (0, 15) or sr_index == 3:
        raise FrameError("not a Layer III frame header")
    mpeg = 1 if version == 3 else 2
    rate = _RATES[sr_index] >> {3: 0, 2: 1, 0: 2}[version]
    padding = (h >> 9) & 1
    channels = 1 if (h >> 6) & 3 == 3 else 2
    kbps = _BITRATES[mpeg][br_index]
    size = (144 if mpeg == 1 else 72) * kbps * 1000 // rate + padding
    return StreamFormat(mpeg, rate, channels, not (h >> 16) & 1), size, br_index


# -- reading a stream ----------------------------------------------------------------------------


@dataclass(frozen=True)
class InfoTag:
    """What an encoder's own Info/Xing frame says (only what joining needs)."""

    delay: int | None  # samples, from the LAME extension
    padding: int | None
    encoder: bytes  # the 9-byte encoder string ("Lavc59.37" from ffmpeg)


@dataclass
class FrameIndex:
    """Where every audio frame of a file is (the Info frame, if any, excluded)."""

    path: str
    fmt: StreamFormat
    header: int  # the first audio frame's header, the model for an Info frame
    offsets: np.ndarray  # int64 byte offset of each frame
    sizes: np.ndarray  # int32 bytes
    info: InfoTag | None

    def __len__(self) -> int:
        return len(self.offsets)

    def read(self, f: BinaryIO | int, first: int, last: int) -> bytes:
        """Frames [first, last) as bytes, from an open file or descriptor."""
        if last <= first:
            return b""
        fd = f if isinstance(f, int) else f.fileno()
        start = int(self.offsets[first])
        n = int(self.offsets[last - 1] + self.sizes[last - 1]) - start
        data = os.pread(fd, n, start)
        if len(data) != n:
            raise FrameError(f"{self.path}: short read")
        return data


def _parse_info(frame: bytes, fmt: StreamFormat) -> InfoTag | None:
    at = 4 + (2 if fmt.crc else 0) + fmt.side_info
    if frame[at : at + 4] not in (b"Info", b"Xing"):
        return None
    flags = struct.unpack_from(">I", frame, at + 4)[0]
    pos = at + 8 + 4 * bool(flags & 1) + 4 * bool(flags & 2) + 100 * bool(flags & 4) + 4 * bool(flags & 8)
    if len(frame) < pos + 24:
        return InfoTag(None, None, b"")
    encoder = bytes(frame[pos : pos + 9])
    v = int.from_bytes(frame[pos + 21 : pos + 24], "big")
    return InfoTag(v >> 12, v & 0xFFF, encoder)


def index_frames(path: str | os.PathLike, chunk: int = 1 << 20) -> FrameIndex:
    """Walk a file of Layer III frames (one format and bitrate throughout, as LAME's CBR output is).

    An ID3v2 tag in front is skipped; the first frame is taken as an Info/Xing frame when it
    says so. Raises FrameError if the
    bytes stop being frames before the end of the file.
    """
    path = os.fspath(path)
    offsets: list[int] = []
    fmt = None
    header = None
    info = None
    with open(path, "rb") as f:
        head = f.read(10)
        base = 0  # file offset of buf[0]
        if head[:3] == b"ID3" and len(head) == 10:  # an ID3v2 tag: its size is syncsafe
            base = 10 + ((head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9])
        f.seek(base)
        buf = b""
        pos = 0  # offset in buf of the next frame
        eof = False
        while True:
            if len(buf) - pos < 8192 and not eof:
                more = f.read(chunk)
                eof = not more
                buf = buf[pos:] + more
                base += pos
                pos = 0
            if len(buf) - pos < 4:
                break
            h = int.from_bytes(buf[pos : pos + 4], "big")
            try:
                ffmt, size, _ = parse_header(h)
            except FrameError:
                raise FrameError(f"{path}: no MP3 frame at byte {base + pos}") from None
            if fmt is None:
                fmt = ffmt
                info = _parse_info(buf[pos : pos + size], ffmt)
                if info is not None:
                    pos += size
                    continue
            elif ffmt != fmt:
                raise FrameError(f"{path}: the stream changes format at byte {base + pos}")
            if len(buf) - pos < size and eof:
                raise FrameError(f"{path}: the last frame is cut short")
            if header is None:
                header = h
            offsets.append(base + pos)
            pos += size
    if fmt is None or header is None:
        raise FrameError(f"{path}: no MP3 frames")
    off = np.array(offsets, dtype=np.int64)
    sizes = np.diff(np.append(off, base + pos)).astype(np.int32)
    return FrameIndex(path, fmt, header, off, sizes, info)


def main_data_begin(frame: bytes, fmt: StreamFormat) -> int:
    """How many bytes before its header the frame's main data begins."""
    at = 4 + (2 if fmt.crc else 0)
    if fmt.mpeg == 1:
        return (frame[at] << 1) | (frame[at + 1] >> 7)
    return frame[at]


def room_after(frame: bytes, fmt: StreamFormat) -> int:
    """Bytes left free at the end of the frame's payload once its main data (which begins
    ``main_data_begin`` bytes earlier and runs for the sum of its granules' part2_3_length bits)
    is over: what the next frame may borrow. At least that frame's own ``main_data_begin``, more
    where LAME filled the gap with ancillary bits."""
    bit = 8 * (4 + (2 if fmt.crc else 0))
    nch = fmt.channels
    if fmt.mpeg == 1:
        bit += 9 + (5 if nch == 1 else 3) + 4 * nch
        per, granules = 59, 2
    else:
        bit += 8 + (1 if nch == 1 else 2)
        per, granules = 63, 1
    used = 0
    for _ in range(granules * nch):
        used += _bits(frame, bit, 12)
        bit += per
    return len(frame) - fmt.data_start + main_data_begin(frame, fmt) - (used + 7) // 8


def _bits(data: bytes, start_bit: int, n: int) -> int:
    byte = start_bit >> 3
    chunk = int.from_bytes(data[byte : byte + 8], "big")
    return (chunk >> (64 - (start_bit & 7) - n)) & ((1 << n) - 1)


def ends_short(frame: bytes, fmt: StreamFormat) -> tuple[tuple[bool, bool], ...]:
    """Per channel, for the frame's last granule: (its window ends short, it is a mixed block).

    A start (1) or short (2) block ends with the short window's slope, a long (0) or stop (3)
    block with the long one; the next granule's window must begin with the same slope.
    """
    bit = 8 * (4 + (2 if fmt.crc else 0))
    nch = fmt.channels
    if fmt.mpeg == 1:
        bit += 9 + (5 if nch == 1 else 3) + 4 * nch  # main_data_begin, private bits, scfsi
        per, compress, granules = 59, 4, 2
    else:
        bit += 8 + (1 if nch == 1 else 2)
        per, compress, granules = 63, 9, 1
    bit += per * nch * (granules - 1)  # skip to the last granule
    out = []
    for _ in range(nch):
        at = bit + 12 + 9 + 8 + compress  # part2_3_length, big_values, global_gain, sf_compress
        switching = _bits(frame, at, 1)
        block_type = _bits(frame, at + 1, 2) if switching else 0
        mixed = bool(_bits(frame, at + 3, 1)) if switching else False
        out.append((block_type in (1, 2), mixed))
        bit += per
    return tuple(out)


# -- joining ---------------------------------------------------------------------------------------


def join_ok(a_prev: bytes, a_next: bytes, b_prev: bytes, b_next: bytes, fmt: StreamFormat) -> bool:
    """Whether stream A's frames up to ``a_prev`` can be followed by stream B's from ``b_next``.

    ``a_prev``/``b_prev`` are the two streams' frame J-1, ``a_next``/``b_next`` their frame J
    (A's is not needed: what counts is the room A's frame J-1 leaves).
    """
    return room_after(a_prev, fmt) >= main_data_begin(b_next, fmt) and ends_short(a_prev, fmt) == ends_short(
        b_prev, fmt
    )


def _slots(frames: bytes | bytearray, fmt: StreamFormat) -> list[tuple[int, int]]:
    """(start, end) of each frame's main data slots within ``frames`` (whole frames, in order)."""
    out = []
    pos = 0
    while pos < len(frames):
        _, size, _ = parse_header(int.from_bytes(frames[pos : pos + 4], "big"))
        out.append((pos + fmt.data_start, pos + size))
        pos += size
    return out


def reservoir(frames_before: bytes, n: int, fmt: StreamFormat) -> bytes:
    """The last ``n`` main data bytes of ``frames_before`` (whole frames): what the frame after
    them reads from the reservoir when its ``main_data_begin`` is ``n``."""
    parts = []
    for start, end in reversed(_slots(frames_before, fmt)):
        if n <= 0:
            break
        take = min(n, end - start)
        parts.append(frames_before[end - take : end])
        n -= take
    if n > 0:
        raise FrameError("the reservoir reaches back past the frames given")
    return b"".join(reversed(parts))


def patch_tail(frames: bytearray, data: bytes, fmt: StreamFormat) -> None:
    """Write ``data`` into the last main data slots of ``frames`` (whole frames), in place."""
    n = len(data)
    for start, end in reversed(_slots(frames, fmt)):
        if n <= 0:
            return
        take = min(n, end - start)
        frames[end - take : end] = data[n - take : n]
        n -= take
    if n > 0:
        raise FrameError("not enough frames to hold the reservoir")


# -- the Info frame ------------------------------------------------------------------------------


def _crc_table() -> np.ndarray:
    t = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        t = np.where(t & 1, (t >> 1) ^ 0xA001, t >> 1)
    return t.astype(np.uint32)


_TABLE = _crc_table()


class Crc16:
    """CRC-16/ARC (the LAME tag's music and tag CRCs), fed in pieces.

    A byte at a time in Python would take seconds over an hour's MP3, so ``ROWS`` rows of a
    block are run side by side in numpy and then folded: with a zero start the CRC is linear,
    so crc(A + B) = shift(crc(A), len(B)) ^ crc(B), where shift feeds zero bytes, itself a
    linear map kept as two 256-entry tables. About 5 ms per MB.
    """

    ROWS = 8192
    BLOCK = ROWS * 128

    def __init__(self) -> None:
        self.value_ = 0
        self._pending = bytearray()
        self._shifts: dict[int, tuple[list[int], list[int]]] = {}

    def _shift_tables(self, n: int) -> tuple[list[int], list[int]]:
        """Tables for feeding ``n`` zero bytes to a CRC state (low byte, high byte)."""
        if n not in self._shifts:
            lo = np.arange(256, dtype=np.uint32)
            hi = lo << 8
            for _ in range(n):
                lo = (lo >> 8) ^ _TABLE[lo & 0xFF]
                hi = (hi >> 8) ^ _TABLE[hi & 0xFF]
            self._shifts[n] = (lo.tolist(), hi.tolist())
        return self._shifts[n]

    def _feed_rows(self, data: np.ndarray, cols: int) -> None:
        rows = data.reshape(-1, cols).T.copy()  # column c of every row, contiguous
        crc = np.zeros(rows.shape[1], dtype=np.uint32)
        for c in range(cols):
            crc = (crc >> 8) ^ _TABLE[(crc ^ rows[c]) & 0xFF]
        lo, hi = self._shift_tables(cols)
        v = self.value_
        for r in crc.tolist():
            v = lo[v & 0xFF] ^ hi[v >> 8] ^ r
        self.value_ = v

    def update(self, data: bytes) -> None:
        self._pending += data
        full = len(self._pending) // self.BLOCK * self.BLOCK
        if full:
            self._feed_rows(np.frombuffer(self._pending, dtype=np.uint8, count=full), self.BLOCK // self.ROWS)
            del self._pending[:full]

    def value(self) -> int:
        rest = self._pending
        cols = len(rest) // self.ROWS
        if cols:
            self._feed_rows(np.frombuffer(rest, dtype=np.uint8, count=cols * self.ROWS), cols)
            rest = rest[cols * self.ROWS :]
        v = self.value_
        for b in rest:
            v = (v >> 8) ^ int(_TABLE[(v ^ b) & 0xFF])
        self.value_ = v
        self._pending = bytearray()
        return v


def crc16(data: bytes) -> int:
    c = Crc16()
    c.update(data)
    return c.value()


def info_frame(
    model_header: int,
    *,
    frames: int,
    audio_bytes: int,
    toc: bytes,
    delay: int,
    padding: int,
    music_crc: int,
    encoder: bytes = b"Lavf",
) -> bytes:
    """The Info frame (Xing header for constant bitrate, with LAME's extension) for a stream of
    ``frames`` frames and ``audio_bytes`` bytes that follows it; ``model_header`` is one of its
    frames' headers.

    Laid out as LAME and ffmpeg write it: a frame of the stream's format (at a higher bitrate if
    the tag would not fit), no CRC, its side info zero, "Info", flags for frame count, byte
    count, seek table and quality, then the extension with the delay and padding in 12 bits each.
    """
    if not (0 <= delay <= MAX_PAD and 0 <= padding <= MAX_PAD):
        raise FrameError(f"delay {delay} / padding {padding} do not fit the LAME tag")
    fmt, _, br_index = parse_header(model_header)
    # keep sync, version, layer, sample rate and channel mode; no CRC, no padding, no mode extension
    keep = model_header & ~((0xF << 12) | (1 << 9) | (3 << 4) | 0xF)
    tag_at = 4 + fmt.side_info
    for bri in range(br_index, 15):
        h = keep | (1 << 16) | (bri << 12)
        size = parse_header(h)[1]
        if size >= tag_at + INFO_TAG_BYTES:
            break
    else:
        raise FrameError("no bitrate gives an Info frame room for its tag")
    total = size + audio_bytes
    out = bytearray(size)
    struct.pack_into(">I", out, 0, h)
    struct.pack_into(">4sIII", out, tag_at, b"Info", 0x0F, frames, total)
    out[tag_at + 16 : tag_at + 116] = toc
    ext = tag_at + 120  # after the quality field, which stays 0
    out[ext : ext + 9] = encoder[:9].ljust(9, b"\x00")
    out[ext + 21 : ext + 24] = ((delay << 12) | padding).to_bytes(3, "big")
    struct.pack_into(">IH", out, ext + 28, total, music_crc)
    struct.pack_into(">H", out, ext + 34, crc16(bytes(out[: ext + 34])))
    return bytes(out)


def seek_table(frame_offsets: list[int], frames: int, total_bytes: int) -> bytes:
    """The Xing seek table: for each percent of the frames, where it starts, in 256ths of the
    file (``frame_offsets[i]``: offset of frame ``i * frames // 100`` from the Info frame's start)."""
    return bytes(min(255, 256 * off // max(total_bytes, 1)) if i else 0 for i, off in enumerate(frame_offsets))
