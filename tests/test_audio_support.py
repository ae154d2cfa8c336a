"""Shared by the audio tests: real espeak-ng clips, hand-built sessions, and ffmpeg's meters.

Sessions are built by hand (Cue/Step/Timeline) so these tests depend on the audio engine alone.
The clips are real espeak-ng renders, made once per test run.
"""

from __future__ import annotations

import atexit
import functools
import json
import re
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np
import pytest

from voiceguide.audio.sources.clip import ArrayClip
from voiceguide.timeline import Cue, CueKind, Step, Timeline

_CLIP_DIR = Path(tempfile.mkdtemp(prefix="voiceguide-test-espeak-"))
atexit.register(shutil.rmtree, _CLIP_DIR, True)

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")


@functools.cache
def espeak_clip(text: str) -> ArrayClip:
    """``text`` spoken by espeak-ng (22.05 kHz mono), as a clip the mixer takes."""
    path = _CLIP_DIR / f"{abs(hash(text))}.wav"
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True)
    return ArrayClip(read_wav(path)[:, 0], wav_rate(path), key="espeak-ng:" + text)


def read_wav(path: Path) -> np.ndarray:
    """A 16-bit WAV as float (frames, channels) in [-1, 1)."""
    with wave.open(str(path)) as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return data.reshape(-1, w.getnchannels()).astype(np.float64) / 32768


def wav_rate(path: Path) -> int:
    with wave.open(str(path)) as w:
        return w.getframerate()


def build_session(
    minutes: float = 1.5, steps: int = 3, *, intro_ms: int = 12000, outro_ms: int = 10000, checkin_every_ms: int = 25000
) -> tuple[Timeline, dict[str, ArrayClip]]:
    """A routine-like session: set-up line, chime + announce + instruction per step, check-ins,
    a countdown, closing words and a last chime. Cue ends are the clips' real lengths."""
    total = int(minutes * 60000)
    step_len = (total - intro_ms - outro_ms) // steps
    cues: list[Cue] = []
    clips: dict[str, ArrayClip] = {}

    def say(t: int, text: str, kind: CueKind, step: int | None) -> int:
        clip = clips.setdefault(text, espeak_clip(text))
        end = t + -(-clip.frames * 1000 // clip.sample_rate)
        cues.append(Cue(t, end, kind, text, step))
        return end

    t = say(500, "Welcome. Warm your hands and find a comfortable position.", CueKind.SETUP, None)
    say(t + 1500, "Never press directly on the spine.", CueKind.SAFETY, None)
    step_list = []
    for i in range(steps):
        s0, s1 = intro_ms + i * step_len, intro_ms + (i + 1) * step_len
        step_list.append(Step(i + 1, i + 1, f"Technique {i + 1}: ça va", s0, s1))
        cues.append(Cue(s0, s0 + 1500, CueKind.TRANSITION, "", i + 1))
        t = say(s0 + 1500, f"Step {i + 1} of {steps}.", CueKind.ANNOUNCE, i + 1)
        t = say(t + 800, "Use long, slow strokes from the lower back up to the shoulders.", CueKind.INSTRUCTION, i + 1)
        k = t + checkin_every_ms
        while k < s1 - 12000:
            k = say(k, "Check the pressure with your partner.", CueKind.CHECKIN, i + 1) + checkin_every_ms
        say(s1 - 6000, "Ten seconds left.", CueKind.COUNTDOWN, i + 1)
    t = say(step_list[-1].end_ms + 800, "That is the end. Let your partner rest.", CueKind.CLOSING, None)
    cues.append(Cue(t + 800, t + 2300, CueKind.TRANSITION, "", None))
    cues.sort(key=lambda c: c.start_ms)
    tl = Timeline("Back massage", "back-massage", total, tuple(step_list), tuple(cues), {"length": f"{minutes}m"})
    return tl, clips


def ebur128(path: Path, *, start: float | None = None, duration: float | None = None) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) as ffmpeg's ebur128 filter measures them."""
    cmd = ["ffmpeg", "-hide_banner", "-nostats"]
    if start is not None:
        cmd += ["-ss", f"{start:.3f}"]
    if duration is not None:
        cmd += ["-t", f"{duration:.3f}"]
    cmd += ["-i", str(path), "-af", "ebur128=peak=true", "-f", "null", "-"]
    err = subprocess.run(cmd, capture_output=True, text=True).stderr
    tail = err[err.rfind("Summary:") :]
    i = re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", tail)
    tp = re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", tail)
    return float(i.group(1)), float(tp.group(1))


def ffprobe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-show_chapters", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


def make_audio(path: Path, lavfi: str, seconds: float, *, rate: int = 44100, channels: int = 2) -> Path:
    """A file made by ffmpeg from a lavfi source (format from the extension)."""
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            lavfi,
            "-t",
            str(seconds),
            "-ar",
            str(rate),
            "-ac",
            str(channels),
            str(path),
        ],
        check=True,
    )
    return path


# The helpers are code too: these keep them honest.


@needs_espeak
def test_espeak_clip_is_real_speech():
    clip = espeak_clip("Hello there.")
    x = clip.read()
    assert clip.sample_rate == 22050
    assert 0.3 < clip.frames / clip.sample_rate < 3
    assert np.sqrt(np.mean(x.astype(np.float64) ** 2)) > 0.01


@needs_espeak
def test_built_session_is_a_valid_timeline():
    tl, clips = build_session(1.5)
    starts = [c.start_ms for c in tl.cues]
    assert starts == sorted(starts)
    assert all(a.end_ms <= b.start_ms for a, b in zip(tl.cues, tl.cues[1:])), "cues overlap"
    assert all(c.text in clips for c in tl.cues if c.spoken)
    assert tl.cues[-1].end_ms <= tl.total_ms
