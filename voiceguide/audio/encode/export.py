"""Export a session to MP3 or WAV with tags and chapters, streamed through ffmpeg.

The mixer's blocks are turned into 16-bit PCM here, in the caller's thread, and written to
ffmpeg's stdin by one writer thread per ffmpeg process; memory stays flat however long the
session is. An MP3 of 20 s or more is encoded by one LAME process per core, in pieces that are
joined into one gapless stream (segments.py; for 20 minutes of the bundled routine that took
0.4 x the time of one bare single-threaded encode, where one pass took 1.1-1.5 x). A WAV, or a
shorter MP3, goes through one process.

Every file is written as a temp file beside the target (the MP3's pieces too), renamed into
place only when everything (sidecars included) is complete: Ctrl-C, SIGTERM or any failure
leaves neither a partial file nor a temp file behind. A run that is killed outright (SIGKILL, a
power cut) cannot clean up, so temp names carry their writer (voiceguide/files.py) and the next
export into that folder removes the temps whose writers are gone.

An export owns the sidecars it would write: FILE.chapters.vtt/.json that an earlier export left
and this one was not asked for are removed, so what lies beside FILE always describes it. A WAV
carries its chapters as RIFF cue points (a ``cue `` chunk, and a ``LIST``/``adtl`` chunk with a
``labl`` title for each), which ffprobe lists as chapters.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import struct
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from voiceguide import files
from voiceguide.audio.encode import mp3frames, segments
from voiceguide.audio.encode.chapters import SIDECARS, Chapter, is_sidecar_text, session_chapters, sidecar_text
from voiceguide.audio.encode.codec import codec_gain
from voiceguide.audio.encode.id3 import id3v2_tag
from voiceguide.audio.ffmpeg import ffmpeg_path, file_arg, last_line, mp3_output, pcm_input
from voiceguide.audio.mix.mixer import Mixer
from voiceguide.errors import EnvironmentFault, OutputError
from voiceguide.timeline import Timeline

if TYPE_CHECKING:  # pragma: no cover
    from voiceguide.background import Background, Batch

FORMATS = {".mp3": "mp3", ".wav": "wav"}
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
MP3_BITRATES = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
BLOCK_FRAMES = 1 << 16  # about 1.5 s: large enough that per-block overhead vanishes
# LAME eats a 1.5 s block in about 8 ms, so the queue must be deep for the mixing thread to bank
# time where the session is sparse and spend it where clips are made on first use (~10 ms each):
# 40 blocks is a minute of audio, 10 MB.
QUEUE_BLOCKS = 40  # shared by the encoders
MAX_ENCODERS = 4  # beyond that one mixing thread would not keep up
# Shorter sessions are encoded in one pass: measured (2 cores, warm cache), splitting a 21 s
# session took 0.23 s against 0.25 s, a 30 s one 0.23 against 0.29; at 12 s it was a wash.
SPLIT_MIN_S = 20
F_SETPIPE_SZ = 1031  # Linux: a 1 MB pipe lets ffmpeg read ahead while a block is mixed


@dataclass(frozen=True)
class ExportResult:
    path: Path
    format: str  # "mp3" or "wav"
    frames: int
    sample_rate: int
    channels: int
    duration_ms: int
    chapters: tuple[Chapter, ...]
    sidecars: tuple[Path, ...]  # FILE.chapters.vtt / FILE.chapters.json, when asked for
    gain_db: float
    predicted_lufs: float
    encoders: int = 1  # LAME processes that made it (1: one pass)
    notes: tuple[str, ...] = ()  # one-line messages for the user (an old sidecar removed)

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


def session_tags(timeline: Timeline) -> dict[str, str]:
    """The tags every export carries: the title, album = the routine, artist = voiceguide, and
    the pacing used as a comment (what was unset left out), so a file says how it was made."""
    pacing = ", ".join(f"{k}={v}" for k, v in timeline.pacing.items() if v not in (None, []))
    return {
        "title": timeline.title,
        "album": timeline.routine,
        "artist": "voiceguide",
        "comment": f"voiceguide pacing: {pacing or 'default'}",
    }


def _check(out: Path, bitrate: str, chapters: Sequence[str], mixer: Mixer) -> str:
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise OutputError(
            f"cannot export to '{out.suffix or out.name}': the file name must end in .mp3 or .wav", path=out
        )
    unknown = [c for c in chapters if c not in SIDECARS]
    if unknown:
        raise OutputError(f"unknown chapter format {unknown[0]!r}; choose from {', '.join(SIDECARS)}", path=out)
    if fmt == "mp3":
        m = re.fullmatch(r"(\d+)k", bitrate.strip().lower())
        if not m or int(m.group(1)) not in MP3_BITRATES:
            raise OutputError(
                f"MP3 bitrate must be one of {', '.join(f'{b}k' for b in MP3_BITRATES)}, not {bitrate!r}", path=out
            )
        if mixer.rate not in MP3_RATES:
            raise OutputError(
                f"MP3 cannot hold {mixer.rate} Hz; use one of {', '.join(map(str, MP3_RATES))} or export .wav", path=out
            )
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


def encoder_count() -> int:
    """One LAME process per core this process may run on (at most MAX_ENCODERS)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(MAX_ENCODERS, cores))


