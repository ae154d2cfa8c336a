#!/usr/bin/env python3
"""Live play: time to first sound with a warm cache, the largest cue onset error over a session,
and underruns, idle and beside two busy processes.

    .venv/bin/python scripts/bench_play.py                 # 5 minutes of the bundled routine
    .venv/bin/python scripts/bench_play.py --minutes 2.5   # a quick look (the shortest that fits)
    .venv/bin/python scripts/bench_play.py --output simpleaudio

Everything runs against a private PulseAudio server with a null sink (tests/audio_server.py), as
a user would: ``voiceguide render`` warms the cache, ``voiceguide export`` writes the reference
WAV, then ``voiceguide play`` runs to the end while the sink's monitor is recorded. Each cue's
onset is found in the recording by cross-correlating the export around it; the error is its lag
against the first cue's (the same everywhere means no drift and no gap). The baseline, measured
in the same run, is the floor for any Python player: a bare ``python -c`` that imports numpy and
miniaudio and plays a beep (``paplay``, the sound system's own launch-to-sound time, is shown too).

The session is then played again beside two busy processes (``python -c 'while True: pass'``),
and both runs report the underruns ``voiceguide play`` counted (device requests that found no
sound ready, from its VOICEGUIDE_DEBUG line) and how late the device's requests came.

Prints, last line:
    play first_sound=0.30s floor=0.09s ratio=3.3 paplay=0.01s max_onset_error=0.0ms cues=44 underruns=0
         busy: max_onset_error=0.0ms underruns=0 late=15ms output=stream
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from audio_server import RATE, AudioServer, missing_programs, offset_of  # noqa: E402

VG = [sys.executable, "-m", "voiceguide"]


def vg(args: list[str], env: dict, **kw) -> subprocess.CompletedProcess:
    p = subprocess.run(VG + args, env=env, capture_output=True, text=True, **kw)
    if p.returncode:
        sys.exit(f"bench_play: voiceguide {' '.join(args[:3])} failed: {p.stderr.strip()[-400:]}")
    return p


def fitting_flags(minutes: float, env: dict) -> list[str]:
    """Pacing flags that make the bundled routine last ``minutes``."""
    for steps in ("1-7", "1-3", "1-2", "1"):
        for pace in ("1", "0.8", "0.6", "0.5", "0.35", "0.25"):
            flags = ["--steps", steps, "--pace", pace, "--length", f"{minutes * 60:g}s"]
            if subprocess.run(VG + ["show", *flags], env=env, capture_output=True).returncode == 0:
                return flags
    sys.exit(f"bench_play: the bundled routine cannot be fitted to {minutes} minutes")


def first_sound(server: AudioServer, since: int, timeout: float) -> int | None:
    """Recording frame of the first audible sample after ``since`` (16-bit level above 100)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec = server.record(since)
        loud = np.flatnonzero(np.abs(rec).max(axis=1) > 100 / 32768)
        if len(loud):
            return since + int(loud[0])
        time.sleep(0.01)
    return None


FLOOR = """
import numpy as np, miniaudio
t = np.arange(22050) / 44100
beep = (0.3 * np.sin(2 * np.pi * 660 * t) * 32767).astype(np.int16)
beep = np.repeat(beep[:, None], 2, axis=1)
def feed():
    pos = 0
    n = yield b""
    while True:
        chunk = beep[pos:pos + n]
        pos += n
        n = yield chunk
dev = miniaudio.PlaybackDevice(nchannels=2, sample_rate=44100, buffersize_msec=60,
                               backends=[miniaudio.Backend.PULSEAUDIO])
g = feed(); next(g); dev.start(g)
import time; time.sleep(0.6); dev.close()
"""


def launch_to_sound(server: AudioServer, cmd: list[str], env: dict) -> float:
    """Median over three runs of launch to the first audible sample at the sink."""
    times = []
    for _ in range(3):
        mark = server.mark()
        launched = time.monotonic()
        p = subprocess.Popen(cmd, env=env)
        frame = first_sound(server, mark, 10)
        p.wait()
        if frame is None:
            sys.exit(f"bench_play: {cmd[0]} made no sound")
        times.append(server.time_of(frame) - launched)
        time.sleep(0.3)
    return statistics.median(times)


