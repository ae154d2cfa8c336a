"""The clip file format: 16-bit PCM mono WAV, and the checks a clip must pass.

Reading a header must stay cheap (a warm render stats and reads the head of every clip), so
nothing here imports numpy at module level and the silence check samples a stride.

A cached clip is *sealed*: a digest of everything before it rides in one more RIFF chunk after
the samples (``vgdg``, 16 bytes of BLAKE2b). The 44-byte header stays the canonical one and
every WAV reader skips a chunk it does not know (ffmpeg, ffprobe and Python's wave were tried),
so a clip is still a plain WAV to any tool. BLAKE2b rather than a CRC because the digest also
names the samples (the mixer keys what it derives from a clip by it): 128 bits never collide,
and at 0.9 GB/s on this machine a 130 kB clip costs 0.14 ms (SHA-256 is faster only where the
CPU has SHA instructions).
"""

from __future__ import annotations

import os
import struct
from array import array
from dataclasses import dataclass
from pathlib import Path

#: Bytes read to find the fmt and data chunks: usually within the first 44, unless metadata
#: chunks come first.
HEAD_BYTES = 4096

#: Peak below this (about -60 dBFS) counts as silence.
SILENCE_PEAK = 32

#: Canonical header length for a plain PCM WAV with one fmt and one data chunk.
CANONICAL_HEADER = 44

DIGEST_CHUNK = b"vgdg"
DIGEST_BYTES = 16
SEAL_BYTES = 8 + DIGEST_BYTES  # the digest chunk: id, size, digest

# Every engine's clip is trimmed to the same silent margins, so the pauses between cues are the
# compiler's and not an engine's habit. Measured on the bundled routine's lines: espeak-ng starts
# within 10 ms but ends with 345-390 ms of digital silence; piper starts after 0-60 ms and ends
# with 80-190 ms of fading breath. Sound is what rises above EDGE_DB relative to the clip's own
# peak: low enough to keep the release of a final "s" or "t", high enough to pass over the breath.
EDGE_DB = -50.0
LEAD_MS = 10  # silence kept before the first sound
TAIL_MS = 120  # ... and after the last: a natural stop, never a clipped phoneme
EDGE_WINDOW_MS = 5  # sound is looked for in windows this long
FADE_MS = 5  # where a cut lands on non-zero samples, they fade to it (no click)


class WavProblem(ValueError):
    """A file is not a usable clip; the message says why, for a note or an error."""


@dataclass(frozen=True)
class WavInfo:
    channels: int
    sample_rate: int
    bits: int
    data_offset: int
    data_bytes: int
    file_bytes: int

    @property
    def frames(self) -> int:
        return self.data_bytes // (self.channels * self.bits // 8)

    @property
    def canonical(self) -> bool:
        """16-bit mono with nothing after the samples: ready to cache as it is."""
        return self.channels == 1 and self.bits == 16 and self.data_offset + self.data_bytes == self.file_bytes


def sealed(info: WavInfo) -> bool:
    """The layout of a cached clip: canonical header, 16-bit mono samples, then the digest chunk."""
    return (
        info.channels == 1
        and info.bits == 16
        and info.data_offset == CANONICAL_HEADER
        and info.data_offset + info.data_bytes + SEAL_BYTES == info.file_bytes
    )


def clip_digest(body) -> str:
    """The digest of a sealed clip's bytes before its digest chunk (hex)."""
    import hashlib

    return hashlib.blake2b(body, digest_size=DIGEST_BYTES).hexdigest()


def seal(path: str | os.PathLike, info: WavInfo) -> str:
    """Append the digest chunk to a canonical clip (fixing the RIFF size first); its digest."""
    if not (info.canonical or sealed(info)) or info.data_offset != CANONICAL_HEADER or info.data_bytes & 1:
        raise WavProblem("only a canonical 16-bit mono clip can be sealed")
    with open(path, "r+b") as f:
        body = bytearray(f.read(info.data_offset + info.data_bytes))  # an old seal is replaced
        f.truncate(len(body))
        struct.pack_into("<I", body, 4, len(body) + SEAL_BYTES - 8)
        digest = clip_digest(body)
        f.seek(4)
        f.write(body[4:8])
        f.seek(len(body))
        f.write(DIGEST_CHUNK + struct.pack("<I", DIGEST_BYTES) + bytes.fromhex(digest))
    return digest


