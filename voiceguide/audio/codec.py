"""The MP3 encoder's own level change, measured once per setting so an export can make it up.

LAME plays everything about 0.44 dB quieter at 160 kb/s and below (0.26 dB at 192k, none from
256k): a flat gain, the same for a 100 Hz and a 3 kHz tone. Rather than trust a table for one
LAME version, a 0.75 s tone is encoded and decoded through the installed ffmpeg and the ratio
kept (in memory and in the cache). The mixer starts this in the background when it is built, so
an export rarely waits for it.
"""

from __future__ import annotations

import os
import subprocess
import threading

import numpy as np

from voiceguide.audio.cache import DerivedCache, digest
from voiceguide.audio.ffmpeg import ffmpeg_path

DEFAULT_BITRATE = "128k"

_gains: dict[tuple, float] = {}
_running: dict[tuple, threading.Thread] = {}
_lock = threading.Lock()


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


def measure(exe: str, bitrate: str, rate: int, channels: int, *, nice: bool = False) -> float:
    """Output level / input level of a tone through LAME at these settings (1.0 if unmeasurable).

    ``nice``: run the two ffmpeg processes at the lowest CPU priority."""
    n = rate * 3 // 4
    t = np.arange(n) / rate
    tone = 0.1 * np.sin(2 * np.pi * 997.0 * t)
    pcm = np.repeat(np.rint(tone * 32767).astype("<i2")[:, None], channels, axis=1).tobytes()
    # encoder piped into decoder: both start at once, so this costs about one process start-up
    enc = subprocess.Popen(
        [
            exe,
            "-nostdin",
            "-v",
            "error",
            "-f",
            "s16le",
            "-ar",
            str(rate),
            "-ac",
            str(channels),
            "-i",
            "pipe:0",
            "-c:a",
            "libmp3lame",
            "-b:a",
            bitrate,
            "-f",
            "mp3",
            "pipe:1",
        ],
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
    feeder = threading.Thread(target=_feed, args=(enc.stdin, pcm), daemon=True)
    feeder.start()
    decoded = dec.stdout.read()
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


def codec_gain(bitrate: str, rate: int, channels: int, cache: DerivedCache | None = None) -> float:
    """LAME's level change at these settings (linear, <= 1); measured at most once."""
    exe = ffmpeg_path()
    key = _key(exe, bitrate, rate, channels)
    with _lock:
        known = _gains.get(key)
        thread = _running.get(key) if known is None else None
    if thread is not None:
        thread.join()
        with _lock:
            known = _gains.get(key)
    if known is None:
        return _compute(exe, key, bitrate, rate, channels, cache)
    if cache is not None and cache.load_json("codec", digest("codec-gain", *key)) is None:
        cache.save_json("codec", digest("codec-gain", *key), known)  # measured for another cache
    return known


def _compute(
    exe: str, key: tuple, bitrate: str, rate: int, channels: int, cache: DerivedCache | None, nice: bool = False
) -> float:
    name = digest("codec-gain", *key)
    saved = cache.load_json("codec", name) if cache is not None else None
    if isinstance(saved, (int, float)) and 0.7 < saved <= 1.0:
        gain = float(saved)
    else:
        gain = measure(exe, bitrate, rate, channels, nice=nice)
        if cache is not None:
            cache.save_json("codec", name, gain)
    with _lock:
        _gains[key] = gain
    return gain


def warm_up(
    rate: int, channels: int, cache: DerivedCache | None, bitrate: str = DEFAULT_BITRATE, *, background: bool = False
) -> None:
    """Measure in a daemon thread unless known, for whoever exports next; ``background``: at the
    lowest CPU priority, so it takes only what other work leaves idle."""
    try:
        exe = ffmpeg_path()
    except Exception:  # noqa: BLE001 - a background measurement: export reports the real error
        return  # no ffmpeg: export will say so when it is asked for
    key = _key(exe, bitrate, rate, channels)
    with _lock:
        if key in _gains or key in _running:
            return
        thread = threading.Thread(
            target=_safe_measure,
            args=(exe, key, bitrate, rate, channels, cache, background),
            name="voiceguide-codec-gain",
            daemon=True,
        )
        _running[key] = thread
    thread.start()


def _safe_measure(exe, key, bitrate, rate, channels, cache, nice) -> None:
    try:
        _compute(exe, key, bitrate, rate, channels, cache, nice)
    except Exception:  # noqa: BLE001 - a background measurement: export reports the real error
        pass  # export measures again (and reports) if it comes to that
    finally:
        with _lock:
            _running.pop(key, None)
