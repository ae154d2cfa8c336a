"""An ID3v2.3 tag with text frames and chapters (CTOC + CHAP, the ID3 chapter addendum).

ffmpeg can write chapters itself, but only from a second input (an FFMETADATA file), and a
second input puts ffmpeg's demuxing on threads that cost 0.5-1.5 s over a 20-minute encode, a
large part of the time an export may take over a bare encode. So ffmpeg writes the audio with
its Xing/LAME header and no tag, and this tag goes in front. Frames are written in time order,
which is the order ffprobe and players list them in.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence

from voiceguide.audio.encode.chapters import Chapter

# ffmpeg-style tag names -> ID3v2.3 frames
TEXT_FRAMES = {
    "title": "TIT2",
    "album": "TALB",
    "artist": "TPE1",
    "album_artist": "TPE2",
    "genre": "TCON",
    "date": "TYER",
    "track": "TRCK",
    "composer": "TCOM",
    "encoder": "TSSE",
    "copyright": "TCOP",
    "publisher": "TPUB",
}
NO_OFFSET = 0xFFFFFFFF


def _text(value: str) -> bytes:
    # encoding 1: UTF-16 with a byte-order mark, the only Unicode ID3v2.3 knows
    return b"\x01" + "\ufeff".encode("utf-16-le") + str(value).encode("utf-16-le")


def _frame(frame_id: str, body: bytes) -> bytes:
    return frame_id.encode("ascii") + struct.pack(">I", len(body)) + b"\x00\x00" + body


def _syncsafe(n: int) -> bytes:
    return bytes(((n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F))


def id3v2_tag(tags: Mapping[str, str], chapters: Sequence[Chapter]) -> bytes:
    frames = []
    for name, value in tags.items():
        if value is None or value == "":
            continue
        if name == "comment":
            # encoding, language, empty description (terminated), text
            body = b"\x01eng" + "\ufeff".encode("utf-16-le") + b"\x00\x00" + _text(value)[1:]
            frames.append(_frame("COMM", body))
        elif name in TEXT_FRAMES:
            frames.append(_frame(TEXT_FRAMES[name], _text(value)))
        else:
            # anything else as a user-defined text frame: description, then value
            body = _text(name) + b"\x00\x00" + _text(value)[1:]
            frames.append(_frame("TXXX", body))
    if chapters:
        ids = [f"ch{i}".encode("ascii") for i in range(len(chapters))]
        if len(ids) > 255:
            raise ValueError("an ID3 table of contents holds at most 255 chapters")
        toc = b"toc\x00" + bytes((0x03, len(ids))) + b"".join(i + b"\x00" for i in ids)
        frames.append(_frame("CTOC", toc))
        for cid, c in zip(ids, chapters):
            body = cid + b"\x00" + struct.pack(">IIII", c.start_ms, c.end_ms, NO_OFFSET, NO_OFFSET)
            body += _frame("TIT2", _text(c.title))
            frames.append(_frame("CHAP", body))
    payload = b"".join(frames)
    return b"ID3\x03\x00\x00" + _syncsafe(len(payload)) + payload