def _ffmpeg_cmd(
    mixer: Mixer, fmt: str, bitrate: str, tags: Mapping[str, str], target: Path, *, xing: bool = True
) -> list[str]:
    cmd = [
        ffmpeg_path(),
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        *pcm_input(mixer.rate, mixer.channels),
        "-map_metadata",
        "-1",
    ]
    if fmt == "mp3":
        cmd += mp3_output(bitrate, xing=xing)
    else:
        for k, v in tags.items():
            if v is not None and v != "":
                cmd += ["-metadata", f"{k}={v}"]
        cmd += ["-c:a", "pcm_s16le", "-f", "wav"]
    return cmd + ["-y", file_arg(target)]


@dataclass
class _Encoder:
    """One ffmpeg process, its stderr file, and the thread writing to its stdin."""

    proc: subprocess.Popen
    err: object
    blocks: queue.Queue
    thread: threading.Thread
    fed: int = 0  # frames written so far
    job: Iterator[np.ndarray] | None = None
    closed: bool = False


def _start(cmd: list[str], failed: threading.Event, depth: int) -> _Encoder:
    err = tempfile.TemporaryFile()  # noqa: SIM115 - the encoder owns it and closes it when ffmpeg ends
    # its own session: a Ctrl-C at the terminal reaches us, and we stop ffmpeg ourselves
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    try:
        import fcntl

        fcntl.fcntl(proc.stdin.fileno(), F_SETPIPE_SZ, 1 << 20)
    except (ImportError, OSError):
        pass
    blocks: queue.Queue = queue.Queue(maxsize=depth)

    def writer() -> None:
        while True:
            item = blocks.get()
            if item is None:
                break
            if failed.is_set():
                continue  # keep draining so the producer never blocks
            try:
                proc.stdin.write(item)
            except OSError:
                failed.set()
        try:
            proc.stdin.close()
        except OSError:
            failed.set()

    # The writer is part of this encoder, not background work: it lives exactly as long as its
    # ffmpeg process (it feeds its stdin while this thread mixes), and _run_encoders joins it
    # before returning, on every path. On a Background's executor it would hold one of its
    # threads for the whole export, and could wait there behind other work while ffmpeg starves.
    thread = threading.Thread(target=writer, name="voiceguide-export-writer", daemon=True)
    thread.start()
    return _Encoder(proc, err, blocks, thread)


def assign_jobs(sizes: Sequence[int], processes: int) -> list[list[int]]:
    """Which jobs each process encodes, in job order: the largest job first to the process with
    the least audio so far (ties to the lower one).

    Fixed before anything runs, never by which process happens to be free: a LAME process's
    frames for a piece depend a little on the audio fed to it before (priming settles the
    psychoacoustics, not every last bit), so an assignment by timing made two exports of one
    session decode differently. Fixed, an export is the same bytes every time.
    """
    load = [0] * processes
    out: list[list[int]] = [[] for _ in range(processes)]
    for n in sorted(range(len(sizes)), key=lambda j: (-sizes[j], j)):
        k = min(range(processes), key=lambda i: (load[i], i))
        out[k].append(n)
        load[k] += sizes[n]
    return [sorted(js) for js in out]


