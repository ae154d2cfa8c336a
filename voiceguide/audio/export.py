"""Export a session to MP3 or WAV with tags and chapters, in one streaming pass through ffmpeg.

The mixer's blocks are turned into 16-bit PCM and written to ffmpeg's stdin by a writer thread,
so mixing (numpy, which releases the GIL) runs on one core while LAME encodes on the other, and
memory stays flat however long the session is. ffmpeg writes a temp file beside the target that
is renamed into place only when everything (sidecars included) is complete: Ctrl-C or any
failure leaves neither a partial file nor the temp file behind. A run that is killed outright
(SIGKILL, a power cut) cannot clean up, so temp names carry their writer (voiceguide/files.py)
and the next export into that folder removes the temps whose writers are gone.

An export owns the sidecars it would write: FILE.chapters.vtt/.json that an earlier export left
and this one was not asked for are removed, so what lies beside FILE always describes it. A WAV
carries its chapters as RIFF cue points (a ``cue `` chunk, and a ``LIST``/``adtl`` chunk with a
``labl`` title for each), which ffprobe lists as chapters.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import struct
import subprocess
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voiceguide import files
from voiceguide.audio.chapters import Chapter, podcast_json, session_chapters, webvtt
from voiceguide.audio.codec import codec_gain
from voiceguide.audio.ffmpeg import ffmpeg_path, file_arg, last_line
from voiceguide.audio.id3 import id3v2_tag
from voiceguide.audio.mixer import Mixer
from voiceguide.errors import EnvironmentFault, OutputError

FORMATS = {".mp3": "mp3", ".wav": "wav"}
SIDECARS = {"vtt": ".chapters.vtt", "json": ".chapters.json"}
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
MP3_BITRATES = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
BLOCK_FRAMES = 1 << 16   # about 1.5 s: large enough that per-block overhead vanishes
# LAME eats a 1.5 s block in about 8 ms, so the queue must be deep for the mixing thread to bank
# time where the session is sparse and spend it where clips are made on first use (~10 ms each):
# 40 blocks is a minute of audio, 10 MB.
QUEUE_BLOCKS = 40
F_SETPIPE_SZ = 1031      # Linux: a 1 MB pipe lets ffmpeg read ahead while a block is mixed


@dataclass(frozen=True)
class ExportResult:
    path: Path
    format: str                    # "mp3" or "wav"
    frames: int
    sample_rate: int
    channels: int
    duration_ms: int
    chapters: tuple[Chapter, ...]
    sidecars: tuple[Path, ...]     # FILE.chapters.vtt / FILE.chapters.json, when asked for
    gain_db: float
    predicted_lufs: float
    notes: tuple[str, ...] = ()    # one-line messages for the user (an old sidecar removed)

    @property
    def duration_s(self) -> float:
        return self.duration_ms / 1000

    @property
    def bytes(self) -> int:
        """Size of the written file."""
        return self.path.stat().st_size


def sidecar_path(out: Path, kind: str) -> Path:
    """``FILE.chapters.vtt`` / ``FILE.chapters.json`` beside ``FILE``."""
    return out.with_name(out.name + SIDECARS[kind])


def session_tags(mixer: Mixer) -> dict[str, str]:
    tl = mixer.timeline
    pacing = "; ".join(f"{k}={v if isinstance(v, (str, int, float, bool)) or v is None else json.dumps(v)}"
                       for k, v in tl.pacing.items())
    return {"title": tl.title, "album": tl.routine, "artist": "voiceguide",
            "comment": f"pacing: {pacing}" if pacing else "pacing: default"}


def _check(out: Path, bitrate: str, chapters: Sequence[str], mixer: Mixer) -> str:
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise OutputError(f"cannot export to '{out.suffix or out.name}': the file name must end in .mp3 or .wav",
                          path=out)
    unknown = [c for c in chapters if c not in SIDECARS]
    if unknown:
        raise OutputError(f"unknown chapter format {unknown[0]!r}; choose from vtt, json", path=out)
    if fmt == "mp3":
        m = re.fullmatch(r"(\d+)k", bitrate.strip().lower())
        if not m or int(m.group(1)) not in MP3_BITRATES:
            raise OutputError(f"MP3 bitrate must be one of {', '.join(f'{b}k' for b in MP3_BITRATES)}, "
                              f"not {bitrate!r}", path=out)
        if mixer.rate not in MP3_RATES:
            raise OutputError(f"MP3 cannot hold {mixer.rate} Hz; use one of "
                              f"{', '.join(map(str, MP3_RATES))} or export .wav", path=out)
    folder = out.parent
    if not folder.is_dir():
        raise OutputError(f"the folder {str(folder)!r} does not exist", path=out)
    if out.is_dir():
        raise OutputError("that is a folder; give a file name ending in .mp3 or .wav", path=out)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write in the folder {str(folder)!r} (permission denied)", path=out)
    return fmt


def _pcm16(block: np.ndarray, channels: int, scale: float = 1.0) -> bytes:
    """Interleaved 16-bit PCM of a mixed block; a (n,) block is the same in every channel."""
    x = block * np.float32(32767.0 * scale)
    np.clip(x, -32768.0, 32767.0, out=x)
    pcm = np.rint(x, out=x).astype("<i2")
    if pcm.ndim == 1 and channels > 1:
        pcm = np.repeat(pcm, channels)
    return pcm.tobytes()


def _disk_fault(out: Path, detail: str) -> EnvironmentFault:
    if "No space left" in detail or "ENOSPC" in detail or "Disk quota" in detail:
        return EnvironmentFault(f"the disk is full; nothing was written ({detail})", path=out)
    return EnvironmentFault(f"ffmpeg could not write the file: {detail or 'it failed'}", path=out)


def _encode(mixer: Mixer, tmp: Path, tags: Mapping[str, str], fmt: str, bitrate: str, out: Path,
            progress: Callable[[int, int], None] | None) -> None:
    exe = ffmpeg_path()
    cmd = [exe, "-nostdin", "-hide_banner", "-loglevel", "error",
           "-f", "s16le", "-ar", str(mixer.rate), "-ac", str(mixer.channels), "-i", "pipe:0",
           "-map_metadata", "-1"]
    if fmt == "mp3":
        # the tag (with chapters) is put in front afterwards; see id3.py for why
        cmd += ["-c:a", "libmp3lame", "-b:a", bitrate, "-write_id3v2", "0", "-write_xing", "1", "-f", "mp3"]
    else:
        for k, v in tags.items():
            if v is not None and v != "":
                cmd += ["-metadata", f"{k}={v}"]
        cmd += ["-c:a", "pcm_s16le", "-f", "wav"]
    cmd += ["-y", file_arg(tmp)]
    scale = 1.0 / codec_gain(bitrate, mixer.rate, mixer.channels, mixer.bank.cache) if fmt == "mp3" else 1.0
    # The first minute's clips, if not made yet, are made on both cores now, while ffmpeg starts
    # and has nothing to encode; later ones are made by the mixing thread, which by then has
    # banked enough time in the queue.
    mixer.bank.prefetch([c.text for c in mixer.timeline.cues if c.spoken and c.start_ms < 60_000], workers=2)
    with tempfile.TemporaryFile() as err:
        # its own session: a Ctrl-C at the terminal reaches us, and we stop ffmpeg ourselves
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True)
        try:
            import fcntl

            fcntl.fcntl(proc.stdin.fileno(), F_SETPIPE_SZ, 1 << 20)
        except (ImportError, OSError):
            pass
        blocks: queue.Queue = queue.Queue(maxsize=QUEUE_BLOCKS)
        failed = threading.Event()

        def writer() -> None:
            while True:
                item = blocks.get()
                if item is None:
                    return
                if failed.is_set():
                    continue   # keep draining so the producer never blocks
                try:
                    proc.stdin.write(item)
                except OSError:
                    failed.set()

        thread = threading.Thread(target=writer, name="voiceguide-export-writer", daemon=True)
        thread.start()
        try:
            total = mixer.total_frames
            done = 0
            for block in mixer.mixes(BLOCK_FRAMES):
                if failed.is_set():
                    break
                blocks.put(_pcm16(block, mixer.channels, scale))
                done += len(block)
                if progress is not None:
                    progress(done, total)
            blocks.put(None)
            thread.join()
            try:
                proc.stdin.close()
            except OSError:
                failed.set()
            rc = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            failed.set()
            try:
                blocks.put(None, timeout=5)   # the writer drains once its pipe is broken
            except queue.Full:
                pass
            thread.join(timeout=5)
            raise
        if rc != 0 or failed.is_set():
            err.seek(0)
            raise _disk_fault(out, last_line(err.read().decode("utf-8", "replace")))


def export_session(mixer: Mixer, out: Path, *, bitrate: str = "128k", chapters: Sequence[str] = (),
                   tags: Mapping[str, str] | None = None,
                   progress: Callable[[int, int], None] | None = None) -> ExportResult:
    """Write the session to ``out`` (.mp3 or .wav), with sidecar chapter files if asked.

    ``chapters`` picks sidecars from {"vtt", "json"}; ``tags`` adds to or overrides the default
    tags (title, album = the routine, artist = voiceguide, comment = the pacing used);
    ``progress(done_frames, total_frames)`` is called after every block.
    Raises OutputError for a bad target, EnvironmentFault when ffmpeg is missing or the disk fills.
    """
    out = Path(out)
    bitrate = bitrate.strip().lower()
    chapters = tuple(dict.fromkeys(c.strip().lower() for c in chapters))
    fmt = _check(out, bitrate, chapters, mixer)
    ffmpeg_path()   # fail before any file is made
    chapter_list = session_chapters(mixer.timeline)
    all_tags = session_tags(mixer)
    all_tags.update(tags or {})

    # temps that a killed export left here (ours by name, their writers gone)
    files.remove_leftovers(out.parent, _export_temp_target)
    made: list[Path] = []   # temp files to remove unless renamed into place

    def temp_beside(target: Path) -> Path:
        for _ in range(100):
            name = target.parent / files.temp_name(target.name, ".part")
            try:
                # mode 0o666 under the umask, as a file made by `open` would be (mkstemp's 0o600
                # would survive the rename and hide the export from other users)
                os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:
                continue
            except OSError as e:
                if files.is_full(e):
                    raise _disk_fault(target, e.strerror or str(e)) from e
                raise OutputError(f"cannot write in the folder {str(target.parent)!r} ({e.strerror})",
                                  path=target) from e
            made.append(name)
            return name
        raise OutputError(f"cannot make a temp file in the folder {str(target.parent)!r}", path=target)

    notes: list[str] = []
    try:
        tmp = temp_beside(out)
        if fmt == "mp3":
            audio = temp_beside(out)
            _encode(mixer, audio, all_tags, fmt, bitrate, out, progress)
            try:
                with open(tmp, "wb") as dst, open(audio, "rb") as src:
                    dst.write(id3v2_tag(all_tags, chapter_list))
                    shutil.copyfileobj(src, dst, 1 << 20)
            except OSError as e:
                raise _disk_fault(out, e.strerror or str(e)) from e
        else:
            _encode(mixer, tmp, all_tags, fmt, bitrate, out, progress)
            try:
                if not add_wav_markers(tmp, [(mixer.frame_of_ms(c.start_ms), c.title) for c in chapter_list]):
                    notes.append(f"{out.name} is too large for WAV cue points; its chapters are only in "
                                 "the sidecars (--chapters vtt,json)")
            except OSError as e:
                raise _disk_fault(out, e.strerror or str(e)) from e
        sidecars: list[tuple[Path, Path]] = []
        for kind in chapters:
            target = sidecar_path(out, kind)
            text = webvtt(chapter_list) if kind == "vtt" else podcast_json(
                chapter_list, title=mixer.timeline.title, file_name=out.name)
            side_tmp = temp_beside(target)
            try:
                side_tmp.write_text(text, encoding="utf-8")
            except OSError as e:
                raise _disk_fault(target, e.strerror or str(e)) from e
            sidecars.append((side_tmp, target))
        os.replace(tmp, out)
        made.remove(tmp)
        for side_tmp, target in sidecars:
            os.replace(side_tmp, target)
            made.remove(side_tmp)
        for kind in SIDECARS:
            stale = sidecar_path(out, kind)
            if kind not in chapters and _is_our_sidecar(stale, kind):
                try:
                    stale.unlink()
                    notes.append(f"removed {stale.name}, left by an earlier export: it no longer matched")
                except OSError:
                    notes.append(f"could not remove {stale.name}: it describes an earlier export")
    finally:
        for p in made:
            try:
                p.unlink()
            except OSError:
                pass
    return ExportResult(path=out, format=fmt, frames=mixer.total_frames, sample_rate=mixer.rate,
                        channels=mixer.channels, duration_ms=mixer.timeline.total_ms,
                        chapters=tuple(chapter_list), sidecars=tuple(t for _, t in sidecars),
                        gain_db=mixer.gain_db, predicted_lufs=mixer.predicted_lufs, notes=tuple(notes))


def _export_temp_target(target: str) -> bool:
    """Whether a temp of ours was for something an export writes (the file or a sidecar)."""
    low = target.lower()
    return low.endswith(tuple(FORMATS)) or low.endswith(tuple(SIDECARS.values()))


def _is_our_sidecar(path: Path, kind: str) -> bool:
    """A regular file that reads as a chapters file voiceguide writes (a symlink or a folder, or
    anything else under that name, is the user's and stays)."""
    try:
        if not path.is_file() or path.is_symlink() or path.stat().st_size > 1 << 20:
            return False
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if kind == "vtt":
        return text.startswith("WEBVTT\n") and "\nchapter-1\n" in text
    try:
        doc = json.loads(text)
    except ValueError:
        return False
    return isinstance(doc, dict) and "version" in doc and isinstance(doc.get("chapters"), list)


def _chunk(fourcc: bytes, body: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(body)) + body + (b"\0" if len(body) & 1 else b"")


def wav_markers(marks: Sequence[tuple[int, str]]) -> bytes:
    """A ``cue `` chunk with a point per (frame, title) and a ``LIST``/``adtl`` chunk labelling each."""
    points = b"".join(struct.pack("<II4sIII", i, frame, b"data", 0, 0, frame)
                      for i, (frame, _) in enumerate(marks, start=1))
    labels = b"".join(_chunk(b"labl", struct.pack("<I", i) + title.encode("utf-8") + b"\0")
                      for i, (_, title) in enumerate(marks, start=1))
    return _chunk(b"cue ", struct.pack("<I", len(marks)) + points) + _chunk(b"LIST", b"adtl" + labels)


def add_wav_markers(path: Path, marks: Sequence[tuple[int, str]]) -> bool:
    """Append cue points to a WAV (after its last chunk) and fix its RIFF size; False when the
    file would outgrow RIFF's 4 GB."""
    if not marks:
        return True
    extra = wav_markers(marks)
    with open(path, "r+b") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise OSError(f"{path.name} is not a WAV file")
        end = f.seek(0, os.SEEK_END)
        pad = end & 1
        if end + pad + len(extra) - 8 > 0xFFFFFFFF:
            return False
        f.write(b"\0" * pad + extra)
        f.seek(4)
        f.write(struct.pack("<I", end + pad + len(extra) - 8))
    return True
