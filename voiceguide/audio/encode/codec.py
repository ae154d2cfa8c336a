"""The MP3 encoder's own level change, measured once per setting so an export can make it up.

LAME plays everything about 0.44 dB quieter at 160 kb/s and below (0.26 dB at 192k, none from
256k): a flat gain, the same for a 100 Hz and a 3 kHz tone. Rather than trust a table for one
LAME version, a 0.75 s tone is encoded and decoded through the installed ffmpeg and the ratio
kept (in memory and in the cache). A mixer built with a Background starts this there (``warm_up``),
so an export rarely waits for it.
"""

from __future__ import annotations

import os
import subprocess
import threading
from typing import TYPE_CHECKING

import numpy as np

from voiceguide.audio.cache import DerivedCache, digest
from voiceguide.audio.ffmpeg import ffmpeg_path, lame, pcm_input

if TYPE_CHECKING:  # pragma: no cover
    from voiceguide.background import Background, Task

DEFAULT_BITRATE = "128k"

# What this process has measured, and what is being measured (on whichever Background started
# it): the answer depends on the installed ffmpeg alone, so it is shared by every caller.
_gains: dict[tuple, float] = {}
_running: dict[tuple, Task] = {}
_lock = threading.RLock()  # re-entered when a closed Background runs the task at once


class Stopped(Exception):
    """The measurement was stopped (its Background closed) before it had an answer."""


def _key(exe: str, bitrate: str, rate: int, channels: int) -> tuple:
    try:
        st = os.stat(exe)
        return exe, st.st_size, st.st_mtime_ns, bitrate, rate, channels
    except OSError:
        return exe, bitrate, rate, channels


def _lowest_priority(pid: int) -> None:
    # set from outside once started: a preexec_fn is not safe with threads about
    try:
        os.setpriority(os.PRIO_PROCESS, pid, 19)
    except (OSError, AttributeError):
        pass


def _feed(pipe, data: bytes) -> None:
    try:
        pipe.write(data)
        pipe.close()
    except OSError:
        pass


def measure(
    exe: str, bitrate: str, rate: int, channels: int, *, nice: bool = False, stop: threading.Event | None = None
) -> float:
    """Output level / input level of a tone through LAME at these settings (1.0 if unmeasurable).

    ``nice``: run the two ffmpeg processes at the lowest CPU priority. ``stop``: once it is set,
    the processes are killed and Stopped is raised (a closing Background does not wait them out).
    """
    n = rate * 3 // 4
    t = np.arange(n) / rate
    tone = 0.1 * np.sin(2 * np.pi * 997.0 * t)
    pcm = np.repeat(np.rint(tone * 32767).astype("<i2")[:, None], channels, axis=1).tobytes()
    # encoder piped into decoder: both start at once, so this costs about one process start-up
    enc = subprocess.Popen(
        [exe, "-nostdin", "-v", "error", *pcm_input(rate, channels), *lame(bitrate), "-f", "mp3", "pipe:1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    dec = subprocess.Popen(
        [exe, "-nostdin", "-v", "error", "-f", "mp3", "-i", "pipe:0", "-f", "s16le", "-ac", "1", "pipe:1"],
        stdin=enc.stdout,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    enc.stdout.close()
    if nice:
        for proc in (enc, dec):
            _lowest_priority(proc.pid)
    # The feeder is part of this measurement, not background work: the tone is larger than a
    # pipe holds, so it is written while the decoded samples are read, and joined below.
    feeder = threading.Thread(target=_feed, args=(enc.stdin, pcm), daemon=True)
    feeder.start()
    try:
        decoded = _read_all(dec, stop)
    except BaseException:
        for proc in (enc, dec):
            proc.kill()
        raise
    finally:
        dec.wait()
        enc.wait()
        feeder.join()
    y = np.frombuffer(decoded, dtype="<i2").astype(np.float64) / 32767
    mid = slice(rate // 8, rate // 2)  # clear of the encoder's start and end
    if dec.returncode == 0 and enc.returncode == 0 and len(y) >= rate // 2:
        ratio = float(np.sqrt(np.mean(y[mid] ** 2) / np.mean(tone[mid] ** 2)))
        if 0.7 < ratio <= 1.0:
            return ratio
    return 1.0


def _read_all(proc: subprocess.Popen, stop: threading.Event | None) -> bytes:
    """Everything ``proc`` writes to its stdout, looking at ``stop`` every 50 ms."""
    if stop is None:
        return proc.stdout.read()
    while True:
        try:
            out, _ = proc.communicate(timeout=0.05)  # a retry after a timeout loses nothing
            return out
        except subprocess.TimeoutExpired:
            if stop.is_set():
                raise Stopped() from None


def codec_gain(bitrate: str, rate: int, channels: int, cache: DerivedCache | None = None) -> float:
    """LAME's level change at these settings (linear, <= 1); measured at most once."""
    exe = ffmpeg_path()
    key = _key(exe, bitrate, rate, channels)
    with _lock:
        known = _gains.get(key)
        task = _running.get(key) if known is None else None
    if task is not None:
        task.wait()
        with _lock:
            known = _gains.get(key)
    if known is None:
        return _compute(exe, key, bitrate, rate, channels, cache)
    if cache is not None and cache.load_json("codec", digest("codec-gain", *key)) is None:
        cache.save_json("codec", digest("codec-gain", *key), known)  # measured for another cache
    return known


def _compute(
    exe: str,
    key: tuple,
    bitrate: str,
    rate: int,
    channels: int,
    cache: DerivedCache | None,
    nice: bool = False,
    stop: threading.Event | None = None,
) -> float:
    name = digest("codec-gain", *key)
    saved = cache.load_json("codec", name) if cache is not None else None
    if isinstance(saved, (int, float)) and 0.7 < saved <= 1.0:
        gain = float(saved)
    else:
        gain = measure(exe, bitrate, rate, channels, nice=nice, stop=stop)
        if cache is not None:
            cache.save_json("codec", name, gain)
    with _lock:
        _gains[key] = gain
    return gain


def warm_up(
    rate: int,
    channels: int,
    cache: DerivedCache | None,
    bitrate: str = DEFAULT_BITRATE,
    *,
    background: Background,
    nice: bool = False,
) -> None:
    """Measure on ``background`` (a task of its own: it mostly waits on ffmpeg) unless known, for
    whoever exports next; ``nice``: at the lowest CPU priority, so it takes only what other work
    leaves idle. Closing the background stops it. Nothing happens when the background has no
    threads: export then measures when it needs to."""
    if not background.threaded:
        return
    try:
        exe = ffmpeg_path()
    except Exception:  # noqa: BLE001 - a background measurement: export reports the real error
        return  # no ffmpeg: export will say so when it is asked for
    key = _key(exe, bitrate, rate, channels)
    with _lock:
        if key in _gains or key in _running:
            return
        # registered before it can end, so that a codec_gain asked for now waits for this one
        # (the task's own end takes the lock, so it cannot unregister before this)
        task = _running[key] = background.start(
            "codec-gain", _safe_measure, exe, key, bitrate, rate, channels, cache, nice, background.stopping
        )
        if task.done():  # run here, at once: its Background closed in the meantime
            _running.pop(key, None)


def _safe_measure(exe, key, bitrate, rate, channels, cache, nice, stop) -> None:
    try:
        _compute(exe, key, bitrate, rate, channels, cache, nice, stop)
    except Exception:  # noqa: BLE001 - a background measurement: export reports the real error
        pass  # export measures again (and reports) if it comes to that (Stopped included)
    finally:
        with _lock:
            _running.pop(key, None)