def paplay_first_sound(server: AudioServer, env: dict, folder: Path) -> float:
    beep = folder / "beep.wav"
    t = np.arange(RATE // 2) / RATE
    pcm = (0.3 * np.sin(2 * np.pi * 660 * t) * 32767).astype(np.int16)
    with wave.open(str(beep), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())
    return launch_to_sound(server, ["paplay", str(beep)], env)


def onset_errors(rec: np.ndarray, ref: np.ndarray, cue_frames: list[int]) -> tuple[list[float], int]:
    """Each cue's lag against the first cue's, in ms, and how many cues could not be found."""
    window = RATE // 2
    lags, lost = [], 0
    base = None
    for f in cue_frames:
        if f + window > len(ref):
            continue
        search = (0, len(rec)) if base is None else (base + f - RATE, base + f + RATE)
        try:
            lag, score = offset_of(rec, ref, at=f, window=window, search=search)
        except ValueError:
            lost += 1
            continue
        if score < 0.99:
            lost += 1
            continue
        base = lag if base is None else base
        lags.append((lag - base) * 1000 / RATE)
    return lags, lost


DEBUG = re.compile(r"(\d+) underruns, device requests up to (\d+) ms late")


def play_once(
    server: AudioServer, flags: list[str], output: str, env: dict, total_s: float, hogs: int = 0
) -> tuple[float, np.ndarray, dict]:
    """Play the session to its end (beside ``hogs`` busy processes): launch to first sound, the
    recording, and the player's own count of underruns and late requests."""
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(hogs)]
    try:
        mark = server.mark()
        launched = time.monotonic()
        p = subprocess.Popen(
            VG + ["play", *flags, "--output", output],
            env=dict(env, VOICEGUIDE_DEBUG="1"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        frame = first_sound(server, mark, 30)
        if frame is None:
            p.kill()
            sys.exit(f"bench_play: play made no sound: {p.communicate()[1][-400:]}")
        first = server.time_of(frame) - launched
        try:
            _, err = p.communicate(timeout=total_s + 60)
        except subprocess.TimeoutExpired:
            p.kill()
            sys.exit("bench_play: play did not finish")
        if p.returncode:
            sys.exit(f"bench_play: play exited {p.returncode}: {err.strip()[-400:]}")
        time.sleep(0.3)
        rec = server.record(mark)
    finally:
        for h in busy:
            h.kill()
            h.wait()
    found = DEBUG.search(err)
    debug = (
        {"underruns": int(found.group(1)), "late": int(found.group(2))} if found else {"underruns": "?", "late": "?"}
    )
    return first, rec, debug


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=5.0, help="session length (default 5)")
    ap.add_argument("--output", default="stream", choices=["stream", "simpleaudio", "auto"])
    args = ap.parse_args(argv)
    missing = missing_programs()
    if missing:
        print(f"bench_play: needs {', '.join(missing)} (scripts/bootstrap --test-audio)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="vg-bench-play-") as d, AudioServer() as server:
        folder = Path(d)
        env = dict(os.environ, **server.env, VOICEGUIDE_CACHE_DIR=str(folder / "cache"))
        env.pop("VOICEGUIDE_DEBUG", None)
        flags = fitting_flags(args.minutes, env)
        vg(["render", *flags], env)
        vg(["export", *flags, "-o", str(folder / "ref.wav")], env)
        timeline = json.loads(vg(["show", *flags, "--json"], env).stdout)
        with wave.open(str(folder / "ref.wav")) as w:
            ref = np.frombuffer(w.readframes(w.getnframes()), np.int16).reshape(-1, w.getnchannels())
        ref = ref.astype(np.float32) / 32768
        if ref.shape[1] == 1:
            ref = np.repeat(ref, 2, axis=1)
        paplay = paplay_first_sound(server, env, folder)
        floor = launch_to_sound(server, [sys.executable, "-c", FLOOR], env)

        first, rec, debug = play_once(server, flags, args.output, env, timeline["total_s"])
        _, rec_busy, debug_busy = play_once(server, flags, args.output, env, timeline["total_s"], hogs=2)

    cues = [int(c["start_s"] * RATE) for c in timeline["cues"]]
    lags, lost = onset_errors(rec, ref, cues)
    busy_lags, busy_lost = onset_errors(rec_busy, ref, cues)
    worst = max((abs(x) for x in lags), default=float("nan"))
    busy_worst = max((abs(x) for x in busy_lags), default=float("nan"))
    print(f"cue lags (ms, against the first): {[round(x, 2) for x in lags]}", file=sys.stderr)
    print(
        f"play first_sound={first:.2f}s floor={floor:.2f}s ratio={first / floor:.1f} paplay={paplay:.2f}s "
        f"max_onset_error={worst:.1f}ms cues={len(lags)}"
        + (f" lost={lost}" if lost else "")
        + f" underruns={debug['underruns']} busy: max_onset_error={busy_worst:.1f}ms"
        + (f" lost={busy_lost}" if busy_lost else "")
        + f" underruns={debug_busy['underruns']} late={debug_busy['late']}ms output={args.output}"
    )
    lost += busy_lost
    return 0 if not lost and debug["underruns"] == 0 == debug_busy["underruns"] else 1


if __name__ == "__main__":
    sys.exit(main())
