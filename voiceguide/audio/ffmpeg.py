"""The ffmpeg program: finding it, naming files to it, and decoding any audio file it reads to
float PCM."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from voiceguide.errors import AudioInputError, EnvironmentFault

INSTALL_HINT = "install it (Debian/Ubuntu: sudo apt-get install ffmpeg; macOS: brew install ffmpeg)"


def ffmpeg_path() -> str:
    path = shutil.which("ffmpeg")
    if path is None:
        raise EnvironmentFault(f"ffmpeg is not installed; {INSTALL_HINT}")
    return path


def file_arg(path: str | os.PathLike) -> str:
    """``path`` as ffmpeg must be given it to read or write that file, whatever its name.

    ffmpeg reads ``concat:a.mp3|b.mp3`` as a protocol (other files played instead), a name
    starting with ``-`` as an option, ``a:b`` as protocol ``a``; ``file:`` with an absolute path
    is always the file itself."""
    return "file:" + os.path.abspath(os.fspath(path))


def pcm_input(rate: int, channels: int) -> list[str]:
    """ffmpeg's arguments for 16-bit PCM on its standard input, as the mixer hands it over."""
    return ["-f", "s16le", "-ar", str(rate), "-ac", str(channels), "-i", "pipe:0"]


def lame(bitrate: str) -> list[str]:
    """The MP3 encoder at ``bitrate``: what an export encodes with, so what the codec's level
    measurement (encode/codec.py) must run too."""
    return ["-c:a", "libmp3lame", "-b:a", bitrate]


def mp3_output(bitrate: str, *, xing: bool = True) -> list[str]:
    """An export's MP3 stream: LAME at ``bitrate``, no ID3 tag of ffmpeg's own (ours, with the
    chapters, goes in front afterwards: see encode/id3.py; "-write_id3v2 0" is not an option of
    ffmpeg's MP3 muxer, which ignores it), with or without its Info (Xing) frame."""
    return [*lame(bitrate), "-id3v2_version", "0", "-write_xing", "1" if xing else "0", "-f", "mp3"]


def last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def decode(path: Path, rate: int, channels: int, chunk_frames: int = 1 << 17) -> Iterator[np.ndarray]:
    """Frames of ``path`` as float32 (frames, channels) chunks at ``rate``; memory stays flat.

    Raises AudioInputError naming the file when ffmpeg cannot read it or finds no audio in it.
    """
    exe = ffmpeg_path()
    cmd = [
        exe,
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-i",
        file_arg(path),
        "-vn",
        "-map",
        "0:a:0",
        "-f",
        "f32le",
        "-acodec",
        "pcm_f32le",
        "-ac",
        str(channels),
        "-ar",
        str(rate),
        "pipe:1",
    ]
    # stderr goes to a file: a pipe nobody reads could fill and stall ffmpeg
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        frame_bytes = 4 * channels
        got = 0
        try:
            while True:
                data = proc.stdout.read(chunk_frames * frame_bytes)
                if not data:
                    break
                usable = len(data) - len(data) % frame_bytes
                if usable:
                    got += usable // frame_bytes
                    yield np.frombuffer(data[:usable], dtype="<f4").reshape(-1, channels)
        finally:
            proc.stdout.close()
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        if proc.returncode != 0 or got == 0:
            err.seek(0)
            why = last_line(err.read().decode("utf-8", "replace"))
            if "matches no streams" in why or (proc.returncode == 0 and got == 0):
                why = "it has no audio in it"
            raise AudioInputError(f"cannot read this as audio ({why or 'ffmpeg failed'})", path=path)