def _run_encoders(
    mixer: Mixer,
    cmds: Sequence[list[str]],
    jobs: Sequence[Callable[[], Iterator[np.ndarray]]],
    sizes: Sequence[int],
    out: Path,
    progress: Callable[[int, int], None] | None,
    scale: float = 1.0,
) -> list[list[tuple[int, int]]]:
    """Feed ``jobs`` (block iterators of ``sizes`` frames) to one ffmpeg process per command, as
    ``assign_jobs`` shares them out, a block at a time to whichever process has the least audio
    waiting, and wait for them all.

    Mixing runs here, in the caller's thread; numpy lets go of the GIL, so it takes whichever
    core the encoders leave free, and the queues let it bank time where the session is sparse.
    Returns, per process, its jobs as (job number, frames fed to that process before it).
    Raises EnvironmentFault when ffmpeg fails; any exception stops every process first.
    """
    failed = threading.Event()
    depth = max(4, QUEUE_BLOCKS // len(cmds))
    encoders: list[_Encoder] = []
    placed: list[list[tuple[int, int]]] = [[] for _ in cmds]
    try:
        for cmd in cmds:
            encoders.append(_start(cmd, failed, depth))
        todo = [js[::-1] for js in assign_jobs(sizes, len(cmds))]
        work = sum(sizes)
        total = mixer.total_frames
        done = 0
        active = list(range(len(encoders)))
        while active and not failed.is_set():
            k = min(active, key=lambda i: encoders[i].blocks.qsize())
            enc = encoders[k]
            block = next(enc.job, None) if enc.job is not None else None
            if block is None:
                if todo[k]:
                    n = todo[k].pop()
                    placed[k].append((n, enc.fed))
                    enc.job = jobs[n]()
                    continue
                enc.blocks.put(None)
                enc.closed = True
                active.remove(k)
                continue
            while not failed.is_set():
                try:
                    enc.blocks.put(_pcm16(block, mixer.channels, scale), timeout=0.2)
                    break
                except queue.Full:
                    pass
            enc.fed += len(block)
            done += len(block)
            if progress is not None:
                progress(min(total, done * total // max(work, 1)), total)
        for enc in encoders:
            if not enc.closed:
                enc.blocks.put(None)
                enc.closed = True
        for enc in encoders:
            enc.thread.join()
            enc.proc.wait()
    except BaseException:
        failed.set()
        for enc in encoders:
            enc.proc.kill()
        for enc in encoders:
            enc.proc.wait()
            if not enc.closed:
                try:
                    enc.blocks.put(None, timeout=5)  # the writer drains once its pipe is broken
                except queue.Full:
                    pass
            enc.thread.join(timeout=5)
            enc.err.close()
        raise
    try:
        bad = [enc for enc in encoders if enc.proc.returncode != 0]
        if bad or failed.is_set():
            enc = bad[0] if bad else encoders[0]
            enc.err.seek(0)
            raise _disk_fault(out, last_line(enc.err.read().decode("utf-8", "replace")))
    finally:
        for enc in encoders:
            enc.err.close()
    if progress is not None and done * total // max(work, 1) < total:
        progress(total, total)
    return placed


def _session_blocks(mixer: Mixer, start: int, end: int) -> Callable[[], Iterator[np.ndarray]]:
    def run() -> Iterator[np.ndarray]:
        for s in range(start, end, BLOCK_FRAMES):
            yield mixer.mix(s, min(BLOCK_FRAMES, end - s))

    return run


def _loop_blocks(mixer: Mixer, start: int, frames: int) -> Callable[[], Iterator[np.ndarray]]:
    def run() -> Iterator[np.ndarray]:
        for s in range(0, frames, BLOCK_FRAMES):
            yield mixer.steady(start + s, min(BLOCK_FRAMES, frames - s))

    return run


def _prefetch_openings(mixer: Mixer, starts: Sequence[int], background: Background | None) -> Batch | None:
    """The clips of the first minute after each of ``starts`` (frames), made on both cores now,
    while ffmpeg starts and has nothing to encode; later ones are made by the mixing, which by
    then has banked time in the queues. Returns the batch, to be closed before returning (None
    without a background: the mixing makes every clip)."""
    if background is None:
        return None
    texts = []
    for s in sorted(set(starts)):
        ms = s * 1000 // mixer.rate
        texts += [c.text for c in mixer.timeline.cues if c.spoken and ms <= c.start_ms < ms + 60_000]
    return mixer.bank.prefetch(texts, background, workers=2)


def _end(helpers: Batch | None) -> None:
    if helpers is not None:
        helpers.close()


def _encode(
    mixer: Mixer,
    tmp: Path,
    tags: Mapping[str, str],
    fmt: str,
    bitrate: str,
    out: Path,
    progress: Callable[[int, int], None] | None,
    background: Background | None,
) -> None:
    """The whole session through one ffmpeg process into ``tmp`` (WAV, or MP3 with ffmpeg's own
    Info frame)."""
    scale = 1.0 / codec_gain(bitrate, mixer.rate, mixer.channels, mixer.bank.cache) if fmt == "mp3" else 1.0
    helpers = _prefetch_openings(mixer, [0], background)
    try:
        _run_encoders(
            mixer,
            [_ffmpeg_cmd(mixer, fmt, bitrate, tags, tmp)],
            [_session_blocks(mixer, 0, mixer.total_frames)],
            [mixer.total_frames],
            out,
            progress,
            scale,
        )
    finally:
        _end(helpers)


def _encode_mp3_pieces(
    mixer: Mixer,
    plan: segments.Plan,
    dst: BinaryIO,
    bitrate: str,
    out: Path,
    progress: Callable[[int, int], None] | None,
    temp_beside: Callable[[Path], Path],
    workers: int,
    background: Background | None = None,
    report: segments.JoinReport | None = None,
) -> bool:
    """Encode ``plan``'s pieces on ``workers`` LAME processes and write the joined stream (Info
    frame first) at ``dst``'s position. False when the encodings could not be joined cleanly
    (not seen in practice: the caller then encodes in one pass)."""
    fresh = [i for i, p in enumerate(plan.pieces) if not p.loop]
    jobs, sizes, starts = [], [], []
    if plan.loop is not None:
        jobs.append(_loop_blocks(mixer, plan.loop.start, plan.loop.frames))
        sizes.append(plan.loop.frames)
        starts.append(None)
    for i in fresh:
        jobs.append(_session_blocks(mixer, plan.pieces[i].feed_start, plan.pieces[i].feed_end))
        sizes.append(plan.pieces[i].feed_frames)
        starts.append(plan.pieces[i].feed_start)
    workers = min(workers, len(jobs))
    files = [temp_beside(out) for _ in range(workers)]
    # the first process writes ffmpeg's own Info frame: it says what delay LAME really added
    cmds = [_ffmpeg_cmd(mixer, "mp3", bitrate, {}, f, xing=(k == 0)) for k, f in enumerate(files)]
    scale = 1.0 / codec_gain(bitrate, mixer.rate, mixer.channels, mixer.bank.cache)
    # each process's first piece of the session (a loop job has no clips)
    openings = [next((starts[n] for n in js if starts[n] is not None), None) for js in assign_jobs(sizes, workers)]
    helpers = _prefetch_openings(mixer, [s for s in openings if s is not None], background)
    try:
        placed = _run_encoders(mixer, cmds, jobs, sizes, out, progress, scale)
    finally:
        _end(helpers)
    spf = plan.spf
    opened: list[segments.Source] = []
    try:
        where: dict[int, tuple[segments.Source, int]] = {}  # job -> (its process's frames, frames before it)
        for k, f in enumerate(files):
            if placed[k]:
                src = segments.open_source(f, 0)
                opened.append(src)
                for n, fed in placed[k]:
                    where[n] = (src, fed // spf)
        first = where[placed[0][0][0]][0].index.info
        delay = first.delay if first is not None and first.delay is not None else mp3frames.ENCODER_DELAY
        encoder = first.encoder if first is not None and first.encoder[:4] in (b"LAME", b"Lavf", b"Lavc") else b"Lavf"
        sources = []
        job_of_piece = {i: n + (plan.loop is not None) for n, i in enumerate(fresh)}
        for i, p in enumerate(plan.pieces):
            if p.loop:
                src, before = where[0]
                sources.append(segments.Source(src.index, src.fd, p.loop_offset - before))
            else:
                src, before = where[job_of_piece[i]]
                sources.append(segments.Source(src.index, src.fd, p.feed_start // spf - before))
        try:
            segments.assemble(plan, sources, dst, delay=delay, encoder=encoder, report=report)
        except (segments.JoinError, mp3frames.FrameError):
            return False
        except OSError as e:
            raise _disk_fault(out, e.strerror or str(e)) from e
        return True
    finally:
        for src in opened:
            os.close(src.fd)
        for f in files:
            try:
                f.unlink()
            except OSError:
                pass


def export_session(
    mixer: Mixer,
    out: Path,
    *,
    bitrate: str = "128k",
    chapters: Sequence[str] = (),
    tags: Mapping[str, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    background: Background | None = None,
) -> ExportResult:
    """Write the session to ``out`` (.mp3 or .wav), with sidecar chapter files if asked.

    ``chapters`` picks sidecars from {"vtt", "json"}; ``tags`` adds to or overrides the default
    tags (title, album = the routine, artist = voiceguide, comment = the pacing used);
    ``progress(done_frames, total_frames)`` is called after every block. With a ``background``,
    the clips each encoder starts on are made on its threads while ffmpeg starts.
    Raises OutputError for a bad target, EnvironmentFault when ffmpeg is missing or the disk fills.
    """
    out = Path(out)
    bitrate = bitrate.strip().lower()
    chapters = tuple(dict.fromkeys(c.strip().lower() for c in chapters))
    fmt = _check(out, bitrate, chapters, mixer)
    ffmpeg_path()  # fail before any file is made
    chapter_list = session_chapters(mixer.timeline)
    all_tags = session_tags(mixer.timeline)
    all_tags.update(tags or {})

    # temps that a killed export left here (ours by name, their writers gone)
    files.remove_leftovers(out.parent, _export_temp_target)
    made: list[Path] = []  # temp files to remove unless renamed into place

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
                raise OutputError(
                    f"cannot write in the folder {str(target.parent)!r} ({e.strerror})", path=target
                ) from e
            made.append(name)
            return name
        raise OutputError(f"cannot make a temp file in the folder {str(target.parent)!r}", path=target)

    notes: list[str] = []
    try:
        tmp = temp_beside(out)
        if fmt == "mp3":
            tag = id3v2_tag(all_tags, chapter_list)
            workers = encoder_count()
            plan = None
            if workers > 1 and mixer.total_frames >= SPLIT_MIN_S * mixer.rate:
                plan = segments.plan_session(
                    mixer.total_frames,
                    mixer.rate,
                    workers,
                    steady=mixer.steady_spans(),
                    loop_samples=_loop_samples(mixer),
                )
            joined = False
            if plan is not None and len(plan.pieces) > 1:
                try:
                    with open(tmp, "wb") as dst:
                        dst.write(tag)
                        joined = _encode_mp3_pieces(
                            mixer, plan, dst, bitrate, out, progress, temp_beside, workers, background
                        )
                        encoders = min(workers, len(plan.pieces) + (plan.loop is not None))
                except OSError as e:
                    raise _disk_fault(out, e.strerror or str(e)) from e
            if not joined:
                encoders = 1
                audio = temp_beside(out)
                _encode(mixer, audio, all_tags, fmt, bitrate, out, progress, background)
                try:
                    with open(tmp, "wb") as dst, open(audio, "rb") as src:
                        dst.write(tag)
                        shutil.copyfileobj(src, dst, 1 << 20)
                except OSError as e:
                    raise _disk_fault(out, e.strerror or str(e)) from e
        else:
            encoders = 1
            _encode(mixer, tmp, all_tags, fmt, bitrate, out, progress, background)
            try:
                if not add_wav_markers(tmp, [(mixer.frame_of_ms(c.start_ms), c.title) for c in chapter_list]):
                    notes.append(
                        f"{out.name} is too large for WAV cue points; its chapters are only in "
                        "the sidecars (--chapters vtt,json)"
                    )
            except OSError as e:
                raise _disk_fault(out, e.strerror or str(e)) from e
        sidecars: list[tuple[Path, Path]] = []
        for kind in chapters:
            target = sidecar_path(out, kind)
            text = sidecar_text(kind, chapter_list, title=mixer.timeline.title, file_name=out.name)
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
    return ExportResult(
        path=out,
        format=fmt,
        frames=mixer.total_frames,
        sample_rate=mixer.rate,
        channels=mixer.channels,
        duration_ms=mixer.timeline.total_ms,
        chapters=tuple(chapter_list),
        sidecars=tuple(t for _, t in sidecars),
        gain_db=mixer.gain_db,
        predicted_lufs=mixer.predicted_lufs,
        encoders=encoders,
        notes=tuple(notes),
    )


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
    return is_sidecar_text(kind, text)


def _chunk(fourcc: bytes, body: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(body)) + body + (b"\0" if len(body) & 1 else b"")


def wav_markers(marks: Sequence[tuple[int, str]]) -> bytes:
    """A ``cue `` chunk with a point per (frame, title) and a ``LIST``/``adtl`` chunk labelling each."""
    points = b"".join(
        struct.pack("<II4sIII", i, frame, b"data", 0, 0, frame) for i, (frame, _) in enumerate(marks, start=1)
    )
    labels = b"".join(
        _chunk(b"labl", struct.pack("<I", i) + title.encode("utf-8") + b"\0")
        for i, (_, title) in enumerate(marks, start=1)
    )
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


def _loop_samples(mixer: Mixer) -> int:
    """The music loop's period (after the music's opening, which plays once)."""
    return 0 if mixer.bed is None else mixer.bed.frames - mixer.bed.loop_start