def sealed_digest(tail: bytes) -> str | None:
    """The digest a sealed clip's last SEAL_BYTES bytes hold, None when they are no digest chunk."""
    if len(tail) != SEAL_BYTES or tail[:4] != DIGEST_CHUNK or struct.unpack_from("<I", tail, 4)[0] != DIGEST_BYTES:
        return None
    return tail[8:].hex()


def parse_header(head: bytes, file_bytes: int) -> WavInfo:
    """Parse a RIFF/WAVE header from the first bytes of a file of ``file_bytes`` bytes.

    Raises WavProblem when the file is not PCM WAV or when the data chunk claims more bytes
    than the file holds (a truncated clip).
    """
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise WavProblem("not a WAV file")
    pos = 12
    fmt = None
    while pos + 8 <= len(head):
        chunk_id = head[pos : pos + 4]
        (size,) = struct.unpack_from("<I", head, pos + 4)
        body = pos + 8
        if chunk_id == b"fmt ":
            if body + 16 > len(head):
                raise WavProblem("WAV header is cut short")
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", head, body)
            # WAVE_FORMAT_EXTENSIBLE (0xFFFE) carries PCM too; its sub-format is checked by bits.
            if tag not in (1, 0xFFFE):
                raise WavProblem(f"WAV is not PCM (format tag {tag})")
            if channels < 1 or rate < 1 or bits not in (8, 16, 24, 32):
                raise WavProblem("WAV header has impossible values")
            fmt = (channels, rate, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise WavProblem("WAV data comes before its format")
            channels, rate, bits = fmt
            available = file_bytes - body
            # Streaming writers leave 0 or 0xFFFFFFFF here; those files are never cached as such.
            if size == 0 or size > available:
                raise WavProblem(f"WAV is truncated ({available} of {size} sample bytes)")
            frame = channels * bits // 8
            return WavInfo(channels, rate, bits, body, size - size % frame, file_bytes)
        pos = body + size + (size & 1)
    raise WavProblem("WAV has no data chunk in its header")


def read_info(path: str | os.PathLike) -> WavInfo:
    """Header of a WAV file: one open, one small read, one fstat."""
    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES)
        size = os.fstat(f.fileno()).st_size
    return parse_header(head, size)


def read_pcm16(path: str | os.PathLike, info: WavInfo | None = None) -> bytes:
    """The raw little-endian 16-bit sample bytes of a canonical clip."""
    with open(path, "rb") as f:
        if info is None:
            head = f.read(HEAD_BYTES)
            info = parse_header(head, os.fstat(f.fileno()).st_size)
        f.seek(info.data_offset)
        return f.read(info.data_bytes)


def write_pcm16(path: str | os.PathLike, samples: bytes, sample_rate: int) -> None:
    """Write a canonical mono 16-bit WAV (44-byte header) in one go."""
    n = len(samples)
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + n,
        b"WAVE",
        b"fmt ",
        16,
        1,
        1,
        sample_rate,
        sample_rate * 2,
        2,
        16,
        b"data",
        n,
    )
    with open(path, "wb") as f:
        f.write(header)
        f.write(samples)


def to_canonical(path: Path, info: WavInfo) -> WavInfo:
    """Rewrite a PCM WAV of another layout (stereo, 8/24/32-bit, trailing chunks) as mono 16-bit.

    Only engines on other platforms need this; espeak-ng, pyttsx3's espeak driver and piper
    already write canonical files, so numpy is imported only here.
    """
    import numpy as np

    with open(path, "rb") as f:
        f.seek(info.data_offset)
        raw = f.read(info.data_bytes)
    width = info.bits // 8
    if width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        x = v.astype(np.float32) / float(1 << 23)
    else:
        x = np.frombuffer(raw, "<i4").astype(np.float32) / float(1 << 31)
    x = x[: len(x) - len(x) % info.channels].reshape(-1, info.channels).mean(axis=1)
    pcm = np.clip(np.round(x * 32767.0), -32768, 32767).astype("<i2").tobytes()
    write_pcm16(path, pcm, info.sample_rate)
    return read_info(path)


def _samples(raw: bytes) -> array:
    a = array("h")
    a.frombytes(raw[: len(raw) - len(raw) % 2])
    if array("h", [1]).tobytes() != b"\x01\x00":  # pragma: no cover - big-endian hosts
        a.byteswap()
    return a


def peak(samples: bytes, stride: int = 5) -> int:
    """Largest absolute sample among every ``stride``-th one: enough to tell speech from silence."""
    a = _samples(samples)
    if not a:
        return 0
    view = a[::stride] if len(a) > stride * 100 else a
    return max(max(view), -min(view))


def word_count(text: str) -> int:
    """Words as a listener hears them: digits count one per group ("30" is one word).

    A group without a letter or digit ("-", "...") is not spoken: counted, "Go - - - - - -"
    looked like seven words, and espeak-ng's 0.6 s clip of it was refused as too short.
    """
    return max(1, sum(1 for w in text.split() if any(c.isalnum() for c in w)))


def plausible_ms(text: str, rate_wpm: int) -> tuple[int, int]:
    """The shortest and longest duration a correct rendering of ``text`` could have.

    Generous on purpose: the bounds catch an engine that wrote a stub or ran away (endless
    output), not one that reads a little fast or slow. Numbers and abbreviations expand when
    spoken, so the upper bound follows the characters, the lower one the words.
    """
    per_word = 60000 / rate_wpm
    low = int(word_count(text) * per_word / 4)
    high = int(4000 + len(text) * per_word * 1.5)
    return max(low, 40), high


def sound_span(samples: array, rate: int) -> tuple[int, int] | None:
    """(first, end) frames of the part above EDGE_DB relative to the peak; None for silence.

    Scans whole windows in from each end (``max``/``min`` over a slice run in C), so a clip with
    a short lead and tail costs a few dozen window reads, not a pass over every sample.
    """
    if not samples:
        return None
    top = max(max(samples), -min(samples))
    if top == 0:
        return None
    floor = top * 10 ** (EDGE_DB / 20)
    w = max(1, rate * EDGE_WINDOW_MS // 1000)
    n = len(samples)

    def loud(i: int) -> bool:
        part = samples[i : i + w]
        return max(part) > floor or -min(part) > floor

    first = 0
    while first < n and not loud(first):
        first += w
    last = n - w if n > w else 0
    while last > first and not loud(last):
        last -= w
    return first, min(n, last + w)


def trim_edges(path: Path, info: WavInfo) -> WavInfo:
    """Trim a canonical clip's leading and trailing silence to LEAD_MS and TAIL_MS."""
    raw = read_pcm16(path, info)
    samples = _samples(raw)
    span = sound_span(samples, info.sample_rate)
    if span is None:
        return info  # silent: check_speech says so
    lead = info.sample_rate * LEAD_MS // 1000
    tail = info.sample_rate * TAIL_MS // 1000
    start, end = max(0, span[0] - lead), min(len(samples), span[1] + tail)
    # Sound is found to within a window, so an edge within two windows of its margin is left be:
    # trimming a trimmed clip again then changes nothing.
    slack = 2 * max(1, info.sample_rate * EDGE_WINDOW_MS // 1000)
    if start <= slack:
        start = 0
    if len(samples) - end <= slack:
        end = len(samples)
    if start == 0 and end == len(samples):
        return info
    kept = samples[start:end]
    fade = min(len(kept) // 2, info.sample_rate * FADE_MS // 1000)
    for k in range(fade):
        if start:
            kept[k] = kept[k] * k // fade
        if end < len(samples):
            kept[-1 - k] = kept[-1 - k] * k // fade
    if array("h", [1]).tobytes() != b"\x01\x00":  # pragma: no cover - big-endian hosts
        kept.byteswap()
    write_pcm16(path, kept.tobytes(), info.sample_rate)
    return read_info(path)


def check_speech(path: Path, text: str, rate_wpm: int) -> WavInfo:
    """Check a freshly rendered clip, bring it to the canonical layout and trim its silent
    edges to the margins every engine shares; raise WavProblem."""
    info = read_info(path)
    if not info.canonical and not sealed(info):  # a sealed clip is checked as it is, not rewritten
        info = to_canonical(path, info)
    info = trim_edges(path, info)
    ms = info.frames * 1000 // info.sample_rate
    low, high = plausible_ms(text, rate_wpm)
    if ms < low:
        raise WavProblem(f"clip is too short for its text ({ms} ms, expected at least {low} ms)")
    if ms > high:
        raise WavProblem(f"clip is too long for its text ({ms} ms, expected at most {high} ms)")
    if peak(read_pcm16(path, info)) < SILENCE_PEAK:
        raise WavProblem("clip is silent")
    return info
